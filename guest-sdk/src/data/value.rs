//! [`Value`], [`Struct`] and [`Data`] (a value with its optional schema): the values Kafka
//! Connect passes around as `Object`, `Struct` and `SchemaAndValue`.

use std::fmt;
use std::sync::Arc;

use super::{DataError, Schema, SchemaType};

/// A Connect value. Which variant is valid for a schema follows Kafka Connect: `Int32` for
/// INT32 (also Date and Time), `Int64` for INT64 (also Timestamp), `Bytes` for BYTES (also
/// Decimal), and so on.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Null.
    #[default]
    Null,
    /// BOOLEAN.
    Boolean(bool),
    /// INT8.
    Int8(i8),
    /// INT16.
    Int16(i16),
    /// INT32, Date, Time.
    Int32(i32),
    /// INT64, Timestamp.
    Int64(i64),
    /// FLOAT32.
    Float32(f32),
    /// FLOAT64.
    Float64(f64),
    /// STRING.
    String(String),
    /// BYTES, Decimal.
    Bytes(Vec<u8>),
    /// ARRAY.
    Array(Vec<Value>),
    /// MAP, as entries in order (keys need not be strings).
    Map(Vec<(Value, Value)>),
    /// STRUCT.
    Struct(Struct),
}

impl Value {
    /// A short name of the variant, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean(_) => "boolean",
            Self::Int8(_) => "int8",
            Self::Int16(_) => "int16",
            Self::Int32(_) => "int32",
            Self::Int64(_) => "int64",
            Self::Float32(_) => "float32",
            Self::Float64(_) => "float64",
            Self::String(_) => "string",
            Self::Bytes(_) => "bytes",
            Self::Array(_) => "array",
            Self::Map(_) => "map",
            Self::Struct(_) => "struct",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The string, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The struct, if this is a [`Value::Struct`].
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Self::Struct(s) => Some(s),
            _ => None,
        }
    }
}

/// Formats values the way Java's `toString` does for Connect values (what Kafka's
/// `FileStreamSinkTask` writes): strings as they are, bytes as UTF-8 (lossy), arrays as
/// `[a, b]`, maps as `{k=v, k2=v2}`, structs as `Struct{name=value,...}` (null fields left out),
/// null as `null`. Floats always carry a fractional part (`1.0`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Boolean(v) => write!(f, "{v}"),
            Self::Int8(v) => write!(f, "{v}"),
            Self::Int16(v) => write!(f, "{v}"),
            Self::Int32(v) => write!(f, "{v}"),
            Self::Int64(v) => write!(f, "{v}"),
            Self::Float32(v) => write!(f, "{v:?}"),
            Self::Float64(v) => write!(f, "{v:?}"),
            Self::String(v) => f.write_str(v),
            Self::Bytes(v) => lossy_utf8(v).try_for_each(|piece| f.write_str(piece)),
            Self::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Self::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                f.write_str("}")
            }
            Self::Struct(s) => write!(f, "{s}"),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(
            impl From<$t> for Value {
                fn from(v: $t) -> Self {
                    Self::$variant(v)
                }
            }
        )*
    };
}

value_from! {
    bool => Boolean,
    i8 => Int8,
    i16 => Int16,
    i32 => Int32,
    i64 => Int64,
    f32 => Float32,
    f64 => Float64,
    String => String,
    Vec<u8> => Bytes,
    Vec<Value> => Array,
    Vec<(Value, Value)> => Map,
    Struct => Struct,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// A struct value: one value per field of its struct schema, as Kafka Connect's `Struct`.
///
/// ```
/// use wasm_connect_sdk::data::{SchemaBuilder, Struct};
///
/// let schema = SchemaBuilder::struct_()
///     .field("id", SchemaBuilder::int64().build())
///     .field("name", SchemaBuilder::string().optional().build())
///     .build();
/// let mut row = Struct::new(schema).unwrap();
/// row.put("id", 7_i64).unwrap().put("name", "seven").unwrap();
/// assert_eq!(row.get("name").and_then(|v| v.as_str()), Some("seven"));
/// assert!(row.put("id", "not a number").is_err());
/// assert!(row.put("missing", 1_i64).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Struct {
    schema: Arc<Schema>,
    values: Vec<Value>,
}

impl PartialEq for Struct {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.schema, &other.schema) || self.schema == other.schema)
            && self.values == other.values
    }
}

impl Struct {
    /// A struct of `schema` with every field null.
    pub fn new(schema: Arc<Schema>) -> Result<Self, DataError> {
        if schema.schema_type != SchemaType::Struct {
            return Err(DataError::new(format!(
                "a struct needs a STRUCT schema, not {}",
                schema.schema_type.name()
            )));
        }
        let values = vec![Value::Null; schema.fields.len()];
        Ok(Self { schema, values })
    }

