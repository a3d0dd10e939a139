//! Kafka Connect's single message transforms (SMTs) and predicates on the host: the
//! [`ConnectRecord`] view shared by source and sink records, the [`TransformChain`] built from a
//! connector's `transforms.*` and `predicates.*` settings, and one file per built-in SMT. Pure
//! functions over records; the task loops in `worker` decide when to call the chain and what to
//! do with errors and dropped records.
//!
//! A chain runs in place: each transform takes the key, value or headers it rewrites out of the
//! record, rebuilds them and puts them back, so a batch is never cloned. Schemas derived from an
//! input schema (InsertField adds a field, ReplaceField drops some, …) are built once per input
//! schema and cached, as Kafka Connect does.
//!
//! A task builds its chain once with [`TransformChain::from_settings`] from the connector's
//! settings, then calls [`TransformChain::apply`] (or [`TransformChain::apply_in_place`], which
//! leaves a dropped record with the caller, e.g. to commit its source offset) on each record:
//! after `poll` and before the converters for a source task, after the converters and before
//! `put` for a sink task.
//!
//! A step may also be a transform component (the `transform` world), found through
//! [`TransformPlugins`] when the chain is built. Such a chain runs in a task through
//! `worker::transforms::TaskTransforms`, which owns the task's own sandboxed instance of each
//! component step and applies the chain a batch at a time.

mod cast;
pub(crate) mod chain;
mod date_format;
mod drop_headers;
mod extract_field;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod predicates;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
#[cfg(test)]
pub(crate) mod test_util;
mod timestamp_converter;
mod timestamp_router;
mod util;
mod value_to_key;

use std::{borrow::Cow, fmt};

pub use chain::{
    Disposition, NoTransformPlugins, TransformChain, TransformPlugins, supported_predicates,
    supported_transforms,
};

use crate::data::{Data, Header, SinkRecord, SourceRecord};

/// What a transformation or predicate sees of a record: Kafka Connect's `ConnectRecord`,
/// implemented by [`SourceRecord`] and [`SinkRecord`].
pub trait ConnectRecord {
    fn topic(&self) -> &str;
    fn set_topic(&mut self, topic: String);
    /// The Kafka partition, if one is set (always for sink records).
    fn kafka_partition(&self) -> Option<i32>;
    /// The Kafka offset; only sink records have one.
    fn kafka_offset(&self) -> Option<i64>;
    fn timestamp(&self) -> Option<i64>;
    fn set_timestamp(&mut self, timestamp: Option<i64>);
    /// Sets the Kafka partition; None leaves a sink record's partition as it is.
    fn set_kafka_partition(&mut self, partition: Option<i32>);
    fn key(&self) -> Option<&Data>;
    fn key_mut(&mut self) -> &mut Option<Data>;
    fn value(&self) -> Option<&Data>;
    fn value_mut(&mut self) -> &mut Option<Data>;
    fn headers(&self) -> &[Header];
    fn headers_mut(&mut self) -> &mut Vec<Header>;
    /// Whether this is a sink record (some transforms, like `InsertField`'s `offset.field`,
    /// need one).
    fn is_sink(&self) -> bool;
}

impl ConnectRecord for SourceRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn set_topic(&mut self, topic: String) {
        self.topic = topic.into();
    }
    fn kafka_partition(&self) -> Option<i32> {
        self.partition
    }
    fn set_kafka_partition(&mut self, partition: Option<i32>) {
        self.partition = partition;
    }
    fn kafka_offset(&self) -> Option<i64> {
        None
    }
    fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.timestamp = timestamp;
    }
    fn key(&self) -> Option<&Data> {
        self.key.as_ref()
    }
    fn key_mut(&mut self) -> &mut Option<Data> {
        &mut self.key
    }
    fn value(&self) -> Option<&Data> {
        self.value.as_ref()
    }
    fn value_mut(&mut self) -> &mut Option<Data> {
        &mut self.value
    }
    fn headers(&self) -> &[Header] {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Vec<Header> {
        &mut self.headers
    }
    fn is_sink(&self) -> bool {
        false
    }
}

impl ConnectRecord for SinkRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn set_topic(&mut self, topic: String) {
        self.topic = topic.into();
    }
    fn kafka_partition(&self) -> Option<i32> {
        Some(self.partition)
    }
    fn set_kafka_partition(&mut self, partition: Option<i32>) {
        if let Some(partition) = partition {
            self.partition = partition;
        }
    }
    fn kafka_offset(&self) -> Option<i64> {
        Some(self.offset)
    }
    fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }
    fn set_timestamp(&mut self, timestamp: Option<i64>) {
        self.timestamp = timestamp;
    }
    fn key(&self) -> Option<&Data> {
        self.key.as_ref()
    }
    fn key_mut(&mut self) -> &mut Option<Data> {
        &mut self.key
    }
    fn value(&self) -> Option<&Data> {
        self.value.as_ref()
    }
    fn value_mut(&mut self) -> &mut Option<Data> {
        &mut self.value
    }
    fn headers(&self) -> &[Header] {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Vec<Header> {
        &mut self.headers
    }
    fn is_sink(&self) -> bool {
        true
    }
}

/// A transformation failed on one record (Kafka Connect throws a `DataException`; the stage is
/// `TRANSFORMATION`). Under `errors.tolerance=all` the worker skips the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transformation `{alias}` ({class}) failed: {message}")]
pub struct TransformError {
    /// The alias from `transforms`.
    pub alias: String,
    /// The short class name (`InsertField$Value`), or a transform component's class name.
    pub class: Cow<'static, str>,
    /// Whether the stage is a transform component.
    pub plugin: bool,
    /// Kafka Connect's exception message.
    pub message: String,
}

impl TransformError {
    /// The class as `__connect.errors.class.name` names it: Kafka Connect's full class name of
    /// a built-in SMT, or the component's class name.
    pub fn class_name(&self) -> String {
        if self.plugin {
            self.class.clone().into_owned()
        } else {
            format!("org.apache.kafka.connect.transforms.{}", self.class)
        }
    }

    /// The Java exception class Kafka Connect would report (for
    /// `__connect.errors.exception.class.name`).
    pub fn exception_class(&self) -> &'static str {
        "org.apache.kafka.connect.errors.DataException"
    }
}

/// The `transforms.*` or `predicates.*` settings cannot build a chain. Every variant names the
/// full setting key, the offending value and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformConfigError {
    #[error("missing required setting `{key}`: {hint}")]
    Missing { key: String, hint: String },
    #[error("invalid value `{value}` for setting `{key}`: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

impl TransformConfigError {
    /// The setting the error is about.
    pub fn key(&self) -> &str {
        match self {
            Self::Missing { key, .. } | Self::Invalid { key, .. } => key,
        }
    }
}

/// Kafka Connect's `DataException` inside one transformation, before the chain names the alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataException(pub String);

impl DataException {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for DataException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a transformation did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    Keep,
    Drop,
}

/// One built-in SMT. Object-safe so a chain can hold any mix; works on the record in place.
pub(crate) trait Transformation: Send + Sync + fmt::Debug {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException>;
}
