//! `JsonConverter`: Connect data as JSON, byte-for-byte what Kafka Connect's
//! `org.apache.kafka.connect.json.JsonConverter` writes, with its `schemas.enable` envelope
//! (`{"schema":…,"payload":…}`), `decimal.format` and `replace.null.with.default` settings.
//!
//! Choices where Kafka's behaviour is not worth copying:
//! - Doubles and floats are written as Java's `Double.toString`/`Float.toString` (JDK 19+
//!   shortest form: `1.0`, `1.0E10`). NaN and ±Infinity are written as Jackson does by default
//!   (`QUOTE_NON_NUMERIC_NUMBERS`): the strings `"NaN"`, `"Infinity"`, `"-Infinity"`; they are
//!   read back as floats (Kafka would read 0.0).
//! - Reading is strict where Kafka silently coerces: a payload of the wrong JSON type for its
//!   schema, an integer out of range for int8/16/32/64, a fractional number for an integer
//!   schema, or a Decimal number with more fractional digits than the schema's scale is an
//!   error. Schemaless integers beyond int64 are an error too (Kafka truncates).
//! - Trailing content after the JSON document is an error, and input must be UTF-8.
//! - Nesting deeper than 128 arrays/objects is an error (serde_json's recursion limit;
//!   Jackson's is 1000).
//! - Schemaless `Struct` values are written with their own schema (Kafka rejects them).
//! - Schemas are cached both ways, as Kafka's converter does: the JSON text of the schemas
//!   written last (up to `schemas.cache.size`, by the schema's address), and the Connect
//!   schemas of the last 16 schema texts read (records of up to 64 KiB); `schemas.cache.size=0`
//!   turns both off. Reading, an envelope's schema is first taken as text and looked up as
//!   bytes, so a known schema is not parsed into a tree again; anything unusual about the
//!   envelope (a repeated or missing member, a schema too big to remember) takes the general
//!   path, which parses the whole record.
//!
//! The JSON tree is `serde_json::Value` with the workspace's `preserve_order` (members keep
//! insertion order; a repeated key keeps its first position and takes the last value, as
//! Jackson's `ObjectNode.set`) and `arbitrary_precision` (numbers are kept as text, so big
//! integers and decimals keep full precision, as Jackson's `BigDecimal`-backed nodes)
//! features. On reading, serde_json normalizes a number's exponent (`1E5` → `1e+5`), which
//! changes no value. On writing, numbers keep the exact Java text of `java_text`
//! (`1.0E20`, `1E-8`), and `JacksonFormatter` writes compact JSON with control characters
//! escaped as Jackson does (`\u001F`; serde_json's default would be `\u001f`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize as _;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::{Map, Number, Value as Json};

use super::java_text::{
    DecimalText, big_decimal_to_string, digits_to_twos_complement, double_to_string,
    float_to_string, minimal_twos_complement, twos_complement_to_digits,
};
use super::{
    ConvertError, Converter, ConverterKind, DataError, HeaderConverter, bool_setting,
    decimal_scale, value_kind, value_matches,
};
use crate::data::{Data, Field, Schema, SchemaRef, SchemaType, Struct, Value};

const NAME: ConverterKind = ConverterKind::Json;

/// Kafka's exact message for a value that is not a `schema`/`payload` envelope.
pub const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// Standard alphabet; writes padding (as Java's and Jackson's encoders), reads with or without.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How Decimal values are written (`decimal.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// Base64 of the big-endian two's-complement unscaled value (Kafka's default).
    #[default]
    Base64,
    /// A JSON number with the schema's scale, e.g. `123.45`.
    Numeric,
}

