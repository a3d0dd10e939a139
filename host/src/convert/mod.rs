//! Converters between Connect data ([`Data`]) and record bytes, wire-compatible with Kafka
//! Connect's built-in ones: [`JsonConverter`] (the `schema`/`payload` envelope),
//! [`StringConverter`], [`ByteArrayConverter`] and the header converter
//! [`SimpleHeaderConverter`]. [`converter`] and [`header_converter`] build one from a
//! `key.converter`/`value.converter`/`header.converter` class name and its settings. Pure
//! functions: no I/O; the worker hands the bytes to the log.
//!
//! The exception is [`AvroConverter`] (`io.confluent.connect.avro.AvroConverter`): Avro in
//! Confluent Schema Registry's wire format (magic byte 0, 4-byte schema id, Avro body). It
//! registers and fetches schemas over HTTP (blocking, with timeouts, cached per schema).
//! Settings: `schema.registry.url` (required; comma-separated, the first that answers is
//! used), `auto.register.schemas` (true), `use.latest.version` (false),
//! `key.subject.name.strategy`/`value.subject.name.strategy` (`TopicNameStrategy`;
//! `RecordNameStrategy`, `TopicRecordNameStrategy`), `basic.auth.credentials.source` (`URL`
//! or `USER_INFO`) with `basic.auth.user.info`, and `connect.meta.data` (true).

mod avro;
mod byte_array;
mod java_text;
mod json;
mod simple_header;
mod string;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use crate::data::{Data, Schema, SchemaType, Value};

pub use avro::{
    AvroConverter, AvroConverterConfig, BasicAuth, MAGIC_BYTE, RegistryError, SubjectNameStrategy,
};
pub use byte_array::ByteArrayConverter;
pub use json::{DecimalFormat, JsonConverter, JsonConverterConfig};
pub use simple_header::SimpleHeaderConverter;
pub use string::{StringConverter, StringEncoding};

/// Converts record keys and values (Kafka Connect's `Converter`).
pub trait Converter: Send + Sync {
    /// Serializes Connect data for `topic`. `None` (or schemaless null) is a null key/value
    /// and gives `None` bytes (a tombstone for values).
    #[allow(
        clippy::wrong_self_convention,
        reason = "Kafka Connect's name (`fromConnectData`)"
    )]
    fn from_connect(
        &self,
        topic: &str,
        data: Option<&Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError>;

    /// [`Converter::from_connect`] taking the data by value, so converters that pass bytes or
    /// text through can move them instead of copying. Gives exactly what `from_connect` gives.
    #[allow(
        clippy::wrong_self_convention,
        reason = "Kafka Connect's name (`fromConnectData`)"
    )]
    fn from_connect_owned(
        &self,
        topic: &str,
        data: Option<Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.from_connect(topic, data.as_ref())
    }

    /// Deserializes record bytes from `topic`; `None` bytes (a tombstone) give what Kafka's
    /// converter gives for `null` (see each converter).
    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, ConvertError>;
}

/// Converts header values (Kafka Connect's `HeaderConverter`).
pub trait HeaderConverter: Send + Sync {
    /// Serializes one header value; `None` means a header with a null value.
    #[allow(
        clippy::wrong_self_convention,
        reason = "Kafka Connect's name (`fromConnectHeader`)"
    )]
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: &Data,
    ) -> Result<Option<Vec<u8>>, ConvertError>;

    /// Deserializes one header value; `None` bytes give a null value.
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConvertError>;
}

/// The class names (and aliases) [`converter`] accepts.
pub const SUPPORTED_CONVERTERS: &str = "org.apache.kafka.connect.json.JsonConverter (JsonConverter, Json), \
     org.apache.kafka.connect.storage.StringConverter (StringConverter, String), \
     org.apache.kafka.connect.converters.ByteArrayConverter (ByteArrayConverter, ByteArray), \
     io.confluent.connect.avro.AvroConverter (AvroConverter)";

/// The class names (and aliases) [`header_converter`] accepts.
pub const SUPPORTED_HEADER_CONVERTERS: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter (SimpleHeaderConverter, Simple), \
     org.apache.kafka.connect.storage.StringConverter (StringConverter, String), \
     org.apache.kafka.connect.json.JsonConverter (JsonConverter, Json), \
     org.apache.kafka.connect.converters.ByteArrayConverter (ByteArrayConverter, ByteArray)";

/// The header converter Kafka Connect uses when `header.converter` is not set.
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// A built-in converter, named in errors by its Java simple class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConverterKind {
    Json,
    String,
    ByteArray,
    SimpleHeader,
    Avro,
}

