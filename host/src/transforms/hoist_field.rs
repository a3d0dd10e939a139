//! `HoistField$Key` / `HoistField$Value`: wraps the whole key or value in a single-field Struct
//! (with a schema) or Map (schemaless) under `field`.

use super::util::{Props, SchemaCache, Target, struct_like};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Field, Schema, Struct, Value};

#[derive(Debug)]
pub(crate) struct HoistField {
    target: Target,
    field: String,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let field = props.required(
        "field",
        "set it to the name of the field to wrap the data in",
    )?;
    Ok(Box::new(HoistField {
        target,
        field: field.to_owned(),
        schemas: SchemaCache::default(),
    }))
}

impl Transformation for HoistField {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let (schema, value) = self.target.take(record);
        match schema {
            None => {
                let map = Value::Map(vec![(Value::String(self.field.clone()), value)]);
                self.target.put(record, None, map);
            }
            Some(schema) => {
                let updated = self.schemas.get_or_build(&schema, |inner| {
                    Ok(struct_like(
                        &Schema::structure(Vec::new()),
                        vec![Field {
                            name: self.field.clone(),
                            schema: std::sync::Arc::new(inner.clone()),
                        }],
                    ))
                })?;
                let hoisted = Value::Struct(Struct {
                    schema: updated.clone(),
                    values: vec![value],
                });
                self.target.put(record, Some(updated), hoisted);
            }
        }
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{apply, build as build_with, map, schema, sink_record};
    use super::*;
    use crate::data::{Data, SchemaType};

    #[test]
    fn wraps_schemaless_data_in_a_map() {
        // Documentation example: field=line turns "hello" into {"line":"hello"}.
        let t = build_with(build, Target::Value, &[("field", "line")]).unwrap();
        let record = sink_record(None, Some(Data::schemaless(Value::String("hello".into()))));
        let record = apply(t.as_ref(), record).unwrap();
        assert_eq!(
            record.value.unwrap().value,
            map(&[("line", Value::String("hello".into()))])
        );
    }

    #[test]
    fn wraps_data_with_a_schema_in_a_struct() {
        let t = build_with(build, Target::Key, &[("field", "magic")]).unwrap();
        let key = Data::new(Some(schema(SchemaType::Int32)), Value::Int32(42));
        let record = apply(t.as_ref(), sink_record(Some(key), None)).unwrap();
        let key = record.key.unwrap();
        let key_schema = key.schema.unwrap();
        assert_eq!(key_schema.ty, SchemaType::Struct);
        assert_eq!(key_schema.fields[0].name, "magic");
        assert_eq!(key_schema.fields[0].schema.ty, SchemaType::Int32);
        let Value::Struct(hoisted) = key.value else {
            panic!("not a struct")
        };
        assert_eq!(hoisted.get("magic"), Some(&Value::Int32(42)));
    }

    #[test]
    fn field_is_required() {
        let error = build_with(build, Target::Value, &[]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.field");
    }
}
