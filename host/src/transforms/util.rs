//! Helpers shared by the built-in SMTs: reading `transforms.<alias>.<key>` settings with Kafka's
//! `ConfigDef` parsing, the key/value target of `$Key`/`$Value` classes, Kafka's
//! `Requirements` checks and messages, and the per-transform schema cache.

use std::sync::{Arc, Mutex};

use super::{ConnectRecord, DataException, TransformConfigError};
use crate::config::Settings;
use crate::data::{Data, Schema, SchemaRef, SchemaType, Value};

/// The settings of one transform or predicate alias, read with Kafka's `ConfigDef` rules
/// (values trimmed; LIST split on commas). Errors name the full key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Props<'a> {
    settings: &'a Settings,
    /// `transforms.<alias>.` or `predicates.<alias>.`
    prefix: &'a str,
}

impl<'a> Props<'a> {
    pub(crate) fn new(settings: &'a Settings, prefix: &'a str) -> Self {
        Self { settings, prefix }
    }

    pub(crate) fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn raw(&self, key: &str) -> Option<&'a str> {
        self.settings.get(&self.key(key)).map(|value| value.trim())
    }

    /// A STRING setting with a null default (an empty value is an empty string, as in Kafka).
    pub(crate) fn string(&self, key: &str) -> Option<&'a str> {
        self.raw(key)
    }

    /// The first of several keys that is set (for deprecated aliases).
    pub(crate) fn string_any(&self, keys: &[&str]) -> Option<(&'a str, String)> {
        keys.iter()
            .find_map(|key| self.raw(key).map(|value| (value, self.key(key))))
    }

    /// A required STRING setting.
    pub(crate) fn required(&self, key: &str, hint: &str) -> Result<&'a str, TransformConfigError> {
        self.raw(key).ok_or_else(|| self.missing(key, hint))
    }

    /// A required STRING that must not be empty.
    pub(crate) fn required_non_empty(
        &self,
        key: &str,
        hint: &str,
    ) -> Result<&'a str, TransformConfigError> {
        let value = self.required(key, hint)?;
        if value.is_empty() {
            return Err(self.invalid(key, value, format!("must not be empty; {hint}")));
        }
        Ok(value)
    }

    /// A LIST setting (empty when unset).
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.raw(key).map(split_list).unwrap_or_default()
    }

    /// A required LIST setting that must have at least one element.
    pub(crate) fn required_list(
        &self,
        key: &str,
        hint: &str,
    ) -> Result<Vec<String>, TransformConfigError> {
        let raw = self.required(key, hint)?;
        let list = split_list(raw);
        if list.is_empty() {
            return Err(self.invalid(key, raw, format!("must list at least one item; {hint}")));
        }
        Ok(list)
    }

    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool, TransformConfigError> {
        match self.raw(key) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(self.invalid(key, value, "expected true or false")),
        }
    }

    /// `replace.null.with.default` (BOOLEAN, default true).
    pub(crate) fn replace_null_with_default(&self) -> Result<bool, TransformConfigError> {
        self.bool_or("replace.null.with.default", true)
    }

    pub(crate) fn missing(&self, key: &str, hint: &str) -> TransformConfigError {
        TransformConfigError::Missing {
            key: self.key(key),
            hint: hint.to_owned(),
        }
    }

    pub(crate) fn invalid(
        &self,
        key: &str,
        value: &str,
        reason: impl Into<String>,
    ) -> TransformConfigError {
        TransformConfigError::Invalid {
            key: self.key(key),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Kafka's LIST parsing: comma-separated, trimmed, and an empty string is an empty list.
pub(crate) fn split_list(raw: &str) -> Vec<String> {
    if raw.trim().is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|item| item.trim().to_owned()).collect()
}

/// Which part of the record a `$Key` or `$Value` class operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Key,
    Value,
}

impl Target {
    pub(crate) fn get(self, record: &dyn ConnectRecord) -> Option<&Data> {
        match self {
            Self::Key => record.key(),
            Self::Value => record.value(),
        }
    }

