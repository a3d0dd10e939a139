//! `Cast$Key` / `Cast$Value`: casts top-level fields (`spec=field:type,...`) or the whole key or
//! value (`spec=type`) to `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean` or
//! `string`. Inputs may be those types or bytes (bytes only to string, as base64); logical types
//! cast from their underlying number, and to string as Kafka's `Values` prints them. Null data
//! passes through.

use std::collections::HashMap;
use std::sync::Arc;

use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, map_get, map_put, struct_like, take_field,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::convert::{HeaderConverter, SimpleHeaderConverter};
use crate::data::{Data, Field, Schema, SchemaType, Struct, Value, logical};

const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

#[derive(Debug)]
pub(crate) struct Cast {
    target: Target,
    /// Set when the spec is a single type for the whole key or value.
    whole: Option<SchemaType>,
    casts: HashMap<String, SchemaType>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

fn output_type(name: &str) -> Option<SchemaType> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "int8" => SchemaType::Int8,
        "int16" => SchemaType::Int16,
        "int32" => SchemaType::Int32,
        "int64" => SchemaType::Int64,
        "float32" => SchemaType::Float32,
        "float64" => SchemaType::Float64,
        "boolean" => SchemaType::Boolean,
        "string" => SchemaType::String,
        _ => return None,
    })
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let hint = "write `field:type,...` or a single type; types are int8, int16, int32, int64, \
                float32, float64, boolean and string";
    let raw = props.required("spec", hint)?;
    let mappings = super::util::split_list(raw);
    if mappings.is_empty() {
        return Err(props.invalid(
            "spec",
            raw,
            format!("Must specify at least one field to cast; {hint}"),
        ));
    }
    let mut whole = None;
    let mut casts = HashMap::new();
    for mapping in &mappings {
        let parts: Vec<&str> = mapping.split(':').collect();
        let (field, type_name) = match parts.as_slice() {
            [type_name] => (None, *type_name),
            [field, type_name] => (Some(field.trim()), *type_name),
            _ => {
                return Err(props.invalid(
                    "spec",
                    raw,
                    format!("Invalid cast mapping: {mapping}; {hint}"),
                ));
            }
        };
        let Some(ty) = output_type(type_name) else {
            let known = [
                "int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string",
                "bytes", "array", "map", "struct",
            ];
            let reason = if known.contains(&type_name.trim().to_ascii_lowercase().as_str()) {
                format!(
                    "Cast transformation does not support casting to {}; supported types are {OUTPUT_TYPES}",
                    type_name.trim().to_ascii_uppercase()
                )
            } else {
                format!(
                    "Invalid type found in casting spec: {}; {hint}",
                    type_name.trim()
                )
            };
            return Err(props.invalid("spec", raw, reason));
        };
        match field {
            None => whole = Some(ty),
            Some(field) => {
                casts.insert(field.to_owned(), ty);
            }
        }
    }
    if whole.is_some() && mappings.len() > 1 {
        return Err(props.invalid(
            "spec",
            raw,
            "Cast transformations that specify a type to cast the entire value to may only \
             specify a single cast in their spec",
        ));
    }
    Ok(Box::new(Cast {
        target,
        whole,
        casts,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

/// The type Kafka infers for a schemaless value (`ConnectSchema.schemaType`).
fn inferred_type(value: &Value) -> Option<SchemaType> {
    Some(match value {
        Value::Null => return None,
        Value::Boolean(_) => SchemaType::Boolean,
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::String(_) => SchemaType::String,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Array(_) => SchemaType::Array,
        Value::Map(_) => SchemaType::Map,
        Value::Struct(_) => SchemaType::Struct,
    })
}

/// A number as Java's `Number` methods see it.
#[derive(Debug, Clone, Copy)]
enum Number {
    Integer(i128),
    Float(f64),
}

impl Number {
    fn long(self) -> i64 {
        match self {
            Self::Integer(v) => v as i64,
            Self::Float(v) => v as i64,
        }
    }
    fn int(self) -> i32 {
        match self {
            Self::Integer(v) => v as i32,
            Self::Float(v) => v as i32,
        }
    }
    fn double(self) -> f64 {
        match self {
            Self::Integer(v) => v as f64,
            Self::Float(v) => v,
        }
    }
}

/// The unscaled integer and scale of a Decimal value (None beyond 128 bits).
fn decimal_number(bytes: &[u8], schema: &Schema) -> Option<Number> {
    let scale: i32 = schema
        .parameter(logical::DECIMAL_SCALE)?
        .trim()
        .parse()
        .ok()?;
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(full);
    if scale <= 0 {
        return Some(Number::Integer(
            unscaled.checked_mul(10_i128.checked_pow(scale.unsigned_abs())?)?,
        ));
    }
    let divisor = 10_i128.checked_pow(scale.unsigned_abs())?;
    if unscaled % divisor == 0 {
        Some(Number::Integer(unscaled / divisor))
    } else {
        Some(Number::Float(unscaled as f64 / divisor as f64))
    }
}

fn number_format(text: &str) -> DataException {
    DataException::new(format!("For input string: \"{text}\""))
}

fn parse_float(text: &str) -> Result<f64, DataException> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_suffix(['f', 'F', 'd', 'D'])
        .unwrap_or(trimmed);
    body.parse().map_err(|_| number_format(text))
}

/// Kafka's `castValueToType`; `schema` is the value's own schema when there is one.
fn cast_value(
    schema: Option<&Schema>,
    value: Value,
    target: SchemaType,
) -> Result<Value, DataException> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let Some(inferred) = schema.map(|s| s.ty).or_else(|| inferred_type(&value)) else {
        return Err(DataException::new(
            "Cast transformation was passed a null value",
        ));
    };
    if !matches!(
        inferred,
        SchemaType::Int8
            | SchemaType::Int16
            | SchemaType::Int32
            | SchemaType::Int64
            | SchemaType::Float32
            | SchemaType::Float64
            | SchemaType::Boolean
            | SchemaType::String
            | SchemaType::Bytes
    ) {
        return Err(DataException::new(format!(
            "Cast transformation does not support casting from {}; supported types are {INPUT_TYPES}",
            inferred.name().to_ascii_uppercase()
        )));
    }
    if target == SchemaType::String {
        return Ok(Value::String(java_string(schema, value)));
    }
    let decimal = schema.filter(|s| s.name.as_deref() == Some(logical::DECIMAL));
    let number = match (&value, decimal) {
        (Value::Bytes(bytes), Some(schema)) => {
            Some(decimal_number(bytes, schema).ok_or_else(|| {
                DataException::new("Cast transformation cannot convert this Decimal to a number")
            })?)
        }
        (Value::Int8(v), _) => Some(Number::Integer(i128::from(*v))),
        (Value::Int16(v), _) => Some(Number::Integer(i128::from(*v))),
        (Value::Int32(v), _) => Some(Number::Integer(i128::from(*v))),
        (Value::Int64(v), _) => Some(Number::Integer(i128::from(*v))),
        (Value::Float32(v), _) => Some(Number::Float(f64::from(*v))),
        (Value::Float64(v), _) => Some(Number::Float(*v)),
        _ => None,
    };
    let unexpected = |value: &Value| {
        DataException::new(format!(
            "Unexpected type in Cast transformation: class {}",
            super::util::java_class(value)
        ))
    };
    Ok(match (target, number, value) {
        (SchemaType::Boolean, Some(n), _) => Value::Boolean(n.long() != 0),
        (SchemaType::Boolean, None, Value::Boolean(b)) => Value::Boolean(b),
        (SchemaType::Boolean, None, Value::String(s)) => {
            Value::Boolean(s.eq_ignore_ascii_case("true"))
        }
        (SchemaType::Int8, Some(n), _) => Value::Int8(n.int() as i8),
        (SchemaType::Int16, Some(n), _) => Value::Int16(n.int() as i16),
        (SchemaType::Int32, Some(n), _) => Value::Int32(n.int()),
        (SchemaType::Int64, Some(n), _) => Value::Int64(n.long()),
        (SchemaType::Float32, Some(n), _) => Value::Float32(n.double() as f32),
        (SchemaType::Float64, Some(n), _) => Value::Float64(n.double()),
        (ty, None, Value::Boolean(b)) => {
            let one = i8::from(b);
            match ty {
                SchemaType::Int8 => Value::Int8(one),
                SchemaType::Int16 => Value::Int16(i16::from(one)),
                SchemaType::Int32 => Value::Int32(i32::from(one)),
                SchemaType::Int64 => Value::Int64(i64::from(one)),
                SchemaType::Float32 => Value::Float32(f32::from(one)),
                _ => Value::Float64(f64::from(one)),
            }
        }
        (ty, None, Value::String(s)) => match ty {
            SchemaType::Int8 => Value::Int8(s.parse().map_err(|_| number_format(&s))?),
            SchemaType::Int16 => Value::Int16(s.parse().map_err(|_| number_format(&s))?),
            SchemaType::Int32 => Value::Int32(s.parse().map_err(|_| number_format(&s))?),
            SchemaType::Int64 => Value::Int64(s.parse().map_err(|_| number_format(&s))?),
            SchemaType::Float32 => Value::Float32(parse_float(&s)? as f32),
            _ => Value::Float64(parse_float(&s)?),
        },
        (_, _, other) => return Err(unexpected(&other)),
    })
}

/// `castToString`: Java's `toString`, base64 for bytes, `Values` formats for logical types.
fn java_string(schema: Option<&Schema>, value: Value) -> String {
    if let Value::String(text) = value {
        return text;
    }
    let data = Data::new(schema.map(|s| Arc::new(s.clone())), value);
    SimpleHeaderConverter
        .from_connect_header("", "", &data)
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

impl Cast {
    fn updated_schema(&self, schema: &Schema) -> Result<Schema, DataException> {
        let mut updated = match self.whole {
            Some(ty) => Schema {
                name: schema.name.clone(),
                version: schema.version,
                doc: schema.doc.clone(),
                parameters: schema.parameters.clone(),
                ..Schema::primitive(ty)
            },
            None => {
                let mut fields = Vec::with_capacity(schema.fields.len());
                for field in &schema.fields {
                    let Some(&ty) = self.casts.get(&field.name) else {
                        fields.push(field.clone());
                        continue;
                    };
                    let mut cast = Schema::primitive(ty);
                    cast.optional = field.schema.optional;
                    if let Some(default) = &field.schema.default {
                        cast.default = Some(cast_value(Some(&field.schema), default.clone(), ty)?);
                    }
                    fields.push(Field {
                        name: field.name.clone(),
                        schema: Arc::new(cast),
                    });
                }
                struct_like(schema, fields)
            }
        };
        updated.optional = schema.optional;
        if let Some(default) = &schema.default {
            updated.default = Some(match self.whole {
                Some(ty) => cast_value(Some(schema), default.clone(), ty)?,
                None => default.clone(),
            });
        }
        Ok(updated)
    }
}

impl Transformation for Cast {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        if self.target.is_null(record) {
            return Ok(Applied::Keep);
        }
        let schema = self.target.schema(record).cloned();
        match (schema, self.whole) {
            (None, Some(ty)) => {
                let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
                let cast = cast_value(None, value.clone(), ty)?;
                self.target.put(record, None, cast);
            }
            (None, None) => {
                let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
                check_map(value, PURPOSE, false)?;
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                let mut cast = Vec::with_capacity(self.casts.len());
                for (field, ty) in &self.casts {
                    let current = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    cast.push((field, cast_value(None, current, *ty)?));
                }
                let (_, value) = self.target.take(record);
                let Value::Map(mut entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                for (field, value) in cast {
                    map_put(&mut entries, field, value);
                }
                self.target.put(record, None, Value::Map(entries));
            }
            (Some(schema), Some(ty)) => {
                let updated = self
                    .schemas
                    .get_or_build(&schema, |s| self.updated_schema(s))?;
                let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
                let cast = cast_value(Some(&schema), value.clone(), ty)?;
                self.target.put(record, Some(updated), cast);
            }
            (Some(schema), None) => {
                let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
                check_struct(value, PURPOSE, false)?;
                let updated = self
                    .schemas
                    .get_or_build(&schema, |s| self.updated_schema(s))?;
                let Value::Struct(current) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                let mut cast = Vec::new();
                for (index, field) in current.schema.fields.iter().enumerate() {
                    if let Some(ty) = self.casts.get(&field.name) {
                        let original = super::util::field_value(
                            &current.values[index],
                            &field.schema,
                            self.replace_null_with_default,
                        );
                        cast.push((index, cast_value(Some(&field.schema), original, *ty)?));
                    }
                }
                let (_, value) = self.target.take(record);
                let Value::Struct(Struct { schema, mut values }) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                for (slot, field) in values.iter_mut().zip(&schema.fields) {
                    *slot = take_field(slot, &field.schema, self.replace_null_with_default);
                }
                for (index, value) in cast {
                    values[index] = value;
                }
                let value = Value::Struct(Struct {
                    schema: updated.clone(),
                    values,
                });
                self.target.put(record, Some(updated), value);
            }
        }
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{
        apply, apply_err, build as build_with, map, optional, schema, sink_record, string,
        struct_schema, struct_value,
    };
    use super::*;

    #[test]
    fn casts_struct_fields_and_their_schemas() {
        // Documentation example: spec=age:int64,score:float32 ... and a boolean and a string.
        let t = build_with(
            build,
            Target::Value,
            &[(
                "spec",
                "int8:int16,int32:float32,float:int32,bool:int8,str:int64,num:string,flag:boolean",
            )],
        )
        .unwrap();
        let s = struct_schema(&[
            ("int8", schema(SchemaType::Int8)),
            ("int32", optional(SchemaType::Int32)),
            ("float", schema(SchemaType::Float64)),
            ("bool", schema(SchemaType::Boolean)),
            ("str", schema(SchemaType::String)),
            ("num", schema(SchemaType::Float64)),
            ("flag", schema(SchemaType::Int32)),
            ("other", schema(SchemaType::String)),
        ]);
        let value = struct_value(
            &s,
            vec![
                Value::Int8(8),
                Value::Int32(32),
                Value::Float64(-7.9),
                Value::Boolean(true),
                string("123"),
                Value::Float64(1e7),
                Value::Int32(2),
                string("x"),
            ],
        );
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s), value))),
        )
        .unwrap();
        let data = record.value.unwrap();
        let updated = data.schema.unwrap();
        let types: Vec<_> = updated
            .fields
            .iter()
            .map(|f| (f.schema.ty, f.schema.optional))
            .collect();
        assert_eq!(
            types,
            vec![
                (SchemaType::Int16, false),
                (SchemaType::Float32, true),
                (SchemaType::Int32, false),
                (SchemaType::Int8, false),
                (SchemaType::Int64, false),
                (SchemaType::String, false),
                (SchemaType::Boolean, false),
                (SchemaType::String, false),
            ]
        );
        assert_eq!(
            data.value,
            struct_value(
                &updated,
                vec![
                    Value::Int16(8),
                    Value::Float32(32.0),
                    Value::Int32(-7),
                    Value::Int8(1),
                    Value::Int64(123),
                    string("1.0E7"),
                    Value::Boolean(true),
                    string("x"),
                ]
            )
        );
    }

    #[test]
    fn casts_a_whole_value_with_and_without_schema() {
        let t = build_with(build, Target::Value, &[("spec", "int32")]).unwrap();
        let value = Data::new(Some(schema(SchemaType::Int64)), Value::Int64(42));
        let record = apply(t.as_ref(), sink_record(None, Some(value))).unwrap();
        assert_eq!(
            record.value,
            Some(Data::new(Some(schema(SchemaType::Int32)), Value::Int32(42)))
        );
        let t = build_with(build, Target::Key, &[("spec", "string")]).unwrap();
        let key = Data::schemaless(Value::Bytes(b"hi".to_vec()));
        let record = apply(t.as_ref(), sink_record(Some(key), None)).unwrap();
        assert_eq!(record.key, Some(Data::schemaless(string("aGk="))));
    }

    #[test]
    fn casts_map_entries_and_logical_types() {
        let t = build_with(
            build,
            Target::Value,
            &[("spec", "a:int64,b:string,c:float64")],
        )
        .unwrap();
        let value = map(&[
            ("a", string("12")),
            ("b", Value::Boolean(false)),
            ("c", Value::Int8(3)),
        ]);
        let record = apply(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))).unwrap();
        let Value::Map(entries) = record.value.unwrap().value else {
            panic!("not a map")
        };
        assert_eq!(map_get(&entries, "a"), Some(&Value::Int64(12)));
        assert_eq!(map_get(&entries, "b"), Some(&string("false")));
        assert_eq!(map_get(&entries, "c"), Some(&Value::Float64(3.0)));

        let t = build_with(
            build,
            Target::Value,
            &[("spec", "d:float64,ts:string,ts2:int64")],
        )
        .unwrap();
        let s = struct_schema(&[
            ("d", Arc::new(Schema::decimal(2))),
            ("ts", Arc::new(Schema::timestamp())),
            ("ts2", Arc::new(Schema::timestamp())),
        ]);
        let value = struct_value(
            &s,
            vec![
                Value::Bytes(vec![0x04, 0xd2]),
                Value::Int64(1_499_085_296_789),
                Value::Int64(5),
            ],
        );
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s), value))),
        )
        .unwrap();
        let Value::Struct(cast) = record.value.unwrap().value else {
            panic!("not a struct")
        };
        assert_eq!(cast.get("d"), Some(&Value::Float64(12.34)));
        assert_eq!(cast.get("ts"), Some(&string("2017-07-03T12:34:56.789Z")));
        assert_eq!(cast.get("ts2"), Some(&Value::Int64(5)));
    }

    #[test]
    fn tombstones_pass_and_errors_match_kafka() {
        let t = build_with(build, Target::Value, &[("spec", "a:int8")]).unwrap();
        assert_eq!(
            apply(t.as_ref(), sink_record(None, None)).unwrap().value,
            None
        );
        let value = map(&[("a", map(&[]))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            format!(
                "Cast transformation does not support casting from MAP; supported types are {INPUT_TYPES}"
            )
        );
        let value = map(&[("a", Value::Bytes(vec![1]))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "Unexpected type in Cast transformation: class [B"
        );
        let value = map(&[("a", string("x"))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "For input string: \"x\""
        );
        for (spec, expected) in [
            ("a:bytes", "does not support casting to BYTES"),
            ("a:nope", "Invalid type found in casting spec: nope"),
            ("int8,a:int8", "may only specify a single cast"),
            ("a:b:c", "Invalid cast mapping: a:b:c"),
            ("", "Must specify at least one field"),
        ] {
            let error = build_with(build, Target::Value, &[("spec", spec)]).unwrap_err();
            assert_eq!(error.key(), "transforms.t.spec");
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
