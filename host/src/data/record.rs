//! Source and sink records and the small types around them (partitions, offsets, headers).

use std::sync::Arc;

use super::Data;

/// A primitive in a source partition or offset map.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    String(String),
}

/// A source partition or source offset: an ordered map of primitives.
pub type OffsetMap = Vec<(String, Scalar)>;

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: Data,
}

/// A record produced by a source task.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Shared by the records of one partition in a polled batch.
    pub source_partition: Arc<OffsetMap>,
    pub source_offset: OffsetMap,
    /// Shared by the records of one topic in a polled batch, and by the log records made
    /// from them.
    pub topic: Arc<str>,
    pub partition: Option<i32>,
    pub key: Option<Data>,
    pub value: Option<Data>,
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    NoTimestampType,
    CreateTime,
    LogAppendTime,
}

/// A record delivered to a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Shared with the other records of its batch and topic.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Data>,
    pub value: Option<Data>,
    pub timestamp: Option<i64>,
    pub timestamp_type: TimestampType,
    pub headers: Vec<Header>,
    pub original_topic: Arc<str>,
    pub original_partition: i32,
    pub original_offset: i64,
}

/// Where the log put a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Shared with the record it describes.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A partition and the next offset to read in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}