    pub(crate) fn slot(self, record: &mut dyn ConnectRecord) -> &mut Option<Data> {
        match self {
            Self::Key => record.key_mut(),
            Self::Value => record.value_mut(),
        }
    }

    /// The operating schema (Kafka's `operatingSchema(record)`).
    pub(crate) fn schema(self, record: &dyn ConnectRecord) -> Option<&SchemaRef> {
        self.get(record).and_then(|data| data.schema.as_ref())
    }

    /// Whether the operating value is null (Kafka's `operatingValue(record) == null`).
    pub(crate) fn is_null(self, record: &dyn ConnectRecord) -> bool {
        self.get(record).is_none_or(|data| data.value.is_null())
    }

    /// Takes the operating schema and value out of the record (null when absent).
    pub(crate) fn take(self, record: &mut dyn ConnectRecord) -> (Option<SchemaRef>, Value) {
        match self.slot(record).take() {
            Some(data) => (data.schema, data.value),
            None => (None, Value::Null),
        }
    }

    /// Puts a new operating schema and value into the record; schemaless null becomes absent.
    pub(crate) fn put(
        self,
        record: &mut dyn ConnectRecord,
        schema: Option<SchemaRef>,
        value: Value,
    ) {
        *self.slot(record) = if schema.is_none() && value.is_null() {
            None
        } else {
            Some(Data::new(schema, value))
        };
    }
}

/// Java's `value.getClass().getName()` of a Connect value (`"null"` for null), as Kafka's
/// `Requirements` messages print it.
pub(crate) fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// The message of `Requirements.requireMap` for a value that is not a map.
pub(crate) fn not_a_map(value: &Value, purpose: &str) -> DataException {
    DataException::new(format!(
        "Only Map objects supported in absence of schema for [{purpose}], found: {}",
        java_class(value)
    ))
}

/// The message of `Requirements.requireStruct` for a value that is not a struct.
pub(crate) fn not_a_struct(value: &Value, purpose: &str) -> DataException {
    DataException::new(format!(
        "Only Struct objects supported for [{purpose}], found: {}",
        java_class(value)
    ))
}

/// `Requirements.requireSchema`.
pub(crate) fn schema_required(purpose: &str) -> DataException {
    DataException::new(format!("Schema required for [{purpose}]"))
}

/// `Requirements.requireSinkRecord`.
pub(crate) fn sink_record_required(purpose: &str) -> DataException {
    DataException::new(format!(
        "Only SinkRecord supported for [{purpose}], found: org.apache.kafka.connect.source.SourceRecord"
    ))
}

/// Checks a value that must be a Struct (or null, when `allow_null`), before it is taken out of
/// the record, so a failed transform leaves the record untouched.
pub(crate) fn check_struct(
    value: &Value,
    purpose: &str,
    allow_null: bool,
) -> Result<(), DataException> {
    match value {
        Value::Struct(_) => Ok(()),
        Value::Null if allow_null => Ok(()),
        other => Err(not_a_struct(other, purpose)),
    }
}

/// Checks a value that must be a Map (or null, when `allow_null`).
pub(crate) fn check_map(
    value: &Value,
    purpose: &str,
    allow_null: bool,
) -> Result<(), DataException> {
    match value {
        Value::Map(_) => Ok(()),
        Value::Null if allow_null => Ok(()),
        other => Err(not_a_map(other, purpose)),
    }
}

/// A field value as Kafka's `Struct.get` (`replace_null` true: a null field yields the field
/// schema's default) or `Struct.getWithoutDefault` (false). Moves the value out of `slot`.
pub(crate) fn take_field(slot: &mut Value, schema: &Schema, replace_null: bool) -> Value {
    let value = std::mem::replace(slot, Value::Null);
    if value.is_null() && replace_null {
        return schema.default.clone().unwrap_or(Value::Null);
    }
    value
}

/// As [`take_field`], by reference.
pub(crate) fn field_value(value: &Value, schema: &Schema, replace_null: bool) -> Value {
    if value.is_null() && replace_null {
        return schema.default.clone().unwrap_or(Value::Null);
    }
    value.clone()
}

