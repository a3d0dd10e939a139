//! The export glue behind [`export_source_connector!`](crate::export_source_connector) and
//! [`export_sink_connector!`](crate::export_sink_connector): implementations of the
//! wit-bindgen `Guest` traits, generic over the author's connector and task types, that convert
//! between WIT and SDK types and keep the one connector or task of this instance in a
//! thread-local cell.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;

use wasm_connect_sdk_sink_bindings::exports::wasm_connect::connector::{
    connector as sink_connector_wit, sink_task as sink_task_wit,
};
use wasm_connect_sdk_source_bindings::exports::wasm_connect::connector::{
    connector as source_connector_wit, source_task as source_task_wit,
};
use wasm_connect_sdk_source_bindings::wasm_connect::connector::config_def as config_wit;
use wasm_connect_sdk_source_bindings::wasm_connect::connector::types as wit;

use crate::Error;
use crate::config::Config;
use crate::connector::{PluginInfo, SinkConnector, SinkTask, SourceConnector, SourceTask};
use crate::data::DataError;
use crate::data::codec::{SchemaResolver, SchemaTable};
use crate::host::{self, World};
use crate::records::{
    RecordMetadata, RecordTables, SinkRecord, SourceRecord, TopicPartition, TopicPartitionOffset,
};

thread_local! {
    /// The connector of this instance, once started.
    static CONNECTOR: RefCell<Option<Box<dyn Any>>> = RefCell::new(None);
    /// The task of this instance, once started.
    static TASK: RefCell<Option<Box<dyn Any>>> = RefCell::new(None);
}

fn store(cell: &'static std::thread::LocalKey<RefCell<Option<Box<dyn Any>>>>, value: Box<dyn Any>) {
    cell.with_borrow_mut(|slot| *slot = Some(value));
}

/// Runs `f` on the started instance of type `S` in `cell`.
fn with_started<S: 'static, R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<Box<dyn Any>>>>,
    call: &str,
    f: impl FnOnce(&mut S) -> Result<R, Error>,
) -> Result<R, Error> {
    cell.with_borrow_mut(
        |slot| match slot.as_mut().and_then(|s| s.downcast_mut::<S>()) {
            Some(state) => f(state),
            None => Err(Error::fatal(format!("`{call}` called before `start`"))),
        },
    )
}

/// Takes the instance out of `cell` and stops it.
fn stop_started<S: 'static>(
    cell: &'static std::thread::LocalKey<RefCell<Option<Box<dyn Any>>>>,
    stop: impl FnOnce(&mut S),
) {
    let taken = cell.with_borrow_mut(Option::take);
    if let Some(mut state) = taken.and_then(|s| s.downcast::<S>().ok()) {
        stop(&mut state);
    }
}

fn config_keys(def: crate::config::ConfigDef) -> Vec<config_wit::ConfigKey> {
    def.into_wit()
}

fn config_values(values: Vec<crate::config::ConfigValue>) -> Vec<config_wit::ConfigValue> {
    values
        .into_iter()
        .map(crate::config::ConfigValue::into_wit)
        .collect()
}

fn task_configs(configs: Vec<Config>) -> Vec<wit::Config> {
    configs.into_iter().map(Config::into_pairs).collect()
}

/// The glue for a source connector component.
pub struct SourceGlue<C, T>(PhantomData<fn() -> (C, T)>);

impl<C: SourceConnector, T: SourceTask> source_connector_wit::Guest for SourceGlue<C, T> {
    fn describe() -> source_connector_wit::PluginInfo {
        host::enter(World::Source);
        let PluginInfo {
            class_name,
            aliases,
            description,
        } = C::describe();
        source_connector_wit::PluginInfo {
            class_name,
            aliases,
            description,
        }
    }

    fn version() -> String {
        host::enter(World::Source);
        C::version()
    }

    fn config_def() -> Vec<config_wit::ConfigKey> {
        host::enter(World::Source);
        config_keys(C::config_def())
    }

    fn validate(config: wit::Config) -> Vec<config_wit::ConfigValue> {
        host::enter(World::Source);
        config_values(C::validate(&Config::from(config)))
    }

    fn start(config: wit::Config) -> Result<(), wit::ConnectorError> {
        host::enter(World::Source);
        let connector = C::start(Config::from(config)).map_err(Error::into_wit)?;
        store(&CONNECTOR, Box::new(connector));
        Ok(())
    }

