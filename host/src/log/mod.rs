//! The record log tasks write to and read from, behind one trait: Kafka (rdkafka) when
//! `bootstrap.servers` is set, otherwise the embedded durable log in a local directory.
//! Knows bytes, topics, partitions and offsets; knows nothing of connectors or converters.

pub mod embedded;
pub mod kafka;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use futures::future::BoxFuture;

pub use crate::data::{RecordMetadata, TimestampType, TopicPartition, TopicPartitionOffset};

/// A record header in its serialized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHeader {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRecord {
    /// Shared with the source record it was made from.
    pub topic: Arc<str>,
    /// None: the log's partitioner chooses (murmur2 of the key as Kafka's Java client does,
    /// or spreads keyless records).
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<LogHeader>,
    /// Milliseconds since the epoch; None lets the log assign the current time.
    pub timestamp: Option<i64>,
}

/// A record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<LogHeader>,
    pub timestamp: Option<i64>,
    pub timestamp_type: TimestampType,
}

/// A topic and the offsets of its partitions, as `wasm-connect topics list` shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TopicDescription {
    pub name: String,
    pub partitions: Vec<PartitionOffsets>,
}

/// The first offset still held and the next offset to be written of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionOffsets {
    pub partition: i32,
    pub start_offset: i64,
    pub end_offset: i64,
}

/// A change of the partitions assigned to a consumer, reported by [`LogConsumer::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebalance {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

/// What a poll returns: rebalance events first (in order), then records from the current
/// assignment.
#[derive(Debug, Default)]
pub struct Polled {
    pub rebalances: Vec<Rebalance>,
    pub records: Vec<ConsumedRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("topic `{0}` does not exist")]
    UnknownTopic(String),
    #[error("partition {partition} of topic `{topic}` does not exist")]
    UnknownPartition { topic: String, partition: i32 },
    #[error("invalid topic name `{0}`: use 1-249 characters from [a-zA-Z0-9._-]")]
    InvalidTopic(String),
    #[error("kafka error")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("embedded log storage error: {0}")]
    Storage(String),
    #[error("embedded log directory `{}` is in use by another process: is a worker running on it?", .0.display())]
    InUse(std::path::PathBuf),
    #[error("embedded log I/O error")]
    Io(#[from] std::io::Error),
    #[error("the log is shut down")]
    Closed,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Other(String),
}

impl LogError {
    /// Whether retrying the same operation may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Kafka(error) => error
                .rdkafka_error_code()
                .map(|code| {
                    use rdkafka::types::RDKafkaErrorCode::*;
                    matches!(
                        code,
                        MessageTimedOut
                            | QueueFull
                            | RequestTimedOut
                            | NotEnoughReplicas
                            | NotEnoughReplicasAfterAppend
                            | LeaderNotAvailable
                            | NotLeaderForPartition
                            | NetworkException
                            | BrokerNotAvailable
                            | AllBrokersDown
                            | BrokerTransportFailure
                    )
                })
                .unwrap_or(false),
            Self::Timeout(_) | Self::Io(_) => true,
            _ => false,
        }
    }
}

/// The outcome of each record of a batch, in the order sent.
pub type Delivery = BoxFuture<'static, Vec<Result<RecordMetadata, LogError>>>;

/// A record log: Kafka or the embedded log.
#[async_trait]
pub trait RecordLog: Send + Sync + 'static {
    /// `kafka` or `embedded`, for logs and errors.
    fn kind(&self) -> &'static str;

    /// Creates a topic with `partitions` partitions if it does not exist yet. Existing topics
    /// are left as they are.
    async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), LogError>;

    /// The number of partitions of a topic, or None if it does not exist.
    async fn partition_count(&self, topic: &str) -> Result<Option<i32>, LogError>;

    /// A producer. `client_id` names it in logs (`connector-producer-<connector>-<task>`).
    fn producer(&self, client_id: &str) -> Result<Arc<dyn LogProducer>, LogError>;

    /// A consumer in group `group` (`connect-<connector>` for sink tasks), starting from the
    /// group's committed offsets, or the earliest offset where there is none.
    fn consumer(&self, group: &str, client_id: &str) -> Result<Box<dyn LogConsumer>, LogError>;

    /// The embedded log's writer statistics for `/metrics`; None for Kafka.
    fn stats(&self) -> Option<Arc<crate::metrics::LogStats>> {
        None
    }

    /// The statistics of this log's Kafka clients that are alive; none for the embedded log.
    fn clients(&self) -> Vec<Arc<crate::metrics::ClientStats>> {
        Vec::new()
    }

    /// Every topic with its partitions' offsets, sorted by name.
    async fn describe_topics(&self) -> Result<Vec<TopicDescription>, LogError>;

    /// Up to `max` records of one partition from `offset` on, of those written when the call
    /// starts: a browsing read for tools, outside any consumer group, that commits nothing.
    /// An offset below the partition's start reads from the start.
    async fn read(
        &self,
        partition: &TopicPartition,
        offset: i64,
        max: usize,
    ) -> Result<Vec<ConsumedRecord>, LogError>;

    /// The committed offsets of a consumer group.
    async fn committed_offsets(&self, group: &str) -> Result<Vec<TopicPartitionOffset>, LogError>;

    /// Sets (`Some`, the next offset to read) or removes (`None`) committed offsets of a
    /// consumer group, as an admin client does: the group must have no active members.
    async fn alter_committed_offsets(
        &self,
        group: &str,
        offsets: &[(TopicPartition, Option<i64>)],
    ) -> Result<(), LogError>;
}

/// Appends records.
#[async_trait]
pub trait LogProducer: Send + Sync {
    /// Enqueues a batch and returns a future of the outcome of every record, which resolves
    /// once each record is durably acknowledged or failed. Waits while the producer's queue
    /// is full, so callers can pipeline batches without unbounded buffering. Records with the
    /// same partition are appended in the order given, and batches in the order sent.
    async fn send(&self, records: Vec<ProduceRecord>) -> Result<Delivery, LogError>;

    /// Waits until everything sent so far is acknowledged or failed.
    async fn flush(&self, timeout: Duration) -> Result<(), LogError>;
}

/// Reads records as a member of a consumer group.
#[async_trait]
pub trait LogConsumer: Send {
    /// Subscribes to these topics (replacing any earlier subscription). An entry starting with
    /// `^` is a regular expression, as librdkafka takes it; the sink loop passes `topics.regex`
    /// as `^(<regex>)$` so it must match whole names, as in Kafka Connect. Partitions are
    /// assigned among the group's members; changes arrive as [`Rebalance`] events.
    async fn subscribe(&mut self, topics: &[String]) -> Result<(), LogError>;

    /// Returns up to `max` records, waiting up to `timeout` for the first one.
    async fn poll(&mut self, max: usize, timeout: Duration) -> Result<Polled, LogError>;

    /// The partitions currently assigned.
    fn assignment(&self) -> Vec<TopicPartition>;

    /// The largest number of records the consumer is behind in an assigned partition (the
    /// end offset less its position), as far as it knows without asking the log, or None
    /// when it does not know yet.
    fn lag(&self) -> Option<i64>;

    /// Commits these offsets (the next offset to read per partition) for the group, durably.
    async fn commit(&mut self, offsets: &[TopicPartitionOffset]) -> Result<(), LogError>;

    /// Continues reading a partition from `offset`.
    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<(), LogError>;

    /// Stops returning records from these partitions until resumed.
    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError>;

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), LogError>;

    /// Leaves the group; its partitions go to the other members.
    async fn close(&mut self) -> Result<(), LogError>;
}
