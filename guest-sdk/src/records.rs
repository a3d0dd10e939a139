//! Records and the small shapes around them: [`SourceRecord`] (with [`SourceRecordBuilder`]),
//! [`SinkRecord`], [`Header`], source partitions and offsets ([`OffsetMap`] of [`Scalar`]),
//! [`TopicPartition`] and [`TopicPartitionOffset`], and their conversion to and from the WIT.

use wasm_connect_sdk_sink_bindings::exports::wasm_connect::connector::sink_task as wit_sink;
use wasm_connect_sdk_source_bindings::exports::wasm_connect::connector::source_task as wit_source;
use wasm_connect_sdk_source_bindings::wasm_connect::connector::types as wit;

use std::sync::Arc;

use crate::data::codec::{SchemaResolver, SchemaTable};
use crate::data::{Data, DataError};

/// A primitive in a source partition or source offset (the WIT `scalar`): `Null`, `Boolean`,
/// `Int(i64)`, `Float(f64)` or `String`.
pub use wasm_connect_sdk_source_bindings::wasm_connect::connector::types::Scalar;

/// A source partition or source offset: Kafka Connect's `Map<String, ?>` of primitives, in order.
pub type OffsetMap = Vec<(String, Scalar)>;

/// Lookups in an [`OffsetMap`].
pub trait OffsetMapExt {
    /// The value of `key`.
    fn scalar(&self, key: &str) -> Option<&Scalar>;

    /// The value of `key` if it is an integer (or a float with no fractional part, as a JSON
    /// round trip may produce).
    fn int(&self, key: &str) -> Option<i64> {
        match self.scalar(key)? {
            Scalar::Int(v) => Some(*v),
            Scalar::Float(v) if v.fract() == 0.0 => Some(*v as i64),
            _ => None,
        }
    }

    /// The value of `key` if it is a string.
    fn string(&self, key: &str) -> Option<&str> {
        match self.scalar(key)? {
            Scalar::String(v) => Some(v),
            _ => None,
        }
    }
}

impl OffsetMapExt for [(String, Scalar)] {
    fn scalar(&self, key: &str) -> Option<&Scalar> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A record header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The key.
    pub key: String,
    /// The value with its schema.
    pub value: Data,
}

impl Header {
    /// A header.
    pub fn new(key: impl Into<String>, value: Data) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

/// A Kafka topic partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    pub(crate) fn from_wit(tp: wit::TopicPartition) -> Self {
        Self {
            topic: tp.topic,
            partition: tp.partition,
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // Used by the real imports.
    pub(crate) fn into_wit(self) -> wit::TopicPartition {
        wit::TopicPartition {
            topic: self.topic,
            partition: self.partition,
        }
    }
}

/// A topic partition and the next offset to read in it, as Kafka commits it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartitionOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
}

impl TopicPartitionOffset {
    /// A topic partition offset.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        Self {
            topic: topic.into(),
            partition,
            offset,
        }
    }

    /// The topic partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    pub(crate) fn from_wit(tpo: wit::TopicPartitionOffset) -> Self {
        Self {
            topic: tpo.topic,
            partition: tpo.partition,
            offset: tpo.offset,
        }
    }

    pub(crate) fn into_wit(self) -> wit::TopicPartitionOffset {
        wit::TopicPartitionOffset {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
        }
    }
}

/// A record a source task produces: Kafka Connect's `SourceRecord`.
///
/// The source partition and the topic are shared: a task keeps one `Arc` of each and clones
/// it into every record, which costs a reference count instead of an allocation and a copy per
/// record, and lets the SDK recognise the records of one partition by pointer when it lists
/// each partition once per batch. Plain values convert: `vec![...].into()`, `"lines".into()`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Where the record comes from in the external system, e.g. `{"filename": "a.txt"}`.
    pub source_partition: Arc<OffsetMap>,
    /// How far into that partition this record is, e.g. `{"position": 1024}`. The host stores
    /// it once the log acknowledged the record and every earlier one.
    pub source_offset: OffsetMap,
    /// The topic.
    pub topic: Arc<str>,
    /// The log partition; none lets the host's partitioner choose.
    pub partition: Option<i32>,
    /// The key; none is a null key without schema.
    pub key: Option<Data>,
    /// The value; none is a null value without schema (a tombstone).
    pub value: Option<Data>,
    /// Milliseconds since the epoch; none lets the log assign one.
    pub timestamp: Option<i64>,
    /// The headers.
    pub headers: Vec<Header>,
}

