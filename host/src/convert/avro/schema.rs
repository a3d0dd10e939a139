//! Connect schemas ⇄ Avro schemas (as JSON), the way Confluent's `AvroData` maps them:
//! structs are records (named by the Connect name, or `io.confluent.connect.avro.ConnectDefault`,
//! `ConnectDefault2`, …), optional schemas are `["null", T]` unions (`[T, "null"]` when the
//! schema has a default), int8/int16 are `int` with `connect.type`, maps with (required) string
//! keys are Avro maps and other maps arrays of `io.confluent.connect.avro.MapEntry` records, and
//! the logical types carry Avro's `decimal`, `date`, `time-millis` and `timestamp-millis`.
//! With `connect.meta.data` the Connect name, version, doc, parameters and default ride along
//! as `connect.*` properties, so reading the schema back gives the same Connect schema.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Number, Value as Json};

use super::super::DataError;
use crate::data::{Field, Schema, SchemaRef, SchemaType, Value, logical};

/// The namespace of the records `AvroData` invents.
pub const NAMESPACE: &str = "io.confluent.connect.avro";
/// The name of an unnamed struct's record.
pub const DEFAULT_SCHEMA_NAME: &str = "ConnectDefault";
/// The name of the key/value records of a map with non-string keys.
pub const MAP_ENTRY_TYPE_NAME: &str = "MapEntry";

pub const CONNECT_NAME: &str = "connect.name";
pub const CONNECT_DOC: &str = "connect.doc";
pub const CONNECT_VERSION: &str = "connect.version";
pub const CONNECT_PARAMETERS: &str = "connect.parameters";
pub const CONNECT_DEFAULT: &str = "connect.default";
pub const CONNECT_TYPE: &str = "connect.type";
/// The Decimal parameter holding the Avro precision.
pub const DECIMAL_PRECISION: &str = "connect.decimal.precision";
/// The Avro precision of a Decimal without [`DECIMAL_PRECISION`].
pub const DECIMAL_PRECISION_DEFAULT: u32 = 64;
/// Parameters describing an Avro enum carried as a Connect string.
pub const ENUM: &str = "io.confluent.connect.avro.Enum";
/// Parameter holding the size of an Avro fixed carried as Connect bytes.
pub const FIXED_SIZE: &str = "connect.fixed.size";

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Connect → Avro, for one top-level schema.
pub struct FromConnect {
    meta_data: bool,
    /// Records defined so far, by full name, with the Connect schema each came from.
    defined: HashMap<String, Option<Schema>>,
    default_names: usize,
    map_entries: usize,
}

impl FromConnect {
    pub fn new(meta_data: bool) -> Self {
        Self {
            meta_data,
            defined: HashMap::new(),
            default_names: 0,
            map_entries: 0,
        }
    }

    /// The Avro schema of `schema`, as Avro's `Schema.toString` would write it.
    pub fn convert(mut self, schema: &Schema) -> Result<Json, DataError> {
        self.schema(schema, None)
    }

    /// `enclosing` is the namespace a nested name without namespace would get.
    fn schema(&mut self, schema: &Schema, enclosing: Option<&str>) -> Result<Json, DataError> {
        let base = self.base(schema, enclosing)?;
        if !schema.optional {
            return Ok(base);
        }
        Ok(if schema.default.is_some() {
            Json::Array(vec![base, Json::String("null".into())])
        } else {
            Json::Array(vec![Json::String("null".into()), base])
        })
    }