impl fmt::Display for ConverterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JsonConverter",
            Self::String => "StringConverter",
            Self::ByteArray => "ByteArrayConverter",
            Self::SimpleHeader => "SimpleHeaderConverter",
            Self::Avro => "AvroConverter",
        })
    }
}

/// Resolves a class name the way Kafka's plugin aliases do: full name, simple name, or the
/// simple name without its plugin-type suffix.
fn kind_of(class: &str) -> Option<ConverterKind> {
    match class.trim() {
        "org.apache.kafka.connect.json.JsonConverter" | "JsonConverter" | "Json" => {
            Some(ConverterKind::Json)
        }
        "org.apache.kafka.connect.storage.StringConverter" | "StringConverter" | "String" => {
            Some(ConverterKind::String)
        }
        "org.apache.kafka.connect.converters.ByteArrayConverter"
        | "ByteArrayConverter"
        | "ByteArray" => Some(ConverterKind::ByteArray),
        "org.apache.kafka.connect.storage.SimpleHeaderConverter"
        | "SimpleHeaderConverter"
        | "Simple" => Some(ConverterKind::SimpleHeader),
        "io.confluent.connect.avro.AvroConverter" | "AvroConverter" => Some(ConverterKind::Avro),
        _ => None,
    }
}

/// Builds a key or value converter from its class name and its own settings (the
/// `key.converter.`/`value.converter.` prefix already stripped). Settings a converter does not
/// know are ignored, as in Kafka. `is_key` is Kafka's `converter.type=key|value`; only
/// [`AvroConverter`] behaves differently for keys (`<topic>-key` subjects).
pub fn converter(
    class: &str,
    settings: &BTreeMap<String, String>,
    is_key: bool,
) -> Result<Arc<dyn Converter>, ConvertError> {
    match kind_of(class) {
        Some(ConverterKind::Json) => Ok(Arc::new(JsonConverter::from_settings(settings)?)),
        Some(ConverterKind::String) => Ok(Arc::new(StringConverter::from_settings(settings)?)),
        Some(ConverterKind::ByteArray) => Ok(Arc::new(ByteArrayConverter)),
        Some(ConverterKind::Avro) => Ok(Arc::new(AvroConverter::from_settings(settings, is_key)?)),
        Some(ConverterKind::SimpleHeader) | None => Err(ConvertError::UnknownClass {
            class: class.to_string(),
            supported: SUPPORTED_CONVERTERS,
        }),
    }
}

/// Builds a header converter from its class name (see [`DEFAULT_HEADER_CONVERTER`]) and its
/// own settings (the `header.converter.` prefix already stripped).
pub fn header_converter(
    class: &str,
    settings: &BTreeMap<String, String>,
) -> Result<Arc<dyn HeaderConverter>, ConvertError> {
    match kind_of(class) {
        Some(ConverterKind::SimpleHeader) => Ok(Arc::new(SimpleHeaderConverter)),
        Some(ConverterKind::Json) => Ok(Arc::new(JsonConverter::from_settings(settings)?)),
        Some(ConverterKind::String) => Ok(Arc::new(StringConverter::from_settings(settings)?)),
        Some(ConverterKind::ByteArray) => Ok(Arc::new(ByteArrayConverter)),
        Some(ConverterKind::Avro) | None => Err(ConvertError::UnknownClass {
            class: class.to_string(),
            supported: SUPPORTED_HEADER_CONVERTERS,
        }),
    }
}

/// Why a converter could not be built or could not convert.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("unknown converter class `{class}`; supported: {supported}")]
    UnknownClass {
        class: String,
        supported: &'static str,
    },
    #[error("invalid value `{value}` for {converter} setting `{key}`: {reason}")]
    InvalidSetting {
        converter: ConverterKind,
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{converter} failed to convert data for topic `{topic}` to bytes")]
    FromConnect {
        converter: ConverterKind,
        topic: String,
        #[source]
        source: DataError,
    },
    #[error("{converter} failed to convert bytes from topic `{topic}` to data")]
    ToConnect {
        converter: ConverterKind,
        topic: String,
        #[source]
        source: DataError,
    },
    #[error("{converter} failed to convert header `{key}` for topic `{topic}` to bytes")]
    FromConnectHeader {
        converter: ConverterKind,
        topic: String,
        key: String,
        #[source]
        source: DataError,
    },
    #[error("{converter} could not use the schema registry for topic `{topic}`")]
    SchemaRegistry {
        converter: ConverterKind,
        topic: String,
        #[source]
        source: Box<avro::RegistryError>,
    },
    #[error("{converter} failed to convert header `{key}` from topic `{topic}` to data")]
    ToConnectHeader {
        converter: ConverterKind,
        topic: String,
        key: String,
        #[source]
        source: DataError,
    },
}

