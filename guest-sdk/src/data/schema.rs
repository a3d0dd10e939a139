//! [`Schema`] and [`SchemaBuilder`]: Kafka Connect's `Schema`, `ConnectSchema` and
//! `SchemaBuilder`, including the logical types Decimal, Date, Time and Timestamp.

use std::sync::{Arc, LazyLock};

use super::{DataError, Value};

/// The type of a schema, exactly Kafka Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE 754 float.
    Float32,
    /// 64-bit IEEE 754 float.
    Float64,
    /// Boolean.
    Boolean,
    /// UTF-8 string.
    String,
    /// Byte array.
    Bytes,
    /// A list of values of one schema.
    Array,
    /// A map from values of one schema to values of another.
    Map,
    /// A struct with named, typed fields.
    Struct,
}

impl SchemaType {
    /// Whether the type is a primitive (not an array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(self, Self::Array | Self::Map | Self::Struct)
    }

    /// The upper-case name Kafka Connect uses, e.g. `INT32`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Float32 => "FLOAT32",
            Self::Float64 => "FLOAT64",
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Bytes => "BYTES",
            Self::Array => "ARRAY",
            Self::Map => "MAP",
            Self::Struct => "STRUCT",
        }
    }

    const PRIMITIVES: [SchemaType; 9] = [
        Self::Int8,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Float32,
        Self::Float64,
        Self::Boolean,
        Self::String,
        Self::Bytes,
    ];
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field name, unique within the struct.
    pub name: String,
    /// The field's schema.
    pub schema: Arc<Schema>,
}

/// A Connect schema. Schemas are immutable once built and shared by [`Arc`]; build them with
/// [`SchemaBuilder`]. Equality is structural.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The type.
    pub schema_type: SchemaType,
    /// Whether the value may be null.
    pub optional: bool,
    /// The schema name (record name, or the logical type name).
    pub name: Option<String>,
    /// The schema version.
    pub version: Option<i32>,
    /// Documentation.
    pub doc: Option<String>,
    /// Parameters, in insertion order.
    pub parameters: Vec<(String, String)>,
    /// The default value.
    pub default_value: Option<Value>,
    /// `Map`: the key schema.
    pub key_schema: Option<Arc<Schema>>,
    /// `Array`: the element schema; `Map`: the value schema.
    pub value_schema: Option<Arc<Schema>>,
    /// `Struct`: the fields, in order.
    pub fields: Vec<Field>,
}

static SHARED_PRIMITIVES: LazyLock<Vec<Arc<Schema>>> = LazyLock::new(|| {
    let mut schemas = Vec::with_capacity(SchemaType::PRIMITIVES.len() * 2);
    for optional in [false, true] {
        for schema_type in SchemaType::PRIMITIVES {
            let mut schema = Schema::bare(schema_type);
            schema.optional = optional;
            schemas.push(Arc::new(schema));
        }
    }
    schemas
});

impl Schema {
    fn bare(schema_type: SchemaType) -> Self {
        Self {
            schema_type,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default_value: None,
            key_schema: None,
            value_schema: None,
            fields: Vec::new(),
        }
    }

    /// A shared primitive schema without name or default, like Kafka Connect's
    /// `Schema.STRING_SCHEMA` or `Schema.OPTIONAL_INT64_SCHEMA`. Cloning the returned `Arc` costs
    /// no allocation, so it suits records built in a hot loop.
    ///
    /// # Panics
    ///
    /// If `schema_type` is not a primitive: arrays, maps and structs need a [`SchemaBuilder`].
    pub fn primitive(schema_type: SchemaType, optional: bool) -> Arc<Schema> {
        let position = SchemaType::PRIMITIVES
            .iter()
            .position(|t| *t == schema_type)
            .expect("Schema::primitive takes a primitive type");
        let offset = if optional {
            SchemaType::PRIMITIVES.len()
        } else {
            0
        };
        SHARED_PRIMITIVES[offset + position].clone()
    }

