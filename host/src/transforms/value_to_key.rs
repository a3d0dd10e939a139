//! `ValueToKey`: replaces the key with a Struct (or Map, schemaless) of the value fields listed
//! in `fields`.

use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, field_value, map_get, map_put,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Data, Field, Schema, Struct, Value};

const PURPOSE: &str = "copying fields from value to key";

#[derive(Debug)]
pub(crate) struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    _target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let fields = props.required_list("fields", "list the value fields that form the key")?;
    Ok(Box::new(ValueToKey {
        fields,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

impl Transformation for ValueToKey {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let null = Value::Null;
        let (schema, value) = match record.value() {
            Some(data) => (data.schema.as_ref(), &data.value),
            None => (None, &null),
        };
        let key = match schema {
            None => {
                check_map(value, PURPOSE, false)?;
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                let mut key = Vec::with_capacity(self.fields.len());
                for field in &self.fields {
                    let field_value = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    map_put(&mut key, field, field_value);
                }
                Data::schemaless(Value::Map(key))
            }
            Some(schema) => {
                check_struct(value, PURPOSE, false)?;
                let Value::Struct(value) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                let key_schema = self.schemas.get_or_build(schema, |schema| {
                    let mut fields = Vec::with_capacity(self.fields.len());
                    for name in &self.fields {
                        let Some((_, field)) = schema.field(name) else {
                            return Err(DataException::new(format!(
                                "Field does not exist: {name}"
                            )));
                        };
                        fields.push(Field {
                            name: name.clone(),
                            schema: field.schema.clone(),
                        });
                    }
                    Ok(Schema::structure(fields))
                })?;
                let values = self
                    .fields
                    .iter()
                    .map(|name| match value.schema.field(name) {
                        Some((index, field)) => field_value(
                            &value.values[index],
                            &field.schema,
                            self.replace_null_with_default,
                        ),
                        None => Value::Null,
                    })
                    .collect();
                Data::new(
                    Some(key_schema.clone()),
                    Value::Struct(Struct {
                        schema: key_schema,
                        values,
                    }),
                )
            }
        };
        *record.key_mut() = Some(key);
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{
        apply, apply_err, build as build_with, map, optional, schema, sink_record, source_record,
        struct_schema, struct_value,
    };
    use super::*;
    use crate::data::SchemaType;
    use std::sync::Arc;

    #[test]
    fn copies_schemaless_fields_into_the_key() {
        // Documentation example: fields=userId,city.
        let t = build_with(build, Target::Value, &[("fields", "userId,city")]).unwrap();
        let value = map(&[
            ("userId", Value::Int32(7)),
            ("city", Value::String("Paris".into())),
            ("other", Value::Boolean(true)),
        ]);
        let record = apply(
            t.as_ref(),
            source_record(None, Some(Data::schemaless(value))),
        )
        .unwrap();
        let key = record.key.unwrap();
        assert!(key.schema.is_none());
        assert_eq!(
            key.value,
            map(&[
                ("userId", Value::Int32(7)),
                ("city", Value::String("Paris".into()))
            ])
        );
    }

    #[test]
    fn builds_a_key_struct_with_a_cached_schema() {
        let t = build_with(build, Target::Value, &[("fields", "a,b")]).unwrap();
        let value_schema = struct_schema(&[
            ("a", schema(SchemaType::Int32)),
            ("b", schema(SchemaType::Int32)),
            ("c", schema(SchemaType::Int32)),
        ]);
        let value = struct_value(
            &value_schema,
            vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)],
        );
        let data = Data::new(Some(value_schema.clone()), value);
        let first = apply(t.as_ref(), sink_record(None, Some(data.clone()))).unwrap();
        let second = apply(t.as_ref(), sink_record(None, Some(data))).unwrap();
        let key = first.key.unwrap();
        let key_schema = key.schema.clone().unwrap();
        assert_eq!(
            key_schema,
            struct_schema(&[
                ("a", schema(SchemaType::Int32)),
                ("b", schema(SchemaType::Int32))
            ])
        );
        assert!(Arc::ptr_eq(
            &key_schema,
            second.key.unwrap().schema.as_ref().unwrap()
        ));
        assert_eq!(
            key.value,
            struct_value(&key_schema, vec![Value::Int32(1), Value::Int32(2)])
        );
    }

    #[test]
    fn missing_fields_and_wrong_types_are_errors() {
        let t = build_with(build, Target::Value, &[("fields", "nope")]).unwrap();
        let value_schema = struct_schema(&[("a", optional(SchemaType::Int32))]);
        let data = Data::new(
            Some(value_schema.clone()),
            struct_value(&value_schema, vec![Value::Null]),
        );
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(data))),
            "Field does not exist: nope"
        );
        let data = Data::new(Some(schema(SchemaType::String)), Value::String("x".into()));
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(data))),
            "Only Struct objects supported for [copying fields from value to key], found: java.lang.String"
        );
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, None)),
            "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
        );
        assert!(build_with(build, Target::Value, &[("fields", "")]).is_err());
    }
}