    /// The schema without its optionality.
    fn base(&mut self, schema: &Schema, enclosing: Option<&str>) -> Result<Json, DataError> {
        let mut props = Map::new();
        match schema.ty {
            SchemaType::Int8 | SchemaType::Int16 => {
                props.insert("type".into(), "int".into());
                props.insert(CONNECT_TYPE.into(), schema.ty.name().into());
            }
            SchemaType::Int32 => {
                props.insert("type".into(), "int".into());
            }
            SchemaType::Int64 => {
                props.insert("type".into(), "long".into());
            }
            SchemaType::Float32 => {
                props.insert("type".into(), "float".into());
            }
            SchemaType::Float64 => {
                props.insert("type".into(), "double".into());
            }
            SchemaType::Boolean => {
                props.insert("type".into(), "boolean".into());
            }
            SchemaType::String => {
                if let Some(enum_name) = schema.parameter(ENUM) {
                    return self.enumeration(schema, enum_name, enclosing);
                }
                props.insert("type".into(), "string".into());
            }
            SchemaType::Bytes => {
                if let Some(size) = schema.parameter(FIXED_SIZE) {
                    return self.fixed(schema, size, enclosing);
                }
                props.insert("type".into(), "bytes".into());
                if let Some(scale) = super::super::decimal_scale(schema) {
                    let scale = scale?;
                    let precision = decimal_precision(schema)?;
                    if scale < 0 || i64::from(precision) < i64::from(scale) {
                        return Err(DataError::new(format!(
                            "Decimal scale {scale} cannot be written as Avro with precision \
                             {precision} (Avro needs 0 <= scale <= precision; set the \
                             `{DECIMAL_PRECISION}` parameter)"
                        )));
                    }
                    props.insert("scale".into(), scale.into());
                    props.insert("precision".into(), precision.into());
                }
            }
            SchemaType::Array => {
                let items = element_schema(schema)?;
                props.insert("type".into(), "array".into());
                props.insert("items".into(), self.schema(items, enclosing)?);
            }
            SchemaType::Map => {
                let (keys, values) = map_schemas(schema)?;
                if keys.ty == SchemaType::String && !keys.optional {
                    props.insert("type".into(), "map".into());
                    props.insert("values".into(), self.schema(values, enclosing)?);
                } else {
                    self.map_entries += 1;
                    let name = numbered(MAP_ENTRY_TYPE_NAME, self.map_entries);
                    self.define(&format!("{NAMESPACE}.{name}"), None)?;
                    let mut entry = Map::new();
                    entry.insert("type".into(), "record".into());
                    entry.insert("name".into(), name.into());
                    if enclosing != Some(NAMESPACE) {
                        entry.insert("namespace".into(), NAMESPACE.into());
                    }
                    let fields = vec![
                        record_field("key", self.schema(keys, Some(NAMESPACE))?, None),
                        record_field("value", self.schema(values, Some(NAMESPACE))?, None),
                    ];
                    entry.insert("fields".into(), Json::Array(fields));
                    props.insert("type".into(), "array".into());
                    props.insert("items".into(), Json::Object(entry));
                }
            }
            SchemaType::Struct => {
                let (namespace, name) = match schema.name.as_deref() {
                    Some(full) => split_name(full),
                    None => {
                        self.default_names += 1;
                        (
                            Some(NAMESPACE),
                            numbered(DEFAULT_SCHEMA_NAME, self.default_names),
                        )
                    }
                };
                let full = match namespace {
                    Some(namespace) => format!("{namespace}.{name}"),
                    None => name.clone(),
                };
                if self.defined.contains_key(&full) {
                    // A second use of a named struct: a reference, if it is the same schema.
                    return self.reference(&full, schema, enclosing);
                }
                props.insert("type".into(), "record".into());
                props.insert("name".into(), name.into());
                if namespace != enclosing {
                    props.insert("namespace".into(), namespace.unwrap_or("").into());
                }
                if let Some(doc) = &schema.doc {
                    props.insert("doc".into(), doc.as_str().into());
                }
                let mut fields = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    let ty = self
                        .schema(&field.schema, namespace)
                        .map_err(|e| e.in_field(&field.name))?;
                    let default = match &field.schema.default {
                        Some(default) => Some(
                            default_to_json(&field.schema, default)
                                .map_err(|e| e.in_field(&field.name))?,
                        ),
                        None if field.schema.optional => Some(Json::Null),
                        None => None,
                    };
                    fields.push(record_field(&field.name, ty, default));
                }
                props.insert("fields".into(), Json::Array(fields));
                self.define(&full, Some(schema.clone()))?;
            }
        }
        if self.meta_data {
            if let Some(doc) = &schema.doc {
                props.insert(CONNECT_DOC.into(), doc.as_str().into());
            }
            if let Some(version) = schema.version {
                props.insert(CONNECT_VERSION.into(), version.into());
            }
            if !schema.parameters.is_empty() {
                let parameters = schema
                    .parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect();
                props.insert(CONNECT_PARAMETERS.into(), Json::Object(parameters));
            }
            if let Some(default) = &schema.default {
                props.insert(CONNECT_DEFAULT.into(), default_to_json(schema, default)?);
            }
            if let Some(name) = &schema.name {
                props.insert(CONNECT_NAME.into(), name.as_str().into());
            }
        }
        let logical_type = match schema.name.as_deref() {
            Some(logical::DECIMAL) if schema.ty == SchemaType::Bytes => Some("decimal"),
            _ => match super::super::temporal_logical(schema) {
                Some(super::super::Logical::Date) => Some("date"),
                Some(super::super::Logical::Time) => Some("time-millis"),
                Some(super::super::Logical::Timestamp) => Some("timestamp-millis"),
                None => None,
            },
        };
        if let Some(logical_type) = logical_type {
            props.insert("logicalType".into(), logical_type.into());
        }
        Ok(if props.len() == 1 {
            props.remove("type").unwrap_or(Json::Null)
        } else {
            Json::Object(props)
        })
    }

    /// A Connect string that came from an Avro enum goes back to that enum.
    fn enumeration(
        &mut self,
        schema: &Schema,
        full: &str,
        enclosing: Option<&str>,
    ) -> Result<Json, DataError> {
        let prefix = format!("{ENUM}.");
        let symbols: Vec<Json> = schema
            .parameters
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| Json::String(v.clone()))
            .collect();
        self.named_leaf(schema, full, enclosing, |props| {
            props.insert("type".into(), "enum".into());
            props.insert("symbols".into(), Json::Array(symbols));
        })
    }

    /// Connect bytes that came from an Avro fixed go back to that fixed.
    fn fixed(
        &mut self,
        schema: &Schema,
        size: &str,
        enclosing: Option<&str>,
    ) -> Result<Json, DataError> {
        let size: u64 = size
            .trim()
            .parse()
            .map_err(|_| DataError::new(format!("invalid `{FIXED_SIZE}` parameter `{size}`")))?;
        let full = schema.name.clone().unwrap_or_else(|| "fixed".into());
        self.named_leaf(schema, &full, enclosing, |props| {
            props.insert("type".into(), "fixed".into());
            props.insert("size".into(), size.into());
        })
    }

    fn named_leaf(
        &mut self,
        schema: &Schema,
        full: &str,
        enclosing: Option<&str>,
        body: impl FnOnce(&mut Map<String, Json>),
    ) -> Result<Json, DataError> {
        if self.defined.contains_key(full) {
            return self.reference(full, schema, enclosing);
        }
        let (namespace, name) = split_name(full);
        let mut props = Map::new();
        body(&mut props);
        let ty = props.remove("type").unwrap_or(Json::Null);
        let mut ordered = Map::new();
        ordered.insert("type".into(), ty);
        ordered.insert("name".into(), name.into());
        if namespace != enclosing {
            ordered.insert("namespace".into(), namespace.unwrap_or("").into());
        }
        ordered.extend(props);
        if self.meta_data {
            if let Some(doc) = &schema.doc {
                ordered.insert(CONNECT_DOC.into(), doc.as_str().into());
            }
            if let Some(version) = schema.version {
                ordered.insert(CONNECT_VERSION.into(), version.into());
            }
            let parameters: Map<String, Json> = schema
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            ordered.insert(CONNECT_PARAMETERS.into(), Json::Object(parameters));
            if let Some(default) = &schema.default {
                ordered.insert(CONNECT_DEFAULT.into(), default_to_json(schema, default)?);
            }
            if let Some(name) = &schema.name {
                ordered.insert(CONNECT_NAME.into(), name.as_str().into());
            }
        }
        self.define(full, Some(schema.clone()))?;
        Ok(Json::Object(ordered))
    }

    /// A reference to the named type `full` defined earlier, if `schema` is the same schema
    /// (optional or not): its name, short when in the enclosing namespace.
    fn reference(
        &self,
        full: &str,
        schema: &Schema,
        enclosing: Option<&str>,
    ) -> Result<Json, DataError> {
        let same = match self.defined.get(full) {
            Some(Some(earlier)) => {
                let mut same_optionality = schema.clone();
                same_optionality.optional = earlier.optional;
                *earlier == same_optionality
            }
            _ => false,
        };
        if !same {
            return Err(DataError::new(format!(
                "two different schemas are named `{full}`; Avro needs unique names"
            )));
        }
        let (namespace, name) = split_name(full);
        Ok(Json::String(if namespace == enclosing {
            name
        } else {
            full.to_string()
        }))
    }

    fn define(&mut self, full: &str, schema: Option<Schema>) -> Result<(), DataError> {
        if self.defined.insert(full.to_string(), schema).is_some() {
            return Err(DataError::new(format!(
                "two different schemas are named `{full}`; Avro needs unique names"
            )));
        }
        Ok(())
    }
}

