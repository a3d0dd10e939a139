//! `Flatten$Key` / `Flatten$Value`: lifts nested Struct fields (with a schema) or nested Map
//! entries (schemaless) to the top level, naming them `parent<delimiter>child` (`delimiter`,
//! default `.`). Arrays, and maps with a schema, are kept as they are.

use std::sync::Arc;

use super::util::{Props, SchemaCache, Target, check_map, check_struct, java_class, struct_like};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Field, Schema, SchemaType, Struct, Value};

const PURPOSE: &str = "flattening";

#[derive(Debug)]
pub(crate) struct Flatten {
    target: Target,
    delimiter: String,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    Ok(Box::new(Flatten {
        target,
        delimiter: props.string("delimiter").unwrap_or(".").to_owned(),
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

impl Flatten {
    fn name(&self, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{}{name}", self.delimiter)
        }
    }

    fn flatten_map(
        &self,
        entries: Vec<(Value, Value)>,
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), DataException> {
        for (key, value) in entries {
            let key = match key {
                Value::String(name) => name,
                other => {
                    return Err(DataException::new(format!(
                        "Flatten transformation only supports string map keys, found: {}",
                        java_class(&other)
                    )));
                }
            };
            let name = self.name(prefix, &key);
            match value {
                Value::Map(nested) => self.flatten_map(nested, &name, out)?,
                Value::Struct(_) => {
                    return Err(DataException::new(format!(
                        "Flatten transformation does not support class \
                         org.apache.kafka.connect.data.Struct for record without schemas (for \
                         field {name})."
                    )));
                }
                other => super::util::map_put(out, &name, other),
            }
        }
        Ok(())
    }

    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        default: Option<&Value>,
        out: &mut Vec<Field>,
    ) {
        let default_struct = match default {
            Some(Value::Struct(value)) => Some(value),
            _ => None,
        };
        for (index, field) in schema.fields.iter().enumerate() {
            let name = self.name(prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let field_default = match default_struct {
                Some(parent) => parent.values.get(index).filter(|v| !v.is_null()),
                None => field.schema.default.as_ref(),
            };
            if field.schema.ty == SchemaType::Struct {
                self.flatten_schema(&field.schema, &name, field_optional, field_default, out);
            } else {
                let converted = Schema {
                    optional: field_optional,
                    default: field_default.cloned(),
                    ..(*field.schema).clone()
                };
                out.push(Field {
                    name,
                    schema: Arc::new(converted),
                });
            }
        }
    }

    fn flatten_struct(&self, value: Struct, out: &mut Vec<Value>) {
        let Struct { schema, values } = value;
        for (field, value) in schema.fields.iter().zip(values) {
            let value = if value.is_null() && self.replace_null_with_default {
                field.schema.default.clone().unwrap_or(Value::Null)
            } else {
                value
            };
            if field.schema.ty == SchemaType::Struct {
                match value {
                    Value::Struct(nested) => self.flatten_struct(nested, out),
                    _ => out.extend(std::iter::repeat_n(Value::Null, leaf_count(&field.schema))),
                }
            } else {
                out.push(value);
            }
        }
    }
}

/// How many flattened fields a struct schema turns into.
fn leaf_count(schema: &Schema) -> usize {
    schema
        .fields
        .iter()
        .map(|field| {
            if field.schema.ty == SchemaType::Struct {
                leaf_count(&field.schema)
            } else {
                1
            }
        })
        .sum()
}

impl Transformation for Flatten {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        match schema {
            None => {
                check_map(value, PURPOSE, true)?;
                if value.is_null() {
                    return Ok(Applied::Keep);
                }
                let (_, value) = self.target.take(record);
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                let mut out = Vec::with_capacity(entries.len());
                let result = self.flatten_map(entries, "", &mut out);
                // On error the record keeps what was flattened so far, like a half-built map in
                // Kafka; the chain reports the error either way.
                self.target.put(record, None, Value::Map(out));
                result?;
            }
            Some(schema) => {
                check_struct(value, PURPOSE, true)?;
                let updated = self.schemas.get_or_build(&schema, |schema| {
                    let mut fields = Vec::new();
                    self.flatten_schema(
                        schema,
                        "",
                        schema.optional,
                        schema.default.as_ref(),
                        &mut fields,
                    );
                    Ok(struct_like(schema, fields))
                })?;
                let (_, value) = self.target.take(record);
                let value = match value {
                    Value::Struct(value) => {
                        let mut values = Vec::with_capacity(updated.fields.len());
                        self.flatten_struct(value, &mut values);
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
        apply, apply_err, build as build_with, map, optional, schema, sink_record, string,
        struct_schema, struct_value,
    };
    use super::*;
    use crate::data::Data;

    #[test]
    fn flattens_nested_maps() {
        // Documentation example: {"content":{"id":42,"name":{"first":"David","middle":null,"last":"Wong"}}}
        let t = build_with(build, Target::Value, &[]).unwrap();
        let value = map(&[(
            "content",
            map(&[
                ("id", Value::Int32(42)),
                (
                    "name",
                    map(&[
                        ("first", string("David")),
                        ("middle", Value::Null),
                        ("last", string("Wong")),
                    ]),
                ),
                ("tags", Value::Array(vec![string("a")])),
            ]),
        )]);
        let record = apply(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))).unwrap();
        assert_eq!(
            record.value.unwrap().value,
            map(&[
                ("content.id", Value::Int32(42)),
                ("content.name.first", string("David")),
                ("content.name.middle", Value::Null),
                ("content.name.last", string("Wong")),
                ("content.tags", Value::Array(vec![string("a")])),
            ])
        );
    }

    #[test]
    fn flattens_nested_structs_with_a_delimiter() {
        let t = build_with(build, Target::Value, &[("delimiter", "_")]).unwrap();
        let name = struct_schema(&[
            ("first", schema(SchemaType::String)),
            ("last", schema(SchemaType::String)),
        ]);
        let optional_name = Arc::new(Schema {
            optional: true,
            ..(*name).clone()
        });
        let s = struct_schema(&[
            ("id", schema(SchemaType::Int32)),
            ("name", name.clone()),
            ("alias", optional_name),
        ]);
        let value = struct_value(
            &s,
            vec![
                Value::Int32(42),
                struct_value(&name, vec![string("David"), string("Wong")]),
                Value::Null,
            ],
        );
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(s), value))),
        )
        .unwrap();
        let data = record.value.unwrap();
        let updated = data.schema.unwrap();
        assert_eq!(
            *updated,
            *struct_schema(&[
                ("id", schema(SchemaType::Int32)),
                ("name_first", schema(SchemaType::String)),
                ("name_last", schema(SchemaType::String)),
                ("alias_first", optional(SchemaType::String)),
                ("alias_last", optional(SchemaType::String)),
            ])
        );
        assert_eq!(
            data.value,
            struct_value(
                &updated,
                vec![
                    Value::Int32(42),
                    string("David"),
                    string("Wong"),
                    Value::Null,
                    Value::Null
                ]
            )
        );
    }

    #[test]
    fn errors_match_kafka() {
        let t = build_with(build, Target::Value, &[]).unwrap();
        let value = Data::new(Some(schema(SchemaType::String)), string("x"));
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(value))),
            "Only Struct objects supported for [flattening], found: java.lang.String"
        );
        let inner = struct_schema(&[("a", schema(SchemaType::Int8))]);
        let value = map(&[("s", struct_value(&inner, vec![Value::Int8(1)]))]);
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))),
            "Flatten transformation does not support class org.apache.kafka.connect.data.Struct \
             for record without schemas (for field s)."
        );
        assert_eq!(
            apply(t.as_ref(), sink_record(None, None)).unwrap().value,
            None
        );
    }
}