impl SourceRecord {
    /// A record with a value and no key.
    pub fn new(
        source_partition: impl Into<Arc<OffsetMap>>,
        source_offset: OffsetMap,
        topic: impl Into<Arc<str>>,
        value: Data,
    ) -> Self {
        Self {
            source_partition: source_partition.into(),
            source_offset,
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// A builder for a record to `topic`:
    ///
    /// ```
    /// use wasm_connect_sdk::{Data, Scalar, SourceRecord};
    ///
    /// let record = SourceRecord::builder("lines")
    ///     .source_partition(vec![("filename".into(), Scalar::String("a.txt".into()))])
    ///     .source_offset(vec![("position".into(), Scalar::Int(6))])
    ///     .value(Data::string("hello"))
    ///     .build();
    /// assert_eq!(record.key, None);
    /// ```
    pub fn builder(topic: impl Into<Arc<str>>) -> SourceRecordBuilder {
        SourceRecordBuilder {
            record: Self {
                source_partition: Arc::default(),
                source_offset: Vec::new(),
                topic: topic.into(),
                partition: None,
                key: None,
                value: None,
                timestamp: None,
                headers: Vec::new(),
            },
        }
    }

    pub(crate) fn into_wit(
        self,
        table: &mut SchemaTable,
        tables: &mut RecordTables,
    ) -> wit_source::SourceRecord {
        wit_source::SourceRecord {
            source_partition: RecordTables::index(
                &mut tables.source_partitions,
                self.source_partition,
            ),
            source_offset: self.source_offset,
            topic: RecordTables::index(&mut tables.topics, self.topic),
            partition: self.partition,
            key: self.key.map(|d| table.encode_data(d)),
            value: self.value.map(|d| table.encode_data(d)),
            timestamp: self.timestamp,
            headers: self
                .headers
                .into_iter()
                .map(|h| wit::Header {
                    key: h.key,
                    value: table.encode_data(h.value),
                })
                .collect(),
        }
    }

    /// Decodes a record coming back from the host, with the tables it refers to.
    pub(crate) fn from_wit(
        record: wit_source::SourceRecord,
        schemas: &mut SchemaResolver<'_>,
        tables: &RecordTables,
    ) -> Result<Self, DataError> {
        Ok(Self {
            source_partition: RecordTables::entry(
                &tables.source_partitions,
                record.source_partition,
                "source partition",
            )?
            .clone(),
            source_offset: record.source_offset,
            topic: RecordTables::entry(&tables.topics, record.topic, "topic")?.clone(),
            partition: record.partition,
            key: record.key.map(|d| schemas.decode_data(d)).transpose()?,
            value: record.value.map(|d| schemas.decode_data(d)).transpose()?,
            timestamp: record.timestamp,
            headers: decode_headers(record.headers, schemas)?,
        })
    }
}

/// The topics and source partitions of a `source-batch` or `committed-batch`, which records
/// refer to by index.
#[derive(Debug, Default)]
pub(crate) struct RecordTables {
    pub(crate) topics: Vec<Arc<str>>,
    pub(crate) source_partitions: Vec<Arc<OffsetMap>>,
}

impl RecordTables {
    /// How many of the latest entries a new value is compared with before it gets its own.
    /// Records of one topic and partition usually come together, so the last entry nearly
    /// always matches; interleaved partitions beyond this many are listed more than once,
    /// which the host accepts (a table may have up to one entry per record).
    const RECENT: usize = 8;

    /// The index of `value` in `table`, adding it if none of the recent entries is it or
    /// equals it.
    fn index<T: PartialEq + ?Sized>(table: &mut Vec<Arc<T>>, value: Arc<T>) -> u32 {
        let found = table
            .iter()
            .rev()
            .take(Self::RECENT)
            .position(|entry| Arc::ptr_eq(entry, &value) || *entry == value);
        let index = match found {
            Some(back) => table.len() - 1 - back,
            None => {
                table.push(value);
                table.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// The tables of a batch the host sent.
    pub(crate) fn from_wit(topics: Vec<String>, source_partitions: Vec<OffsetMap>) -> Self {
        Self {
            topics: topics.into_iter().map(Arc::from).collect(),
            source_partitions: source_partitions.into_iter().map(Arc::new).collect(),
        }
    }

    /// The tables as the WIT lists them: each topic copied once per batch, each source
    /// partition too unless nothing else (a task, a kept record) still holds it.
    pub(crate) fn into_wit(self) -> (Vec<String>, Vec<OffsetMap>) {
        let topics = self.topics.iter().map(|t| t.to_string()).collect();
        let source_partitions = self
            .source_partitions
            .into_iter()
            .map(|p| Arc::try_unwrap(p).unwrap_or_else(|p| p.as_ref().clone()))
            .collect();
        (topics, source_partitions)
    }

    fn entry<'t, T: ?Sized>(
        table: &'t [Arc<T>],
        index: u32,
        what: &str,
    ) -> Result<&'t Arc<T>, DataError> {
        table.get(index as usize).ok_or_else(|| {
            DataError::new(format!(
                "{what} {index} does not exist (the batch has {} {what}s)",
                table.len()
            ))
        })
    }
}

fn decode_headers(
    headers: impl IntoIterator<Item = wit::Header>,
    schemas: &mut SchemaResolver<'_>,
) -> Result<Vec<Header>, DataError> {
    headers
        .into_iter()
        .map(|h| {
            Ok(Header {
                key: h.key,
                value: schemas.decode_data(h.value)?,
            })
        })
        .collect()
}

/// Builds a [`SourceRecord`]; see [`SourceRecord::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SourceRecordBuilder {
    record: SourceRecord,
}

impl SourceRecordBuilder {
    /// Sets the source partition.
    pub fn source_partition(mut self, partition: impl Into<Arc<OffsetMap>>) -> Self {
        self.record.source_partition = partition.into();
        self
    }

    /// Sets the source offset.
    pub fn source_offset(mut self, offset: OffsetMap) -> Self {
        self.record.source_offset = offset;
        self
    }

    /// Sets the log partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.record.partition = Some(partition);
        self
    }

    /// Sets the key.
    pub fn key(mut self, key: Data) -> Self {
        self.record.key = Some(key);
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: Data) -> Self {
        self.record.value = Some(value);
        self
    }

    /// Sets the timestamp (milliseconds since the epoch).
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.record.timestamp = Some(timestamp);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: Data) -> Self {
        self.record.headers.push(Header::new(key, value));
        self
    }