fn numbered(base: &str, n: usize) -> String {
    if n <= 1 {
        base.to_string()
    } else {
        format!("{base}{n}")
    }
}

fn record_field(name: &str, ty: Json, default: Option<Json>) -> Json {
    let mut field = Map::new();
    field.insert("name".into(), name.into());
    field.insert("type".into(), ty);
    if let Some(default) = default {
        field.insert("default".into(), default);
    }
    Json::Object(field)
}

/// `a.b.C` → (`a.b`, `C`); `C` → (None, `C`).
fn split_name(full: &str) -> (Option<&str>, String) {
    match full.rsplit_once('.') {
        Some((namespace, name)) => (Some(namespace), name.to_string()),
        None => (None, full.to_string()),
    }
}

fn element_schema(schema: &Schema) -> Result<&Schema, DataError> {
    schema
        .value_schema
        .as_deref()
        .ok_or_else(|| DataError::new("array schema has no element schema"))
}

fn map_schemas(schema: &Schema) -> Result<(&Schema, &Schema), DataError> {
    match (schema.key_schema.as_deref(), schema.value_schema.as_deref()) {
        (Some(keys), Some(values)) => Ok((keys, values)),
        _ => Err(DataError::new("map schema has no key or value schema")),
    }
}

/// The Avro precision of a Decimal schema.
fn decimal_precision(schema: &Schema) -> Result<u32, DataError> {
    match schema.parameter(DECIMAL_PRECISION) {
        None => Ok(DECIMAL_PRECISION_DEFAULT),
        Some(text) => text.trim().parse().ok().filter(|&p| p > 0).ok_or_else(|| {
            DataError::new(format!(
                "invalid `{DECIMAL_PRECISION}` parameter `{text}`: expected a positive integer"
            ))
        }),
    }
}

