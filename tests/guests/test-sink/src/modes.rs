//! The connector and task of `test-sink`. One setting, `mode`:
//!
//! - `ok` accepts everything;
//! - `errant` reports every record whose value (in its string form) contains `bad` to the
//!   errant record reporter with the error `bad record: <value>`, and flushes the reporter at
//!   the end of each `put`;
//! - `check-every-type` fails (fatally, naming the first difference) unless every record's
//!   value is exactly test-source's every-type struct;
//! - `panic-in-put` panics in `put`;
//! - `flaky` fails its first three `put` calls with a retriable error, then accepts
//!   everything (a sink whose backend is briefly down);
//! - `report-flood` reports every record [`REPORT_FLOOD_REPEATS`] times with a 64 KiB error,
//!   flushing only when the host refuses another report (a hostile sink making the host
//!   hold and log errant reports);
//! - `strict-order` fails (fatally, naming the record) when a partition's records do not come
//!   one offset after the other, or come while it paused the partition. In its first `put`
//!   with records it asks for them all again (`reset-offsets` to each partition's first
//!   offset); in the next it pauses the partition of that batch's last record, and resumes
//!   it two `put`s later: the rewinds and pauses a sink may ask for at any time.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasm_connect_sdk::config::{ConfigKey, ConfigType, Validator};
use wasm_connect_sdk::host::{errant_record_reporter, sink_context};
use wasm_connect_sdk::{
    Config, ConfigDef, Data, Error, PluginInfo, SinkConnector, SinkRecord, SinkTask,
    TopicPartition, TopicPartitionOffset, Value, host,
};

use crate::every_type;

const MODES: [&str; 8] = [
    "ok",
    "errant",
    "check-every-type",
    "panic-in-put",
    "flaky",
    "report-flood",
    "leak-config",
    "strict-order",
];

/// How often `report-flood` reports each record.
pub const REPORT_FLOOD_REPEATS: usize = 100;

/// How many `put` calls fail in the `flaky` mode.
pub const FLAKY_FAILURES: u32 = 3;

/// What the task does with records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts everything.
    Ok,
    /// Reports records containing `bad` as errant.
    Errant,
    /// Checks each value against the every-type struct.
    CheckEveryType,
    /// Panics in `put`.
    PanicInPut,
    /// Fails the first [`FLAKY_FAILURES`] puts with a retriable error.
    Flaky,
    /// Reports each record many times with a large error.
    ReportFlood,
    /// Reports every record as errant with its whole task config as the error: what a
    /// careless connector does with a secret.
    LeakConfig,
    /// Checks that each partition's records come in order without gaps or repeats, and not
    /// while paused; rewinds once and pauses once.
    StrictOrder,
}

impl Mode {
    /// Parses a mode name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Ok(match name.trim() {
            "ok" => Self::Ok,
            "errant" => Self::Errant,
            "check-every-type" => Self::CheckEveryType,
            "panic-in-put" => Self::PanicInPut,
            "flaky" => Self::Flaky,
            "report-flood" => Self::ReportFlood,
            "leak-config" => Self::LeakConfig,
            "strict-order" => Self::StrictOrder,
            other => {
                return Err(Error::invalid_config(format!(
                    "unknown mode `{other}`; expected one of {}",
                    MODES.join(", ")
                )));
            }
        })
    }
}

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new("mode", ConfigType::String)
            .default_value("ok")
            .validator(Validator::one_of(MODES))
            .documentation(
                "ok, errant, check-every-type, panic-in-put, flaky, report-flood, leak-config or strict-order.",
            ),
    )
}

/// The test sink connector.
#[derive(Debug)]
pub struct TestSink {
    config: Config,
}