impl ConvertError {
    /// The data problem behind a conversion failure, if that is what this is.
    pub fn data_error(&self) -> Option<&DataError> {
        match self {
            Self::FromConnect { source, .. }
            | Self::ToConnect { source, .. }
            | Self::FromConnectHeader { source, .. }
            | Self::ToConnectHeader { source, .. } => Some(source),
            Self::UnknownClass { .. }
            | Self::InvalidSetting { .. }
            | Self::SchemaRegistry { .. } => None,
        }
    }
}

/// A value that does not fit its schema or format (Kafka Connect's `DataException`), with the
/// path to the offending part (`order.tags[1]`).
///
/// Boxed so that results carrying it stay small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError(Box<DataErrorInner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct DataErrorInner {
    path: Vec<PathSegment>,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathSegment {
    Field(String),
    Index(usize),
}

impl DataError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(Box::new(DataErrorInner {
            path: Vec::new(),
            message: message.into(),
        }))
    }

    /// Prefixes the path with a struct field or map key name.
    pub(crate) fn in_field(mut self, name: &str) -> Self {
        self.0.path.insert(0, PathSegment::Field(name.to_string()));
        self
    }

    /// Prefixes the path with an array index.
    pub(crate) fn at_index(mut self, index: usize) -> Self {
        self.0.path.insert(0, PathSegment::Index(index));
        self
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where in the value the problem is (`amount`, `tags[1]`); empty for the whole value.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for segment in &self.0.path {
            match segment {
                PathSegment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                PathSegment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.path.is_empty() {
            f.write_str(&self.0.message)
        } else {
            write!(f, "at `{}`: {}", self.path(), self.0.message)
        }
    }
}

impl std::error::Error for DataError {}

/// Reads a Kafka `BOOLEAN` config value (trimmed, case-insensitive `true`/`false`).
pub(crate) fn bool_setting(
    settings: &BTreeMap<String, String>,
    converter: ConverterKind,
    key: &'static str,
    default: bool,
) -> Result<bool, ConvertError> {
    let Some(value) = settings.get(key) else {
        return Ok(default);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConvertError::InvalidSetting {
            converter,
            key,
            value: value.clone(),
            reason: "expected value to be either true or false",
        }),
    }
}

/// Lower-case name of a value's variant, for error messages.
/// The optional schema of `ty` (no name, version, doc or parameters), one `Arc` per type for
/// the whole process. Converters that read records give each the same schema, so a `put`
/// batch carries it once and the runtime finds it by address instead of interning a new
/// schema per record.
pub(crate) fn optional_primitive(ty: SchemaType) -> Arc<Schema> {
    static BYTES: LazyLock<Arc<Schema>> =
        LazyLock::new(|| Arc::new(Schema::primitive(SchemaType::Bytes).optional()));
    static STRING: LazyLock<Arc<Schema>> =
        LazyLock::new(|| Arc::new(Schema::primitive(SchemaType::String).optional()));
    match ty {
        SchemaType::Bytes => BYTES.clone(),
        SchemaType::String => STRING.clone(),
        other => Arc::new(Schema::primitive(other).optional()),
    }
}

pub(crate) fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int8(_) => "int8",
        Value::Int16(_) => "int16",
        Value::Int32(_) => "int32",
        Value::Int64(_) => "int64",
        Value::Float32(_) => "float32",
        Value::Float64(_) => "float64",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Struct(_) => "struct",
    }
}