/// A Connect default as an Avro JSON default (`AvroData.defaultValueFromConnect`): bytes as a
/// string of ISO-8859-1 characters, maps with non-string keys as arrays of `{key, value}`.
pub fn default_to_json(schema: &Schema, value: &Value) -> Result<Json, DataError> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(i) => (*i).into(),
        Value::Int16(i) => (*i).into(),
        Value::Int32(i) => (*i).into(),
        Value::Int64(i) => (*i).into(),
        Value::Float32(f) => float_json(f.is_finite(), &f.to_string())?,
        Value::Float64(f) => float_json(f.is_finite(), &f.to_string())?,
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(b.iter().copied().map(char::from).collect()),
        Value::Array(items) => {
            let element = element_schema(schema)?;
            Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| default_to_json(element, v).map_err(|e| e.at_index(i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(entries) => {
            let (keys, values) = map_schemas(schema)?;
            if keys.ty == SchemaType::String && !keys.optional {
                let mut object = Map::new();
                for (k, v) in entries {
                    let Value::String(k) = k else {
                        return Err(DataError::new("map default has a non-string key"));
                    };
                    object.insert(
                        k.clone(),
                        default_to_json(values, v).map_err(|e| e.in_field(k))?,
                    );
                }
                Json::Object(object)
            } else {
                let mut array = Vec::with_capacity(entries.len());
                for (i, (k, v)) in entries.iter().enumerate() {
                    let mut entry = Map::new();
                    entry.insert(
                        "key".into(),
                        default_to_json(keys, k).map_err(|e| e.at_index(i))?,
                    );
                    entry.insert(
                        "value".into(),
                        default_to_json(values, v).map_err(|e| e.at_index(i))?,
                    );
                    array.push(Json::Object(entry));
                }
                Json::Array(array)
            }
        }
        Value::Struct(s) => {
            let mut object = Map::new();
            for field in &schema.fields {
                let v = s.get(&field.name).unwrap_or(&Value::Null);
                object.insert(
                    field.name.clone(),
                    default_to_json(&field.schema, v).map_err(|e| e.in_field(&field.name))?,
                );
            }
            Json::Object(object)
        }
    })
}