    /// The field named `name`, for struct schemas.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The position of the field named `name`, for struct schemas.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The value of parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Checks that `value` fits this schema, as Kafka Connect's `ConnectSchema.validateValue`
    /// (except that a struct fits when its fields match, whatever its name or optionality).
    pub fn validate_value(&self, value: &Value) -> Result<(), DataError> {
        let type_ok = match (self.schema_type, value) {
            (_, Value::Null) => {
                return if self.optional || self.default_value.is_some() {
                    Ok(())
                } else {
                    Err(DataError::new(format!(
                        "invalid null value for required {} field",
                        self.schema_type.name()
                    )))
                };
            }
            (SchemaType::Int8, Value::Int8(_))
            | (SchemaType::Int16, Value::Int16(_))
            | (SchemaType::Int32, Value::Int32(_))
            | (SchemaType::Int64, Value::Int64(_))
            | (SchemaType::Float32, Value::Float32(_))
            | (SchemaType::Float64, Value::Float64(_))
            | (SchemaType::Boolean, Value::Boolean(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bytes, Value::Bytes(_)) => true,
            (SchemaType::Array, Value::Array(items)) => {
                if let Some(element) = &self.value_schema {
                    for item in items {
                        element.validate_value(item)?;
                    }
                }
                true
            }
            (SchemaType::Map, Value::Map(entries)) => {
                for (k, v) in entries {
                    if let Some(key_schema) = &self.key_schema {
                        key_schema.validate_value(k)?;
                    }
                    if let Some(value_schema) = &self.value_schema {
                        value_schema.validate_value(v)?;
                    }
                }
                true
            }
            (SchemaType::Struct, Value::Struct(s)) => {
                // Kafka Connect compares whole schemas; comparing fields lets a struct default
                // (whose schema cannot contain itself) and an optional variant of a schema fit.
                if s.schema().fields != self.fields {
                    return Err(DataError::new(
                        "struct schemas do not match: the value's fields differ from the schema's",
                    ));
                }
                true
            }
            _ => false,
        };
        if type_ok {
            Ok(())
        } else {
            Err(DataError::new(format!(
                "invalid value {} for schema type {}",
                value.type_name(),
                self.schema_type.name()
            )))
        }
    }
}

/// Names and helpers for Kafka Connect's logical types.
pub mod logical {
    /// The name of the Decimal logical type (bytes holding a big-endian two's-complement
    /// unscaled integer, with parameter `scale`).
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// The Decimal parameter holding the scale.
    pub const DECIMAL_SCALE: &str = "scale";
    /// The name of the Date logical type (int32 days since the epoch).
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// The name of the Time logical type (int32 milliseconds since midnight).
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// The name of the Timestamp logical type (int64 milliseconds since the epoch).
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

    /// Encodes an unscaled decimal as Kafka Connect does (`BigInteger.toByteArray`: big-endian
    /// two's complement, shortest form).
    pub fn decimal_to_bytes(unscaled: i128) -> Vec<u8> {
        let bytes = unscaled.to_be_bytes();
        let mut start = 0;
        while start < bytes.len() - 1 {
            let redundant = (bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
                || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        bytes[start..].to_vec()
    }

    /// Decodes an unscaled decimal; none if it is empty or does not fit in an `i128`.
    pub fn decimal_from_bytes(bytes: &[u8]) -> Option<i128> {
        if bytes.is_empty() || bytes.len() > 16 {
            return None;
        }
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
        let mut full = [fill; 16];
        full[16 - bytes.len()..].copy_from_slice(bytes);
        Some(i128::from_be_bytes(full))
    }
}

/// Builds a [`Schema`], as Kafka Connect's `SchemaBuilder`:
///
/// ```
/// use wasm_connect_sdk::data::SchemaBuilder;
///
/// let id = SchemaBuilder::int32().optional().name("x").build();
/// let row = SchemaBuilder::struct_()
///     .name("com.example.Row")
///     .field("id", SchemaBuilder::int64().build())
///     .field("tags", SchemaBuilder::array(SchemaBuilder::string().build()).build())
///     .build();
/// assert!(id.optional);
/// assert_eq!(row.fields.len(), 2);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SchemaBuilder {
    schema: Schema,
}

macro_rules! primitive_constructors {
    ($($fn_name:ident => $variant:ident),* $(,)?) => {
        $(
            #[doc = concat!("A builder for a `", stringify!($variant), "` schema.")]
            pub fn $fn_name() -> Self {
                Self::new(SchemaType::$variant)
            }
        )*
    };
}

impl SchemaBuilder {
    /// A builder for a schema of type `schema_type`. Arrays and maps need their element
    /// schemas: prefer [`SchemaBuilder::array`] and [`SchemaBuilder::map`].
    pub fn new(schema_type: SchemaType) -> Self {
        Self {
            schema: Schema::bare(schema_type),
        }
    }

    primitive_constructors! {
        int8 => Int8,
        int16 => Int16,
        int32 => Int32,
        int64 => Int64,
        float32 => Float32,
        float64 => Float64,
        boolean => Boolean,
        string => String,
        bytes => Bytes,
    }

    /// A builder for a struct schema; add fields with [`SchemaBuilder::field`].
    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }

    /// A builder for an array of `element`.
    pub fn array(element: Arc<Schema>) -> Self {
        let mut builder = Self::new(SchemaType::Array);
        builder.schema.value_schema = Some(element);
        builder
    }