/// Whether `value` is the Rust representation of schema type `ty` (null aside).
pub(crate) fn value_matches(ty: SchemaType, value: &Value) -> bool {
    matches!(
        (ty, value),
        (SchemaType::Boolean, Value::Boolean(_))
            | (SchemaType::Int8, Value::Int8(_))
            | (SchemaType::Int16, Value::Int16(_))
            | (SchemaType::Int32, Value::Int32(_))
            | (SchemaType::Int64, Value::Int64(_))
            | (SchemaType::Float32, Value::Float32(_))
            | (SchemaType::Float64, Value::Float64(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bytes, Value::Bytes(_))
            | (SchemaType::Array, Value::Array(_))
            | (SchemaType::Map, Value::Map(_))
            | (SchemaType::Struct, Value::Struct(_))
    )
}

/// The schema's Decimal scale, if it is a Decimal schema.
pub(crate) fn decimal_scale(schema: &Schema) -> Option<Result<i32, DataError>> {
    if schema.ty != SchemaType::Bytes
        || schema.name.as_deref() != Some(crate::data::logical::DECIMAL)
    {
        return None;
    }
    Some(
        match schema.parameter(crate::data::logical::DECIMAL_SCALE) {
            None => Err(DataError::new(
                "invalid decimal schema: scale parameter not found",
            )),
            Some(scale) => scale.trim().parse().map_err(|_| {
                DataError::new(format!(
                    "invalid decimal schema: scale parameter `{scale}` is not an integer"
                ))
            }),
        },
    )
}

/// Which logical type a schema is, by name and underlying type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logical {
    Date,
    Time,
    Timestamp,
}

pub(crate) fn temporal_logical(schema: &Schema) -> Option<Logical> {
    use crate::data::logical;
    match (schema.name.as_deref()?, schema.ty) {
        (logical::DATE, SchemaType::Int32) => Some(Logical::Date),
        (logical::TIME, SchemaType::Int32) => Some(Logical::Time),
        (logical::TIMESTAMP, SchemaType::Int64) => Some(Logical::Timestamp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn records_read_by_bytes_and_string_converters_share_one_schema() {
        let converters: [(&dyn Converter, SchemaType); 2] = [
            (&ByteArrayConverter, SchemaType::Bytes),
            (&StringConverter::default(), SchemaType::String),
        ];
        for (converter, ty) in converters {
            let read = |bytes: &[u8]| {
                converter
                    .to_connect("t", Some(bytes))
                    .unwrap()
                    .unwrap()
                    .schema
                    .unwrap()
            };
            let (first, second) = (read(b"a"), read(b"b"));
            assert!(Arc::ptr_eq(&first, &second), "{ty:?}");
            assert_eq!(*first, Schema::primitive(ty).optional());
        }
    }

    #[test]
    fn factory_accepts_full_and_short_class_names() {
        let none = BTreeMap::new();
        for class in [
            "org.apache.kafka.connect.json.JsonConverter",
            "JsonConverter",
            "Json",
            "org.apache.kafka.connect.storage.StringConverter",
            "StringConverter",
            "String",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "ByteArrayConverter",
            "ByteArray",
        ] {
            assert!(converter(class, &none, false).is_ok(), "{class}");
            assert!(header_converter(class, &none).is_ok(), "{class}");
        }
        for class in [DEFAULT_HEADER_CONVERTER, "SimpleHeaderConverter", "Simple"] {
            assert!(header_converter(class, &none).is_ok(), "{class}");
            assert!(converter(class, &none, true).is_err(), "{class}");
        }
    }

    #[test]
    fn unknown_class_lists_supported_ones() {
        let err = converter("com.example.AvroConverter", &BTreeMap::new(), false)
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(message.contains("com.example.AvroConverter"), "{message}");
        assert!(message.contains("org.apache.kafka.connect.json.JsonConverter"));
        let err = header_converter("Avro", &BTreeMap::new()).err().unwrap();
        assert!(err.to_string().contains("SimpleHeaderConverter"));
    }

    #[test]
    fn factory_passes_settings_and_ignores_unknown_ones() {
        let json = converter(
            "Json",
            &settings(&[("schemas.enable", "FALSE"), ("no.such.key", "x")]),
            false,
        )
        .unwrap();
        let data = Data::schemaless(Value::Int64(7));
        assert_eq!(
            json.from_connect("t", Some(&data)).unwrap().unwrap(),
            b"7".to_vec()
        );
        let err = converter("Json", &settings(&[("schemas.enable", "yes")]), false)
            .err()
            .unwrap();
        assert!(matches!(err, ConvertError::InvalidSetting { .. }), "{err}");
        let err = converter(
            "String",
            &settings(&[("converter.encoding", "EBCDIC")]),
            true,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("converter.encoding"), "{err}");
    }

    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<ConvertError>() <= 72);
        assert_eq!(std::mem::size_of::<DataError>(), 8);
    }

    #[test]
    fn data_errors_render_their_path() {
        let err = DataError::new("bad")
            .at_index(1)
            .in_field("tags")
            .in_field("order");
        assert_eq!(err.to_string(), "at `order.tags[1]`: bad");
        assert_eq!(DataError::new("bad").to_string(), "bad");
    }
}