fn float_json(finite: bool, text: &str) -> Result<Json, DataError> {
    if !finite {
        return Err(DataError::new(format!(
            "default {text} cannot be written in an Avro schema"
        )));
    }
    text.parse::<Number>()
        .map(Json::Number)
        .map_err(|e| DataError::new(format!("default {text}: {e}")))
}

/// Avro → Connect, for one schema text (`AvroData.toConnectSchema`).
#[derive(Default)]
pub struct ToConnect {
    /// Named types seen so far, by full name.
    names: HashMap<String, SchemaRef>,
}

impl ToConnect {
    pub fn convert(mut self, avro: &Json) -> Result<SchemaRef, DataError> {
        self.schema(avro, None)
    }

    fn schema(&mut self, avro: &Json, namespace: Option<&str>) -> Result<SchemaRef, DataError> {
        match avro {
            Json::String(name) => self.named(name, namespace),
            Json::Array(branches) => {
                let non_null: Vec<&Json> = branches.iter().filter(|b| !is_null(b)).collect();
                match (branches.len(), non_null.as_slice()) {
                    (1, [only]) => self.schema(only, namespace),
                    (2, [only]) => {
                        let schema = self.schema(only, namespace)?;
                        let mut schema = Arc::unwrap_or_clone(schema);
                        schema.optional = true;
                        Ok(Arc::new(schema))
                    }
                    _ => Err(DataError::new(format!(
                        "Avro unions other than [\"null\", T] are not supported: {avro}"
                    ))),
                }
            }
            Json::Object(props) => self.complex(props, namespace),
            _ => Err(DataError::new(format!("invalid Avro schema: {avro}"))),
        }
    }

    fn named(&mut self, name: &str, namespace: Option<&str>) -> Result<SchemaRef, DataError> {
        if let Some(ty) = primitive(name)? {
            return Ok(Arc::new(Schema::primitive(ty)));
        }
        let full = match namespace {
            Some(namespace) if !name.contains('.') => format!("{namespace}.{name}"),
            _ => name.to_string(),
        };
        self.names
            .get(&full)
            .or_else(|| self.names.get(name))
            .cloned()
            .ok_or_else(|| {
                DataError::new(format!(
                    "unknown Avro type `{name}` (recursive schemas are not supported)"
                ))
            })
    }

