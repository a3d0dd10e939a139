//! The "every type" record shared by `test-source` (which emits it) and `test-sink` (which
//! checks it, including this file with `#[path]`): a struct value with one field of every Connect
//! type, a schemaless map key and an int32 header, plus [`first_mismatch`] to name the first
//! difference between what was expected and what arrived.

use std::sync::Arc;

use wasm_connect_sdk::data::logical;
use wasm_connect_sdk::{Data, Header, Schema, SchemaBuilder, Struct, Value};

/// The name of the value schema.
pub const SCHEMA_NAME: &str = "wasm_connect.test.EveryType";

fn nested_schema() -> Arc<Schema> {
    SchemaBuilder::struct_()
        .name("wasm_connect.test.Nested")
        .field("label", SchemaBuilder::string().build())
        .field("weight", SchemaBuilder::int64().build())
        .build()
}

fn element_schema() -> Arc<Schema> {
    SchemaBuilder::struct_()
        .name("wasm_connect.test.Element")
        .field("x", SchemaBuilder::int32().build())
        .build()
}

/// The value schema: every type, with name, version, doc and parameters.
pub fn schema() -> Arc<Schema> {
    SchemaBuilder::struct_()
        .name(SCHEMA_NAME)
        .version(3)
        .doc("One field of every Connect type")
        .parameter("origin", "test-source")
        .parameter("purpose", "round-trip")
        .field("int8", SchemaBuilder::int8().build())
        .field("int16", SchemaBuilder::int16().build())
        .field("int32", SchemaBuilder::int32().build())
        .field("int64", SchemaBuilder::int64().build())
        .field("float32", SchemaBuilder::float32().build())
        .field("float64", SchemaBuilder::float64().build())
        .field("boolean", SchemaBuilder::boolean().build())
        .field("string", SchemaBuilder::string().build())
        .field("bytes", SchemaBuilder::bytes().build())
        .field(
            "optional_string",
            SchemaBuilder::string().optional().build(),
        )
        .field(
            "with_default",
            SchemaBuilder::int32().default_value(7).build(),
        )
        .field("decimal", SchemaBuilder::decimal(2).build())
        .field("date", SchemaBuilder::date().build())
        .field("time", SchemaBuilder::time().build())
        .field("timestamp", SchemaBuilder::timestamp().build())
        .field(
            "string_array",
            SchemaBuilder::array(SchemaBuilder::string().build()).build(),
        )
        .field(
            "string_to_int32",
            SchemaBuilder::map(
                SchemaBuilder::string().build(),
                SchemaBuilder::int32().build(),
            )
            .build(),
        )
        .field(
            "int32_to_string",
            SchemaBuilder::map(
                SchemaBuilder::int32().build(),
                SchemaBuilder::string().build(),
            )
            .build(),
        )
        .field("nested", nested_schema())
        .field(
            "struct_array",
            SchemaBuilder::array(element_schema()).build(),
        )
        .build()
}

fn element(x: i32) -> Value {
    Value::Struct(
        Struct::new(element_schema())
            .and_then(|s| s.with("x", x))
            .expect("valid element"),
    )
}

/// The value: the struct test-source emits and test-sink expects.
pub fn value() -> Data {
    let nested = Struct::new(nested_schema())
        .and_then(|s| s.with("label", "inner"))
        .and_then(|s| s.with("weight", 1_234_567_890_123_i64))
        .expect("valid nested struct");
    let row = Struct::new(schema())
        .and_then(|s| s.with("int8", -8_i8))
        .and_then(|s| s.with("int16", -1600_i16))
        .and_then(|s| s.with("int32", 32_000_i32))
        .and_then(|s| s.with("int64", -64_000_000_000_i64))
        .and_then(|s| s.with("float32", 1.5_f32))
        .and_then(|s| s.with("float64", -12_345.678_9_f64))
        .and_then(|s| s.with("boolean", true))
        .and_then(|s| s.with("string", "héllo wörld"))
        .and_then(|s| s.with("bytes", vec![0_u8, 1, 2, 254, 255]))
        .and_then(|s| s.with("optional_string", Value::Null))
        .and_then(|s| s.with("with_default", 42))
        .and_then(|s| s.with("decimal", logical::decimal_to_bytes(12_345)))
        .and_then(|s| s.with("date", 19_000))
        .and_then(|s| s.with("time", 45_296_789))
        .and_then(|s| s.with("timestamp", 1_700_000_000_123_i64))
        .and_then(|s| {
            s.with(
                "string_array",
                Value::Array(vec!["a".into(), "b".into(), "c".into()]),
            )
        })
        .and_then(|s| {
            s.with(
                "string_to_int32",
                Value::Map(vec![
                    ("one".into(), Value::Int32(1)),
                    ("two".into(), Value::Int32(2)),
                ]),
            )
        })
        .and_then(|s| {
            s.with(
                "int32_to_string",
                Value::Map(vec![
                    (Value::Int32(1), "one".into()),
                    (Value::Int32(2), "two".into()),
                ]),
            )
        })
        .and_then(|s| s.with("nested", nested))
        .and_then(|s| s.with("struct_array", Value::Array(vec![element(1), element(2)])))
        .expect("valid every-type struct");
    Data::from_struct(row)
}

