//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of its fields
//! (`field`), from a Struct (with a schema) or a Map (schemaless). With
//! `field.syntax.version=V2` the field is a dotted path into nested data (backticks quote a
//! name containing dots). Null data passes through.

use super::util::{Props, Target, check_map, check_struct, map_get, take_field};
use super::{Applied, ConnectRecord, DataException, TransformConfigError, Transformation};
use crate::data::{Schema, SchemaRef, SchemaType, Value};

const PURPOSE: &str = "field extraction";

#[derive(Debug)]
pub(crate) struct ExtractField {
    target: Target,
    /// The configured field as written, for messages.
    original: String,
    path: Vec<String>,
    replace_null_with_default: bool,
}

pub(crate) fn build(
    props: Props<'_>,
    target: Target,
) -> Result<Box<dyn Transformation>, TransformConfigError> {
    let field = props.required("field", "set it to the name of the field to extract")?;
    let path = match props.string("field.syntax.version").unwrap_or("V1") {
        v if v.eq_ignore_ascii_case("V1") => vec![field.to_owned()],
        v if v.eq_ignore_ascii_case("V2") => {
            parse_path(field).map_err(|reason| props.invalid("field", field, reason))?
        }
        other => {
            return Err(props.invalid(
                "field.syntax.version",
                other,
                "expected V1 (field names as written) or V2 (dotted paths into nested fields)",
            ));
        }
    };
    Ok(Box::new(ExtractField {
        target,
        original: field.to_owned(),
        path,
        replace_null_with_default: props.replace_null_with_default()?,
    }))
}

/// Splits a V2 path: `a.b` is two steps, `` `a.b`.c `` keeps `a.b` as one name; inside
/// backticks `\`` is a literal backtick.
pub(crate) fn parse_path(path: &str) -> Result<Vec<String>, String> {
    let mut steps = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut step = String::new();
        if chars.peek() == Some(&'`') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' if chars.peek() == Some(&'`') => {
                        chars.next();
                        step.push('`');
                    }
                    '`' if matches!(chars.peek(), None | Some('.')) => {
                        closed = true;
                        break;
                    }
                    other => step.push(other),
                }
            }
            if !closed {
                return Err(format!(
                    "incomplete backtick pair in field path `{path}`; close the quoted name \
                     with a backtick before the next `.`"
                ));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != '.') {
                step.push(c);
            }
        }
        steps.push(step);
        match chars.next() {
            Some('.') => continue,
            None => break,
            Some(_) => return Err(format!("unexpected character in field path `{path}`")),
        }
    }
    Ok(steps)
}

impl ExtractField {
    /// The schema of the field at the path (Kafka's `fieldPath.fieldFrom(schema)`).
    fn field_schema(&self, schema: &Schema) -> Result<SchemaRef, DataException> {
        let mut current = schema;
        let mut found: Option<&SchemaRef> = None;
        for step in &self.path {
            if current.ty != SchemaType::Struct {
                return Err(DataException::new(
                    "Cannot look up fields on non-struct type",
                ));
            }
            let Some((_, field)) = current.field(step) else {
                return Err(DataException::new(format!(
                    "Unknown field: {}",
                    self.original
                )));
            };
            found = Some(&field.schema);
            current = &field.schema;
        }
        found
            .cloned()
            .ok_or_else(|| DataException::new(format!("Unknown field: {}", self.original)))
    }

    /// Moves the value at the path out of a struct (null when a parent is null).
    fn struct_value(&self, mut value: Value) -> Value {
        for step in &self.path {
            let Value::Struct(mut current) = value else {
                return Value::Null;
            };
            let Some(index) = current.schema.field(step).map(|(index, _)| index) else {
                return Value::Null;
            };
            let schema = current.schema.clone();
            value = take_field(
                &mut current.values[index],
                &schema.fields[index].schema,
                self.replace_null_with_default,
            );
        }
        value
    }

    /// The value at the path of a map (null when missing or a parent is not a map).
    fn map_value(&self, value: &Value) -> Value {
        let mut current = value;
        for step in &self.path {
            let Value::Map(entries) = current else {
                return Value::Null;
            };
            match map_get(entries, step) {
                Some(next) => current = next,
                None => return Value::Null,
            }
        }
        current.clone()
    }
}

impl Transformation for ExtractField {
    fn apply(&self, record: &mut dyn ConnectRecord) -> Result<Applied, DataException> {
        match self.target.schema(record).cloned() {
            None => {
                let (_, value) = self.target.take(record);
                if let Err(error) = check_map(&value, PURPOSE, true) {
                    self.target.put(record, None, value);
                    return Err(error);
                }
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    self.map_value(&value)
                };
                self.target.put(record, None, extracted);
            }
            Some(schema) => {
                let value = self.target.get(record).map_or(&Value::Null, |d| &d.value);
                check_struct(value, PURPOSE, true)?;
                let field_schema = self.field_schema(&schema)?;
                let (_, value) = self.target.take(record);
                let extracted = self.struct_value(value);
                self.target.put(record, Some(field_schema), extracted);
            }
        }
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
    use crate::data::Data;