    /// A struct of `schema` from values in field order, checking the count and that each value
    /// fits its field. Faster than a series of [`Struct::put`] when building many structs.
    pub fn from_values(schema: Arc<Schema>, values: Vec<Value>) -> Result<Self, DataError> {
        if schema.schema_type != SchemaType::Struct {
            return Err(DataError::new(format!(
                "a struct needs a STRUCT schema, not {}",
                schema.schema_type.name()
            )));
        }
        if values.len() != schema.fields.len() {
            return Err(DataError::new(format!(
                "{} values given for a struct of {} fields",
                values.len(),
                schema.fields.len()
            )));
        }
        for (field, value) in schema.fields.iter().zip(&values) {
            field
                .schema
                .validate_value(value)
                .map_err(|e| DataError::new(format!("field `{}`: {e}", field.name)))?;
        }
        Ok(Self { schema, values })
    }

    /// Builds a struct from values in field order, without validating them (used by the decoder,
    /// which has already matched the count).
    pub(crate) fn from_parts(schema: Arc<Schema>, values: Vec<Value>) -> Self {
        Self { schema, values }
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The values, in field order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Takes the values, in field order.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// Sets field `name`, checking that it exists and that the value fits its schema.
    pub fn put(&mut self, name: &str, value: impl Into<Value>) -> Result<&mut Self, DataError> {
        let index = self
            .schema
            .field_index(name)
            .ok_or_else(|| DataError::new(format!("`{name}` is not a valid field name")))?;
        let value = value.into();
        self.schema.fields[index]
            .schema
            .validate_value(&value)
            .map_err(|e| DataError::new(format!("field `{name}`: {e}")))?;
        self.values[index] = value;
        Ok(self)
    }

    /// [`Struct::put`] by value, for chaining.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Result<Self, DataError> {
        self.put(name, value)?;
        Ok(self)
    }

    /// The value of field `name` (its default if the value is null and the field has one);
    /// none if there is no such field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let index = self.schema.field_index(name)?;
        let value = &self.values[index];
        if value.is_null()
            && let Some(default) = &self.schema.fields[index].schema.default_value
        {
            return Some(default);
        }
        Some(value)
    }

    /// Checks that every required field without a default has a value.
    pub fn validate(&self) -> Result<(), DataError> {
        for (field, value) in self.schema.fields.iter().zip(&self.values) {
            field
                .schema
                .validate_value(value)
                .map_err(|e| DataError::new(format!("field `{}`: {e}", field.name)))?;
        }
        Ok(())
    }
}

impl fmt::Display for Struct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Struct{")?;
        let mut first = true;
        for (field, value) in self.schema.fields.iter().zip(&self.values) {
            if value.is_null() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}={value}", field.name)?;
        }
        f.write_str("}")
    }
}

/// A key, value or header value with its schema: Kafka Connect's `SchemaAndValue`.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The schema; none for schemaless data.
    pub schema: Option<Arc<Schema>>,
    /// The value.
    pub value: Value,
}

impl Data {
    /// Data with a schema.
    pub fn new(schema: Arc<Schema>, value: impl Into<Value>) -> Self {
        Self {
            schema: Some(schema),
            value: value.into(),
        }
    }

    /// Data without a schema.
    pub fn schemaless(value: impl Into<Value>) -> Self {
        Self {
            schema: None,
            value: value.into(),
        }
    }

    /// A string with the shared STRING schema (no allocation beyond the string).
    pub fn string(value: impl Into<String>) -> Self {
        Self {
            schema: Some(Schema::primitive(SchemaType::String, false)),
            value: Value::String(value.into()),
        }
    }

    /// Bytes with the shared BYTES schema.
    pub fn bytes(value: impl Into<Vec<u8>>) -> Self {
        Self {
            schema: Some(Schema::primitive(SchemaType::Bytes, false)),
            value: Value::Bytes(value.into()),
        }
    }

    /// A struct with its own schema.
    pub fn from_struct(value: Struct) -> Self {
        Self {
            schema: Some(value.schema().clone()),
            value: Value::Struct(value),
        }
    }
}

impl From<Struct> for Data {
    fn from(value: Struct) -> Self {
        Self::from_struct(value)
    }
}

/// `bytes` as the pieces of their lossy UTF-8 form, the text `String::from_utf8_lossy` makes
/// (each invalid sequence one U+FFFD), without copying them into a new `String`.
pub fn lossy_utf8(bytes: &[u8]) -> impl Iterator<Item = &str> {
    bytes.utf8_chunks().flat_map(|chunk| {
        let replacement = (!chunk.invalid().is_empty()).then_some("\u{fffd}");
        std::iter::once(chunk.valid()).chain(replacement)
    })
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn bytes_display_as_lossy_utf8() {
        let cases: [&[u8]; 6] = [
            b"",
            b"plain",
            b"a\xffb",
            b"\xe2\x82c",
            b"\xf0\x9f\x98\x80\x80",
            b"\xc3\xa9\xed\xa0\x80z",
        ];
        for bytes in cases {
            assert_eq!(
                Value::Bytes(bytes.to_vec()).to_string(),
                String::from_utf8_lossy(bytes),
                "{bytes:?}"
            );
        }
        assert_eq!(Value::Bytes(b"a\xffb".to_vec()).to_string(), "a\u{fffd}b");
    }
}