impl SinkConnector for TestSink {
    fn describe() -> PluginInfo {
        PluginInfo::new("TestSink", "A configurable sink for wasm-connect's tests.")
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def() -> ConfigDef {
        config_def()
    }

    fn start(config: Config) -> Result<Self, Error> {
        config_def().check(&config)?;
        Ok(Self { config })
    }

    fn task_configs(&mut self, max_tasks: u32) -> Result<Vec<Config>, Error> {
        Ok(vec![self.config.clone(); max_tasks as usize])
    }
}

/// The test sink task.
#[derive(Debug)]
pub struct TestSinkTask {
    mode: Mode,
    /// The task config as `key=value` pairs, for `leak-config`.
    config_text: String,
    records: u64,
    failed_puts: u32,
    order: StrictOrder,
}

/// `strict-order`'s bookkeeping.
#[derive(Debug, Default)]
struct StrictOrder {
    /// The next offset expected per partition.
    expected: BTreeMap<(Arc<str>, i32), i64>,
    /// Where it stands: 0 before the rewind, 1 before the pause, 2 paused, 3 done.
    step: u8,
    paused: Option<TopicPartition>,
    /// `put`s with records since the pause.
    puts_paused: u32,
}

impl StrictOrder {
    fn put(&mut self, records: &[SinkRecord]) -> Result<(), Error> {
        for record in records {
            if self
                .paused
                .as_ref()
                .is_some_and(|p| *p.topic == *record.topic && p.partition == record.partition)
            {
                return Err(Error::fatal(format!(
                    "record {}-{}@{} came while its partition was paused",
                    record.topic, record.partition, record.offset
                )));
            }
            let partition = (record.topic.clone(), record.partition);
            if let Some(&expected) = self.expected.get(&partition)
                && record.offset != expected
            {
                return Err(Error::fatal(format!(
                    "record {}-{}@{} came where offset {expected} was expected",
                    record.topic, record.partition, record.offset
                )));
            }
            self.expected.insert(partition, record.offset + 1);
        }
        let Some(last) = records.last() else {
            return Ok(());
        };
        match self.step {
            0 => {
                let mut firsts: BTreeMap<(Arc<str>, i32), i64> = BTreeMap::new();
                for record in records {
                    firsts
                        .entry((record.topic.clone(), record.partition))
                        .or_insert(record.offset);
                }
                let resets: Vec<TopicPartitionOffset> = firsts
                    .iter()
                    .map(|((topic, partition), &offset)| TopicPartitionOffset {
                        topic: topic.to_string(),
                        partition: *partition,
                        offset,
                    })
                    .collect();
                sink_context::reset_offsets(&resets)?;
                self.expected.extend(firsts);
                self.step = 1;
            }
            1 => {
                let partition = TopicPartition {
                    topic: last.topic.to_string(),
                    partition: last.partition,
                };
                sink_context::pause(std::slice::from_ref(&partition))?;
                self.paused = Some(partition);
                self.step = 2;
            }
            2 => {
                self.puts_paused += 1;
                if self.puts_paused == 2
                    && let Some(partition) = self.paused.take()
                {
                    sink_context::resume(&[partition])?;
                    self.step = 3;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn value_string(record: &SinkRecord) -> String {
    record
        .value
        .as_ref()
        .map_or_else(|| "null".to_owned(), |d| d.value.to_string())
}

impl SinkTask for TestSinkTask {
    fn start(config: Config) -> Result<Self, Error> {
        let mode = Mode::parse(config.get_str_or("mode", "ok"))?;
        Ok(Self {
            mode,
            config_text: config
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(", "),
            records: 0,
            failed_puts: 0,
            order: StrictOrder::default(),
        })
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), Error> {
        if self.mode == Mode::Flaky && self.failed_puts < FLAKY_FAILURES {
            self.failed_puts += 1;
            return Err(Error::retriable(format!(
                "transient failure {} of {FLAKY_FAILURES}",
                self.failed_puts
            )));
        }
        self.records += records.len() as u64;
        match self.mode {
            Mode::Flaky => {}
            Mode::Ok => {}
            Mode::StrictOrder => self.order.put(&records)?,
            Mode::LeakConfig => {
                for record in &records {
                    errant_record_reporter::report(
                        record,
                        &format!("errant with my config: {}", self.config_text),
                    )?;
                }
                errant_record_reporter::flush()?;
            }
            Mode::Errant => {
                for record in &records {
                    let value = value_string(record);
                    if value.contains("bad") {
                        errant_record_reporter::report(record, &format!("bad record: {value}"))?;
                    }
                }
                errant_record_reporter::flush()?;
            }
            Mode::CheckEveryType => {
                let expected = every_type::value();
                for record in &records {
                    let actual = record
                        .value
                        .clone()
                        .unwrap_or(Data::schemaless(Value::Null));
                    if let Some(mismatch) = every_type::first_mismatch(&expected, &actual) {
                        return Err(Error::fatal(format!(
                            "record {}-{}@{} is not the every-type record: {mismatch}",
                            record.topic, record.partition, record.offset
                        )));
                    }
                }
                host::info(&format!("checked {} every-type records", records.len()));
            }
            Mode::PanicInPut => panic!("panic from test-sink put"),
            Mode::ReportFlood => {
                let error = "e".repeat(64 << 10);
                for record in &records {
                    for _ in 0..REPORT_FLOOD_REPEATS {
                        if errant_record_reporter::report(record, &error).is_err() {
                            // Over the host's bound: wait for the reports in flight.
                            errant_record_reporter::flush()?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::{SchemaBuilder, Struct, testing};

    fn task(mode: &str) -> TestSinkTask {
        TestSinkTask::start(Config::from_pairs([("mode", mode)])).unwrap()
    }

    #[test]
    fn flaky_mode_fails_retriably_then_accepts() {
        let mut task = task("flaky");
        for _ in 0..FLAKY_FAILURES {
            let error = task.put(Vec::new()).expect_err("a transient failure");
            assert!(error.is_retriable(), "{error:?}");
        }
        task.put(Vec::new()).expect("accepted after the failures");
    }

    #[test]
    fn errant_mode_reports_bad_records_and_flushes() {
        testing::reset();
        let mut t = task("errant");
        t.put(vec![
            SinkRecord::new("t", 0, 10, Some(Data::string("good"))),
            SinkRecord::new("t", 0, 11, Some(Data::string("a bad one"))),
        ])
        .unwrap();
        let reports = testing::errant_reports();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].offset, 11);
        assert_eq!(reports[0].error, "bad record: a bad one");
        assert_eq!(testing::errant_reporter_flushes(), 1);
    }

    #[test]
    fn check_every_type_accepts_the_record_and_names_a_mismatch() {
        let mut t = task("check-every-type");
        t.put(vec![SinkRecord::new("t", 0, 0, Some(every_type::value()))])
            .unwrap();
        let mut changed = every_type::value();
        let Value::Struct(row) = &mut changed.value else {
            panic!("not a struct");
        };
        row.put("int16", 5_i16).unwrap();
        let err = t
            .put(vec![SinkRecord::new("t", 0, 1, Some(changed))])
            .unwrap_err();
        assert!(err.message().contains("value.int16"), "{err}");
        let other = SchemaBuilder::struct_()
            .field("x", SchemaBuilder::int32().build())
            .build();
        let other = Data::from_struct(Struct::new(other).unwrap().with("x", 1).unwrap());
        let err = t
            .put(vec![SinkRecord::new("t", 0, 2, Some(other))])
            .unwrap_err();
        assert!(err.message().contains("schema"), "{err}");
    }
}