    fn complex(
        &mut self,
        props: &Map<String, Json>,
        namespace: Option<&str>,
    ) -> Result<SchemaRef, DataError> {
        let ty = match props.get("type") {
            Some(Json::String(ty)) => ty.as_str(),
            Some(nested) => return self.schema(nested, namespace),
            None => return Err(DataError::new("Avro schema object without `type`")),
        };
        let logical_type = props.get("logicalType").and_then(Json::as_str);
        let mut schema = match ty {
            "record" | "error" => return self.record(props, namespace),
            "enum" => {
                let (full, _) = full_name(props, namespace)?;
                let symbols = props
                    .get("symbols")
                    .and_then(Json::as_array)
                    .ok_or_else(|| DataError::new(format!("Avro enum `{full}` has no symbols")))?;
                let mut schema = Schema::primitive(SchemaType::String).named(full.clone());
                schema.parameters.push((ENUM.into(), full.clone()));
                for symbol in symbols.iter().filter_map(Json::as_str) {
                    schema
                        .parameters
                        .push((format!("{ENUM}.{symbol}"), symbol.to_string()));
                }
                self.finish_named(props, schema, &full)?
            }
            "fixed" => {
                let (full, _) = full_name(props, namespace)?;
                let size = props
                    .get("size")
                    .and_then(Json::as_u64)
                    .ok_or_else(|| DataError::new(format!("Avro fixed `{full}` has no size")))?;
                let mut schema = if logical_type == Some("decimal") {
                    decimal_from_avro(props)?
                } else {
                    Schema::primitive(SchemaType::Bytes).named(full.clone())
                };
                schema
                    .parameters
                    .push((FIXED_SIZE.into(), size.to_string()));
                self.finish_named(props, schema, &full)?
            }
            "array" => {
                let items = props
                    .get("items")
                    .ok_or_else(|| DataError::new("Avro array without `items`"))?;
                match self.map_entry(items, namespace)? {
                    Some((keys, values)) => Schema::map(keys, values),
                    None => Schema::array(self.schema(items, namespace)?),
                }
            }
            "map" => {
                let values = props
                    .get("values")
                    .ok_or_else(|| DataError::new("Avro map without `values`"))?;
                Schema::map(
                    Arc::new(Schema::primitive(SchemaType::String)),
                    self.schema(values, namespace)?,
                )
            }
            "int" => match (logical_type, props.get(CONNECT_TYPE).and_then(Json::as_str)) {
                (Some("date"), _) => Schema::date(),
                (Some("time-millis"), _) => Schema::time(),
                (_, Some("int8")) => Schema::primitive(SchemaType::Int8),
                (_, Some("int16")) => Schema::primitive(SchemaType::Int16),
                _ => Schema::primitive(SchemaType::Int32),
            },
            "long" => match logical_type {
                Some("timestamp-millis") => Schema::timestamp(),
                _ => Schema::primitive(SchemaType::Int64),
            },
            "bytes" if logical_type == Some("decimal") => decimal_from_avro(props)?,
            other => match primitive(other)? {
                Some(ty) => Schema::primitive(ty),
                None => return self.named(other, namespace),
            },
        };
        apply_meta(props, &mut schema)?;
        Ok(Arc::new(schema))
    }

    /// If `items` is an `io.confluent.connect.avro.MapEntry` record, its key and value schemas.
    fn map_entry(
        &mut self,
        items: &Json,
        namespace: Option<&str>,
    ) -> Result<Option<(SchemaRef, SchemaRef)>, DataError> {
        let Some(props) = items.as_object() else {
            return Ok(None);
        };
        if props.get("type").and_then(Json::as_str) != Some("record") {
            return Ok(None);
        }
        let (full, record_namespace) = full_name(props, namespace)?;
        let is_entry_name = full
            .strip_prefix(NAMESPACE)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|name| name.strip_prefix(MAP_ENTRY_TYPE_NAME))
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
        let is_internal =
            props.get("connect.internal.type").and_then(Json::as_str) == Some(MAP_ENTRY_TYPE_NAME);
        let fields = props.get("fields").and_then(Json::as_array);
        let (Some([key, value]), true) = (fields.map(Vec::as_slice), is_entry_name || is_internal)
        else {
            return Ok(None);
        };
        if key.get("name").and_then(Json::as_str) != Some("key")
            || value.get("name").and_then(Json::as_str) != Some("value")
        {
            return Ok(None);
        }
        let field_type = |field: &Json| {
            field
                .get("type")
                .cloned()
                .ok_or_else(|| DataError::new("Avro record field without `type`"))
        };
        let keys = self.schema(&field_type(key)?, record_namespace.as_deref())?;
        let values = self.schema(&field_type(value)?, record_namespace.as_deref())?;
        Ok(Some((keys, values)))
    }

    fn record(
        &mut self,
        props: &Map<String, Json>,
        namespace: Option<&str>,
    ) -> Result<SchemaRef, DataError> {
        let (full, record_namespace) = full_name(props, namespace)?;
        let fields_json = props
            .get("fields")
            .and_then(Json::as_array)
            .ok_or_else(|| DataError::new(format!("Avro record `{full}` has no fields")))?;
        let mut fields = Vec::with_capacity(fields_json.len());
        for field in fields_json {
            let name = field
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| DataError::new(format!("a field of `{full}` has no name")))?;
            let ty = field
                .get("type")
                .ok_or_else(|| DataError::new("Avro record field without `type`").in_field(name))?;
            let mut schema = self
                .schema(ty, record_namespace.as_deref())
                .map_err(|e| e.in_field(name))?;
            if schema.default.is_none()
                && let Some(default) = field.get("default")
                && !default.is_null()
            {
                let value = default_from_json(&schema, default).map_err(|e| e.in_field(name))?;
                Arc::make_mut(&mut schema).default = Some(value);
            }
            fields.push(Field {
                name: name.to_string(),
                schema,
            });
        }
        let mut schema = Schema::structure(fields);
        let unnamed = full
            .strip_prefix(NAMESPACE)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|name| name.strip_prefix(DEFAULT_SCHEMA_NAME))
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
        if !unnamed {
            schema.name = Some(full.clone());
        }
        schema.doc = props.get("doc").and_then(Json::as_str).map(str::to_string);
        let schema = self.finish_named(props, schema, &full)?;
        Ok(Arc::new(schema))
    }

    /// Applies the `connect.*` properties and remembers the named type.
    fn finish_named(
        &mut self,
        props: &Map<String, Json>,
        mut schema: Schema,
        full: &str,
    ) -> Result<Schema, DataError> {
        apply_meta(props, &mut schema)?;
        self.names
            .insert(full.to_string(), Arc::new(schema.clone()));
        Ok(schema)
    }
}

