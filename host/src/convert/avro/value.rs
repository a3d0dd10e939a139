//! Connect values ⇄ `apache_avro` values, following the schema mapping of `super::schema`:
//! optional values are union branches, maps with non-string keys are arrays of key/value
//! records, logical types use Avro's logical values (their representation is Connect's:
//! Decimal bytes are the same big-endian two's-complement unscaled value).

use std::collections::HashMap;

use apache_avro::Decimal;
use apache_avro::types::Value as Avro;

use super::super::{DataError, Logical, decimal_scale, temporal_logical, value_kind};
use super::schema::{ENUM, FIXED_SIZE};
use crate::data::{Schema, SchemaRef, SchemaType, Struct, Value};

/// The Avro value of `value` under the Avro schema `super::schema` made of `schema`.
/// With `ordered_maps`, Avro maps are given as arrays of `key`/`value` records, which
/// `super::codec` writes in that order; otherwise as `Avro::Map` (what schema resolution
/// takes), written in key order.
pub fn to_avro(schema: &Schema, value: &Value, ordered_maps: bool) -> Result<Avro, DataError> {
    // A null takes the default, as Kafka's `Struct.get` does.
    let value = match (value, &schema.default) {
        (Value::Null, Some(default)) => default,
        _ => value,
    };
    if schema.optional {
        // `[T, "null"]` with a default, else `["null", T]`.
        let (value_index, null_index) = if schema.default.is_some() {
            (0, 1)
        } else {
            (1, 0)
        };
        return Ok(match value {
            Value::Null => Avro::Union(null_index, Box::new(Avro::Null)),
            value => Avro::Union(
                value_index,
                Box::new(base_to_avro(schema, value, ordered_maps)?),
            ),
        });
    }
    if value.is_null() {
        return Err(DataError::new(format!(
            "null for a required {} schema",
            schema.ty.name()
        )));
    }
    base_to_avro(schema, value, ordered_maps)
}

fn base_to_avro(schema: &Schema, value: &Value, ordered_maps: bool) -> Result<Avro, DataError> {
    let mismatch = || {
        DataError::new(format!(
            "a {} value does not fit a {} schema",
            value_kind(value),
            schema.ty.name()
        ))
    };
    Ok(match (schema.ty, value) {
        (SchemaType::Boolean, Value::Boolean(b)) => Avro::Boolean(*b),
        (SchemaType::Int8, Value::Int8(i)) => Avro::Int(i32::from(*i)),
        (SchemaType::Int16, Value::Int16(i)) => Avro::Int(i32::from(*i)),
        (SchemaType::Int32, Value::Int32(i)) => match temporal_logical(schema) {
            Some(Logical::Date) => Avro::Date(*i),
            Some(Logical::Time) => Avro::TimeMillis(*i),
            _ => Avro::Int(*i),
        },
        (SchemaType::Int64, Value::Int64(i)) => match temporal_logical(schema) {
            Some(Logical::Timestamp) => Avro::TimestampMillis(*i),
            _ => Avro::Long(*i),
        },
        (SchemaType::Float32, Value::Float32(f)) => Avro::Float(*f),
        (SchemaType::Float64, Value::Float64(f)) => Avro::Double(*f),
        (SchemaType::String, Value::String(s)) => match schema.parameter(ENUM) {
            Some(_) => {
                let prefix = format!("{ENUM}.");
                let index = schema
                    .parameters
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .position(|(_, symbol)| symbol == s)
                    .ok_or_else(|| {
                        DataError::new(format!("`{s}` is not a symbol of the enum schema"))
                    })?;
                Avro::Enum(u32::try_from(index).map_err(|_| mismatch())?, s.clone())
            }
            None => Avro::String(s.clone()),
        },
        (SchemaType::Bytes, Value::Bytes(b)) => {
            if let Some(size) = schema.parameter(FIXED_SIZE) {
                if size.trim().parse::<usize>().ok() != Some(b.len()) {
                    return Err(DataError::new(format!(
                        "{} bytes for a fixed schema of size {size}",
                        b.len()
                    )));
                }
                Avro::Fixed(b.len(), b.clone())
            } else if decimal_scale(schema).is_some() {
                if b.is_empty() {
                    return Err(DataError::new("empty Decimal bytes"));
                }
                Avro::Decimal(Decimal::from(b))
            } else {
                Avro::Bytes(b.clone())
            }
        }
        (SchemaType::Array, Value::Array(items)) => {
            let element = element(schema)?;
            Avro::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        to_avro(element, item, ordered_maps).map_err(|e| e.at_index(i))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (keys, values) = key_value(schema)?;
            if keys.ty == SchemaType::String && !keys.optional && !ordered_maps {
                let mut map = HashMap::with_capacity(entries.len());
                for (key, value) in entries {
                    let Value::String(key) = key else {
                        return Err(DataError::new(format!(
                            "a {} map key does not fit a string key schema",
                            value_kind(key)
                        )));
                    };
                    map.insert(
                        key.clone(),
                        to_avro(values, value, ordered_maps).map_err(|e| e.in_field(key))?,
                    );
                }
                Avro::Map(map)
            } else {
                Avro::Array(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, (key, value))| {
                            Ok(Avro::Record(vec![
                                (
                                    "key".into(),
                                    to_avro(keys, key, ordered_maps).map_err(|e| e.at_index(i))?,
                                ),
                                (
                                    "value".into(),
                                    to_avro(values, value, ordered_maps)
                                        .map_err(|e| e.at_index(i))?,
                                ),
                            ]))
                        })
                        .collect::<Result<_, DataError>>()?,
                )
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            let mut fields = Vec::with_capacity(schema.fields.len());
            for field in &schema.fields {
                let value = s.get(&field.name).ok_or_else(|| {
                    DataError::new("the struct value has no such field").in_field(&field.name)
                })?;
                fields.push((
                    field.name.clone(),
                    to_avro(&field.schema, value, ordered_maps)
                        .map_err(|e| e.in_field(&field.name))?,
                ));
            }
            Avro::Record(fields)
        }
        _ => return Err(mismatch()),
    })
}

