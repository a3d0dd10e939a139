//! `MaskField$Key` / `MaskField$Value`: replaces the listed `fields` with the zero value of
//! their type (0, false, `""`, an empty array or map, the epoch for Date/Time/Timestamp, 0 for
//! Decimal) or with `replacement` converted to the field type (numbers and strings only).

use super::util::{Props, Target, check_map, check_struct, map_get, map_put, take_field};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Schema, SchemaType, Struct, Value, logical};

const PURPOSE: &str = "mask fields";

#[derive(Debug)]
pub(crate) struct MaskField {
    target: Target,
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let fields = props.required_list("fields", "list the fields to mask")?;
    let replacement = match props.string("replacement") {
        Some("") => {
            return Err(props.invalid(
                "replacement",
                "",
                "String must be non-empty; remove the setting to mask with zero values",
            ));
        }
        other => other.map(str::to_owned),
    };
    Ok(Box::new(MaskField {
        target,
        fields,
        replacement,
        replace_null_with_default: props.replace_null_with_default()?,
    }))
}

/// Java's `getClass()` as `Class.toString` prints it, for the masking messages.
fn class_string(value: &Value, schema: Option<&Schema>) -> String {
    if let Some(schema) = schema {
        match schema.name.as_deref() {
            Some(logical::DATE | logical::TIME | logical::TIMESTAMP) => {
                return "class java.util.Date".into();
            }
            Some(logical::DECIMAL) => return "class java.math.BigDecimal".into(),
            _ => {}
        }
    }
    format!("class {}", super::util::java_class(value))
}

impl MaskField {
    /// The masked form of one field value; `schema` is the field schema when there is one.
    fn masked(&self, value: Value, schema: Option<&Schema>) -> Result<Value, DataException> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let decimal_scale = schema.and_then(|schema| {
            (schema.name.as_deref() == Some(logical::DECIMAL) && schema.ty == SchemaType::Bytes)
                .then(|| {
                    schema
                        .parameter(logical::DECIMAL_SCALE)
                        .and_then(|s| s.trim().parse::<i32>().ok())
                        .unwrap_or(0)
                })
        });
        let temporal = schema.is_some_and(|schema| {
            matches!(
                schema.name.as_deref(),
                Some(logical::DATE | logical::TIME | logical::TIMESTAMP)
            )
        });
        let Some(replacement) = &self.replacement else {
            return Ok(match value {
                _ if decimal_scale.is_some() => Value::Bytes(vec![0]),
                Value::Boolean(_) => Value::Boolean(false),
                Value::Int8(_) => Value::Int8(0),
                Value::Int16(_) => Value::Int16(0),
                Value::Int32(_) => Value::Int32(0),
                Value::Int64(_) => Value::Int64(0),
                Value::Float32(_) => Value::Float32(0.0),
                Value::Float64(_) => Value::Float64(0.0),
                Value::String(_) => Value::String(String::new()),
                Value::Array(_) => Value::Array(Vec::new()),
                Value::Map(_) => Value::Map(Vec::new()),
                other => {
                    return Err(DataException::new(format!(
                        "Cannot mask value of type: {}",
                        class_string(&other, schema)
                    )));
                }
            });
        };
        let not_a_number = || {
            DataException::new(format!(
                "Unable to convert {replacement} (class java.lang.String) to number"
            ))
        };
        let unsupported = |value: &Value| {
            DataException::new(format!(
                "Cannot mask value of type {} with custom replacement.",
                class_string(value, schema)
            ))
        };
        if temporal {
            return Err(unsupported(&value));
        }
        if let Some(scale) = decimal_scale {
            return decimal_bytes(replacement, scale).ok_or_else(not_a_number);
        }
        Ok(match value {
            Value::Int8(_) => Value::Int8(replacement.parse().map_err(|_| not_a_number())?),
            Value::Int16(_) => Value::Int16(replacement.parse().map_err(|_| not_a_number())?),
            Value::Int32(_) => Value::Int32(replacement.parse().map_err(|_| not_a_number())?),
            Value::Int64(_) => Value::Int64(replacement.parse().map_err(|_| not_a_number())?),
            Value::Float32(_) => {
                Value::Float32(replacement.trim().parse().map_err(|_| not_a_number())?)
            }
            Value::Float64(_) => {
                Value::Float64(replacement.trim().parse().map_err(|_| not_a_number())?)
            }
            Value::String(_) => Value::String(replacement.clone()),
            other => return Err(unsupported(&other)),
        })
    }
}