/// The full name of a named type and the namespace its children inherit.
fn full_name(
    props: &Map<String, Json>,
    enclosing: Option<&str>,
) -> Result<(String, Option<String>), DataError> {
    let name = props
        .get("name")
        .and_then(Json::as_str)
        .ok_or_else(|| DataError::new("named Avro type without `name`"))?;
    if let Some((namespace, _)) = name.rsplit_once('.') {
        return Ok((name.to_string(), Some(namespace.to_string())));
    }
    let namespace = match props.get("namespace").and_then(Json::as_str) {
        Some("") => None,
        Some(namespace) => Some(namespace),
        None => enclosing,
    };
    Ok(match namespace {
        Some(namespace) => (format!("{namespace}.{name}"), Some(namespace.to_string())),
        None => (name.to_string(), None),
    })
}

fn is_null(avro: &Json) -> bool {
    match avro {
        Json::String(s) => s == "null",
        Json::Object(props) => props.get("type").and_then(Json::as_str) == Some("null"),
        _ => false,
    }
}

/// The Connect type of an Avro primitive name; `None` for other names.
fn primitive(name: &str) -> Result<Option<SchemaType>, DataError> {
    Ok(Some(match name {
        "boolean" => SchemaType::Boolean,
        "int" => SchemaType::Int32,
        "long" => SchemaType::Int64,
        "float" => SchemaType::Float32,
        "double" => SchemaType::Float64,
        "bytes" => SchemaType::Bytes,
        "string" => SchemaType::String,
        "null" => {
            return Err(DataError::new(
                "an Avro `null` schema has no Connect equivalent",
            ));
        }
        _ => {
            debug_assert!(!PRIMITIVES.contains(&name));
            return Ok(None);
        }
    }))
}

fn decimal_from_avro(props: &Map<String, Json>) -> Result<Schema, DataError> {
    let scale = match props.get("scale") {
        None => 0,
        Some(scale) => scale
            .as_i64()
            .and_then(|s| i32::try_from(s).ok())
            .ok_or_else(|| DataError::new(format!("invalid Avro decimal scale {scale}")))?,
    };
    let mut schema = Schema::decimal(scale);
    if let Some(precision) = props.get("precision") {
        let precision = precision
            .as_u64()
            .ok_or_else(|| DataError::new(format!("invalid Avro decimal precision {precision}")))?;
        if precision != u64::from(DECIMAL_PRECISION_DEFAULT) {
            schema
                .parameters
                .push((DECIMAL_PRECISION.into(), precision.to_string()));
        }
    }
    Ok(schema)
}