    fn task_configs(max_tasks: u32) -> Result<Vec<wit::Config>, wit::ConnectorError> {
        host::enter(World::Source);
        with_started(&CONNECTOR, "task-configs", |c: &mut C| {
            c.task_configs(max_tasks)
        })
        .map(task_configs)
        .map_err(Error::into_wit)
    }

    fn stop() {
        host::enter(World::Source);
        stop_started(&CONNECTOR, C::stop);
    }
}

/// Encodes a poll result, each distinct schema once.
pub(crate) fn encode_source_batch(records: Vec<SourceRecord>) -> source_task_wit::SourceBatch {
    let mut table = SchemaTable::default();
    let mut tables = RecordTables::default();
    let records = records
        .into_iter()
        .map(|r| r.into_wit(&mut table, &mut tables))
        .collect();
    let (topics, source_partitions) = tables.into_wit();
    source_task_wit::SourceBatch {
        schemas: table.into_schemas(),
        topics,
        source_partitions,
        records,
        records_json: None,
    }
}

/// Decodes a `commit-records` batch.
pub(crate) fn decode_committed_batch(
    batch: source_task_wit::CommittedBatch,
) -> Result<Vec<(SourceRecord, Option<RecordMetadata>)>, Error> {
    let mut schemas = SchemaResolver::new(&batch.schemas);
    let tables = RecordTables::from_wit(batch.topics, batch.source_partitions);
    batch
        .records
        .into_iter()
        .enumerate()
        .map(|(i, committed)| {
            let record = SourceRecord::from_wit(committed.record, &mut schemas, &tables)
                .map_err(|e| DataError::new(format!("record {i}: {e}")))?;
            Ok((record, committed.metadata.map(RecordMetadata::from_wit)))
        })
        .collect::<Result<_, DataError>>()
        .map_err(|e| Error::fatal(format!("malformed committed batch: {e}")))
}

impl<C: SourceConnector, T: SourceTask> source_task_wit::Guest for SourceGlue<C, T> {
    fn start(config: wit::Config) -> Result<source_task_wit::TaskOptions, wit::ConnectorError> {
        host::enter(World::Source);
        let task = T::start(Config::from(config)).map_err(Error::into_wit)?;
        let options = task.options();
        store(&TASK, Box::new(task));
        Ok(source_task_wit::TaskOptions {
            wants_commit_records: options.wants_commit_records,
        })
    }

    fn poll() -> Result<source_task_wit::SourceBatch, wit::ConnectorError> {
        host::enter(World::Source);
        with_started(&TASK, "poll", |t: &mut T| t.poll().map(encode_source_batch))
            .map_err(Error::into_wit)
    }

    fn commit() -> Result<(), wit::ConnectorError> {
        host::enter(World::Source);
        with_started(&TASK, "commit", |t: &mut T| t.commit()).map_err(Error::into_wit)
    }

    fn commit_records(batch: source_task_wit::CommittedBatch) -> Result<(), wit::ConnectorError> {
        host::enter(World::Source);
        with_started(&TASK, "commit-records", |t: &mut T| {
            for (record, metadata) in decode_committed_batch(batch)? {
                t.commit_record(record, metadata)?;
            }
            Ok(())
        })
        .map_err(Error::into_wit)
    }

    fn stop() {
        host::enter(World::Source);
        stop_started(&TASK, T::stop);
    }
}

/// The glue for a sink connector component.
pub struct SinkGlue<C, T>(PhantomData<fn() -> (C, T)>);

impl<C: SinkConnector, T: SinkTask> sink_connector_wit::Guest for SinkGlue<C, T> {
    fn describe() -> sink_connector_wit::PluginInfo {
        host::enter(World::Sink);
        let PluginInfo {
            class_name,
            aliases,
            description,
        } = C::describe();
        sink_connector_wit::PluginInfo {
            class_name,
            aliases,
            description,
        }
    }

    fn version() -> String {
        host::enter(World::Sink);
        C::version()
    }

    fn config_def() -> Vec<config_wit::ConfigKey> {
        host::enter(World::Sink);
        config_keys(C::config_def())
    }

    fn validate(config: wit::Config) -> Vec<config_wit::ConfigValue> {
        host::enter(World::Sink);
        config_values(C::validate(&Config::from(config)))
    }

    fn start(config: wit::Config) -> Result<(), wit::ConnectorError> {
        host::enter(World::Sink);
        let connector = C::start(Config::from(config)).map_err(Error::into_wit)?;
        store(&CONNECTOR, Box::new(connector));
        Ok(())
    }

    fn task_configs(max_tasks: u32) -> Result<Vec<wit::Config>, wit::ConnectorError> {
        host::enter(World::Sink);
        with_started(&CONNECTOR, "task-configs", |c: &mut C| {
            c.task_configs(max_tasks)
        })
        .map(task_configs)
        .map_err(Error::into_wit)
    }