/// `new BigDecimal(text)` rescaled to the schema's scale, as Decimal bytes (big-endian two's
/// complement of the unscaled value); None when it is not a number or does not fit.
fn decimal_bytes(text: &str, scale: i32) -> Option<Value> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = rest.split_once('.').unwrap_or((rest, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let text_scale = i32::try_from(frac_part.len()).ok()?;
    let mut unscaled: i128 = digits.parse().ok()?;
    if scale >= text_scale {
        unscaled =
            unscaled.checked_mul(10_i128.checked_pow(u32::try_from(scale - text_scale).ok()?)?)?;
    } else {
        let divisor = 10_i128.checked_pow(u32::try_from(text_scale - scale).ok()?)?;
        if unscaled % divisor != 0 {
            return None;
        }
        unscaled /= divisor;
    }
    if negative {
        unscaled = -unscaled;
    }
    let bytes = unscaled.to_be_bytes();
    // Minimal two's complement, as `BigInteger.toByteArray`.
    let skip = bytes
        .windows(2)
        .take_while(|pair| {
            (pair[0] == 0x00 && pair[1] & 0x80 == 0) || (pair[0] == 0xff && pair[1] & 0x80 != 0)
        })
        .count();
    Some(Value::Bytes(bytes[skip..].to_vec()))
}

impl Transformation for MaskField {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        match schema {
            None => {
                check_map(value, PURPOSE, false)?;
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                // Mask into a copy first so that an error leaves the record as it was.
                let mut masked = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    let current = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    masked.push(self.masked(current, None)?);
                }
                let (_, value) = self.target.take(record);
                let Value::Map(mut entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                for (field, value) in self.fields.iter().zip(masked) {
                    map_put(&mut entries, field, value);
                }
                self.target.put(record, None, Value::Map(entries));
            }
            Some(schema) => {
                check_struct(value, PURPOSE, false)?;
                let Value::Struct(current) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                let mut masked = Vec::new();
                for (index, field) in current.schema.fields.iter().enumerate() {
                    if self.fields.contains(&field.name) {
                        let original = super::util::field_value(
                            &current.values[index],
                            &field.schema,
                            self.replace_null_with_default,
                        );
                        masked.push((index, self.masked(original, Some(&field.schema))?));
                    }
                }
                let (_, value) = self.target.take(record);
                let Value::Struct(Struct {
                    schema: struct_schema,
                    mut values,
                }) = value
                else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                for (slot, field) in values.iter_mut().zip(&struct_schema.fields) {
                    *slot = take_field(slot, &field.schema, self.replace_null_with_default);
                }
                for (index, value) in masked {
                    values[index] = value;
                }
                let value = Value::Struct(Struct {
                    schema: struct_schema,
                    values,
                });
                self.target.put(record, Some(schema), value);
            }
        }
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_util::{
        apply, apply_err, build as build_with, map, schema, sink_record, string, struct_schema,
        struct_value,
    };
    use super::*;
    use crate::data::{Data, SchemaRef};

    fn example() -> (SchemaRef, Value) {
        let s = struct_schema(&[
            ("int", schema(SchemaType::Int32)),
            ("long", schema(SchemaType::Int64)),
            ("bool", schema(SchemaType::Boolean)),
            ("string", schema(SchemaType::String)),
            ("float", schema(SchemaType::Float64)),
            ("decimal", Arc::new(Schema::decimal(2))),
            ("date", Arc::new(Schema::date())),
            ("array", Arc::new(Schema::array(schema(SchemaType::Int32)))),
            ("keep", schema(SchemaType::String)),
        ]);
        let value = struct_value(
            &s,
            vec![
                Value::Int32(42),
                Value::Int64(42),
                Value::Boolean(true),
                string("hmm"),
                Value::Float64(4.2),
                Value::Bytes(vec![0x10, 0x68]),
                Value::Int32(17_000),
                Value::Array(vec![Value::Int32(1)]),
                string("kept"),
            ],
        );
        (s, value)
    }

    #[test]
    fn masks_struct_fields_with_zero_values() {
        let t = build_with(
            build,
            Target::Value,
            &[("fields", "int,long,bool,string,float,decimal,date,array")],
        )
        .unwrap();
        let (s, value) = example();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s.clone()), value))),
        );
        let data = record.unwrap().value.unwrap();
        assert!(Arc::ptr_eq(data.schema.as_ref().unwrap(), &s));
        assert_eq!(
            data.value,
            struct_value(
                &s,
                vec![
                    Value::Int32(0),
                    Value::Int64(0),
                    Value::Boolean(false),
                    string(""),
                    Value::Float64(0.0),
                    Value::Bytes(vec![0]),
                    Value::Int32(0),
                    Value::Array(Vec::new()),
                    string("kept"),
                ]
            )
        );
    }

    #[test]
    fn masks_map_entries_with_a_replacement() {
        // Documentation example: fields=string,int with replacement.
        let t = build_with(
            build,
            Target::Value,
            &[("fields", "string,int"), ("replacement", "123")],
        )
        .unwrap();
        let value = map(&[
            ("string", string("secret")),
            ("int", Value::Int32(7)),
            ("x", Value::Int8(1)),
        ]);
        let record = apply(t.as_ref(), sink_record(None, Some(Data::schemaless(value))));
        assert_eq!(
            record.unwrap().value.unwrap().value,
            map(&[
                ("string", string("123")),
                ("int", Value::Int32(123)),
                ("x", Value::Int8(1))
            ])
        );
        let t = build_with(
            build,
            Target::Value,
            &[("fields", "decimal"), ("replacement", "1.5")],
        )
        .unwrap();
        let (s, value) = example();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s), value))),
        )
        .unwrap();
        let Value::Struct(masked) = record.value.unwrap().value else {
            panic!("not a struct")
        };
        // 1.50 at scale 2 is the unscaled 150: 0x00 0x96 in two's complement.
        assert_eq!(masked.get("decimal"), Some(&Value::Bytes(vec![0x00, 0x96])));
    }

    #[test]
    fn errors_match_kafka() {
        let t = build_with(
            build,
            Target::Value,
            &[("fields", "int"), ("replacement", "abc")],
        )
        .unwrap();
        let value = map(&[("int", Value::Int32(7))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "Unable to convert abc (class java.lang.String) to number"
        );
        let t = build_with(
            build,
            Target::Value,
            &[("fields", "b"), ("replacement", "x")],
        )
        .unwrap();
        let value = map(&[("b", Value::Boolean(true))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "Cannot mask value of type class java.lang.Boolean with custom replacement."
        );
        let t = build_with(build, Target::Value, &[("fields", "b")]).unwrap();
        let value = map(&[("b", Value::Bytes(vec![1]))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "Cannot mask value of type: class [B"
        );
        let error = build_with(
            build,
            Target::Value,
            &[("fields", "a"), ("replacement", "")],
        )
        .unwrap_err();
        assert_eq!(error.key(), "transforms.t.replacement");
        assert!(build_with(build, Target::Value, &[]).is_err());
    }
}
