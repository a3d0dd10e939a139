//! `HeaderFrom$Key` / `HeaderFrom$Value`: copies (`operation=copy`) or moves
//! (`operation=move`) the key or value fields listed in `fields` into headers named by the
//! matching entry of `headers`, with the fields' schemas.

use super::util::{
    Props, SchemaCache, Target, check_map, check_struct, field_value, key_name, map_get,
    struct_like,
};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Data, Header, Struct, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Move,
    Copy,
}

#[derive(Debug)]
pub(crate) struct HeaderFrom {
    target: Target,
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    purpose: &'static str,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let fields = props.required_list("fields", "list the fields to turn into headers")?;
    let headers = props.required_list("headers", "list one header name per field in `fields`")?;
    if fields.len() != headers.len() {
        return Err(props.invalid(
            "headers",
            props.string("headers").unwrap_or_default(),
            format!(
                "'fields' config must have the same number of elements as 'headers' config \
                 ({} fields, {} headers)",
                fields.len(),
                headers.len()
            ),
        ));
    }
    let hint = "expected move or copy";
    let (operation, purpose) = match props.required("operation", hint)? {
        "move" => (Operation::Move, "header move"),
        "copy" => (Operation::Copy, "header copy"),
        other => return Err(props.invalid("operation", other, hint)),
    };
    Ok(Box::new(HeaderFrom {
        target,
        fields,
        headers,
        operation,
        purpose,
        replace_null_with_default: props.replace_null_with_default()?,
        schemas: SchemaCache::default(),
    }))
}

impl Transformation for HeaderFrom {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        let schema = self.target.schema(record).cloned();
        let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
        let mut new_headers = Vec::with_capacity(self.fields.len());
        match schema {
            None => {
                check_map(value, self.purpose, false)?;
                let Value::Map(entries) = value else {
                    return Err(DataException::new("unreachable: checked map"));
                };
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let value = map_get(entries, field).cloned().unwrap_or(Value::Null);
                    new_headers.push(Header {
                        key: header.clone(),
                        value: Data::schemaless(value),
                    });
                }
                if self.operation == Operation::Move {
                    let (_, value) = self.target.take(record);
                    let Value::Map(mut entries) = value else {
                        return Err(DataException::new("unreachable: checked map"));
                    };
                    entries.retain(|(key, _)| {
                        key_name(key).is_none_or(|name| !self.fields.iter().any(|f| f == name))
                    });
                    self.target.put(record, None, Value::Map(entries));
                }
            }
            Some(schema) => {
                check_struct(value, self.purpose, false)?;
                let Value::Struct(current) = value else {
                    return Err(DataException::new("unreachable: checked struct"));
                };
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let Some((index, field)) = current.schema.field(field) else {
                        return Err(DataException::new(format!("Field does not exist: {field}")));
                    };
                    let value = field_value(
                        &current.values[index],
                        &field.schema,
                        self.replace_null_with_default,
                    );
                    new_headers.push(Header {
                        key: header.clone(),
                        value: Data::new(Some(field.schema.clone()), value),
                    });
                }
                if self.operation == Operation::Move {
                    let updated = self.schemas.get_or_build(&schema, |schema| {
                        let fields = schema
                            .fields
                            .iter()
                            .filter(|field| !self.fields.contains(&field.name))
                            .cloned()
                            .collect();
                        Ok(struct_like(schema, fields))
                    })?;
                    let (_, value) = self.target.take(record);
                    let Value::Struct(Struct { schema, values }) = value else {
                        return Err(DataException::new("unreachable: checked struct"));
                    };
                    let values = schema
                        .fields
                        .iter()
                        .zip(values)
                        .filter(|(field, _)| !self.fields.contains(&field.name))
                        .map(|(field, value)| {
                            if value.is_null() {
                                field.schema.default.clone().unwrap_or(Value::Null)
                            } else {
                                value
                            }
                        })
                        .collect();
                    let value = Value::Struct(Struct {
                        schema: updated.clone(),
                        values,
                    });
                    self.target.put(record, Some(updated), value);
                }
            }
        }
        record.headers_mut().extend(new_headers);
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
    use crate::data::SchemaType;

    fn settings(operation: &'static str) -> Vec<(&'static str, &'static str)> {
        // Documentation example: fields=id,ts headers=record_id,event_timestamp.
        vec![
            ("fields", "id,ts"),
            ("headers", "record_id,event_timestamp"),
            ("operation", operation),
        ]
    }

    #[test]
    fn copies_struct_fields_into_headers_with_their_schemas() {
        let t = build_with(build, Target::Value, &settings("copy")).unwrap();
        let s = struct_schema(&[
            ("id", schema(SchemaType::String)),
            ("ts", schema(SchemaType::Int64)),
            ("other", schema(SchemaType::Boolean)),
        ]);
        let value = struct_value(
            &s,
            vec![string("r1"), Value::Int64(5), Value::Boolean(true)],
        );
        let data = Data::new(Some(s.clone()), value);
        let record = apply(t.as_ref(), sink_record(None, Some(data.clone()))).unwrap();
        assert_eq!(record.value, Some(data.clone()));
        assert_eq!(
            record.headers,
            vec![
                Header {
                    key: "record_id".into(),
                    value: Data::new(Some(schema(SchemaType::String)), string("r1")),
                },
                Header {
                    key: "event_timestamp".into(),
                    value: Data::new(Some(schema(SchemaType::Int64)), Value::Int64(5)),
                },
            ]
        );

        let t = build_with(build, Target::Value, &settings("move")).unwrap();
        let record = apply(t.as_ref(), sink_record(None, Some(data))).unwrap();
        let moved = record.value.unwrap();
        let moved_schema = moved.schema.unwrap();
        assert_eq!(
            moved_schema,
            struct_schema(&[("other", schema(SchemaType::Boolean))])
        );
        assert_eq!(
            moved.value,
            struct_value(&moved_schema, vec![Value::Boolean(true)])
        );
        assert_eq!(record.headers.len(), 2);
    }

    #[test]
    fn moves_map_entries_into_schemaless_headers() {
        let t = build_with(build, Target::Key, &settings("move")).unwrap();
        let key = Data::schemaless(map(&[("id", string("r1")), ("x", Value::Int8(1))]));
        let record = apply(t.as_ref(), sink_record(Some(key), None)).unwrap();
        assert_eq!(record.key.unwrap().value, map(&[("x", Value::Int8(1))]));
        assert_eq!(record.headers[0].value, Data::schemaless(string("r1")));
        assert_eq!(record.headers[1].value, Data::schemaless(Value::Null));
    }

    #[test]
    fn errors_match_kafka() {
        let t = build_with(build, Target::Value, &settings("copy")).unwrap();
        assert_eq!(
            apply_err(
                t.as_ref(),
                sink_record(None, Some(Data::schemaless(string("x"))))
            ),
            "Only Map objects supported in absence of schema for [header copy], found: java.lang.String"
        );
        let error = build_with(
            build,
            Target::Value,
            &[("fields", "a,b"), ("headers", "h"), ("operation", "copy")],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("same number of elements"),
            "{error}"
        );
        let error = build_with(
            build,
            Target::Value,
            &[("fields", "a"), ("headers", "h"), ("operation", "steal")],
        )
        .unwrap_err();
        assert_eq!(error.key(), "transforms.t.operation");
    }
}
