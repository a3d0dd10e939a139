//! `InsertField$Key` / `InsertField$Value`: adds the record's topic, partition, offset (sink
//! records only), timestamp and/or a static string as fields (`topic.field`,
//! `partition.field`, `offset.field`, `timestamp.field`, `static.field` + `static.value`). A
//! field name ending in `!` is a required field, `?` (the default) an optional one. Null data
//! passes through.

use std::sync::Arc;

use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, primitive, sink_record_required,
    struct_like, take_field,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Field, Schema, SchemaRef, SchemaType, Struct, Value};

const PURPOSE: &str = "field insertion";

/// A field to insert: its name and whether it is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    name: String,
    optional: bool,
}

impl Spec {
    fn parse(raw: Option<&str>) -> Option<Self> {
        let raw = raw?;
        if raw.is_empty() {
            return None;
        }
        Some(if let Some(name) = raw.strip_suffix('!') {
            Self {
                name: name.to_owned(),
                optional: false,
            }
        } else {
            Self {
                name: raw.strip_suffix('?').unwrap_or(raw).to_owned(),
                optional: true,
            }
        })
    }
}

#[derive(Debug)]
pub(crate) struct InsertField {
    target: Target,
    topic: Option<Spec>,
    partition: Option<Spec>,
    offset: Option<Spec>,
    timestamp: Option<Spec>,
    static_field: Option<Spec>,
    static_value: Option<String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let transform = InsertField {
        target,
        topic: Spec::parse(props.string("topic.field")),
        partition: Spec::parse(props.string("partition.field")),
        offset: Spec::parse(props.string("offset.field")),
        timestamp: Spec::parse(props.string("timestamp.field")),
        static_field: Spec::parse(props.string("static.field")),
        static_value: props.string("static.value").map(str::to_owned),
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    };
    if transform.topic.is_none()
        && transform.partition.is_none()
        && transform.offset.is_none()
        && transform.timestamp.is_none()
        && transform.static_field.is_none()
    {
        return Err(props.missing(
            "topic.field",
            "No field insertion configured; set at least one of topic.field, partition.field, \
             offset.field, timestamp.field or static.field",
        ));
    }
    if let Some(spec) = &transform.static_field
        && transform.static_value.is_none()
    {
        return Err(props.missing(
            "static.value",
            &format!("No value specified for static field: {}", spec.name),
        ));
    }
    Ok(Box::new(transform))
}

impl InsertField {
    /// The inserted fields in Kafka's order, with their schemas and this record's values.
    fn insertions(
        &self,
        record: &dyn ConnectRecord,
    ) -> Result<Vec<(&Spec, SchemaType, bool, Value)>, DataException> {
        let mut out = Vec::with_capacity(5);
        if let Some(spec) = &self.topic {
            out.push((
                spec,
                SchemaType::String,
                false,
                Value::String(record.topic().to_owned()),
            ));
        }
        if let Some(spec) = &self.partition {
            let value = record.kafka_partition().map_or(Value::Null, Value::Int32);
            out.push((spec, SchemaType::Int32, false, value));
        }
        if let Some(spec) = &self.offset {
            let Some(offset) = record.kafka_offset().filter(|_| record.is_sink()) else {
                return Err(sink_record_required(PURPOSE));
            };
            out.push((spec, SchemaType::Int64, false, Value::Int64(offset)));
        }
        if let Some(spec) = &self.timestamp {
            let value = record.timestamp().map_or(Value::Null, Value::Int64);
            out.push((spec, SchemaType::Int64, true, value));
        }
        if let Some(spec) = &self.static_field {
            let value = self.static_value.clone().map_or(Value::Null, Value::String);
            out.push((spec, SchemaType::String, false, value));
        }
        Ok(out)
    }