    /// The record.
    pub fn build(self) -> SourceRecord {
        self.record
    }
}

/// Where the log put a source record: Kafka Connect's `RecordMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp the log assigned or kept.
    pub timestamp: Option<i64>,
}

impl RecordMetadata {
    pub(crate) fn from_wit(m: wit_source::RecordMetadata) -> Self {
        Self {
            topic: m.topic,
            partition: m.partition,
            offset: m.offset,
            timestamp: m.timestamp,
        }
    }
}

/// The meaning of a sink record's timestamp: Kafka's `TimestampType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// No timestamp.
    NoTimestampType,
    /// Set by the producer.
    CreateTime,
    /// Set by the broker.
    LogAppendTime,
}

/// A record read from the log: Kafka Connect's `SinkRecord`.
///
/// The topics are shared like a source record's: the records of one `put` batch hold one
/// `Arc` per topic, a reference count instead of an allocation and a copy per record.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// The topic, after transforms.
    pub topic: Arc<str>,
    /// The partition, after transforms.
    pub partition: i32,
    /// The offset, after transforms.
    pub offset: i64,
    /// The key; none is a null key without schema.
    pub key: Option<Data>,
    /// The value; none is a null value without schema.
    pub value: Option<Data>,
    /// The timestamp (milliseconds since the epoch).
    pub timestamp: Option<i64>,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The headers.
    pub headers: Vec<Header>,
    /// The topic the record was read from, before any transform.
    pub original_topic: Arc<str>,
    /// The partition the record was read from.
    pub original_partition: i32,
    /// The offset the record was read from: use it in `pre_commit` bookkeeping.
    pub original_offset: i64,
}

impl SinkRecord {
    /// A record as the host delivers it without transforms (the original coordinates equal
    /// the current ones); handy in tests.
    pub fn new(
        topic: impl Into<Arc<str>>,
        partition: i32,
        offset: i64,
        value: Option<Data>,
    ) -> Self {
        let topic = topic.into();
        Self {
            original_topic: topic.clone(),
            original_partition: partition,
            original_offset: offset,
            topic,
            partition,
            offset,
            key: None,
            value,
            timestamp: None,
            timestamp_type: TimestampType::NoTimestampType,
            headers: Vec::new(),
        }
    }

    /// A record of a `put` batch, with its topics looked up in the batch's `topics` (shared)
    /// and its `headers` (the batch's next `header-count`, taken by the caller).
    pub(crate) fn from_wit(
        record: wit_sink::SinkRecord,
        headers: impl IntoIterator<Item = wit::Header>,
        topics: &[Arc<str>],
        schemas: &mut SchemaResolver<'_>,
    ) -> Result<Self, DataError> {
        let topic = |index: u32| {
            topics.get(index as usize).cloned().ok_or_else(|| {
                DataError::new(format!(
                    "topic {index} does not exist (the batch has {} topics)",
                    topics.len()
                ))
            })
        };
        Ok(Self {
            topic: topic(record.topic)?,
            partition: record.partition,
            offset: record.offset,
            key: record.key.map(|d| schemas.decode_data(d)).transpose()?,
            value: record.value.map(|d| schemas.decode_data(d)).transpose()?,
            timestamp: record.timestamp,
            timestamp_type: match record.timestamp_type {
                wit_sink::TimestampType::NoTimestampType => TimestampType::NoTimestampType,
                wit_sink::TimestampType::CreateTime => TimestampType::CreateTime,
                wit_sink::TimestampType::LogAppendTime => TimestampType::LogAppendTime,
            },
            headers: decode_headers(headers, schemas)?,
            original_topic: topic(record.original_topic)?,
            original_partition: record.original_partition,
            original_offset: record.original_offset,
        })
    }
}