/// `JsonConverter` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonConverterConfig {
    /// `schemas.enable` (default true).
    pub schemas_enable: bool,
    /// `decimal.format` (default BASE64).
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default` (default true).
    pub replace_null_with_default: bool,
}

impl Default for JsonConverterConfig {
    fn default() -> Self {
        Self {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        }
    }
}

/// Kafka Connect's `JsonConverter`; also a header converter (same rules per header value).
#[derive(Debug, Default)]
pub struct JsonConverter {
    config: JsonConverterConfig,
    /// The JSON text of the schemas written last, as Kafka's `fromConnectSchemaCache`: with
    /// `schemas.enable` every record carries its whole schema, and the records of a batch
    /// share one, so it is written out once per batch rather than once per record.
    schemas: Mutex<SchemaCache>,
    /// The Connect schemas of the envelopes' schema texts read last, as Kafka's
    /// `toConnectSchemaCache`: the records of a topic nearly always share a schema, and
    /// reusing one `Arc` spares parsing and building it per record and lets every later
    /// stage (the batch's schema table, struct checks) compare by address.
    parsed: Mutex<VecDeque<(Box<str>, SchemaRef)>>,
}

/// A `schemas.enable` envelope with its schema as text. serde rejects a member other than
/// the two, a missing one and a repeated one, all of which the general path then reads as
/// Kafka does (the caller passes only objects: serde would take an array as a struct too).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    schema: &'a serde_json::value::RawValue,
    payload: Json,
}

/// Schema texts [`JsonConverter::deserialize`] remembers (most recently used first).
const PARSED_SCHEMAS: usize = 16;
/// A record larger than this does not have its schema remembered, so the cache holds at
/// most `PARSED_SCHEMAS` × this much JSON.
const PARSED_SCHEMA_RECORD_BYTES: usize = 64 << 10;

impl Clone for JsonConverter {
    fn clone(&self) -> Self {
        Self::new(self.config)
    }
}

/// Schemas' JSON text by the schema's address. Each entry keeps its `Arc`, so the address is
/// not reused while cached. Bounded by entries (`schemas.cache.size`) and by bytes.
#[derive(Debug)]
struct SchemaCache {
    entries: HashMap<usize, (SchemaRef, Arc<[u8]>)>,
    /// Oldest first.
    order: VecDeque<usize>,
    bytes: usize,
    capacity: usize,
}

/// Kafka's `schemas.cache.size` default.
const DEFAULT_SCHEMA_CACHE_SIZE: usize = 1000;
/// The most schema text one converter caches.
const SCHEMA_CACHE_BYTES: usize = 16 << 20;

impl Default for SchemaCache {
    fn default() -> Self {
        Self::new(DEFAULT_SCHEMA_CACHE_SIZE)
    }
}

impl SchemaCache {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    fn get(&self, schema: &SchemaRef) -> Option<Arc<[u8]>> {
        self.entries
            .get(&(Arc::as_ptr(schema) as usize))
            .filter(|(cached, _)| Arc::ptr_eq(cached, schema))
            .map(|(_, text)| text.clone())
    }

    fn insert(&mut self, schema: &SchemaRef, text: Arc<[u8]>) {
        if self.capacity == 0 || text.len() > SCHEMA_CACHE_BYTES {
            return;
        }
        while self.entries.len() >= self.capacity || self.bytes + text.len() > SCHEMA_CACHE_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, evicted)) = self.entries.remove(&oldest) {
                self.bytes -= evicted.len();
            }
        }
        let address = Arc::as_ptr(schema) as usize;
        self.bytes += text.len();
        self.order.push_back(address);
        self.entries.insert(address, (schema.clone(), text));
    }
}

impl JsonConverter {
    pub fn new(config: JsonConverterConfig) -> Self {
        Self::with_cache_size(config, DEFAULT_SCHEMA_CACHE_SIZE)
    }

    fn with_cache_size(config: JsonConverterConfig, size: usize) -> Self {
        Self {
            config,
            schemas: Mutex::new(SchemaCache::new(size)),
            parsed: Mutex::new(VecDeque::new()),
        }
    }

    /// Reads `schemas.enable`, `decimal.format` and `replace.null.with.default`; other keys
    /// are ignored.
    pub fn from_settings(settings: &BTreeMap<String, String>) -> Result<Self, ConvertError> {
        let decimal_format = match settings.get("decimal.format") {
            None => DecimalFormat::Base64,
            Some(value) => match value.trim().to_ascii_uppercase().as_str() {
                "BASE64" => DecimalFormat::Base64,
                "NUMERIC" => DecimalFormat::Numeric,
                _ => {
                    return Err(ConvertError::InvalidSetting {
                        converter: NAME,
                        key: "decimal.format",
                        value: value.clone(),
                        reason: "expected BASE64 or NUMERIC",
                    });
                }
            },
        };
        let cache_size = match settings.get("schemas.cache.size") {
            None => DEFAULT_SCHEMA_CACHE_SIZE,
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| ConvertError::InvalidSetting {
                    converter: NAME,
                    key: "schemas.cache.size",
                    value: value.clone(),
                    reason: "expected a number of schemas",
                })?,
        };
        Ok(Self::with_cache_size(
            JsonConverterConfig {
                schemas_enable: bool_setting(settings, NAME, "schemas.enable", true)?,
                decimal_format,
                replace_null_with_default: bool_setting(
                    settings,
                    NAME,
                    "replace.null.with.default",
                    true,
                )?,
            },
            cache_size,
        ))
    }

    pub fn config(&self) -> &JsonConverterConfig {
        &self.config
    }

    fn serialize(&self, data: Option<&Data>) -> Result<Option<Vec<u8>>, DataError> {
        let Some(data) = data else {
            return Ok(None);
        };
        if data.schema.is_none() && data.value.is_null() {
            return Ok(None);
        }
        let schema = data.schema.as_deref();
        let payload = to_bytes(&self.value_to_json(schema, &data.value)?)?;
        if !self.config.schemas_enable {
            return Ok(Some(payload));
        }
        // `{"schema":<schema>,"payload":<payload>}`, as serializing the envelope object gives.
        let schema_text = match &data.schema {
            Some(schema) => self.schema_text(schema)?,
            None => Arc::from(&b"null"[..]),
        };
        let mut out = Vec::with_capacity(schema_text.len() + payload.len() + 24);
        out.extend_from_slice(br#"{"schema":"#);
        out.extend_from_slice(&schema_text);
        out.extend_from_slice(br#","payload":"#);
        out.extend_from_slice(&payload);
        out.push(b'}');
        Ok(Some(out))
    }

    /// A schema's JSON text, from the cache when this very schema was written before.
    fn schema_text(&self, schema: &SchemaRef) -> Result<Arc<[u8]>, DataError> {
        let cached = self
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(schema);
        if let Some(text) = cached {
            return Ok(text);
        }
        let text: Arc<[u8]> = to_bytes(&self.schema_to_json(schema)?)?.into();
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(schema, text.clone());
        Ok(text)
    }

    fn deserialize(&self, bytes: Option<&[u8]>) -> Result<Option<Data>, DataError> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        if self.config.schemas_enable
            && bytes.len() <= PARSED_SCHEMA_RECORD_BYTES
            && let Some(data) = self.deserialize_known_schema(bytes)?
        {
            return Ok(Some(data));
        }
        let json = parse(bytes).map_err(|e| {
            DataError::new(format!(
                "converting bytes to Kafka Connect data failed due to serialization error: {e}"
            ))
        })?;
        if !self.config.schemas_enable {
            return Ok(Some(match json {
                None => Data::schemaless(Value::Null),
                Some(json) => Data::schemaless(self.json_to_value(None, Some(&json))?),
            }));
        }
        let envelope = json.as_ref().and_then(|json| match json {
            Json::Object(members) if members.len() == 2 => {
                Some((json.get("schema")?, json.get("payload")?))
            }
            _ => None,
        });
        let Some((schema_json, payload)) = envelope else {
            return Err(DataError::new(ENVELOPE_ERROR));
        };
        let schema = self.json_to_schema(schema_json)?;
        let value = self.json_to_value(schema.as_ref(), Some(payload))?;
        Ok(Some(Data::new(schema, value)))
    }

    /// The record of a plain envelope (`schema` then `payload`, or the other way round, once
    /// each) whose schema text is cached, or whose schema is then parsed and cached; None for
    /// anything else, which [`Self::deserialize`] reads the general way.
    fn deserialize_known_schema(&self, bytes: &[u8]) -> Result<Option<Data>, DataError> {
        if self.cache_size() == 0 {
            return Ok(None);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Ok(None);
        };
        // serde would also take a struct from an array; an envelope is an object.
        if !text
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Ok(None);
        }
        let Ok(envelope) = serde_json::from_str::<RawEnvelope<'_>>(text) else {
            return Ok(None);
        };
        let schema = self.cached_schema(envelope.schema.get())?;
        let value = self.json_to_value(schema.as_ref(), Some(&envelope.payload))?;
        Ok(Some(Data::new(schema, value)))
    }

    /// `schemas.cache.size` (0 caches nothing, either way).
    fn cache_size(&self) -> usize {
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .capacity
    }

    /// [`Self::json_to_schema`] of a schema text, the same `Arc` for a text read recently.
    fn cached_schema(&self, raw: &str) -> Result<Option<SchemaRef>, DataError> {
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = parsed.iter().position(|(cached, _)| **cached == *raw) {
            let entry = parsed.remove(index).expect("the index was just found");
            let schema = entry.1.clone();
            parsed.push_front(entry);
            return Ok(Some(schema));
        }
        drop(parsed);
        // Text serde_json already read as one JSON value.
        let node: Json = serde_json::from_str(raw).map_err(|e| {
            DataError::new(format!(
                "converting bytes to Kafka Connect data failed due to serialization error: malformed JSON: {e}"
            ))
        })?;
        let Some(schema) = self.json_to_schema(&node)? else {
            return Ok(None);
        };
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        parsed.push_front((raw.into(), schema.clone()));
        parsed.truncate(PARSED_SCHEMAS);
        Ok(Some(schema))
    }

    /// The JSON schema node (Kafka's `asJsonSchema`), keys in Kafka's order.
    fn schema_to_json(&self, schema: &Schema) -> Result<Json, DataError> {
        let mut members = Map::new();
        members.insert(
            "type".into(),
            Json::String(json_type_name(schema.ty).into()),
        );
        match schema.ty {
            SchemaType::Array => {
                let items = schema
                    .value_schema
                    .as_deref()
                    .ok_or_else(|| DataError::new("array schema has no element schema"))?;
                members.insert("items".into(), self.schema_to_json(items)?);
            }
            SchemaType::Map => {
                let (Some(keys), Some(values)) =
                    (schema.key_schema.as_deref(), schema.value_schema.as_deref())
                else {
                    return Err(DataError::new("map schema has no key or value schema"));
                };
                members.insert("keys".into(), self.schema_to_json(keys)?);
                members.insert("values".into(), self.schema_to_json(values)?);
            }
            SchemaType::Struct => {
                let mut fields = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    let mut field_json = self
                        .schema_to_json(&field.schema)
                        .map_err(|e| e.in_field(&field.name))?;
                    if let Json::Object(field_members) = &mut field_json {
                        field_members.insert("field".into(), Json::String(field.name.clone()));
                    }
                    fields.push(field_json);
                }
                members.insert("fields".into(), Json::Array(fields));
            }
            _ => {}
        }
        members.insert("optional".into(), Json::Bool(schema.optional));
        if let Some(name) = &schema.name {
            members.insert("name".into(), Json::String(name.clone()));
        }
        if let Some(version) = schema.version {
            members.insert("version".into(), Json::from(version));
        }
        if let Some(doc) = &schema.doc {
            members.insert("doc".into(), Json::String(doc.clone()));
        }
        if !schema.parameters.is_empty() {
            let mut parameters = Map::new();
            for (key, value) in &schema.parameters {
                parameters.insert(key.clone(), Json::String(value.clone()));
            }
            members.insert("parameters".into(), Json::Object(parameters));
        }
        if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null()) {
            let default_json = self
                .value_to_json(Some(schema), default)
                .map_err(|e| DataError::new(format!("invalid default value: {e}")))?;
            members.insert("default".into(), default_json);
        }
        Ok(Json::Object(members))
    }

    /// The payload node for a value (Kafka's `convertToJson`).
    fn value_to_json(&self, schema: Option<&Schema>, value: &Value) -> Result<Json, DataError> {
        let Some(schema) = schema else {
            return self.schemaless_to_json(value);
        };
        if value.is_null() {
            if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null())
                && self.config.replace_null_with_default
            {
                return self.value_to_json(Some(schema), default);
            }
            if schema.optional {
                return Ok(Json::Null);
            }
            return Err(DataError::new(
                "conversion error: null value for field that is required and has no default value",
            ));
        }
        if !value_matches(schema.ty, value) {
            return Err(DataError::new(format!(
                "invalid type for {}: {}",
                schema.ty.name(),
                value_kind(value)
            )));
        }
        if let Some(scale) = decimal_scale(schema) {
            let scale = scale?;
            let Value::Bytes(bytes) = value else {
                return unreachable_type();
            };
            return self.decimal_to_json(bytes, scale);
        }
        Ok(match value {
            Value::Null => Json::Null,
            Value::Boolean(b) => Json::Bool(*b),
            Value::Int8(v) => Json::from(*v),
            Value::Int16(v) => Json::from(*v),
            Value::Int32(v) => Json::from(*v),
            Value::Int64(v) => Json::from(*v),
            Value::Float32(v) => float_json(float_to_string(*v), v.is_finite()),
            Value::Float64(v) => float_json(double_to_string(*v), v.is_finite()),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(BASE64.encode(b)),
            Value::Array(items) => {
                let item_schema = schema
                    .value_schema
                    .as_deref()
                    .ok_or_else(|| DataError::new("array schema has no element schema"))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        self.value_to_json(Some(item_schema), item)
                            .map_err(|e| e.at_index(i))?,
                    );
                }
                Json::Array(out)
            }
            Value::Map(entries) => {
                let (Some(key_schema), Some(value_schema)) =
                    (schema.key_schema.as_deref(), schema.value_schema.as_deref())
                else {
                    return Err(DataError::new("map schema has no key or value schema"));
                };
                self.map_to_json(
                    entries,
                    key_schema.ty == SchemaType::String,
                    Some(key_schema),
                    Some(value_schema),
                )?
            }
            Value::Struct(s) => {
                if !std::ptr::eq(s.schema.as_ref(), schema) && *s.schema != *schema {
                    return Err(DataError::new("mismatching schema"));
                }
                self.struct_to_json(s)?
            }
        })
    }

    fn schemaless_to_json(&self, value: &Value) -> Result<Json, DataError> {
        Ok(match value {
            Value::Null => Json::Null,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.schemaless_to_json(item).map_err(|e| e.at_index(i))?);
                }
                Json::Array(out)
            }
            Value::Map(entries) => {
                let object_mode = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
                self.map_to_json(entries, object_mode, None, None)?
            }
            Value::Struct(s) => self.struct_to_json(s)?,
            primitive => {
                // A primitive with a schema of its own type behaves exactly as schemaless.
                let schema = Schema::primitive(primitive_type(primitive)).optional();
                self.value_to_json(Some(&schema), primitive)?
            }
        })
    }

    fn map_to_json(
        &self,
        entries: &[(Value, Value)],
        object_mode: bool,
        key_schema: Option<&Schema>,
        value_schema: Option<&Schema>,
    ) -> Result<Json, DataError> {
        let convert = |schema: Option<&Schema>, value: &Value| match schema {
            Some(schema) => self.value_to_json(Some(schema), value),
            None => self.schemaless_to_json(value),
        };
        if object_mode {
            let mut members = Map::new();
            for (key, value) in entries {
                let Value::String(name) = key else {
                    return Err(DataError::new(format!(
                        "invalid type for string map key: {}",
                        value_kind(key)
                    )));
                };
                let value_json = convert(value_schema, value).map_err(|e| e.in_field(name))?;
                members.insert(name.clone(), value_json);
            }
            Ok(Json::Object(members))
        } else {
            let mut pairs = Vec::with_capacity(entries.len());
            for (i, (key, value)) in entries.iter().enumerate() {
                let key_json = convert(key_schema, key).map_err(|e| e.at_index(i))?;
                let value_json = convert(value_schema, value).map_err(|e| e.at_index(i))?;
                pairs.push(Json::Array(vec![key_json, value_json]));
            }
            Ok(Json::Array(pairs))
        }
    }

    fn struct_to_json(&self, value: &Struct) -> Result<Json, DataError> {
        if value.values.len() != value.schema.fields.len() {
            return Err(DataError::new(format!(
                "struct has {} values for {} fields",
                value.values.len(),
                value.schema.fields.len()
            )));
        }
        let mut members = Map::new();
        for (field, field_value) in value.schema.fields.iter().zip(&value.values) {
            let json = self
                .value_to_json(Some(&field.schema), field_value)
                .map_err(|e| e.in_field(&field.name))?;
            members.insert(field.name.clone(), json);
        }
        Ok(Json::Object(members))
    }

    fn decimal_to_json(&self, bytes: &[u8], scale: i32) -> Result<Json, DataError> {
        if bytes.is_empty() {
            return Err(DataError::new("invalid decimal: no unscaled value bytes"));
        }
        let bytes = minimal_twos_complement(bytes.to_vec());
        Ok(match self.config.decimal_format {
            DecimalFormat::Base64 => Json::String(BASE64.encode(&bytes)),
            DecimalFormat::Numeric => {
                let (negative, digits) = twos_complement_to_digits(&bytes);
                java_number(big_decimal_to_string(negative, &digits, i64::from(scale)))
            }
        })
    }

    /// Parses a JSON schema node (Kafka's `asConnectSchema`); `null` is no schema.
    fn json_to_schema(&self, node: &Json) -> Result<Option<SchemaRef>, DataError> {
        if matches!(node, Json::Null) {
            return Ok(None);
        }
        let Some(Json::String(type_name)) = node.get("type") else {
            return Err(DataError::new("schema must contain 'type' field"));
        };
        let mut schema = match type_name.as_str() {
            "boolean" => Schema::primitive(SchemaType::Boolean),
            "int8" => Schema::primitive(SchemaType::Int8),
            "int16" => Schema::primitive(SchemaType::Int16),
            "int32" => Schema::primitive(SchemaType::Int32),
            "int64" => Schema::primitive(SchemaType::Int64),
            "float" => Schema::primitive(SchemaType::Float32),
            "double" => Schema::primitive(SchemaType::Float64),
            "bytes" => Schema::primitive(SchemaType::Bytes),
            "string" => Schema::primitive(SchemaType::String),
            "array" => {
                let items = node
                    .get("items")
                    .map(|items| self.json_to_schema(items))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| {
                        DataError::new("array schema did not specify the element type")
                    })?;
                Schema::array(items)
            }
            "map" => {
                let keys = node
                    .get("keys")
                    .map(|keys| self.json_to_schema(keys))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| DataError::new("map schema did not specify the key type"))?;
                let values = node
                    .get("values")
                    .map(|values| self.json_to_schema(values))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| DataError::new("map schema did not specify the value type"))?;
                Schema::map(keys, values)
            }
            "struct" => {
                let Some(Json::Array(field_nodes)) = node.get("fields") else {
                    return Err(DataError::new(
                        "struct schema's \"fields\" argument is not an array",
                    ));
                };
                let mut fields: Vec<Field> = Vec::with_capacity(field_nodes.len());
                for field_node in field_nodes {
                    let Some(Json::String(name)) = field_node.get("field") else {
                        return Err(DataError::new(
                            "struct schema's field name not specified properly",
                        ));
                    };
                    if fields.iter().any(|f| f.name == *name) {
                        return Err(DataError::new(format!(
                            "cannot create field because of field name duplication {name}"
                        )));
                    }
                    let field_schema = self
                        .json_to_schema(field_node)
                        .map_err(|e| e.in_field(name))?
                        .ok_or_else(|| {
                            DataError::new("struct field has a null schema").in_field(name)
                        })?;
                    fields.push(Field {
                        name: name.clone(),
                        schema: field_schema,
                    });
                }
                Schema::structure(fields)
            }
            other => return Err(DataError::new(format!("unknown schema type: {other}"))),
        };
        schema.optional = matches!(node.get("optional"), Some(Json::Bool(true)));
        if let Some(Json::String(name)) = node.get("name") {
            schema.name = Some(name.clone());
        }
        if let Some(Json::Number(version)) = node.get("version")
            && is_integral(version)
        {
            let text = version.as_str();
            schema.version = Some(text.parse().map_err(|_| {
                DataError::new(format!("schema version {text} is out of range for int32"))
            })?);
        }
        if let Some(Json::String(doc)) = node.get("doc") {
            schema.doc = Some(doc.clone());
        }
        if let Some(Json::Object(parameters)) = node.get("parameters") {
            for (key, value) in parameters {
                let Json::String(value) = value else {
                    return Err(DataError::new("schema parameters must have string values"));
                };
                schema.parameters.push((key.clone(), value.clone()));
            }
        }
        if let Some(default) = node.get("default").filter(|d| !matches!(d, Json::Null)) {
            let without_default = Arc::new(schema.clone());
            let value = self
                .json_to_value(Some(&without_default), Some(default))
                .map_err(|e| DataError::new(format!("invalid default value: {e}")))?;
            if !value.is_null() {
                schema.default = Some(value);
            }
        }
        Ok(Some(Arc::new(schema)))
    }

    /// The Connect value of a payload node (Kafka's `convertToConnect`); `None` is a missing
    /// node (an absent struct field).
    fn json_to_value(
        &self,
        schema: Option<&SchemaRef>,
        node: Option<&Json>,
    ) -> Result<Value, DataError> {
        let Some(schema) = schema else {
            return schemaless_value(node.unwrap_or(&Json::Null));
        };
        let node = match node {
            None | Some(Json::Null) => {
                if let Some(default) = &schema.default
                    && self.config.replace_null_with_default
                {
                    return Ok(default.clone());
                }
                if schema.optional {
                    return Ok(Value::Null);
                }
                return Err(DataError::new(format!(
                    "invalid null value for required {} field",
                    schema.ty.name()
                )));
            }
            Some(node) => node,
        };
        if let Some(scale) = decimal_scale(schema) {
            return decimal_from_json(node, scale?);
        }
        let mismatch = |expected: &str| {
            DataError::new(format!(
                "invalid type for {}: expected {expected} but found {}",
                schema.ty.name(),
                node_type(node)
            ))
        };
        Ok(match schema.ty {
            SchemaType::Boolean => match node {
                Json::Bool(b) => Value::Boolean(*b),
                _ => return Err(mismatch("a boolean")),
            },
            SchemaType::Int8 => {
                Value::Int8(integer(node, schema.ty).ok_or_else(|| mismatch("an integer"))??)
            }
            SchemaType::Int16 => {
                Value::Int16(integer(node, schema.ty).ok_or_else(|| mismatch("an integer"))??)
            }
            SchemaType::Int32 => {
                Value::Int32(integer(node, schema.ty).ok_or_else(|| mismatch("an integer"))??)
            }
            SchemaType::Int64 => {
                Value::Int64(integer(node, schema.ty).ok_or_else(|| mismatch("an integer"))??)
            }
            SchemaType::Float32 => Value::Float32(
                float_text(node)
                    .ok_or_else(|| mismatch("a number"))?
                    .parse()
                    .map_err(|_| mismatch("a number"))?,
            ),
            SchemaType::Float64 => Value::Float64(
                float_text(node)
                    .ok_or_else(|| mismatch("a number"))?
                    .parse()
                    .map_err(|_| mismatch("a number"))?,
            ),
            SchemaType::String => match node {
                Json::String(s) => Value::String(s.clone()),
                _ => return Err(mismatch("a string")),
            },
            SchemaType::Bytes => match node {
                Json::String(s) => Value::Bytes(decode_base64(s)?),
                _ => return Err(mismatch("a base64 string")),
            },
            SchemaType::Array => {
                let Json::Array(items) = node else {
                    return Err(mismatch("an array"));
                };
                let item_schema = schema
                    .value_schema
                    .as_ref()
                    .ok_or_else(|| DataError::new("array schema has no element schema"))?;
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(
                        self.json_to_value(Some(item_schema), Some(item))
                            .map_err(|e| e.at_index(i))?,
                    );
                }
                Value::Array(out)
            }
            SchemaType::Map => {
                let (Some(key_schema), Some(value_schema)) =
                    (schema.key_schema.as_ref(), schema.value_schema.as_ref())
                else {
                    return Err(DataError::new("map schema has no key or value schema"));
                };
                let mut entries = Vec::new();
                if key_schema.ty == SchemaType::String {
                    let Json::Object(members) = node else {
                        return Err(DataError::new(format!(
                            "maps with string fields should be encoded as JSON objects, but found {}",
                            node_type(node)
                        )));
                    };
                    for (key, value) in members {
                        let value = self
                            .json_to_value(Some(value_schema), Some(value))
                            .map_err(|e| e.in_field(key))?;
                        entries.push((Value::String(key.clone()), value));
                    }
                } else {
                    let Json::Array(pairs) = node else {
                        return Err(DataError::new(format!(
                            "maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                            node_type(node)
                        )));
                    };
                    for (i, pair) in pairs.iter().enumerate() {
                        let Json::Array(pair) = pair else {
                            return Err(DataError::new(format!(
                                "found invalid map entry instead of array tuple: {}",
                                node_type(pair)
                            ))
                            .at_index(i));
                        };
                        let [key, value] = pair.as_slice() else {
                            return Err(DataError::new(format!(
                                "found invalid map entry, expected length 2 but found {}",
                                pair.len()
                            ))
                            .at_index(i));
                        };
                        let key = self
                            .json_to_value(Some(key_schema), Some(key))
                            .map_err(|e| e.at_index(i))?;
                        let value = self
                            .json_to_value(Some(value_schema), Some(value))
                            .map_err(|e| e.at_index(i))?;
                        entries.push((key, value));
                    }
                }
                Value::Map(entries)
            }
            SchemaType::Struct => {
                let Json::Object(_) = node else {
                    return Err(DataError::new(format!(
                        "structs should be encoded as JSON objects, but found {}",
                        node_type(node)
                    )));
                };
                let mut values = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    values.push(
                        self.json_to_value(Some(&field.schema), node.get(&field.name))
                            .map_err(|e| e.in_field(&field.name))?,
                    );
                }
                Value::Struct(Struct {
                    schema: schema.clone(),
                    values,
                })
            }
        })
    }
}

/// Kafka's JSON schema type names (`float`/`double` for FLOAT32/FLOAT64).
fn json_type_name(ty: SchemaType) -> &'static str {
    match ty {
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        other => other.name(),
    }
}

fn primitive_type(value: &Value) -> SchemaType {
    match value {
        Value::Boolean(_) => SchemaType::Boolean,
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Array(_) => SchemaType::Array,
        Value::Map(_) => SchemaType::Map,
        Value::Struct(_) => SchemaType::Struct,
        Value::Null | Value::String(_) => SchemaType::String,
    }
}

/// An impossible branch after a type check; an error rather than a panic.
fn unreachable_type<T>() -> Result<T, DataError> {
    Err(DataError::new(
        "internal error: value type changed after check",
    ))
}

/// Parses one JSON document. Empty (or all-whitespace) input gives `Ok(None)`, like
/// Jackson's missing node; non-UTF-8 input and trailing content are errors.
fn parse(bytes: &[u8]) -> Result<Option<Json>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 in JSON at byte {}", e.valid_up_to()))?;
    if text.trim_start_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("malformed JSON: {e}"))
}

/// The compact JSON bytes, as Jackson writes them.
fn to_bytes(json: &Json) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    json.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        JacksonFormatter,
    ))
    .map_err(|e| DataError::new(format!("writing JSON failed: {e}")))?;
    Ok(out)
}

/// serde_json's compact output, but with control characters escaped in upper-case hex
/// (`\u001F`) as Jackson does, so the bytes match Kafka's.
struct JacksonFormatter;

impl Formatter for JacksonFormatter {
    fn write_char_escape<W>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> std::io::Result<()>
    where
        W: ?Sized + std::io::Write,
    {
        match char_escape {
            CharEscape::AsciiControl(byte) => write!(writer, "\\u{byte:04X}"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

/// A JSON number with exactly `text`, a finite number as `java_text` writes it (`1.0E20`,
/// `1E-8`). Every public constructor of `serde_json::Number` re-parses the text and
/// normalizes the exponent (`1.0e+20`), which Jackson would not write;
/// `from_string_unchecked` (public, `arbitrary_precision` only) keeps it verbatim.
fn java_number(text: String) -> Json {
    debug_assert!(text.parse::<Number>().is_ok(), "not a JSON number: {text}");
    Json::Number(Number::from_string_unchecked(text))
}

/// A number without fraction or exponent (Jackson's `isIntegralNumber`).
fn is_integral(number: &Number) -> bool {
    !number.as_str().contains(['.', 'e', 'E'])
}

/// Jackson's `JsonNodeType` name, for error messages.
fn node_type(node: &Json) -> &'static str {
    match node {
        Json::Null => "NULL",
        Json::Bool(_) => "BOOLEAN",
        Json::Number(_) => "NUMBER",
        Json::String(_) => "STRING",
        Json::Array(_) => "ARRAY",
        Json::Object(_) => "OBJECT",
    }
}

/// Finite floats as JSON numbers; NaN and infinities as Jackson's quoted strings.
fn float_json(text: String, finite: bool) -> Json {
    if finite {
        java_number(text)
    } else {
        Json::String(text)
    }
}

/// The text of a float payload: any number, or Jackson's quoted NaN/Infinity strings.
fn float_text(node: &Json) -> Option<&str> {
    match node {
        Json::Number(number) => Some(number.as_str()),
        Json::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {
            Some(match s.as_str() {
                "NaN" => "NaN",
                "Infinity" => "inf",
                _ => "-inf",
            })
        }
        _ => None,
    }
}

/// An integral payload, range-checked for `ty`: `None` if the node is not an integral number.
fn integer<T: TryFrom<i64>>(node: &Json, ty: SchemaType) -> Option<Result<T, DataError>> {
    let Json::Number(number) = node else {
        return None;
    };
    if !is_integral(number) {
        return None;
    }
    let text = number.as_str();
    let out_of_range = || DataError::new(format!("value {text} is out of range for {}", ty.name()));
    Some(
        text.parse::<i64>()
            .map_err(|_| out_of_range())
            .and_then(|v| T::try_from(v).map_err(|_| out_of_range())),
    )
}

fn decode_base64(text: &str) -> Result<Vec<u8>, DataError> {
    BASE64
        .decode(text)
        .map_err(|e| DataError::new(format!("invalid base64 for bytes: {e}")))
}

/// A Decimal from a JSON number or a base64 string, as unscaled bytes at the schema's scale.
fn decimal_from_json(node: &Json, scale: i32) -> Result<Value, DataError> {
    match node {
        Json::Number(number) => {
            let text = number.as_str();
            let decimal = DecimalText::parse(text)
                .ok_or_else(|| DataError::new(format!("invalid decimal number {text}")))?;
            let unscaled = decimal.unscaled_at(i64::from(scale)).ok_or_else(|| {
                DataError::new(format!(
                    "decimal {text} does not fit the schema's scale {scale} without rounding"
                ))
            })?;
            Ok(Value::Bytes(digits_to_twos_complement(
                decimal.negative,
                &unscaled,
            )))
        }
        Json::String(text) => {
            let bytes = decode_base64(text)?;
            if bytes.is_empty() {
                return Err(DataError::new("invalid decimal: no unscaled value bytes"));
            }
            Ok(Value::Bytes(minimal_twos_complement(bytes)))
        }
        other => Err(DataError::new(format!(
            "invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
            node_type(other)
        ))),
    }
}

/// Schemaless reading: integral numbers → int64, other numbers → float64, objects → maps with
/// string keys, arrays → arrays.
fn schemaless_value(node: &Json) -> Result<Value, DataError> {
    Ok(match node {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(number) if is_integral(number) => Value::Int64(
            number
                .as_str()
                .parse()
                .map_err(|_| DataError::new(format!("value {number} is out of range for int64")))?,
        ),
        Json::Number(number) => Value::Float64(
            number
                .as_str()
                .parse()
                .map_err(|_| DataError::new(format!("invalid number {number}")))?,
        ),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| schemaless_value(item).map_err(|e| e.at_index(i)))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(members) => Value::Map(
            members
                .iter()
                .map(|(key, value)| {
                    Ok((
                        Value::String(key.clone()),
                        schemaless_value(value).map_err(|e| e.in_field(key))?,
                    ))
                })
                .collect::<Result<_, DataError>>()?,
        ),
    })
}

impl Converter for JsonConverter {
    fn from_connect(
        &self,
        topic: &str,
        data: Option<&Data>,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.serialize(data)
            .map_err(|source| ConvertError::FromConnect {
                converter: NAME,
                topic: topic.to_string(),
                source,
            })
    }

    fn to_connect(&self, topic: &str, bytes: Option<&[u8]>) -> Result<Option<Data>, ConvertError> {
        self.deserialize(bytes)
            .map_err(|source| ConvertError::ToConnect {
                converter: NAME,
                topic: topic.to_string(),
                source,
            })
    }
}

impl HeaderConverter for JsonConverter {
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: &Data,
    ) -> Result<Option<Vec<u8>>, ConvertError> {
        self.serialize(Some(data))
            .map_err(|source| ConvertError::FromConnectHeader {
                converter: NAME,
                topic: topic.to_string(),
                key: key.to_string(),
                source,
            })
    }

    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<Data, ConvertError> {
        self.deserialize(bytes)
            .map(|data| data.unwrap_or_else(|| Data::schemaless(Value::Null)))
            .map_err(|source| ConvertError::ToConnectHeader {
                converter: NAME,
                topic: topic.to_string(),
                key: key.to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prim(ty: SchemaType) -> Schema {
        Schema::primitive(ty)
    }

    fn field(name: &str, schema: Schema) -> Field {
        Field {
            name: name.into(),
            schema: Arc::new(schema),
        }
    }

    fn with_default(mut schema: Schema, default: Value) -> Schema {
        schema.default = Some(default);
        schema
    }

    fn converter(pairs: &[(&str, &str)]) -> JsonConverter {
        let settings = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        JsonConverter::from_settings(&settings).unwrap()
    }

    fn write_with(converter: &JsonConverter, schema: Option<&Schema>, value: Value) -> String {
        let data = Data::new(schema.cloned().map(Arc::new), value);
        let bytes = converter.from_connect("t", Some(&data)).unwrap().unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn read_with(converter: &JsonConverter, text: &str) -> Data {
        converter
            .to_connect("t", Some(text.as_bytes()))
            .unwrap()
            .unwrap()
    }

    fn read_err(converter: &JsonConverter, text: &str) -> DataError {
        converter
            .to_connect("t", Some(text.as_bytes()))
            .unwrap_err()
            .data_error()
            .unwrap()
            .clone()
    }

    /// Writes with the default converter, checks the exact bytes, reads them back and checks
    /// the schema and value survive.
    fn golden(schema: Schema, value: Value, expected: &str) {
        golden_with(&JsonConverter::default(), schema, value, expected);
    }

    fn golden_with(converter: &JsonConverter, schema: Schema, value: Value, expected: &str) {
        let written = write_with(converter, Some(&schema), value.clone());
        assert_eq!(written, expected);
        let read = read_with(converter, &written);
        assert_eq!(
            read.schema.as_deref(),
            Some(&schema),
            "schema of {expected}"
        );
        assert_eq!(read.value, value, "value of {expected}");
    }

    #[test]
    fn golden_primitives() {
        golden(
            prim(SchemaType::Boolean),
            Value::Boolean(true),
            r#"{"schema":{"type":"boolean","optional":false},"payload":true}"#,
        );
        golden(
            prim(SchemaType::Int8),
            Value::Int8(12),
            r#"{"schema":{"type":"int8","optional":false},"payload":12}"#,
        );
        golden(
            prim(SchemaType::Int16),
            Value::Int16(-12345),
            r#"{"schema":{"type":"int16","optional":false},"payload":-12345}"#,
        );
        golden(
            prim(SchemaType::Int32),
            Value::Int32(i32::MAX),
            r#"{"schema":{"type":"int32","optional":false},"payload":2147483647}"#,
        );
        golden(
            prim(SchemaType::Int64),
            Value::Int64(i64::MIN),
            r#"{"schema":{"type":"int64","optional":false},"payload":-9223372036854775808}"#,
        );
        golden(
            prim(SchemaType::Float32),
            Value::Float32(12.34),
            r#"{"schema":{"type":"float","optional":false},"payload":12.34}"#,
        );
        golden(
            prim(SchemaType::Float64),
            Value::Float64(1.0),
            r#"{"schema":{"type":"double","optional":false},"payload":1.0}"#,
        );
        golden(
            prim(SchemaType::Float64),
            Value::Float64(1e20),
            r#"{"schema":{"type":"double","optional":false},"payload":1.0E20}"#,
        );
        golden(
            prim(SchemaType::Bytes),
            Value::Bytes(b"test-string".to_vec()),
            r#"{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}"#,
        );
        golden(
            prim(SchemaType::String),
            Value::String("test \"string\"\n".into()),
            r#"{"schema":{"type":"string","optional":false},"payload":"test \"string\"\n"}"#,
        );
    }

    #[test]
    fn golden_logical_types() {
        golden(
            Schema::decimal(2),
            Value::Bytes(vec![0x00, 0x9c]),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#,
        );
        golden(
            Schema::date(),
            Value::Int32(10000),
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#,
        );
        golden(
            Schema::time(),
            Value::Int32(14_400_000),
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}"#,
        );
        golden(
            Schema::timestamp(),
            Value::Int64(4_000_000_000),
            r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}"#,
        );
    }

    #[test]
    fn golden_decimal_numeric() {
        let numeric = converter(&[("decimal.format", "numeric")]);
        golden_with(
            &numeric,
            Schema::decimal(2),
            Value::Bytes(vec![0x30, 0x39]),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":123.45}"#,
        );
        golden_with(
            &numeric,
            Schema::decimal(2),
            Value::Bytes(vec![0xcf, 0xc7]),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":-123.45}"#,
        );
        // BigDecimal.toString switches to scientific notation for tiny values.
        golden_with(
            &numeric,
            Schema::decimal(8),
            Value::Bytes(vec![0x01]),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"8"}},"payload":1E-8}"#,
        );
        // Reading accepts a number at a smaller scale, or base64, whatever the setting.
        let read = read_with(
            &numeric,
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":123}"#,
        );
        assert_eq!(read.value, Value::Bytes(vec![0x30, 0x0c]));
        let read = read_with(
            &numeric,
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"MDk="}"#,
        );
        assert_eq!(read.value, Value::Bytes(vec![0x30, 0x39]));
        let err = read_err(
            &numeric,
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":1.234}"#,
        );
        assert!(err.message().contains("scale 2"), "{err}");
    }

    #[test]
    fn golden_optional_and_default() {
        golden(
            prim(SchemaType::String).optional(),
            Value::Null,
            r#"{"schema":{"type":"string","optional":true},"payload":null}"#,
        );
        let mut documented = with_default(prim(SchemaType::Int32).optional(), Value::Int32(42));
        documented.name = Some("com.example.Answer".into());
        documented.version = Some(3);
        documented.doc = Some("the answer".into());
        documented.parameters = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        golden(
            documented.clone(),
            Value::Int32(7),
            r#"{"schema":{"type":"int32","optional":true,"name":"com.example.Answer","version":3,"doc":"the answer","parameters":{"a":"1","b":"2"},"default":42},"payload":7}"#,
        );
        // A null with a default is written as the default (replace.null.with.default=true) …
        let written = write_with(&JsonConverter::default(), Some(&documented), Value::Null);
        assert!(written.ends_with(r#""payload":42}"#), "{written}");
        // … or as null when that is off.
        let keep_null = converter(&[("replace.null.with.default", "false")]);
        let written = write_with(&keep_null, Some(&documented), Value::Null);
        assert!(written.ends_with(r#""payload":null}"#), "{written}");
        assert_eq!(read_with(&keep_null, &written).value, Value::Null);
        assert_eq!(
            read_with(&JsonConverter::default(), &written).value,
            Value::Int32(42)
        );
    }

    #[test]
    fn golden_arrays_and_maps() {
        golden(
            Schema::array(Arc::new(prim(SchemaType::Int32))),
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]),
            r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}"#,
        );
        golden(
            Schema::map(
                Arc::new(prim(SchemaType::String)),
                Arc::new(prim(SchemaType::Int32)),
            ),
            Value::Map(vec![
                (Value::String("key1".into()), Value::Int32(12)),
                (Value::String("key2".into()), Value::Int32(15)),
            ]),
            r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}"#,
        );
        golden(
            Schema::map(
                Arc::new(prim(SchemaType::Int32)),
                Arc::new(prim(SchemaType::String)),
            ),
            Value::Map(vec![
                (Value::Int32(1), Value::String("a".into())),
                (Value::Int32(2), Value::String("b".into())),
            ]),
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":false},"optional":false},"payload":[[1,"a"],[2,"b"]]}"#,
        );
    }

    #[test]
    fn golden_nested_structs() {
        let inner = Arc::new(Schema::structure(vec![
            field("x", prim(SchemaType::Int16)),
            field("y", prim(SchemaType::String).optional()),
        ]));
        let outer = Schema::structure(vec![
            field("flag", prim(SchemaType::Boolean)),
            Field {
                name: "inner".into(),
                schema: inner.clone(),
            },
            field("list", Schema::array(inner.clone()).optional()),
        ]);
        let mut inner_value = Struct::new(inner.clone());
        inner_value.put("x", Value::Int16(5));
        let outer_ref = Arc::new(outer.clone());
        let mut outer_value = Struct::new(outer_ref);
        outer_value.put("flag", Value::Boolean(false));
        outer_value.put("inner", Value::Struct(inner_value.clone()));
        outer_value.put("list", Value::Array(vec![Value::Struct(inner_value)]));
        golden(
            outer,
            Value::Struct(outer_value),
            concat!(
                r#"{"schema":{"type":"struct","fields":[{"type":"boolean","optional":false,"field":"flag"},"#,
                r#"{"type":"struct","fields":[{"type":"int16","optional":false,"field":"x"},{"type":"string","optional":true,"field":"y"}],"optional":false,"field":"inner"},"#,
                r#"{"type":"array","items":{"type":"struct","fields":[{"type":"int16","optional":false,"field":"x"},{"type":"string","optional":true,"field":"y"}],"optional":false},"optional":true,"field":"list"}],"optional":false},"#,
                r#""payload":{"flag":false,"inner":{"x":5,"y":null},"list":[{"x":5,"y":null}]}}"#
            ),
        );
    }

    /// The example of the spec §5.3 (its whitespace removed).
    const SPEC_EXAMPLE: &str = concat!(
        r#"{"schema":{"type":"struct","fields":["#,
        r#"{"type":"int64","optional":false,"field":"id"},"#,
        r#"{"type":"string","optional":true,"default":"n/a","field":"note"},"#,
        r#"{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amount"},"#,
        r#"{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"day"},"#,
        r#"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"at"},"#,
        r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"},"#,
        r#"{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"},"#,
        r#"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false,"field":"counts"}"#,
        r#"],"optional":false,"name":"com.example.Order","version":1},"#,
        r#""payload":{"id":42,"note":"n/a","amount":"MDk=","day":19723,"at":3600000,"ts":1704067200000,"tags":["a","b"],"counts":{"x":1}}}"#
    );

    fn spec_order() -> (Schema, Struct) {
        let mut schema = Schema::structure(vec![
            field("id", prim(SchemaType::Int64)),
            field(
                "note",
                with_default(
                    prim(SchemaType::String).optional(),
                    Value::String("n/a".into()),
                ),
            ),
            field("amount", Schema::decimal(2)),
            field("day", Schema::date()),
            field("at", Schema::time().optional()),
            field("ts", Schema::timestamp()),
            field("tags", Schema::array(Arc::new(prim(SchemaType::String)))),
            field(
                "counts",
                Schema::map(
                    Arc::new(prim(SchemaType::String)),
                    Arc::new(prim(SchemaType::Int32)),
                ),
            ),
        ]);
        schema.name = Some("com.example.Order".into());
        schema.version = Some(1);
        let mut order = Struct::new(Arc::new(schema.clone()));
        order.put("id", Value::Int64(42));
        order.put("amount", Value::Bytes(vec![0x30, 0x39]));
        order.put("day", Value::Int32(19723));
        order.put("at", Value::Int32(3_600_000));
        order.put("ts", Value::Int64(1_704_067_200_000));
        order.put(
            "tags",
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        );
        order.put(
            "counts",
            Value::Map(vec![(Value::String("x".into()), Value::Int32(1))]),
        );
        (schema, order)
    }

    #[test]
    fn golden_spec_example_byte_for_byte() {
        let (schema, mut order) = spec_order();
        // `note` is null: written as its default.
        let written = write_with(
            &JsonConverter::default(),
            Some(&schema),
            Value::Struct(order.clone()),
        );
        assert_eq!(written, SPEC_EXAMPLE);
        let read = read_with(&JsonConverter::default(), SPEC_EXAMPLE);
        assert_eq!(read.schema.as_deref(), Some(&schema));
        order.put("note", Value::String("n/a".into()));
        assert_eq!(read.value, Value::Struct(order.clone()));
        // With decimal.format=NUMERIC the amount is 123.45.
        let numeric = converter(&[("decimal.format", "NUMERIC")]);
        let written = write_with(&numeric, Some(&schema), Value::Struct(order.clone()));
        assert_eq!(written, SPEC_EXAMPLE.replace(r#""MDk=""#, "123.45"));
        assert_eq!(read_with(&numeric, &written).value, Value::Struct(order));
    }

    #[test]
    fn null_field_without_replacement_is_null() {
        let (schema, order) = spec_order();
        let keep_null = converter(&[("replace.null.with.default", "false")]);
        let written = write_with(&keep_null, Some(&schema), Value::Struct(order.clone()));
        assert!(written.contains(r#""note":null"#), "{written}");
        assert_eq!(read_with(&keep_null, &written).value, Value::Struct(order));
    }

    #[test]
    fn schemaless_with_envelope() {
        let converter = JsonConverter::default();
        let value = Value::Map(vec![
            (Value::String("a".into()), Value::Int64(1)),
            (
                Value::String("b".into()),
                Value::Array(vec![Value::Float64(1.5)]),
            ),
        ]);
        let written = write_with(&converter, None, value.clone());
        assert_eq!(written, r#"{"schema":null,"payload":{"a":1,"b":[1.5]}}"#);
        assert_eq!(read_with(&converter, &written), Data::schemaless(value));
        let pairs = Value::Map(vec![(Value::Int64(1), Value::String("a".into()))]);
        assert_eq!(
            write_with(&converter, None, pairs),
            r#"{"schema":null,"payload":[[1,"a"]]}"#
        );
    }

    #[test]
    fn schemas_disabled_writes_and_reads_bare_json() {
        let converter = converter(&[("schemas.enable", "false")]);
        let (schema, order) = spec_order();
        let written = write_with(&converter, Some(&schema), Value::Struct(order));
        assert_eq!(
            written,
            r#"{"id":42,"note":"n/a","amount":"MDk=","day":19723,"at":3600000,"ts":1704067200000,"tags":["a","b"],"counts":{"x":1}}"#
        );
        assert_eq!(
            write_with(
                &converter,
                Some(&prim(SchemaType::Float32)),
                Value::Float32(2.0)
            ),
            "2.0"
        );
        let read = read_with(
            &converter,
            r#"{"i":1,"f":1.5,"e":1e2,"s":"x","b":true,"n":null,"a":[1,"y"],"o":{}}"#,
        );
        assert_eq!(
            read,
            Data::schemaless(Value::Map(vec![
                (Value::String("i".into()), Value::Int64(1)),
                (Value::String("f".into()), Value::Float64(1.5)),
                (Value::String("e".into()), Value::Float64(100.0)),
                (Value::String("s".into()), Value::String("x".into())),
                (Value::String("b".into()), Value::Boolean(true)),
                (Value::String("n".into()), Value::Null),
                (
                    Value::String("a".into()),
                    Value::Array(vec![Value::Int64(1), Value::String("y".into())])
                ),
                (Value::String("o".into()), Value::Map(vec![])),
            ]))
        );
        assert_eq!(read_with(&converter, "null"), Data::schemaless(Value::Null));
        assert_eq!(read_with(&converter, ""), Data::schemaless(Value::Null));
        // A schema'd null without the envelope is the JSON literal null.
        assert_eq!(
            write_with(
                &converter,
                Some(&prim(SchemaType::Int32).optional()),
                Value::Null
            ),
            "null"
        );
    }

    #[test]
    fn envelopes_off_the_known_schema_path_read_as_kafka_reads_them() {
        let json = converter(&[]);
        let read = |text: &str| json.deserialize(Some(text.as_bytes()));
        // A repeated member: the last one counts, as in Jackson's tree.
        let repeated =
            read(r#"{"schema":{"type":"int32"},"schema":{"type":"string"},"payload":"x"}"#)
                .unwrap()
                .unwrap();
        assert_eq!(repeated.schema.unwrap().ty, SchemaType::String);
        assert_eq!(repeated.value, Value::String("x".into()));
        assert_eq!(
            json.parsed.lock().unwrap().len(),
            0,
            "the general path caches nothing"
        );
        // A third member or a missing one is not an envelope.
        for text in [
            r#"{"schema":null,"payload":1,"extra":2}"#,
            r#"{"payload":1}"#,
        ] {
            assert_eq!(
                read(text).unwrap_err().to_string(),
                ENVELOPE_ERROR,
                "{text}"
            );
        }
        // Payload first, a null schema, and numbers kept exactly.
        let data = read(r#"{"payload":9223372036854775807,"schema":{"type":"int64"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(data.value, Value::Int64(i64::MAX));
        let schemaless = read(r#"{"schema":null,"payload":12345678901234567890123}"#);
        assert!(
            schemaless.is_err(),
            "beyond int64 without a schema is an error"
        );
        let schemaless = read(r#"{"schema":null,"payload":[1,"a"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(schemaless.schema, None);
        // Trailing content is still an error.
        assert!(read(r#"{"schema":null,"payload":1} x"#).is_err());
    }

    #[test]
    fn records_read_with_the_same_schema_share_one() {
        let envelope = |payload: &str| {
            format!(
                r#"{{"schema":{{"type":"struct","optional":false,"fields":[{{"field":"a","type":"string","optional":true}}]}},"payload":{{"a":{payload}}}}}"#
            )
        };
        let schema_of = |json: &JsonConverter, payload: &str| {
            json.deserialize(Some(envelope(payload).as_bytes()))
                .unwrap()
                .unwrap()
                .schema
                .unwrap()
        };
        let json = converter(&[]);
        let (first, second) = (schema_of(&json, r#""x""#), schema_of(&json, "null"));
        assert!(Arc::ptr_eq(&first, &second));
        // A different schema is a different entry; the cache holds the 16 used last.
        let other = json
            .deserialize(Some(
                br#"{"schema":{"type":"string","optional":false},"payload":"s"}"#,
            ))
            .unwrap()
            .unwrap();
        assert!(!Arc::ptr_eq(other.schema.as_ref().unwrap(), &first));
        assert!(Arc::ptr_eq(&schema_of(&json, r#""y""#), &first));
        assert_eq!(json.parsed.lock().unwrap().len(), 2);
        let uncached = converter(&[("schemas.cache.size", "0")]);
        let (first, second) = (
            schema_of(&uncached, r#""x""#),
            schema_of(&uncached, r#""x""#),
        );
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(first, second);
    }

    #[test]
    fn a_schema_is_written_out_once_and_then_copied() {
        let schema: SchemaRef = Arc::new(Schema {
            doc: Some("d".repeat(1000)),
            ..prim(SchemaType::String)
        });
        let json = converter(&[]);
        let data = |text: &str| Data::new(Some(schema.clone()), Value::String(text.into()));
        let first = json.serialize(Some(&data("a"))).unwrap().unwrap();
        let second = json.serialize(Some(&data("b"))).unwrap().unwrap();
        assert_eq!(json.schemas.lock().unwrap().entries.len(), 1);
        assert_eq!(
            String::from_utf8(second).unwrap(),
            String::from_utf8(first)
                .unwrap()
                .replace(r#""payload":"a""#, r#""payload":"b""#)
        );
        // An equal schema in another `Arc` is a new entry; `schemas.cache.size=0` caches none.
        let other = Data::new(Some(Arc::new((*schema).clone())), Value::String("c".into()));
        json.serialize(Some(&other)).unwrap();
        assert_eq!(json.schemas.lock().unwrap().entries.len(), 2);
        let uncached = converter(&[("schemas.cache.size", "0")]);
        uncached.serialize(Some(&data("a"))).unwrap();
        assert!(uncached.schemas.lock().unwrap().entries.is_empty());
    }

    #[test]
    fn tombstones() {
        let converter = JsonConverter::default();
        assert_eq!(converter.from_connect("t", None).unwrap(), None);
        let schemaless_null = Data::schemaless(Value::Null);
        assert_eq!(
            converter.from_connect("t", Some(&schemaless_null)).unwrap(),
            None
        );
        assert_eq!(converter.to_connect("t", None).unwrap(), None);
        let optional = Data::new(
            Some(Arc::new(prim(SchemaType::String).optional())),
            Value::Null,
        );
        assert_eq!(
            converter
                .from_connect("t", Some(&optional))
                .unwrap()
                .unwrap(),
            br#"{"schema":{"type":"string","optional":true},"payload":null}"#.to_vec()
        );
        assert_eq!(
            converter.to_connect_header("t", "h", None).unwrap(),
            Data::schemaless(Value::Null)
        );
    }

    #[test]
    fn non_finite_floats_are_jackson_strings() {
        let converter = JsonConverter::default();
        let schema = prim(SchemaType::Float64);
        let written = write_with(&converter, Some(&schema), Value::Float64(f64::NAN));
        assert_eq!(
            written,
            r#"{"schema":{"type":"double","optional":false},"payload":"NaN"}"#
        );
        let Value::Float64(back) = read_with(&converter, &written).value else {
            panic!("not a double");
        };
        assert!(back.is_nan());
        let written = write_with(&converter, Some(&schema), Value::Float64(f64::NEG_INFINITY));
        assert!(written.ends_with(r#""payload":"-Infinity"}"#), "{written}");
        assert_eq!(
            read_with(&converter, &written).value,
            Value::Float64(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn headers_use_the_same_rules() {
        let converter = JsonConverter::default();
        let data = Data::new(Some(Arc::new(prim(SchemaType::Int8))), Value::Int8(3));
        let bytes = converter
            .from_connect_header("t", "h", &data)
            .unwrap()
            .unwrap();
        assert_eq!(
            bytes,
            br#"{"schema":{"type":"int8","optional":false},"payload":3}"#.to_vec()
        );
        assert_eq!(
            converter.to_connect_header("t", "h", Some(&bytes)).unwrap(),
            data
        );
    }

    #[test]
    fn rejects_envelopes_that_are_not_exactly_schema_and_payload() {
        let converter = JsonConverter::default();
        for text in [
            r#"{"schema":null,"payload":1,"extra":2}"#,
            r#"{"schema":null}"#,
            r#"{"payload":1,"other":null}"#,
            r#"[1,2]"#,
            r#"42"#,
            "",
        ] {
            let err = read_err(&converter, text);
            assert_eq!(err.message(), ENVELOPE_ERROR, "{text}");
        }
        let err = converter.to_connect("orders", Some(b"{")).unwrap_err();
        assert!(err.to_string().contains("`orders`"), "{err}");
        assert!(
            err.data_error()
                .unwrap()
                .message()
                .contains("serialization error")
        );
    }

    #[test]
    fn rejects_payloads_of_the_wrong_type() {
        let converter = JsonConverter::default();
        let cases = [
            (
                r#"{"schema":{"type":"int32","optional":false},"payload":"12"}"#,
                "expected an integer but found STRING",
            ),
            (
                r#"{"schema":{"type":"int8","optional":false},"payload":128}"#,
                "out of range for int8",
            ),
            (
                r#"{"schema":{"type":"int8","optional":false},"payload":-129}"#,
                "out of range for int8",
            ),
            (
                r#"{"schema":{"type":"int16","optional":false},"payload":1.5}"#,
                "expected an integer",
            ),
            (
                r#"{"schema":{"type":"boolean","optional":false},"payload":1}"#,
                "expected a boolean",
            ),
            (
                r#"{"schema":{"type":"bytes","optional":false},"payload":"!!"}"#,
                "invalid base64",
            ),
            (
                r#"{"schema":{"type":"string","optional":false},"payload":null}"#,
                "invalid null value for required string field",
            ),
            (
                r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":{}}"#,
                "expected an array",
            ),
            (
                r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[]}"#,
                "should be encoded as JSON objects",
            ),
            (
                r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1]]}"#,
                "expected length 2",
            ),
            (
                r#"{"schema":{"type":"struct","fields":[],"optional":false},"payload":[]}"#,
                "structs should be encoded as JSON objects",
            ),
            (
                r#"{"schema":{"type":"float32","optional":false},"payload":1.0}"#,
                "unknown schema type: float32",
            ),
            (
                r#"{"schema":{"optional":false},"payload":1}"#,
                "schema must contain 'type' field",
            ),
            (
                r#"{"schema":{"type":"array","optional":false},"payload":[]}"#,
                "array schema did not specify the element type",
            ),
        ];
        for (text, expected) in cases {
            let err = read_err(&converter, text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
        let nested = read_err(
            &converter,
            r#"{"schema":{"type":"struct","fields":[{"type":"array","items":{"type":"int8","optional":false},"optional":false,"field":"xs"}],"optional":false},"payload":{"xs":[1,1000]}}"#,
        );
        assert_eq!(nested.path(), "xs[1]");
    }

    #[test]
    fn struct_fields_missing_from_the_payload() {
        let converter = JsonConverter::default();
        let read = read_with(
            &converter,
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"a"},{"type":"int32","optional":false,"default":7,"field":"b"}],"optional":false},"payload":{"extra":1}}"#,
        );
        let Value::Struct(value) = read.value else {
            panic!("not a struct");
        };
        assert_eq!(value.values, vec![Value::Null, Value::Int32(7)]);
        let err = read_err(
            &converter,
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"}],"optional":false},"payload":{}}"#,
        );
        assert_eq!(err.path(), "a");
    }

    #[test]
    fn rejects_values_that_do_not_fit_their_schema() {
        let converter = JsonConverter::default();
        let write_err = |schema: Schema, value: Value| {
            let data = Data::new(Some(Arc::new(schema)), value);
            converter
                .from_connect("t", Some(&data))
                .unwrap_err()
                .data_error()
                .unwrap()
                .clone()
        };
        assert_eq!(
            write_err(prim(SchemaType::Int32), Value::Null).message(),
            "conversion error: null value for field that is required and has no default value"
        );
        assert_eq!(
            write_err(prim(SchemaType::Int32), Value::String("1".into())).message(),
            "invalid type for int32: string"
        );
        let schema = Schema::structure(vec![field("a", prim(SchemaType::Int8))]);
        let other = Arc::new(Schema::structure(vec![field("b", prim(SchemaType::Int8))]));
        assert_eq!(
            write_err(schema.clone(), Value::Struct(Struct::new(other))).message(),
            "mismatching schema"
        );
        let err = write_err(schema.clone(), Value::Struct(Struct::new(Arc::new(schema))));
        assert_eq!(err.path(), "a");
    }

    #[test]
    fn float32_and_unicode_round_trip() {
        for value in [0.1f32, -3.4028235e38, 1e-10, 7.0] {
            golden_with(
                &JsonConverter::default(),
                prim(SchemaType::Float32),
                Value::Float32(value),
                &format!(
                    r#"{{"schema":{{"type":"float","optional":false}},"payload":{}}}"#,
                    float_to_string(value)
                ),
            );
        }
        golden(
            prim(SchemaType::String),
            Value::String("é😀\u{1}".into()),
            "{\"schema\":{\"type\":\"string\",\"optional\":false},\"payload\":\"é😀\\u0001\"}",
        );
    }

    fn round_trip(text: &str) -> String {
        String::from_utf8(to_bytes(&parse(text.as_bytes()).unwrap().unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn writes_compact_json_like_jackson() {
        assert_eq!(
            round_trip(
                r#" { "a" : [1, 2.50, -3, true, null], "b" : {}, "c": 123456789012345678901234567890.000 } "#
            ),
            r#"{"a":[1,2.50,-3,true,null],"b":{},"c":123456789012345678901234567890.000}"#
        );
        let control = Json::String("q\"b\\s/\n\t\r\u{8}\u{c}\u{1}\u{b}\u{1f}\u{7f}é€".into());
        assert_eq!(
            String::from_utf8(to_bytes(&control).unwrap()).unwrap(),
            "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u000B\\u001F\u{7f}é€\""
        );
        // Java's number text is written verbatim, not normalized to `1.0e+20`.
        let numbers = Json::Array(vec![
            java_number(double_to_string(1e20)),
            java_number(big_decimal_to_string(false, "1", 8)),
            java_number(big_decimal_to_string(false, "12", -3)),
        ]);
        assert_eq!(
            String::from_utf8(to_bytes(&numbers).unwrap()).unwrap(),
            "[1.0E20,1E-8,1.2E+4]"
        );
    }

    #[test]
    fn repeated_keys_keep_first_position_and_last_value() {
        assert_eq!(round_trip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn parses_escapes() {
        assert_eq!(
            parse(br#""\u00e9\ud83d\ude00\/""#).unwrap(),
            Some(Json::String("é😀/".into()))
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "{",
            "[1,]",
            "01",
            "1.",
            "-",
            "{\"a\" 1}",
            "nul",
            "\"\u{1}\"",
            "1 2",
            "NaN",
            "'a'",
            r#""\ud800""#,
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(parse(b"  ").unwrap(), None);
        assert!(parse(&[b'"', 0xff, b'"']).is_err());
        let deep = "[".repeat(2000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
