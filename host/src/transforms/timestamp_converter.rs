//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp (the whole key or
//! value, or the field `field`) between `string` (with a `SimpleDateFormat` `format`, UTC),
//! `unix` (epoch number in `unix.precision`: seconds, milliseconds (default), microseconds or
//! nanoseconds) and the logical `Date`, `Time` and `Timestamp` types (`target.type`).
//!
//! Schemaless Date, Time and Timestamp results have no Java `Date` to become here: they are
//! written as int32 days, int32 milliseconds of the day and int64 epoch milliseconds.

use std::sync::Arc;

use super::date_format::DateFormat;
use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, map_get, map_put, struct_like,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Field, Schema, SchemaRef, SchemaType, Struct, Value, logical};

const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

#[derive(Debug)]
pub(crate) struct TimestampConverter {
    target: Target,
    field: String,
    to: Kind,
    format: Option<DateFormat>,
    pattern: String,
    precision: Precision,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let hint = "expected string, unix, Date, Time or Timestamp";
    let to = match props.required("target.type", hint)? {
        "string" => Kind::String,
        "unix" => Kind::Unix,
        "Date" => Kind::Date,
        "Time" => Kind::Time,
        "Timestamp" => Kind::Timestamp,
        other => return Err(props.invalid("target.type", other, hint)),
    };
    let pattern = props.string("format").unwrap_or("");
    let format = if pattern.is_empty() {
        if to == Kind::String {
            return Err(props.missing(
                "format",
                "TimestampConverter requires format option to be specified when using string \
                 timestamps; set a SimpleDateFormat pattern such as yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            ));
        }
        None
    } else {
        Some(DateFormat::new(pattern).map_err(|reason| {
            props.invalid(
                "format",
                pattern,
                format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for \
                     string timestamps: {reason}"
                ),
            )
        })?)
    };
    let precision = match props.string("unix.precision").unwrap_or("milliseconds") {
        "seconds" => Precision::Seconds,
        "milliseconds" => Precision::Milliseconds,
        "microseconds" => Precision::Microseconds,
        "nanoseconds" => Precision::Nanoseconds,
        other => {
            return Err(props.invalid(
                "unix.precision",
                other,
                "expected seconds, milliseconds, microseconds or nanoseconds",
            ));
        }
    };
    Ok(Box::new(TimestampConverter {
        target,
        field: props.string("field").unwrap_or("").to_owned(),
        to,
        format,
        pattern: pattern.to_owned(),
        precision,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

/// Kafka's `ConnectSchema.toString`.
fn schema_string(schema: &Schema) -> String {
    let ty = schema.ty.name().to_ascii_uppercase();
    match &schema.name {
        Some(name) => format!("Schema{{{name}:{ty}}}"),
        None => format!("Schema{{{ty}}}"),
    }
}

fn kind_of_schema(schema: &Schema) -> Result<Kind, DataException> {
    Ok(match (schema.name.as_deref(), schema.ty) {
        (Some(logical::TIMESTAMP), _) => Kind::Timestamp,
        (Some(logical::DATE), _) => Kind::Date,
        (Some(logical::TIME), _) => Kind::Time,
        (_, SchemaType::String) => Kind::String,
        (_, SchemaType::Int64) => Kind::Unix,
        _ => {
            return Err(DataException::new(format!(
                "Schema {} does not correspond to a known timestamp type format",
                schema_string(schema)
            )));
        }
    })
}

fn kind_of_value(value: &Value) -> Result<Kind, DataException> {
    match value {
        Value::Int64(_) => Ok(Kind::Unix),
        Value::String(_) => Ok(Kind::String),
        other => Err(DataException::new(format!(
            "TimestampConverter does not support class {} objects as timestamps",
            super::util::java_class(other)
        ))),
    }
}

impl TimestampConverter {
    fn output_schema(&self, optional: bool) -> SchemaRef {
        let schema = match self.to {
            Kind::String => Schema::primitive(SchemaType::String),
            Kind::Unix => Schema::primitive(SchemaType::Int64),
            Kind::Date => Schema::date(),
            Kind::Time => Schema::time(),
            Kind::Timestamp => Schema::timestamp(),
        };
        Arc::new(if optional { schema.optional() } else { schema })
    }

    /// Epoch milliseconds of a value of kind `from`.
    fn value_to_millis(&self, value: &Value, from: Kind) -> Result<i64, DataException> {
        let unexpected = || {
            DataException::new(format!(
                "Expected a {} timestamp, found: {}",
                match from {
                    Kind::String => "string",
                    Kind::Unix => "unix",
                    Kind::Date => "Date",
                    Kind::Time => "Time",
                    Kind::Timestamp => "Timestamp",
                },
                super::util::java_class(value)
            ))
        };
        match (from, value) {
            (Kind::String, Value::String(text)) => {
                let Some(format) = &self.format else {
                    return Err(DataException::new(
                        "TimestampConverter requires format option to be specified when using \
                         string timestamps",
                    ));
                };
                format.parse(text).ok_or_else(|| {
                    DataException::new(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({})",
                        self.pattern
                    ))
                })
            }
            (Kind::Unix, Value::Int64(n)) => Ok(match self.precision {
                Precision::Seconds => n.saturating_mul(1000),
                Precision::Milliseconds => *n,
                Precision::Microseconds => n / 1000,
                Precision::Nanoseconds => n / 1_000_000,
            }),
            (Kind::Date, Value::Int32(days)) => Ok(i64::from(*days) * MILLIS_PER_DAY),
            (Kind::Time, Value::Int32(ms)) => Ok(i64::from(*ms)),
            (Kind::Timestamp, Value::Int64(ms)) => Ok(*ms),
            _ => Err(unexpected()),
        }
    }

    fn millis_to_value(&self, millis: i64) -> Result<Value, DataException> {
        Ok(match self.to {
            Kind::String => Value::String(
                self.format
                    .as_ref()
                    .map(|format| format.format(millis))
                    .unwrap_or_default(),
            ),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => millis / 1000,
                Precision::Milliseconds => millis,
                Precision::Microseconds => millis.saturating_mul(1000),
                Precision::Nanoseconds => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => {
                let days = millis.div_euclid(MILLIS_PER_DAY);
                Value::Int32(i32::try_from(days).map_err(|_| {
                    DataException::new(format!("Timestamp {millis} is out of range for a Date"))
                })?)
            }
            Kind::Time => Value::Int32(millis.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Int64(millis),
        })
    }

    fn convert(&self, value: Value, from: Option<Kind>) -> Result<Value, DataException> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let from = match from {
            Some(kind) => kind,
            None => kind_of_value(&value)?,
        };
        self.millis_to_value(self.value_to_millis(&value, from)?)
    }

    fn updated_schema(&self, schema: &Schema) -> Schema {
        let fields = schema
            .fields
            .iter()
            .map(|field| {
                if field.name == self.field {
                    Field {
                        name: field.name.clone(),
                        schema: self.output_schema(field.schema.optional),
                    }
                } else {
                    field.clone()
                }
            })
            .collect();
        let mut updated = struct_like(schema, fields);
        updated.optional = schema.optional;
        updated
    }
}

impl Transformation for TimestampConverter {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        match schema {
            None if self.field.is_empty() || value.is_null() => {
                let converted = self.convert(value.clone(), None)?;
                self.target.put(record, None, converted);
            }
            None => {
                check_map(value, PURPOSE, false)?;
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                let current = map_get(entries, &self.field)
                    .cloned()
                    .unwrap_or(Value::Null);
                let converted = self.convert(current, None)?;
                let (_, value) = self.target.take(record);
                let Value::Map(mut entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                map_put(&mut entries, &self.field, converted);
                self.target.put(record, None, Value::Map(entries));
            }
            Some(schema) if self.field.is_empty() => {
                let converted = self.convert(value.clone(), Some(kind_of_schema(&schema)?))?;
                self.target
                    .put(record, Some(self.output_schema(schema.optional)), converted);
            }
            Some(schema) => {
                check_struct(value, PURPOSE, true)?;
                let updated = self
                    .schemas
                    .get_or_build(&schema, |schema| Ok(self.updated_schema(schema)))?;
                let converted = match value {
                    Value::Struct(current) => match current.schema.field(&self.field) {
                        Some((index, field)) => {
                            let original = super::util::field_value(
                                &current.values[index],
                                &field.schema,
                                true,
                            );
                            let kind = kind_of_schema(&field.schema)?;
                            Some((index, self.convert(original, Some(kind))?))
                        }
                        None => None,
                    },
                    _ => None,
                };
                let (_, value) = self.target.take(record);
                let value = match value {
                    Value::Struct(Struct { schema, mut values }) => {
                        for (slot, field) in values.iter_mut().zip(&schema.fields) {
                            *slot = super::util::take_field(
                                slot,
                                &field.schema,
                                self.replace_null_with_default,
                            );
                        }
                        if let Some((index, converted)) = converted {
                            values[index] = converted;
                        }
                        Value::Struct(Struct {
                            schema: updated.clone(),
                            values,
                        })
                    }
                    other => other,
                };
                self.target.put(record, Some(updated), value);
            }
        }
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{
        apply, apply_err, build as build_with, map, schema, sink_record, string, struct_schema,
        struct_value,
    };
    use super::*;
    use crate::data::Data;

    // 2017-07-03T12:34:56.789Z
    const MILLIS: i64 = 1_499_085_296_789;
    const DAYS: i32 = 17_350;
    const TIME: i32 = 45_296_789;
    const FORMAT: &str = "yyyy MM dd HH mm ss SSS z";
    const STRING: &str = "2017 07 03 12 34 56 789 UTC";

    fn convert(to: &str, input: Data) -> Data {
        let t = build_with(
            build,
            Target::Value,
            &[("target.type", to), ("format", FORMAT)],
        )
        .unwrap();
        apply(t.as_ref(), sink_record(None, Some(input)))
            .unwrap()
            .value
            .unwrap()
    }

    #[test]
    fn converts_between_every_kind_with_schemas() {
        let timestamp = Data::new(Some(Arc::new(Schema::timestamp())), Value::Int64(MILLIS));
        assert_eq!(
            convert("string", timestamp.clone()),
            Data::new(Some(schema(SchemaType::String)), string(STRING))
        );
        assert_eq!(
            convert("unix", timestamp.clone()),
            Data::new(Some(schema(SchemaType::Int64)), Value::Int64(MILLIS))
        );
        assert_eq!(
            convert("Date", timestamp.clone()),
            Data::new(Some(Arc::new(Schema::date())), Value::Int32(DAYS))
        );
        assert_eq!(
            convert("Time", timestamp.clone()),
            Data::new(Some(Arc::new(Schema::time())), Value::Int32(TIME))
        );
        let from_string = Data::new(Some(schema(SchemaType::String)), string(STRING));
        assert_eq!(convert("Timestamp", from_string), timestamp);
        let from_unix = Data::new(Some(schema(SchemaType::Int64)), Value::Int64(MILLIS));
        assert_eq!(convert("Timestamp", from_unix), timestamp);
        let from_date = Data::new(Some(Arc::new(Schema::date())), Value::Int32(DAYS));
        assert_eq!(
            convert("unix", from_date).value,
            Value::Int64(i64::from(DAYS) * MILLIS_PER_DAY)
        );
    }

    #[test]
    fn converts_schemaless_values_and_fields() {
        assert_eq!(
            convert("string", Data::schemaless(Value::Int64(MILLIS))),
            Data::schemaless(string(STRING))
        );
        assert_eq!(
            convert("unix", Data::schemaless(string(STRING))),
            Data::schemaless(Value::Int64(MILLIS))
        );
        // Documentation example: field=event_date, target.type=unix, unix.precision=seconds.
        let t = build_with(
            build,
            Target::Value,
            &[
                ("field", "ts"),
                ("target.type", "unix"),
                ("unix.precision", "seconds"),
            ],
        )
        .unwrap();
        let s = struct_schema(&[
            ("ts", Arc::new(Schema::timestamp())),
            ("other", schema(SchemaType::Int8)),
        ]);
        let value = struct_value(&s, vec![Value::Int64(MILLIS), Value::Int8(1)]);
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s), value))),
        )
        .unwrap();
        let data = record.value.unwrap();
        let updated = data.schema.unwrap();
        assert_eq!(updated.fields[0].schema, schema(SchemaType::Int64));
        assert_eq!(
            data.value,
            struct_value(&updated, vec![Value::Int64(MILLIS / 1000), Value::Int8(1)])
        );

        let t = build_with(
            build,
            Target::Value,
            &[
                ("field", "ts"),
                ("target.type", "Timestamp"),
                ("unix.precision", "microseconds"),
            ],
        )
        .unwrap();
        let value = map(&[("ts", Value::Int64(MILLIS * 1000))]);
        let record = apply(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))).unwrap();
        assert_eq!(
            record.value.unwrap().value,
            map(&[("ts", Value::Int64(MILLIS))])
        );
    }

    #[test]
    fn errors_match_kafka() {
        let error = build_with(build, Target::Value, &[("target.type", "string")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.format");
        let error = build_with(build, Target::Value, &[("target.type", "Instant")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.target.type");
        let error = build_with(
            build,
            Target::Value,
            &[("target.type", "unix"), ("unix.precision", "days")],
        )
        .unwrap_err();
        assert_eq!(error.key(), "transforms.t.unix.precision");
        let t = build_with(
            build,
            Target::Value,
            &[("target.type", "unix"), ("format", "yyyy")],
        )
        .unwrap();
        assert_eq!(
            apply_err(
                t.as_ref(),
                sink_record(
                    None,
                    Some(Data::new(
                        Some(schema(SchemaType::Boolean)),
                        Value::Boolean(true)
                    ))
                )
            ),
            "Schema Schema{BOOLEAN} does not correspond to a known timestamp type format"
        );
        assert_eq!(
            apply_err(
                t.as_ref(),
                sink_record(None, Some(Data::schemaless(string("x"))))
            ),
            "Could not parse timestamp: value (x) does not match pattern (yyyy)"
        );
        assert_eq!(
            apply_err(
                t.as_ref(),
                sink_record(None, Some(Data::schemaless(Value::Int32(1))))
            ),
            "TimestampConverter does not support class java.lang.Integer objects as timestamps"
        );
    }
}