    fn stop() {
        host::enter(World::Sink);
        stop_started(&CONNECTOR, C::stop);
    }
}

/// Decodes a `put` batch.
pub(crate) fn decode_sink_batch(batch: sink_task_wit::SinkBatch) -> Result<Vec<SinkRecord>, Error> {
    let malformed = |e: &dyn std::fmt::Display| Error::fatal(format!("malformed sink batch: {e}"));
    let mut schemas = SchemaResolver::new(&batch.schemas);
    let topics: Vec<Arc<str>> = batch.topics.into_iter().map(Arc::from).collect();
    // Each record's headers are the next `header-count` of the batch's.
    let total = batch.headers.len();
    let mut headers = batch.headers.into_iter();
    let records = batch
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let count = r.header_count as usize;
            if count > headers.len() {
                return Err(malformed(&format_args!(
                    "record {i} has {count} headers, past the end of the batch's {total} headers"
                )));
            }
            SinkRecord::from_wit(r, headers.by_ref().take(count), &topics, &mut schemas)
                .map_err(|e| malformed(&e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if headers.len() != 0 {
        return Err(malformed(&format_args!(
            "its records have {} headers, but its `headers` list has {total}",
            total - headers.len()
        )));
    }
    Ok(records)
}

fn partitions(list: Vec<wit::TopicPartition>) -> Vec<TopicPartition> {
    list.into_iter().map(TopicPartition::from_wit).collect()
}

impl<C: SinkConnector, T: SinkTask> sink_task_wit::Guest for SinkGlue<C, T> {
    fn start(config: wit::Config) -> Result<(), wit::ConnectorError> {
        host::enter(World::Sink);
        let task = T::start(Config::from(config)).map_err(Error::into_wit)?;
        store(&TASK, Box::new(task));
        Ok(())
    }

    fn open(list: Vec<wit::TopicPartition>) -> Result<(), wit::ConnectorError> {
        host::enter(World::Sink);
        with_started(&TASK, "open", |t: &mut T| t.open(partitions(list))).map_err(Error::into_wit)
    }

    fn put(batch: sink_task_wit::SinkBatch) -> Result<(), wit::ConnectorError> {
        host::enter(World::Sink);
        with_started(&TASK, "put", |t: &mut T| t.put(decode_sink_batch(batch)?))
            .map_err(Error::into_wit)
    }

    fn pre_commit(
        offsets: Vec<wit::TopicPartitionOffset>,
    ) -> Result<Vec<wit::TopicPartitionOffset>, wit::ConnectorError> {
        host::enter(World::Sink);
        let offsets = offsets
            .into_iter()
            .map(TopicPartitionOffset::from_wit)
            .collect();
        with_started(&TASK, "pre-commit", |t: &mut T| t.pre_commit(offsets))
            .map(|list| {
                list.into_iter()
                    .map(TopicPartitionOffset::into_wit)
                    .collect()
            })
            .map_err(Error::into_wit)
    }

    fn close(list: Vec<wit::TopicPartition>) -> Result<(), wit::ConnectorError> {
        host::enter(World::Sink);
        with_started(&TASK, "close", |t: &mut T| t.close(partitions(list))).map_err(Error::into_wit)
    }

    fn stop() {
        host::enter(World::Sink);
        stop_started(&TASK, T::stop);
    }
}

/// Type-checks a source connector and task on targets where nothing is exported.
pub fn assert_source<C: SourceConnector, T: SourceTask>() {}

/// Type-checks a sink connector and task on targets where nothing is exported.
pub fn assert_sink<C: SinkConnector, T: SinkTask>() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Data, SchemaBuilder, Struct};
    use crate::records::Scalar;
    use std::sync::Arc;

    #[test]
    fn poll_batch_carries_one_schema_for_many_records() {
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::string().build())
            .build();
        let records: Vec<SourceRecord> = (0..100)
            .map(|i| {
                let value = Struct::new(schema.clone())
                    .unwrap()
                    .with("a", format!("{i}"))
                    .unwrap();
                SourceRecord::new(
                    vec![("p".into(), Scalar::Int(0))],
                    vec![("o".into(), Scalar::Int(i))],
                    "t",
                    Data::from_struct(value),
                )
            })
            .collect();
        let batch = encode_source_batch(records);
        assert_eq!(batch.schemas.len(), 2); // the struct and its one field
        assert!(
            batch
                .records
                .iter()
                .all(|r| r.value.as_ref().unwrap().schema == Some(0))
        );
        assert_eq!(batch.topics, ["t"]);
        assert_eq!(
            batch.source_partitions,
            [vec![("p".into(), Scalar::Int(0))]]
        );
        assert!(
            batch
                .records
                .iter()
                .all(|r| r.topic == 0 && r.source_partition == 0)
        );
    }

    #[test]
    fn poll_batch_lists_interleaved_topics_and_partitions_once() {
        let record = |partition: i64, topic: &str| {
            SourceRecord::new(
                vec![("p".into(), Scalar::Int(partition))],
                vec![],
                topic,
                Data::string("v"),
            )
        };
        let records = (0..30).map(|i| record(i % 3, ["a", "b"][(i % 2) as usize]));
        let batch = encode_source_batch(records.collect());
        assert_eq!(batch.topics, ["a", "b"]);
        assert_eq!(batch.source_partitions.len(), 3);
        for (i, r) in batch.records.iter().enumerate() {
            assert_eq!(r.topic as usize, i % 2);
            assert_eq!(
                batch.source_partitions[r.source_partition as usize],
                [("p".to_owned(), Scalar::Int(i as i64 % 3))]
            );
        }
        // More partitions than the SDK looks back over: listed again, still one per record at
        // most, and every record still points at its own.
        let many = (0..40).map(|i| record(i % 20, "a"));
        let batch = encode_source_batch(many.collect());
        assert!(batch.source_partitions.len() <= 40);
        for (i, r) in batch.records.iter().enumerate() {
            assert_eq!(
                batch.source_partitions[r.source_partition as usize],
                [("p".to_owned(), Scalar::Int(i as i64 % 20))]
            );
        }
    }

    #[test]
    fn poll_batch_lists_a_shared_partition_once_even_when_it_equals_nothing() {
        // NaN is not equal to itself, so only the shared `Arc` shows the records' partition is
        // one and the same.
        let partition = Arc::new(vec![("p".to_owned(), Scalar::Float(f64::NAN))]);
        let topic: Arc<str> = "t".into();
        let records = (0..10)
            .map(|i| {
                SourceRecord::new(
                    partition.clone(),
                    vec![("o".into(), Scalar::Int(i))],
                    topic.clone(),
                    Data::string("v"),
                )
            })
            .collect();
        let batch = encode_source_batch(records);
        assert_eq!(batch.topics, ["t"]);
        assert_eq!(batch.source_partitions.len(), 1);
        assert!(batch.records.iter().all(|r| r.source_partition == 0));
        // The task still holds its partition: the batch got a copy.
        assert_eq!(Arc::strong_count(&partition), 1);
    }

    /// What the host sends to `commit-records`: the records encoded against one table.
    fn committed_batch(
        records: Vec<(SourceRecord, Option<RecordMetadata>)>,
    ) -> source_task_wit::CommittedBatch {
        let mut table = SchemaTable::default();
        let mut tables = RecordTables::default();
        let records = records
            .into_iter()
            .map(|(record, metadata)| source_task_wit::CommittedRecord {
                record: record.into_wit(&mut table, &mut tables),
                metadata: metadata.map(|m| source_task_wit::RecordMetadata {
                    topic: m.topic,
                    partition: m.partition,
                    offset: m.offset,
                    timestamp: m.timestamp,
                }),
            })
            .collect();
        let (topics, source_partitions) = tables.into_wit();
        source_task_wit::CommittedBatch {
            schemas: table.into_schemas(),
            topics,
            source_partitions,
            records,
        }
    }

    #[test]
    fn committed_batches_decode_struct_values_with_their_schemas() {
        let schema = SchemaBuilder::struct_()
            .name("row")
            .field("a", SchemaBuilder::string().build())
            .field("b", SchemaBuilder::int32().optional().build())
            .build();
        let record = |i: i64| {
            let value = Struct::new(schema.clone())
                .unwrap()
                .with("a", format!("{i}"))
                .unwrap();
            SourceRecord::new(
                vec![("p".into(), Scalar::Int(0))],
                vec![("o".into(), Scalar::Int(i))],
                "t",
                Data::from_struct(value),
            )
        };
        let metadata = RecordMetadata {
            topic: "t".into(),
            partition: 3,
            offset: 42,
            timestamp: Some(1_700_000_000_000),
        };
        let records = vec![(record(0), Some(metadata)), (record(1), None)];
        let batch = committed_batch(records.clone());
        assert_eq!(batch.schemas.len(), 3); // the struct and its two fields, once
        assert_eq!(batch.topics, ["t"]);
        assert_eq!(batch.source_partitions.len(), 1);
        let decoded = decode_committed_batch(batch).unwrap();
        assert_eq!(decoded, records);
        let value = decoded[0].0.value.as_ref().unwrap();
        assert_eq!(value.schema.as_ref().unwrap().name.as_deref(), Some("row"));
    }

    #[test]
    fn committed_batches_without_their_schemas_are_rejected() {
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::string().build())
            .build();
        let value = Struct::new(schema).unwrap().with("a", "x").unwrap();
        let record = SourceRecord::new(vec![], vec![], "t", Data::from_struct(value));
        let mut batch = committed_batch(vec![(record, None)]);
        batch.schemas.clear();
        let err = decode_committed_batch(batch).unwrap_err();
        assert!(
            err.to_string().contains("malformed committed batch"),
            "{err}"
        );
    }

    #[test]
    fn committed_batches_without_their_topic_are_rejected() {
        let record = SourceRecord::new(vec![], vec![], "t", Data::string("v"));
        let mut batch = committed_batch(vec![(record, None)]);
        batch.topics.clear();
        let err = decode_committed_batch(batch).unwrap_err();
        assert!(
            err.to_string()
                .contains("record 0: topic 0 does not exist (the batch has 0 topics)"),
            "{err}"
        );
    }

    fn sink_record(topic: u32, original_topic: u32) -> sink_task_wit::SinkRecord {
        sink_task_wit::SinkRecord {
            topic,
            partition: 0,
            offset: 7,
            key: None,
            value: Some(wit::Data {
                schema: None,
                value: wit::DataValue::String("v".into()),
            }),
            timestamp: None,
            timestamp_type: sink_task_wit::TimestampType::NoTimestampType,
            header_count: 0,
            original_topic,
            original_partition: 0,
            original_offset: 7,
        }
    }

    #[test]
    fn sink_batches_name_topics_by_index() {
        let batch = sink_task_wit::SinkBatch {
            schemas: vec![],
            topics: vec!["renamed".into(), "orders".into()],
            headers: vec![],
            records: vec![sink_record(0, 1), sink_record(1, 1)],
        };
        let records = decode_sink_batch(batch).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| (&*r.topic, &*r.original_topic))
                .collect::<Vec<_>>(),
            [("renamed", "orders"), ("orders", "orders")]
        );
        // One allocation per topic of the batch, shared by every record naming it.
        assert!(Arc::ptr_eq(&records[0].original_topic, &records[1].topic));
        assert!(Arc::ptr_eq(&records[1].topic, &records[1].original_topic));
        assert_eq!(records[0].value, Some(Data::schemaless("v")));
        let batch = sink_task_wit::SinkBatch {
            schemas: vec![],
            topics: vec!["orders".into()],
            headers: vec![],
            records: vec![sink_record(0, 3)],
        };
        let err = decode_sink_batch(batch).unwrap_err();
        assert!(
            err.to_string()
                .contains("topic 3 does not exist (the batch has 1 topics)"),
            "{err}"
        );
    }

    #[test]
    fn each_sink_record_takes_its_headers_in_turn() {
        let header = |key: &str| wit::Header {
            key: key.into(),
            value: wit::Data {
                schema: None,
                value: wit::DataValue::Null,
            },
        };
        let with_headers = |count| sink_task_wit::SinkRecord {
            header_count: count,
            ..sink_record(0, 0)
        };
        let batch = |headers: &[&str], counts: &[u32]| sink_task_wit::SinkBatch {
            schemas: vec![],
            topics: vec!["t".into()],
            headers: headers.iter().map(|k| header(k)).collect(),
            records: counts.iter().map(|&c| with_headers(c)).collect(),
        };
        let records = decode_sink_batch(batch(&["a", "b", "c"], &[1, 0, 2])).unwrap();
        let keys: Vec<Vec<&str>> = records
            .iter()
            .map(|r| r.headers.iter().map(|h| h.key.as_str()).collect())
            .collect();
        assert_eq!(keys, [vec!["a"], vec![], vec!["b", "c"]]);
        let err = decode_sink_batch(batch(&["a"], &[0, 2])).unwrap_err();
        assert!(
            err.to_string()
                .contains("record 1 has 2 headers, past the end of the batch's 1 headers"),
            "{err}"
        );
        let err = decode_sink_batch(batch(&["a"], &[0])).unwrap_err();
        assert!(
            err.to_string()
                .contains("its records have 0 headers, but its `headers` list has 1"),
            "{err}"
        );
    }
}