    /// A builder for a map from `key` to `value`.
    pub fn map(key: Arc<Schema>, value: Arc<Schema>) -> Self {
        let mut builder = Self::new(SchemaType::Map);
        builder.schema.key_schema = Some(key);
        builder.schema.value_schema = Some(value);
        builder
    }

    /// The Decimal logical type with `scale` (bytes holding the unscaled value; see
    /// [`logical::decimal_to_bytes`]).
    pub fn decimal(scale: i32) -> Self {
        Self::bytes()
            .name(logical::DECIMAL)
            .version(1)
            .parameter(logical::DECIMAL_SCALE, scale.to_string())
    }

    /// The Date logical type (int32 days since the epoch).
    pub fn date() -> Self {
        Self::int32().name(logical::DATE).version(1)
    }

    /// The Time logical type (int32 milliseconds since midnight).
    pub fn time() -> Self {
        Self::int32().name(logical::TIME).version(1)
    }

    /// The Timestamp logical type (int64 milliseconds since the epoch).
    pub fn timestamp() -> Self {
        Self::int64().name(logical::TIMESTAMP).version(1)
    }

    /// Makes the value nullable.
    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }

    /// Makes the value required (the default).
    pub fn required(mut self) -> Self {
        self.schema.optional = false;
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }

    /// Sets the version.
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }

    /// Sets the documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }

    /// Adds a parameter (replacing one with the same key).
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.schema.parameters.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.schema.parameters.push((key, value)),
        }
        self
    }

    /// Sets the default value; [`SchemaBuilder::try_build`] checks it fits the schema.
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.schema.default_value = Some(value.into());
        self
    }

    /// Appends a field (struct schemas only; checked by [`SchemaBuilder::try_build`]).
    pub fn field(mut self, name: impl Into<String>, schema: Arc<Schema>) -> Self {
        self.schema.fields.push(Field {
            name: name.into(),
            schema,
        });
        self
    }

    /// Builds the schema, checking fields and the default value.
    pub fn try_build(self) -> Result<Arc<Schema>, DataError> {
        let schema = self.schema;
        if schema.schema_type != SchemaType::Struct && !schema.fields.is_empty() {
            return Err(DataError::new(format!(
                "cannot add fields to a {} schema",
                schema.schema_type.name()
            )));
        }
        for (i, field) in schema.fields.iter().enumerate() {
            if schema.fields[..i].iter().any(|f| f.name == field.name) {
                return Err(DataError::new(format!(
                    "duplicate field `{}` in struct schema",
                    field.name
                )));
            }
        }
        let needs_value_schema = matches!(schema.schema_type, SchemaType::Array | SchemaType::Map);
        if needs_value_schema && schema.value_schema.is_none()
            || schema.schema_type == SchemaType::Map && schema.key_schema.is_none()
        {
            return Err(DataError::new(format!(
                "{} schema needs its element schemas",
                schema.schema_type.name()
            )));
        }
        if let Some(default) = &schema.default_value {
            let mut check = schema.clone();
            check.default_value = None;
            check
                .validate_value(default)
                .map_err(|e| DataError::new(format!("invalid default value: {e}")))?;
        }
        Ok(Arc::new(schema))
    }

    /// Builds the schema.
    ///
    /// # Panics
    ///
    /// If [`SchemaBuilder::try_build`] fails (a programming error, like Kafka Connect's
    /// `SchemaBuilderException`).
    pub fn build(self) -> Arc<Schema> {
        match self.try_build() {
            Ok(schema) => schema,
            Err(e) => panic!("invalid schema: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_round_trip_like_big_integer() {
        for (n, bytes) in [
            (0_i128, vec![0x00]),
            (1, vec![0x01]),
            (-1, vec![0xff]),
            (127, vec![0x7f]),
            (128, vec![0x00, 0x80]),
            (-128, vec![0x80]),
            (-129, vec![0xff, 0x7f]),
            (12345, vec![0x30, 0x39]),
        ] {
            assert_eq!(logical::decimal_to_bytes(n), bytes, "{n}");
            assert_eq!(logical::decimal_from_bytes(&bytes), Some(n));
        }
    }

    #[test]
    fn builder_rejects_default_of_wrong_type() {
        let err = SchemaBuilder::int32()
            .default_value("x")
            .try_build()
            .unwrap_err();
        assert!(err.message().contains("invalid default value"), "{err}");
    }

    #[test]
    fn shared_primitives_are_shared() {
        let a = Schema::primitive(SchemaType::String, false);
        let b = Schema::primitive(SchemaType::String, false);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(Schema::primitive(SchemaType::Int64, true).optional);
        assert_eq!(*a, *SchemaBuilder::string().build());
    }
}