/// The key: a schemaless map `{"k": "v"}`.
pub fn key() -> Data {
    Data::schemaless(Value::Map(vec![("k".into(), "v".into())]))
}

/// The header `h`: an int32.
pub fn header() -> Header {
    Header::new("h", Data::new(SchemaBuilder::int32().build(), 7))
}

/// The first difference between `expected` and `actual`, as `path: expected …, got …`.
pub fn first_mismatch(expected: &Data, actual: &Data) -> Option<String> {
    match (&expected.schema, &actual.schema) {
        (Some(e), Some(a)) => {
            if let Some(m) = schema_mismatch("schema", e, a) {
                return Some(m);
            }
        }
        (None, None) => {}
        (e, a) => {
            return Some(format!(
                "schema: expected {}, got {}",
                presence(e.is_some()),
                presence(a.is_some())
            ));
        }
    }
    value_mismatch("value", &expected.value, &actual.value)
}

fn presence(present: bool) -> &'static str {
    if present { "a schema" } else { "no schema" }
}

fn schema_mismatch(path: &str, e: &Schema, a: &Schema) -> Option<String> {
    macro_rules! same {
        ($field:ident) => {
            if e.$field != a.$field {
                return Some(format!(
                    "{path}.{}: expected {:?}, got {:?}",
                    stringify!($field),
                    e.$field,
                    a.$field
                ));
            }
        };
    }
    same!(schema_type);
    same!(optional);
    same!(name);
    same!(version);
    same!(doc);
    same!(parameters);
    same!(default_value);
    if e.fields.len() != a.fields.len() {
        return Some(format!(
            "{path}.fields: expected {} fields, got {}",
            e.fields.len(),
            a.fields.len()
        ));
    }
    for (ef, af) in e.fields.iter().zip(&a.fields) {
        if ef.name != af.name {
            return Some(format!(
                "{path}.fields: expected field `{}`, got `{}`",
                ef.name, af.name
            ));
        }
        if let Some(m) = schema_mismatch(&format!("{path}.{}", ef.name), &ef.schema, &af.schema) {
            return Some(m);
        }
    }
    for (label, es, as_) in [
        ("key_schema", &e.key_schema, &a.key_schema),
        ("value_schema", &e.value_schema, &a.value_schema),
    ] {
        match (es, as_) {
            (Some(es), Some(as_)) => {
                if let Some(m) = schema_mismatch(&format!("{path}.{label}"), es, as_) {
                    return Some(m);
                }
            }
            (None, None) => {}
            _ => return Some(format!("{path}.{label}: expected {es:?}, got {as_:?}")),
        }
    }
    None
}

fn value_mismatch(path: &str, e: &Value, a: &Value) -> Option<String> {
    match (e, a) {
        (Value::Struct(es), Value::Struct(as_)) => {
            for (field, ev) in es.schema().fields.iter().zip(es.values()) {
                let field_path = format!("{path}.{}", field.name);
                let Some(i) = as_.schema().field_index(&field.name) else {
                    return Some(format!("{field_path}: missing"));
                };
                if let Some(m) = value_mismatch(&field_path, ev, &as_.values()[i]) {
                    return Some(m);
                }
            }
            None
        }
        (Value::Array(ei), Value::Array(ai)) if ei.len() == ai.len() => ei
            .iter()
            .zip(ai)
            .enumerate()
            .find_map(|(i, (ev, av))| value_mismatch(&format!("{path}[{i}]"), ev, av)),
        // Map entries may arrive in another order (a converter may go through a hash map).
        (Value::Map(ee), Value::Map(ae)) if ee.len() == ae.len() => {
            ee.iter()
                .find_map(|(ek, ev)| match ae.iter().find(|(ak, _)| ak == ek) {
                    Some((_, av)) => value_mismatch(&format!("{path}[{ek}]"), ev, av),
                    None => Some(format!("{path}: missing key {ek:?}")),
                })
        }
        _ if e == a => None,
        _ => Some(format!("{path}: expected {e:?}, got {a:?}")),
    }
}