    #[test]
    fn extracts_a_map_entry() {
        // Documentation example: field=id turns {"id":42,"cost":4000} into 42.
        let t = build_with(build, Target::Key, &[("field", "id")]).unwrap();
        let key = Data::schemaless(map(&[
            ("id", Value::Int32(42)),
            ("cost", Value::Int32(4000)),
        ]));
        let record = apply(t.as_ref(), sink_record(Some(key), None)).unwrap();
        assert_eq!(record.key, Some(Data::schemaless(Value::Int32(42))));
        // A missing entry extracts null; null data passes through.
        let t = build_with(build, Target::Value, &[("field", "nope")]).unwrap();
        let value = Data::schemaless(map(&[("id", Value::Int32(42))]));
        assert_eq!(
            apply(t.as_ref(), sink_record(None, Some(value)))
                .unwrap()
                .value,
            None
        );
        assert_eq!(
            apply(t.as_ref(), sink_record(None, None)).unwrap().value,
            None
        );
    }

    #[test]
    fn extracts_a_struct_field_with_its_schema() {
        let t = build_with(build, Target::Value, &[("field", "magic")]).unwrap();
        let s = struct_schema(&[("magic", schema(SchemaType::Int32))]);
        let value = Data::new(Some(s.clone()), struct_value(&s, vec![Value::Int32(42)]));
        let record = apply(t.as_ref(), source_record(None, Some(value))).unwrap();
        assert_eq!(
            record.value,
            Some(Data::new(Some(schema(SchemaType::Int32)), Value::Int32(42)))
        );
    }

    #[test]
    fn null_fields_take_the_default_unless_disabled() {
        let with_default = std::sync::Arc::new(Schema {
            default: Some(Value::Int32(7)),
            ..Schema::primitive(SchemaType::Int32).optional()
        });
        let s = struct_schema(&[("f", with_default.clone())]);
        let value = || Data::new(Some(s.clone()), struct_value(&s, vec![Value::Null]));
        let t = build_with(build, Target::Value, &[("field", "f")]).unwrap();
        let record = apply(t.as_ref(), sink_record(None, Some(value()))).unwrap();
        assert_eq!(record.value.unwrap().value, Value::Int32(7));
        let t = build_with(
            build,
            Target::Value,
            &[("field", "f"), ("replace.null.with.default", "false")],
        )
        .unwrap();
        let record = apply(t.as_ref(), sink_record(None, Some(value()))).unwrap();
        assert_eq!(record.value.unwrap().value, Value::Null);
    }

    #[test]
    fn nested_paths_with_v2_syntax() {
        let inner = struct_schema(&[("a.b", schema(SchemaType::String))]);
        let outer = struct_schema(&[("inner", inner.clone())]);
        let value = struct_value(
            &outer,
            vec![struct_value(&inner, vec![Value::String("x".into())])],
        );
        let t = build_with(
            build,
            Target::Value,
            &[("field", "inner.`a.b`"), ("field.syntax.version", "V2")],
        )
        .unwrap();
        let record = apply(
            t.as_ref(),
            sink_record(None, Some(Data::new(Some(outer), value))),
        )
        .unwrap();
        assert_eq!(record.value.unwrap().value, Value::String("x".into()));

        let t = build_with(
            build,
            Target::Value,
            &[("field", "a.b"), ("field.syntax.version", "v2")],
        )
        .unwrap();
        let value = map(&[("a", map(&[("b", Value::Int8(1))]))]);
        let record = apply(t.as_ref(), sink_record(None, Some(Data::schemaless(value)))).unwrap();
        assert_eq!(record.value.unwrap().value, Value::Int8(1));
        assert_eq!(parse_path("`a\\`b`.c").unwrap(), vec!["a`b", "c"]);
        assert!(parse_path("`a.b").is_err());
    }

    #[test]
    fn errors_match_kafka() {
        let t = build_with(build, Target::Value, &[("field", "f")]).unwrap();
        let value = Data::new(Some(schema(SchemaType::String)), Value::String("x".into()));
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(value))),
            "Only Struct objects supported for [field extraction], found: java.lang.String"
        );
        let s = struct_schema(&[("g", optional(SchemaType::Int32))]);
        let value = Data::new(Some(s.clone()), struct_value(&s, vec![Value::Null]));
        assert_eq!(
            apply_err(t.as_ref(), sink_record(None, Some(value))),
            "Unknown field: f"
        );
        let value = Data::schemaless(Value::Int64(1));
        let mut record = sink_record(None, Some(value.clone()));
        assert!(t.apply(&mut record).is_err());
        assert_eq!(
            record.value,
            Some(value),
            "a failed transform leaves the record alone"
        );
        let error = build_with(
            build,
            Target::Value,
            &[("field", "f"), ("field.syntax.version", "V3")],
        )
        .unwrap_err();
        assert_eq!(error.key(), "transforms.t.field.syntax.version");
    }
}