/// The entry of a schemaless map with this string key.
pub(crate) fn map_get<'m>(entries: &'m [(Value, Value)], key: &str) -> Option<&'m Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::String(name) if name == key))
        .map(|(_, v)| v)
}

/// `Map.put` with a string key: replaces an existing entry in place or appends.
pub(crate) fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::String(name) if name == key))
    {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_owned()), value)),
    }
}

/// The key of a schemaless map entry as a field name, when it is a string.
pub(crate) fn key_name(key: &Value) -> Option<&str> {
    match key {
        Value::String(name) => Some(name),
        _ => None,
    }
}

/// A struct schema with the basics (name, version, doc, parameters) of `schema` and these
/// fields: Kafka's `SchemaUtil.copySchemaBasics(schema, SchemaBuilder.struct())`.
pub(crate) fn struct_like(schema: &Schema, fields: Vec<crate::data::Field>) -> Schema {
    Schema {
        name: schema.name.clone(),
        version: schema.version,
        doc: schema.doc.clone(),
        parameters: schema.parameters.clone(),
        ..Schema::structure(fields)
    }
}

/// A required or optional primitive schema.
pub(crate) fn primitive(ty: SchemaType, optional: bool) -> SchemaRef {
    let schema = Schema::primitive(ty);
    Arc::new(if optional { schema.optional() } else { schema })
}

/// How many derived schemas a transform keeps (Kafka's `LRUCache<>(16)`).
const SCHEMA_CACHE_SIZE: usize = 16;

/// Derived schemas per input schema, as Kafka's `SynchronizedCache<Schema, Schema>`. Looks the
/// input up by pointer first (records of a batch share their schema), then by equality.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    entries: Mutex<Vec<(SchemaRef, SchemaRef)>>,
}

impl SchemaCache {
    pub(crate) fn get_or_build(
        &self,
        input: &SchemaRef,
        build: impl FnOnce(&Schema) -> Result<Schema, DataException>,
    ) -> Result<SchemaRef, DataException> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, output)) = entries.iter().find(|(key, _)| Arc::ptr_eq(key, input)) {
            return Ok(output.clone());
        }
        if let Some(at) = entries.iter().position(|(key, _)| **key == **input) {
            // Remember this pointer too, so the next record of its batch hits the fast path.
            let output = entries[at].1.clone();
            Self::insert(&mut entries, input.clone(), output.clone());
            return Ok(output);
        }
        let output = Arc::new(build(input)?);
        Self::insert(&mut entries, input.clone(), output.clone());
        Ok(output)
    }

    fn insert(entries: &mut Vec<(SchemaRef, SchemaRef)>, input: SchemaRef, output: SchemaRef) {
        if entries.len() >= SCHEMA_CACHE_SIZE {
            entries.remove(0);
        }
        entries.push((input, output));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int_struct(name: &str) -> SchemaRef {
        Arc::new(Schema::structure(vec![crate::data::Field {
            name: name.to_owned(),
            schema: primitive(SchemaType::Int32, false),
        }]))
    }

    #[test]
    fn schema_cache_builds_once_per_schema_and_stays_bounded() {
        let cache = SchemaCache::default();
        let input = int_struct("a");
        let mut builds = 0;
        let mut derive = |schema: &SchemaRef| {
            cache
                .get_or_build(schema, |schema| {
                    builds += 1;
                    Ok(schema.clone().optional())
                })
                .unwrap()
        };
        let first = derive(&input);
        let same_pointer = derive(&input);
        let equal_copy = derive(&Arc::new((*input).clone()));
        assert!(Arc::ptr_eq(&first, &same_pointer));
        assert!(Arc::ptr_eq(&first, &equal_copy));
        for index in 0..40 {
            derive(&int_struct(&format!("f{index}")));
        }
        assert_eq!(builds, 41);
        assert_eq!(cache.len(), SCHEMA_CACHE_SIZE);
    }

    #[test]
    fn lists_parse_like_kafka() {
        assert_eq!(split_list(" a , b,c "), vec!["a", "b", "c"]);
        assert!(split_list("  ").is_empty());
        assert_eq!(java_class(&Value::Bytes(Vec::new())), "[B");
    }
}
