//! [`Generator`]: makes the records of one task, fast. Every record of a batch shares one
//! schema `Arc` (so a batch carries each schema once), values are copied from a template made
//! at start, the topic and source partition are shared `Arc`s, and nothing is allocated per
//! record beyond the record's own fields.

use std::sync::Arc;
use std::time::Duration;

use wasm_connect_sdk::{
    Data, OffsetMap, Scalar, Schema, SchemaBuilder, SchemaType, SourceRecord, Struct, Value,
};

use crate::settings::{KeyShape, Settings, ValueShape};

/// The key of the source partition.
pub const TASK_FIELD: &str = "task";
/// The key of the source offset.
pub const SEQ_FIELD: &str = "seq";

/// The source partition of task `task_id`: `{"task": task_id}`.
pub fn source_partition(task_id: i64) -> OffsetMap {
    vec![(TASK_FIELD.to_owned(), Scalar::Int(task_id))]
}

/// Generates the records of one task: sequence numbers `start..count`, at most `rate` per
/// second since the generator was made.
#[derive(Debug)]
pub struct Generator {
    settings: Settings,
    /// The topic and the task's source partition, shared by every record.
    topic: Arc<str>,
    partition: Arc<OffsetMap>,
    next_seq: u64,
    /// Records emitted since the generator was made, for the rate limit.
    emitted: u64,
    template: Vec<u8>,
    value_schema: Arc<Schema>,
    key_schema: Option<Arc<Schema>>,
    /// The length of each struct field.
    field_size: usize,
}