    fn updated_schema(&self, schema: &Schema) -> Schema {
        let mut fields = schema.fields.clone();
        let inserted = [
            (&self.topic, SchemaType::String, false),
            (&self.partition, SchemaType::Int32, false),
            (&self.offset, SchemaType::Int64, false),
            (&self.timestamp, SchemaType::Int64, true),
            (&self.static_field, SchemaType::String, false),
        ];
        for (spec, ty, timestamp) in inserted {
            if let Some(spec) = spec {
                fields.push(Field {
                    name: spec.name.clone(),
                    schema: field_schema(ty, timestamp, spec.optional),
                });
            }
        }
        struct_like(schema, fields)
    }
}

fn field_schema(ty: SchemaType, timestamp: bool, optional: bool) -> SchemaRef {
    if timestamp {
        let schema = Schema::timestamp();
        return Arc::new(if optional { schema.optional() } else { schema });
    }
    primitive(ty, optional)
}

impl Transformation for InsertField {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        if self.target.is_null(record) {
            return Ok(Applied::Keep);
        }
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        match &schema {
            None => check_map(value, PURPOSE, false)?,
            Some(_) => check_struct(value, PURPOSE, false)?,
        }
        let insertions = self.insertions(record)?;
        match schema {
            None => {
                let (_, value) = self.target.take(record);
                let Value::Map(mut entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                for (spec, _, _, value) in insertions {
                    super::util::map_put(&mut entries, &spec.name, value);
                }
                self.target.put(record, None, Value::Map(entries));
            }
            Some(schema) => {
                let updated = self
                    .schemas
                    .get_or_build(&schema, |schema| Ok(self.updated_schema(schema)))?;
                for (spec, ty, _, value) in &insertions {
                    if value.is_null() && !spec.optional {
                        return Err(DataException::new(format!(
                            "Invalid value: null used for required field: \"{}\", schema type: {}",
                            spec.name,
                            ty.name().to_ascii_uppercase()
                        )));
                    }
                }
                let (_, value) = self.target.take(record);
                let Value::Struct(Struct { schema, mut values }) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                if self.replace_null_with_default {
                    for (slot, field) in values.iter_mut().zip(&schema.fields) {
                        *slot = take_field(slot, &field.schema, true);
                    }
                }
                values.extend(insertions.into_iter().map(|(_, _, _, value)| value));
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
        apply, apply_err, build as build_with, map, schema, sink_record, source_record, string,
        struct_schema, struct_value,
    };
    use super::*;
    use crate::data::Data;

    fn all_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            ("topic.field", "topic_field!"),
            ("partition.field", "partition_field"),
            ("offset.field", "offset_field!"),
            ("timestamp.field", "timestamp_field?"),
            ("static.field", "instance_id"),
            ("static.value", "my-instance-id"),
        ]
    }

