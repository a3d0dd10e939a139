//! The Connect data model on the host: schemas, values, structs, logical types, and the
//! source and sink records that carry them. Pure data; no I/O.

mod record;

use std::sync::Arc;

pub use record::{
    Header, OffsetMap, RecordMetadata, Scalar, SinkRecord, SourceRecord, TimestampType,
    TopicPartition, TopicPartitionOffset,
};

/// The type of a schema, as Kafka Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The lower-case name Kafka Connect uses (`int8`, …, `struct`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Array => "array",
            Self::Map => "map",
            Self::Struct => "struct",
        }
    }

    pub fn is_primitive(self) -> bool {
        !matches!(self, Self::Array | Self::Map | Self::Struct)
    }
}

/// A shared, immutable schema.
pub type SchemaRef = Arc<Schema>;

/// A Connect schema. Equality includes name, version, doc, parameters and default, as in
/// Kafka Connect.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub ty: SchemaType,
    pub optional: bool,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// Parameters in insertion order.
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Map key schema.
    pub key_schema: Option<SchemaRef>,
    /// Array element schema or map value schema.
    pub value_schema: Option<SchemaRef>,
    /// Struct fields, in order.
    pub fields: Vec<Field>,
}

/// A struct field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: SchemaRef,
}

/// Logical type names.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DECIMAL_SCALE: &str = "scale";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
}

impl Schema {
    /// A required schema of a primitive type, with nothing else set.
    pub fn primitive(ty: SchemaType) -> Self {
        Self {
            ty,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
            key_schema: None,
            value_schema: None,
            fields: Vec::new(),
        }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn array(items: SchemaRef) -> Self {
        Self {
            value_schema: Some(items),
            ..Self::primitive(SchemaType::Array)
        }
    }

    pub fn map(keys: SchemaRef, values: SchemaRef) -> Self {
        Self {
            key_schema: Some(keys),
            value_schema: Some(values),
            ..Self::primitive(SchemaType::Map)
        }
    }

    pub fn structure(fields: Vec<Field>) -> Self {
        Self {
            fields,
            ..Self::primitive(SchemaType::Struct)
        }
    }

    /// `Decimal` with the given scale.
    pub fn decimal(scale: i32) -> Self {
        Self {
            name: Some(logical::DECIMAL.into()),
            version: Some(1),
            parameters: vec![(logical::DECIMAL_SCALE.into(), scale.to_string())],
            ..Self::primitive(SchemaType::Bytes)
        }
    }

    pub fn date() -> Self {
        Self {
            name: Some(logical::DATE.into()),
            version: Some(1),
            ..Self::primitive(SchemaType::Int32)
        }
    }

    pub fn time() -> Self {
        Self {
            name: Some(logical::TIME.into()),
            version: Some(1),
            ..Self::primitive(SchemaType::Int32)
        }
    }

    pub fn timestamp() -> Self {
        Self {
            name: Some(logical::TIMESTAMP.into()),
            version: Some(1),
            ..Self::primitive(SchemaType::Int64)
        }
    }

    /// The field with this name, and its index.
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A Connect value. Logical types are carried in their underlying representation (Decimal as
/// big-endian two's-complement bytes, Date/Time as int32, Timestamp as int64), exactly as they
/// are serialized; the schema name says which logical type it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in order; keys may be any value (Connect maps may have non-string keys).
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

/// A struct value: one value per field of its schema, in field order.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: SchemaRef,
    pub values: Vec<Value>,
}

impl Struct {
    /// A struct with every field null (set them with [`Struct::put`]).
    pub fn new(schema: SchemaRef) -> Self {
        let values = vec![Value::Null; schema.fields.len()];
        Self { schema, values }
    }

    /// Sets a field by name; `false` if the schema has no such field.
    pub fn put(&mut self, name: &str, value: Value) -> bool {
        match self.schema.field(name) {
            Some((index, _)) => {
                self.values[index] = value;
                true
            }
            None => false,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema
            .field(name)
            .map(|(index, _)| &self.values[index])
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
}

/// A key, value or header value together with its schema (Kafka Connect's `SchemaAndValue`).
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// None for schemaless data.
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

impl Data {
    pub fn new(schema: Option<SchemaRef>, value: Value) -> Self {
        Self { schema, value }
    }

    /// Schemaless data.
    pub fn schemaless(value: Value) -> Self {
        Self {
            schema: None,
            value,
        }
    }
}