/// Applies `connect.name`, `connect.version`, `connect.doc`, `connect.parameters` and
/// `connect.default`.
fn apply_meta(props: &Map<String, Json>, schema: &mut Schema) -> Result<(), DataError> {
    if let Some(name) = props.get(CONNECT_NAME).and_then(Json::as_str) {
        schema.name = Some(name.to_string());
    }
    if let Some(version) = props.get(CONNECT_VERSION) {
        let version = version
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| DataError::new(format!("invalid `{CONNECT_VERSION}` {version}")))?;
        schema.version = Some(version);
    }
    if let Some(doc) = props.get(CONNECT_DOC).and_then(Json::as_str) {
        schema.doc = Some(doc.to_string());
    }
    if let Some(parameters) = props.get(CONNECT_PARAMETERS) {
        let parameters = parameters
            .as_object()
            .ok_or_else(|| DataError::new(format!("`{CONNECT_PARAMETERS}` is not an object")))?;
        // The properties' order, then any parameter the Avro type implied that they lack.
        let mut merged: Vec<(String, String)> = parameters
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        for (k, v) in std::mem::take(&mut schema.parameters) {
            if !merged.iter().any(|(key, _)| *key == k) {
                merged.push((k, v));
            }
        }
        schema.parameters = merged;
    }
    if let Some(default) = props.get(CONNECT_DEFAULT) {
        schema.default = Some(default_from_json(schema, default)?);
    }
    Ok(())
}

/// An Avro JSON default as a Connect value of `schema` (`AvroData.defaultValueFromAvro`).
pub fn default_from_json(schema: &Schema, json: &Json) -> Result<Value, DataError> {
    let mismatch = || {
        DataError::new(format!(
            "default {json} does not fit a {} schema",
            schema.ty.name()
        ))
    };
    if json.is_null() {
        return if schema.optional {
            Ok(Value::Null)
        } else {
            Err(mismatch())
        };
    }
    let int = || json.as_i64().ok_or_else(mismatch);
    Ok(match schema.ty {
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
        SchemaType::Int8 => Value::Int8(int()?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int16 => Value::Int16(int()?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int32 => Value::Int32(int()?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int64 => Value::Int64(int()?),
        #[allow(clippy::cast_possible_truncation, reason = "Avro float defaults")]
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(mismatch)? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(mismatch)?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(mismatch)?.to_string()),
        SchemaType::Bytes => {
            let text = json.as_str().ok_or_else(mismatch)?;
            Value::Bytes(
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).map_err(|_| mismatch()))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Array => {
            let element = element_schema(schema)?;
            let items = json.as_array().ok_or_else(mismatch)?;
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| default_from_json(element, v).map_err(|e| e.at_index(i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        SchemaType::Map => {
            let (keys, values) = map_schemas(schema)?;
            match json {
                Json::Object(object) => Value::Map(
                    object
                        .iter()
                        .map(|(k, v)| {
                            Ok((
                                Value::String(k.clone()),
                                default_from_json(values, v).map_err(|e| e.in_field(k))?,
                            ))
                        })
                        .collect::<Result<_, DataError>>()?,
                ),
                Json::Array(entries) => Value::Map(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, entry)| {
                            let part = |name: &str, schema: &Schema| {
                                default_from_json(schema, entry.get(name).unwrap_or(&Json::Null))
                                    .map_err(|e| e.at_index(i))
                            };
                            Ok((part("key", keys)?, part("value", values)?))
                        })
                        .collect::<Result<_, DataError>>()?,
                ),
                _ => return Err(mismatch()),
            }
        }
        SchemaType::Struct => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let schema_ref = Arc::new(schema.clone());
            let mut value = crate::data::Struct::new(schema_ref);
            for (i, field) in schema.fields.iter().enumerate() {
                value.values[i] = match object.get(&field.name) {
                    Some(v) => {
                        default_from_json(&field.schema, v).map_err(|e| e.in_field(&field.name))?
                    }
                    None => field.schema.default.clone().unwrap_or(Value::Null),
                };
            }
            Value::Struct(value)
        }
    })
}