    #[test]
    fn inserts_into_a_struct_with_schema() {
        let t = build_with(build, Target::Value, &all_fields()).unwrap();
        let s = Arc::new(Schema {
            name: Some("name".into()),
            version: Some(1),
            doc: Some("doc".into()),
            ..(*struct_schema(&[("magic", schema(SchemaType::Int64))])).clone()
        });
        let value = Data::new(Some(s.clone()), struct_value(&s, vec![Value::Int64(42)]));
        let record = apply(t.as_ref(), sink_record(None, Some(value))).unwrap();
        let data = record.value.unwrap();
        let updated = data.schema.unwrap();
        assert_eq!(updated.name.as_deref(), Some("name"));
        assert_eq!(updated.version, Some(1));
        assert_eq!(updated.doc.as_deref(), Some("doc"));
        let names: Vec<_> = updated.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "magic",
                "topic_field",
                "partition_field",
                "offset_field",
                "timestamp_field",
                "instance_id"
            ]
        );
        assert!(!updated.fields[1].schema.optional);
        assert!(updated.fields[2].schema.optional);
        assert_eq!(*updated.fields[4].schema, Schema::timestamp().optional());
        let Value::Struct(value) = data.value else {
            panic!("not a struct")
        };
        assert_eq!(
            value.values,
            vec![
                Value::Int64(42),
                string("test"),
                Value::Int32(0),
                Value::Int64(42),
                Value::Int64(1_700_000_000_000),
                string("my-instance-id"),
            ]
        );
    }

    #[test]
    fn the_derived_schema_is_cached_per_input_schema() {
        let t = build_with(build, Target::Value, &[("topic.field", "t")]).unwrap();
        let s = struct_schema(&[("a", schema(SchemaType::Int8))]);
        let make = || Data::new(Some(s.clone()), struct_value(&s, vec![Value::Int8(1)]));
        let first = apply(t.as_ref(), sink_record(None, Some(make()))).unwrap();
        let second = apply(t.as_ref(), sink_record(None, Some(make()))).unwrap();
        // An equal schema in a new allocation hits the cache too.
        let copy = Arc::new((*s).clone());
        let third_value = Data::new(
            Some(copy.clone()),
            struct_value(&copy, vec![Value::Int8(1)]),
        );
        let third = apply(t.as_ref(), sink_record(None, Some(third_value))).unwrap();
        let schema_of =
            |r: &crate::data::SinkRecord| r.value.as_ref().unwrap().schema.clone().unwrap();
        assert!(Arc::ptr_eq(&schema_of(&first), &schema_of(&second)));
        assert!(Arc::ptr_eq(&schema_of(&first), &schema_of(&third)));
    }

    #[test]
    fn inserts_into_a_schemaless_map() {
        // Documentation example: static.field=MessageSource, static.value=Kafka Connect framework.
        let t = build_with(
            build,
            Target::Value,
            &[
                ("static.field", "MessageSource"),
                ("static.value", "Kafka Connect framework"),
                ("topic.field", "topic"),
            ],
        )
        .unwrap();
        let value = Data::schemaless(map(&[("magic", Value::Int64(42))]));
        let record = apply(t.as_ref(), source_record(None, Some(value))).unwrap();
        assert_eq!(
            record.value.unwrap().value,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic", string("test")),
                ("MessageSource", string("Kafka Connect framework")),
            ])
        );
    }

    #[test]
    fn tombstones_pass_through() {
        let t = build_with(build, Target::Value, &all_fields()).unwrap();
        assert_eq!(
            apply(t.as_ref(), sink_record(None, None)).unwrap().value,
            None
        );
        let s = struct_schema(&[("a", schema(SchemaType::Int8))]);
        let tombstone = Data::new(Some(s), Value::Null);
        let record = apply(t.as_ref(), sink_record(None, Some(tombstone.clone()))).unwrap();
        assert_eq!(record.value, Some(tombstone));
    }

    #[test]
    fn errors_match_kafka() {
        let t = build_with(build, Target::Value, &all_fields()).unwrap();
        let value = Data::schemaless(map(&[]));
        assert_eq!(
            apply_err(t.as_ref(), source_record(None, Some(value))),
            "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
        );
        let value = Data::schemaless(Value::Int32(1));
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(value))),
            "Only Map objects supported in absence of schema for [field insertion], found: java.lang.Integer"
        );
        let error = build_with(build, Target::Value, &[]).unwrap_err();
        assert!(
            error.to_string().contains("No field insertion configured"),
            "{error}"
        );
        let error = build_with(build, Target::Value, &[("static.field", "s")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.static.value");
        let t = build_with(build, Target::Value, &[("partition.field", "p!")]).unwrap();
        let s = struct_schema(&[("a", schema(SchemaType::Int8))]);
        let value = Data::new(Some(s.clone()), struct_value(&s, vec![Value::Int8(1)]));
        let mut record = source_record(None, Some(value));
        record.partition = None;
        assert_eq!(
            apply_err(t.as_ref(), record),
            "Invalid value: null used for required field: \"p\", schema type: INT32"
        );
    }
}
