//! The Connect data model: [`Schema`] (built with [`SchemaBuilder`]), [`Value`], [`Struct`] and
//! [`Data`], mirroring Kafka Connect's `org.apache.kafka.connect.data`. Conversion to and from
//! the WIT flat tables lives in the `codec` submodule.

pub(crate) mod codec;
mod schema;
mod value;

pub use schema::{Field, Schema, SchemaBuilder, SchemaType, logical};
pub use value::{Data, Struct, Value, lossy_utf8};

use std::fmt;

/// A value that does not fit its schema, or a schema or value table that cannot be decoded:
/// Kafka Connect's `DataException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError(pub(crate) String);

impl DataError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message, a lowercase fragment.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DataError {}