impl Generator {
    /// A generator that continues after sequence number `last_seq` (none: starts at 0).
    pub fn new(settings: Settings, last_seq: Option<u64>) -> Self {
        let template: Vec<u8> = (0..settings.value_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let value_schema = match settings.value_shape {
            ValueShape::Bytes => Schema::primitive(SchemaType::Bytes, false),
            ValueShape::String => Schema::primitive(SchemaType::String, false),
            ValueShape::Struct => {
                let field = Schema::primitive(SchemaType::String, false);
                let mut builder = SchemaBuilder::struct_().name("datagen.Value");
                for i in 0..settings.struct_fields {
                    builder = builder.field(format!("f{i}"), field.clone());
                }
                builder.build()
            }
        };
        let key_schema = match settings.key_shape {
            KeyShape::None => None,
            KeyShape::Sequence => Some(Schema::primitive(SchemaType::Int64, false)),
            KeyShape::String => Some(Schema::primitive(SchemaType::String, false)),
        };
        let field_size = settings.value_size / settings.struct_fields.max(1);
        Self {
            topic: settings.topic.as_str().into(),
            partition: Arc::new(source_partition(settings.task_id)),
            next_seq: last_seq.map_or(0, |s| s + 1),
            emitted: 0,
            template,
            value_schema,
            key_schema,
            field_size,
            settings,
        }
    }

    /// Whether every record of this task has been generated.
    pub fn is_done(&self) -> bool {
        self.settings.count.is_some_and(|c| self.next_seq >= c)
    }

    /// How long, `elapsed` after the generator was made, until it has a record again: never
    /// ([`Duration::MAX`]) once every record was generated, the time to the next record the
    /// rate allows, or `None` when it has one now.
    pub fn idle_for(&self, elapsed: Duration) -> Option<Duration> {
        if self.is_done() {
            return Some(Duration::MAX);
        }
        let rate = self.settings.rate.filter(|rate| *rate > 0.0)?;
        let due = Duration::try_from_secs_f64((self.emitted + 1) as f64 / rate).ok()?;
        due.checked_sub(elapsed).filter(|wait| !wait.is_zero())
    }

    /// The next sequence number.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next batch, given the time since the generator was made: at most `batch.size`
    /// records, fewer (or none) when the count is reached or the rate would be exceeded.
    pub fn next_batch(&mut self, elapsed: Duration) -> Vec<SourceRecord> {
        let mut n = self.settings.batch_size as u64;
        if let Some(count) = self.settings.count {
            n = n.min(count.saturating_sub(self.next_seq));
        }
        if let Some(rate) = self.settings.rate {
            let allowed = (elapsed.as_secs_f64() * rate) as u64;
            n = n.min(allowed.saturating_sub(self.emitted));
        }
        let mut records = Vec::with_capacity(n as usize);
        for _ in 0..n {
            records.push(self.record(self.next_seq));
            self.next_seq += 1;
        }
        self.emitted += n;
        records
    }

    fn record(&self, seq: u64) -> SourceRecord {
        let seq_value = seq as i64;
        let key = self.key_schema.as_ref().map(|schema| {
            let value = match self.settings.key_shape {
                KeyShape::String => Value::String(seq.to_string()),
                _ => Value::Int64(seq_value),
            };
            Data::new(schema.clone(), value)
        });
        SourceRecord {
            source_partition: self.partition.clone(),
            source_offset: vec![(SEQ_FIELD.to_owned(), Scalar::Int(seq_value))],
            topic: self.topic.clone(),
            partition: None,
            key,
            value: Some(Data::new(self.value_schema.clone(), self.value(seq))),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// Bytes of the value: the template with the sequence number written over its start (as
    /// big-endian bytes, or as decimal digits for strings), so values differ.
    fn value(&self, seq: u64) -> Value {
        match self.settings.value_shape {
            ValueShape::Bytes => {
                let mut bytes = self.template.clone();
                let seq_bytes = seq.to_be_bytes();
                let n = bytes.len().min(seq_bytes.len());
                bytes[..n].copy_from_slice(&seq_bytes[seq_bytes.len() - n..]);
                Value::Bytes(bytes)
            }
            ValueShape::String => Value::String(self.stamped(seq, self.template.len())),
            ValueShape::Struct => {
                let fields = (0..self.settings.struct_fields)
                    .map(|_| Value::String(self.stamped(seq, self.field_size)))
                    .collect();
                Value::Struct(
                    Struct::from_values(self.value_schema.clone(), fields)
                        .expect("the values are made for the schema"),
                )
            }
        }
    }

    /// An ASCII string of `len` bytes starting with the decimal sequence number (truncated if
    /// `len` is shorter), then template letters.
    fn stamped(&self, seq: u64, len: usize) -> String {
        let mut digits = [0_u8; 20];
        let mut i = digits.len();
        let mut n = seq;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = &digits[i..];
        let mut s = String::with_capacity(len);
        let stamp = digits.len().min(len);
        s.push_str(std::str::from_utf8(&digits[..stamp]).expect("ASCII digits"));
        s.push_str(std::str::from_utf8(&self.template[stamp..len]).expect("ASCII template"));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_connect_sdk::{Config, OffsetMapExt};

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut config = Config::from_pairs([("topic", "t")]);
        for (k, v) in pairs {
            config.set(*k, *v);
        }
        Settings::from_config(&config).unwrap()
    }

    #[test]
    fn bytes_values_have_the_configured_size_and_offsets_count_up() {
        let mut generator = Generator::new(settings(&[("task.id", "3")]), None);
        let batch = generator.next_batch(Duration::ZERO);
        assert_eq!(batch.len(), 1000);
        let record = &batch[7];
        assert_eq!(record.source_partition.int("task"), Some(3));
        assert_eq!(record.source_offset.int("seq"), Some(7));
        assert_eq!(record.key, None);
        let Value::Bytes(bytes) = &record.value.as_ref().unwrap().value else {
            panic!("not bytes");
        };
        assert_eq!(bytes.len(), 100);
        assert_eq!(&bytes[..8], &7_u64.to_be_bytes());
    }

    #[test]
    fn count_bounds_the_task_and_resume_continues_after_the_last_seq() {
        let s = settings(&[("count", "25"), ("batch.size", "10")]);
        let mut generator = Generator::new(s.clone(), Some(9));
        assert_eq!(generator.next_batch(Duration::ZERO).len(), 10);
        assert_eq!(generator.next_batch(Duration::ZERO).len(), 5);
        assert!(generator.is_done());
        assert!(generator.next_batch(Duration::ZERO).is_empty());
        assert_eq!(generator.idle_for(Duration::ZERO), Some(Duration::MAX));
        assert_eq!(generator.next_seq(), 25);
    }

    #[test]
    fn rate_limits_by_elapsed_time() {
        let mut generator = Generator::new(settings(&[("rate", "100")]), None);
        assert!(generator.next_batch(Duration::ZERO).is_empty());
        assert_eq!(generator.next_batch(Duration::from_millis(500)).len(), 50);
        assert!(generator.next_batch(Duration::from_millis(505)).is_empty());
        assert_eq!(generator.next_batch(Duration::from_secs(1)).len(), 50);
        // The next record is due 10 ms after the 100th.
        assert_eq!(
            generator.idle_for(Duration::from_millis(1_000)),
            Some(Duration::from_millis(10))
        );
        assert_eq!(generator.idle_for(Duration::from_millis(1_010)), None);
        // Long idle periods are capped by batch.size, not burst all at once.
        assert_eq!(generator.next_batch(Duration::from_secs(100)).len(), 1000);
    }

    #[test]
    fn string_values_and_keys() {
        let mut generator = Generator::new(
            settings(&[
                ("value.shape", "string"),
                ("key.shape", "string"),
                ("value.size", "6"),
            ]),
            None,
        );
        let batch = generator.next_batch(Duration::ZERO);
        let record = &batch[12];
        assert_eq!(record.value.as_ref().unwrap().value, Value::from("12cdef"));
        assert_eq!(record.key.as_ref().unwrap().value, Value::from("12"));
        let mut generator = Generator::new(
            settings(&[("key.shape", "sequence"), ("value.size", "0")]),
            None,
        );
        let record = &generator.next_batch(Duration::ZERO)[3];
        assert_eq!(record.key.as_ref().unwrap().value, Value::Int64(3));
        assert_eq!(record.value.as_ref().unwrap().value, Value::Bytes(vec![]));
    }

    #[test]
    fn struct_values_share_one_schema() {
        let mut generator = Generator::new(
            settings(&[
                ("value.shape", "struct"),
                ("struct.fields", "5"),
                ("value.size", "50"),
            ]),
            None,
        );
        let batch = generator.next_batch(Duration::ZERO);
        let first = batch[0].value.as_ref().unwrap();
        let last = batch[999].value.as_ref().unwrap();
        assert!(Arc::ptr_eq(
            first.schema.as_ref().unwrap(),
            last.schema.as_ref().unwrap()
        ));
        let row = last.value.as_struct().unwrap();
        assert_eq!(row.values().len(), 5);
        assert_eq!(row.get("f4"), Some(&Value::from("999defghij")));
    }
}