/// The Connect value of a decoded Avro value, for the Connect schema `super::schema` made of
/// its writer schema. Avro maps are taken as `super::codec` reads them (arrays of `key`/`value`
/// records, in order) or as `Avro::Map` (then sorted by key).
pub fn to_connect(schema: &SchemaRef, value: Avro) -> Result<Value, DataError> {
    let value = match value {
        Avro::Union(_, inner) => *inner,
        value => value,
    };
    let mismatch = |value: &Avro| {
        DataError::new(format!(
            "Avro value {value:?} does not fit a {} schema",
            schema.ty.name()
        ))
    };
    Ok(match (schema.ty, value) {
        (_, Avro::Null) if schema.optional => Value::Null,
        (SchemaType::Boolean, Avro::Boolean(b)) => Value::Boolean(b),
        (SchemaType::Int8, Avro::Int(i)) => {
            Value::Int8(i8::try_from(i).map_err(|_| mismatch(&Avro::Int(i)))?)
        }
        (SchemaType::Int16, Avro::Int(i)) => {
            Value::Int16(i16::try_from(i).map_err(|_| mismatch(&Avro::Int(i)))?)
        }
        (SchemaType::Int32, Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i)) => Value::Int32(i),
        (
            SchemaType::Int64,
            Avro::Long(i)
            | Avro::TimestampMillis(i)
            | Avro::TimestampMicros(i)
            | Avro::TimestampNanos(i)
            | Avro::LocalTimestampMillis(i)
            | Avro::LocalTimestampMicros(i)
            | Avro::LocalTimestampNanos(i)
            | Avro::TimeMicros(i),
        ) => Value::Int64(i),
        (SchemaType::Float32, Avro::Float(f)) => Value::Float32(f),
        (SchemaType::Float64, Avro::Double(f)) => Value::Float64(f),
        (SchemaType::String, Avro::String(s) | Avro::Enum(_, s)) => Value::String(s),
        (SchemaType::String, Avro::Uuid(u)) => Value::String(u.to_string()),
        (SchemaType::Bytes, Avro::Bytes(b) | Avro::Fixed(_, b)) => Value::Bytes(b),
        (SchemaType::Bytes, Avro::Decimal(d)) => Value::Bytes(
            Vec::<u8>::try_from(&d)
                .map_err(|e| DataError::new(format!("invalid Avro decimal: {e}")))?,
        ),
        (SchemaType::Array, Avro::Array(items)) => {
            let element = element_ref(schema)?;
            Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| to_connect(element, item).map_err(|e| e.at_index(i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        (SchemaType::Map, Avro::Map(map)) => {
            let (_, values) = key_value_refs(schema)?;
            let mut entries: Vec<(String, Avro)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let value = to_connect(values, value).map_err(|e| e.in_field(&key))?;
                        Ok((Value::String(key), value))
                    })
                    .collect::<Result<_, DataError>>()?,
            )
        }
        (SchemaType::Map, Avro::Array(entries)) => {
            let (keys, values) = key_value_refs(schema)?;
            Value::Map(
                entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, entry)| {
                        let Avro::Record(fields) = entry else {
                            return Err(DataError::new("map entry is not a record").at_index(i));
                        };
                        let mut key = None;
                        let mut value = None;
                        for (name, field) in fields {
                            match name.as_str() {
                                "key" => key = Some(field),
                                "value" => value = Some(field),
                                _ => {}
                            }
                        }
                        let (Some(key), Some(value)) = (key, value) else {
                            return Err(
                                DataError::new("map entry lacks `key` or `value`").at_index(i)
                            );
                        };
                        Ok((
                            to_connect(keys, key).map_err(|e| e.at_index(i))?,
                            to_connect(values, value).map_err(|e| e.at_index(i))?,
                        ))
                    })
                    .collect::<Result<_, DataError>>()?,
            )
        }
        (SchemaType::Struct, Avro::Record(fields)) => {
            let mut by_name: HashMap<String, Avro> = fields.into_iter().collect();
            let mut result = Struct::new(schema.clone());
            for (i, field) in schema.fields.iter().enumerate() {
                let value = by_name.remove(&field.name).ok_or_else(|| {
                    DataError::new("the Avro record has no such field").in_field(&field.name)
                })?;
                result.values[i] =
                    to_connect(&field.schema, value).map_err(|e| e.in_field(&field.name))?;
            }
            Value::Struct(result)
        }
        (_, value) => return Err(mismatch(&value)),
    })
}

fn element(schema: &Schema) -> Result<&Schema, DataError> {
    schema
        .value_schema
        .as_deref()
        .ok_or_else(|| DataError::new("array schema has no element schema"))
}

fn element_ref(schema: &Schema) -> Result<&SchemaRef, DataError> {
    schema
        .value_schema
        .as_ref()
        .ok_or_else(|| DataError::new("array schema has no element schema"))
}

fn key_value(schema: &Schema) -> Result<(&Schema, &Schema), DataError> {
    let (keys, values) = key_value_refs(schema)?;
    Ok((keys, values))
}

fn key_value_refs(schema: &Schema) -> Result<(&SchemaRef, &SchemaRef), DataError> {
    match (schema.key_schema.as_ref(), schema.value_schema.as_ref()) {
        (Some(keys), Some(values)) => Ok((keys, values)),
        _ => Err(DataError::new("map schema has no key or value schema")),
    }
}
