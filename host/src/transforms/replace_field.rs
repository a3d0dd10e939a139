//! `ReplaceField$Key` / `ReplaceField$Value`: keeps, drops and renames top-level fields.
//! `exclude` (deprecated alias `blacklist`) drops fields, `include` (deprecated alias
//! `whitelist`) keeps only the listed ones, `renames` is a list of `old:new`. Exclusion wins
//! over inclusion. Null data passes through.

use std::collections::HashMap;

use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, key_name, struct_like, take_field,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Field, Struct, Value};

const PURPOSE: &str = "field replacement";

#[derive(Debug)]
pub(crate) struct ReplaceField {
    target: Target,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: HashMap<String, String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    // The current key wins over its deprecated alias when both are set, as in Kafka.
    let list = |keys: &[&str]| {
        props
            .string_any(keys)
            .map(|(raw, _)| super::util::split_list(raw))
            .unwrap_or_default()
    };
    let exclude = list(&["exclude", "blacklist"]);
    let include = list(&["include", "whitelist"]);
    let mut renames = HashMap::new();
    for mapping in props.list("renames") {
        match mapping.split(':').collect::<Vec<_>>().as_slice() {
            [from, to] => {
                renames.insert((*from).to_owned(), (*to).to_owned());
            }
            _ => {
                return Err(props.invalid(
                    "renames",
                    props.string("renames").unwrap_or_default(),
                    format!(
                        "Invalid rename mapping: {mapping}; write comma-separated `old:new` pairs"
                    ),
                ));
            }
        }
    }
    Ok(Box::new(ReplaceField {
        target,
        exclude,
        include,
        renames,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

impl ReplaceField {
    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|f| f == name)
            && (self.include.is_empty() || self.include.iter().any(|f| f == name))
    }

    fn renamed<'n>(&'n self, name: &'n str) -> &'n str {
        self.renames.get(name).map_or(name, String::as_str)
    }
}

impl Transformation for ReplaceField {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        if self.target.is_null(record) {
            return Ok(Applied::Keep);
        }
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        match schema {
            None => {
                check_map(value, PURPOSE, false)?;
                let (_, value) = self.target.take(record);
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                let entries = entries
                    .into_iter()
                    .filter_map(|(key, value)| {
                        let name = key_name(&key)?;
                        if !self.keep(name) {
                            return None;
                        }
                        let renamed = self.renamed(name);
                        let key = if renamed == name {
                            key
                        } else {
                            Value::String(renamed.to_owned())
                        };
                        Some((key, value))
                    })
                    .collect();
                self.target.put(record, None, Value::Map(entries));
            }
            Some(schema) => {
                check_struct(value, PURPOSE, false)?;
                let updated = self.schemas.get_or_build(&schema, |schema| {
                    let fields = schema
                        .fields
                        .iter()
                        .filter(|field| self.keep(&field.name))
                        .map(|field| Field {
                            name: self.renamed(&field.name).to_owned(),
                            schema: field.schema.clone(),
                        })
                        .collect();
                    Ok(struct_like(schema, fields))
                })?;
                let (_, value) = self.target.take(record);
                let Value::Struct(Struct { schema, mut values }) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                let values = schema
                    .fields
                    .iter()
                    .zip(values.iter_mut())
                    .filter(|(field, _)| self.keep(&field.name))
                    .map(|(field, slot)| {
                        take_field(slot, &field.schema, self.replace_null_with_default)
                    })
                    .collect();
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
        apply, apply_err, build as build_with, map, schema, sink_record, string, struct_schema,
        struct_value,
    };
    use super::*;
    use crate::data::{Data, SchemaType};

    fn example_map() -> Value {
        map(&[
            ("dont", string("whatever")),
            ("abc", Value::Int32(42)),
            ("foo", Value::Boolean(true)),
            ("etc", string("etc")),
        ])
    }

    #[test]
    fn schemaless_exclude_include_and_rename() {
        let t = build_with(
            build,
            Target::Value,
            &[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")],
        )
        .unwrap();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::schemaless(example_map()))),
        );
        assert_eq!(
            record.unwrap().value.unwrap().value,
            map(&[
                ("xyz", Value::Int32(42)),
                ("bar", Value::Boolean(true)),
                ("etc", string("etc")),
            ])
        );
        let t = build_with(
            build,
            Target::Value,
            &[("include", "abc,foo"), ("renames", "abc:xyz,foo:bar")],
        )
        .unwrap();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::schemaless(example_map()))),
        );
        assert_eq!(
            record.unwrap().value.unwrap().value,
            map(&[("xyz", Value::Int32(42)), ("bar", Value::Boolean(true))])
        );
    }

    #[test]
    fn struct_include_exclude_and_rename() {
        let t = build_with(
            build,
            Target::Value,
            &[
                ("include", "abc,foo,dont"),
                ("exclude", "dont"),
                ("renames", "abc:xyz,foo:bar"),
            ],
        )
        .unwrap();
        let s = struct_schema(&[
            ("dont", schema(SchemaType::String)),
            ("abc", schema(SchemaType::Int32)),
            ("foo", schema(SchemaType::Boolean)),
            ("etc", schema(SchemaType::String)),
        ]);
        let value = struct_value(
            &s,
            vec![
                string("whatever"),
                Value::Int32(42),
                Value::Boolean(true),
                string("etc"),
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
            updated,
            struct_schema(&[
                ("xyz", schema(SchemaType::Int32)),
                ("bar", schema(SchemaType::Boolean)),
            ])
        );
        assert_eq!(
            data.value,
            struct_value(&updated, vec![Value::Int32(42), Value::Boolean(true)])
        );
    }

    #[test]
    fn deprecated_blacklist_and_whitelist_still_work() {
        let t = build_with(build, Target::Value, &[("blacklist", "dont,etc")]).unwrap();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::schemaless(example_map()))),
        );
        assert_eq!(
            record.unwrap().value.unwrap().value,
            map(&[("abc", Value::Int32(42)), ("foo", Value::Boolean(true))])
        );
        let t = build_with(build, Target::Value, &[("whitelist", "abc")]).unwrap();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::schemaless(example_map()))),
        );
        assert_eq!(
            record.unwrap().value.unwrap().value,
            map(&[("abc", Value::Int32(42))])
        );
    }

    #[test]
    fn tombstones_pass_and_errors_match_kafka() {
        let t = build_with(build, Target::Value, &[("exclude", "a")]).unwrap();
        assert_eq!(
            apply(t.as_ref(), sink_record(None, None)).unwrap().value,
            None
        );
        assert_eq!(
            apply_err(
                t.as_ref(),
                sink_record(None, Some(Data::schemaless(string("x"))))
            ),
            "Only Map objects supported in absence of schema for [field replacement], found: java.lang.String"
        );
        let error = build_with(build, Target::Value, &[("renames", "a:b,c")]).unwrap_err();
        assert_eq!(error.key(), "transforms.t.renames");
        assert!(
            error.to_string().contains("Invalid rename mapping: c"),
            "{error}"
        );
    }
}
