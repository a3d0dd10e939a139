//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the schema name (`schema.name`)
//! and/or version (`schema.version`) of the key or value; a schema is required.

use std::sync::Arc;

use super::util::{Props, SchemaCache, Target, schema_required};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Schema, Struct, Value};

#[derive(Debug)]
pub(crate) struct SetSchemaMetadata {
    target: Target,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let name = props.string("schema.name").map(str::to_owned);
    let version = match props.string("schema.version") {
        None => None,
        Some(raw) => Some(raw.parse::<i32>().map_err(|_| {
            props.invalid(
                "schema.version",
                raw,
                "expected a 32-bit integer schema version",
            )
        })?),
    };
    if name.is_none() && version.is_none() {
        return Err(props.missing(
            "schema.name",
            "Neither schema name nor version configured; set `schema.name`, `schema.version` \
             or both",
        ));
    }
    Ok(Box::new(SetSchemaMetadata {
        target,
        name,
        version,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

impl Transformation for SetSchemaMetadata {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let Some(schema) = self.target.schema(record).cloned() else {
            return Err(schema_required("updating schema metadata"));
        };
        let updated = self.schemas.get_or_build(&schema, |schema| {
            Ok(Schema {
                name: self.name.clone().or_else(|| schema.name.clone()),
                version: self.version.or(schema.version),
                ..schema.clone()
            })
        })?;
        let (_, value) = self.target.take(record);
        let value = match value {
            Value::Struct(Struct { schema, mut values }) => {
                if self.replace_null_with_default {
                    for (value, field) in values.iter_mut().zip(&schema.fields) {
                        if value.is_null()
                            && let Some(default) = &field.schema.default
                        {
                            *value = default.clone();
                        }
                    }
                }
                Value::Struct(Struct {
                    schema: Arc::clone(&updated),
                    values,
                })
            }
            other => other,
        };
        self.target.put(record, Some(updated), value);
        Ok(Applied::Keep)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{
        apply, apply_err, build as build_with, schema, sink_record, struct_schema, struct_value,
    };
    use super::*;
    use crate::data::{Data, SchemaType};

    #[test]
    fn sets_name_and_version_on_a_struct_and_its_schema() {
        // Documentation example: schema.name=order-value, schema.version=2.
        let t = build_with(
            build,
            Target::Value,
            &[("schema.name", "order-value"), ("schema.version", "2")],
        )
        .unwrap();
        let s = struct_schema(&[("id", schema(SchemaType::Int32))]);
        let value = Data::new(Some(s.clone()), struct_value(&s, vec![Value::Int32(1)]));
        let record = apply(t.as_ref(), sink_record(None, Some(value))).unwrap();
        let data = record.value.unwrap();
        let updated = data.schema.unwrap();
        assert_eq!(updated.name.as_deref(), Some("order-value"));
        assert_eq!(updated.version, Some(2));
        assert_eq!(updated.fields, s.fields);
        let Value::Struct(value) = data.value else {
            panic!("not a struct")
        };
        assert!(Arc::ptr_eq(&value.schema, &updated));
    }

    #[test]
    fn keeps_the_other_attribute_and_works_on_primitives() {
        let t = build_with(build, Target::Key, &[("schema.version", "3")]).unwrap();
        let key_schema = Arc::new(Schema::primitive(SchemaType::String).named("k"));
        let key = Data::new(Some(key_schema), Value::String("x".into()));
        let record = apply(t.as_ref(), sink_record(Some(key), None)).unwrap();
        let key = record.key.unwrap();
        assert_eq!(key.schema.as_ref().unwrap().name.as_deref(), Some("k"));
        assert_eq!(key.schema.as_ref().unwrap().version, Some(3));
        assert_eq!(key.value, Value::String("x".into()));
    }

    #[test]
    fn needs_a_schema_and_a_setting() {
        let t = build_with(build, Target::Value, &[("schema.name", "n")]).unwrap();
        let record = sink_record(None, Some(Data::schemaless(Value::Int8(1))));
        assert_eq!(
            apply_err(t.as_ref(), record),
            "Schema required for [updating schema metadata]"
        );
        let error = build_with(build, Target::Value, &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("Neither schema name nor version"),
            "{error}"
        );
        let error = build_with(build, Target::Value, &[("schema.version", "two")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.schema.version");
    }
}
