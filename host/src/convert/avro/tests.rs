//! Tests of the Avro converter against a mock Schema Registry: a real HTTP server on
//! 127.0.0.1 with its own thread, speaking just enough HTTP/1.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value as Json, json};

use super::*;
use crate::data::{Field, Schema, SchemaType, Struct, Value};

/// One request the mock registry received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
}

#[derive(Default)]
struct RegistryState {
    /// Schema texts; the id is the index + 1.
    schemas: Vec<String>,
    /// (subject, schema id) in registration order.
    versions: Vec<(String, u32)>,
    requests: Vec<Request>,
}

/// A mock Schema Registry serving until the test process ends.
struct MockRegistry {
    url: String,
    state: Arc<Mutex<RegistryState>>,
}

impl MockRegistry {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(RegistryState::default()));
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let state = shared.clone();
                thread::spawn(move || serve(stream, &state));
            }
        });
        Self { url, state }
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    fn schema(&self, id: u32) -> String {
        self.state.lock().unwrap().schemas[id as usize - 1].clone()
    }

    /// Registers a schema directly, as another producer would.
    fn put(&self, subject: &str, schema: &str) -> u32 {
        let mut state = self.state.lock().unwrap();
        register(&mut state, subject, schema)
    }
}

fn register(state: &mut RegistryState, subject: &str, schema: &str) -> u32 {
    let id = match state.schemas.iter().position(|s| s == schema) {
        Some(index) => index as u32 + 1,
        None => {
            state.schemas.push(schema.to_string());
            state.schemas.len() as u32
        }
    };
    if !state.versions.contains(&(subject.to_string(), id)) {
        state.versions.push((subject.to_string(), id));
    }
    id
}

fn serve(stream: TcpStream, state: &Mutex<RegistryState>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0;
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "authorization" => authorization = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let body: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
    let (status, answer) = {
        let mut state = state.lock().unwrap();
        state.requests.push(Request {
            method: method.clone(),
            path: path.clone(),
            authorization,
        });
        route(&mut state, &method, &path, &body)
    };
    let text = answer.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn route(state: &mut RegistryState, method: &str, path: &str, body: &Json) -> (u16, Json) {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(super::registry::percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let not_found =
        |code: i64, message: &str| (404, json!({"error_code": code, "message": message}));
    match (method, segments.as_slice()) {
        ("POST", ["subjects", subject, "versions"]) => match body["schema"].as_str() {
            Some(schema) => (200, json!({"id": register(state, subject, schema)})),
            None => (
                422,
                json!({"error_code": 42201, "message": "Invalid schema"}),
            ),
        },
        ("POST", ["subjects", subject]) => {
            let schema = body["schema"].as_str().unwrap_or_default();
            let found = state
                .versions
                .iter()
                .enumerate()
                .find(|(_, (s, id))| s == subject && state.schemas[*id as usize - 1] == schema);
            match found {
                Some((version, (_, id))) => (
                    200,
                    json!({"subject": subject, "version": version + 1, "id": id, "schema": schema}),
                ),
                None => not_found(40403, "Schema not found"),
            }
        }
        ("GET", ["subjects", subject, "versions", "latest"]) => {
            match state.versions.iter().rev().find(|(s, _)| s == subject) {
                Some((_, id)) => (
                    200,
                    json!({"subject": subject, "version": 1, "id": id,
                           "schema": state.schemas[*id as usize - 1]}),
                ),
                None => not_found(40401, "Subject not found"),
            }
        }
        ("GET", ["schemas", "ids", id]) => {
            match id
                .parse::<usize>()
                .ok()
                .and_then(|i| state.schemas.get(i.wrapping_sub(1)))
            {
                Some(schema) => (200, json!({"schema": schema})),
                None => not_found(40403, &format!("Schema {id} not found")),
            }
        }
        _ => not_found(404, "no such route"),
    }
}

fn settings(registry: &str, pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    settings.insert("schema.registry.url".into(), registry.to_string());
    settings
}

fn converter(registry: &MockRegistry) -> AvroConverter {
    AvroConverter::from_settings(&settings(&registry.url, &[]), false).unwrap()
}

/// A URL on which nothing listens.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn arc(schema: Schema) -> SchemaRef {
    Arc::new(schema)
}

fn prim(ty: SchemaType) -> SchemaRef {
    arc(Schema::primitive(ty))
}

fn field(name: &str, schema: SchemaRef) -> Field {
    Field {
        name: name.into(),
        schema,
    }
}

fn with_default(mut schema: Schema, default: Value) -> Schema {
    schema.default = Some(default);
    schema
}

/// Writes and reads back `data`, checking the wire header; returns what was read.
fn round_trip(converter: &AvroConverter, data: &Data) -> Data {
    let bytes = converter
        .from_connect("orders", Some(data))
        .unwrap()
        .unwrap();
    assert_eq!(bytes[0], 0, "magic byte");
    converter
        .to_connect("orders", Some(&bytes))
        .unwrap()
        .unwrap()
}

fn assert_round_trip(converter: &AvroConverter, data: Data) {
    assert_eq!(round_trip(converter, &data), data);
}

fn error_text(err: &ConvertError) -> String {
    crate::error_chain(err)
}

/// The sample struct of the schema-text test, with every kind of field.
fn order_schema() -> SchemaRef {
    let address =
        arc(Schema::structure(vec![field("street", prim(SchemaType::String))]).optional());
    let mut schema = Schema::structure(vec![
        field("id", prim(SchemaType::Int64)),
        field("qty", prim(SchemaType::Int16)),
        field("tiny", arc(Schema::primitive(SchemaType::Int8).optional())),
        field("price", arc(Schema::decimal(2))),
        field("day", arc(Schema::date())),
        field("at", arc(Schema::timestamp())),
        field(
            "note",
            arc(Schema::primitive(SchemaType::String).optional()),
        ),
        field("tags", arc(Schema::array(prim(SchemaType::String)))),
        field(
            "attrs",
            arc(Schema::map(
                prim(SchemaType::String),
                prim(SchemaType::Int32),
            )),
        ),
        field(
            "counts",
            arc(Schema::map(
                prim(SchemaType::Int32),
                prim(SchemaType::String),
            )),
        ),
        field(
            "status",
            arc(with_default(
                Schema::primitive(SchemaType::String),
                Value::String("new".into()),
            )),
        ),
        field("addr", address),
    ])
    .named("com.example.Order");
    schema.version = Some(2);
    schema.doc = Some("An order".into());
    arc(schema)
}

fn order_value(schema: &SchemaRef) -> Value {
    let mut order = Struct::new(schema.clone());
    order.put("id", Value::Int64(42));
    order.put("qty", Value::Int16(-3));
    order.put("tiny", Value::Int8(7));
    order.put("price", Value::Bytes(vec![0x30, 0x39])); // 123.45
    order.put("day", Value::Int32(19_000));
    order.put("at", Value::Int64(1_700_000_000_123));
    order.put("note", Value::Null);
    order.put(
        "tags",
        Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
    );
    order.put(
        "attrs",
        Value::Map(vec![
            (Value::String("x".into()), Value::Int32(1)),
            (Value::String("y".into()), Value::Int32(2)),
        ]),
    );
    order.put(
        "counts",
        Value::Map(vec![
            (Value::Int32(3), Value::String("three".into())),
            (Value::Int32(1), Value::String("one".into())),
        ]),
    );
    order.put("status", Value::String("paid".into()));
    let address_schema = schema.field("addr").unwrap().1.schema.clone();
    let mut address = Struct::new(address_schema);
    address.put("street", Value::String("Main St".into()));
    order.put("addr", Value::Struct(address));
    Value::Struct(order)
}

#[test]
fn registers_the_schema_confluents_avro_data_produces() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let schema = order_schema();
    let data = Data::new(Some(schema.clone()), order_value(&schema));
    let bytes = converter
        .from_connect("orders", Some(&data))
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
    let expected = concat!(
        r#"{"type":"record","name":"Order","namespace":"com.example","doc":"An order","fields":["#,
        r#"{"name":"id","type":"long"},"#,
        r#"{"name":"qty","type":{"type":"int","connect.type":"int16"}},"#,
        r#"{"name":"tiny","type":["null",{"type":"int","connect.type":"int8"}],"default":null},"#,
        r#"{"name":"price","type":{"type":"bytes","scale":2,"precision":64,"connect.version":1,"#,
        r#""connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal","#,
        r#""logicalType":"decimal"}},"#,
        r#"{"name":"day","type":{"type":"int","connect.version":1,"#,
        r#""connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}},"#,
        r#"{"name":"at","type":{"type":"long","connect.version":1,"#,
        r#""connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}},"#,
        r#"{"name":"note","type":["null","string"],"default":null},"#,
        r#"{"name":"tags","type":{"type":"array","items":"string"}},"#,
        r#"{"name":"attrs","type":{"type":"map","values":"int"}},"#,
        r#"{"name":"counts","type":{"type":"array","items":{"type":"record","name":"MapEntry","#,
        r#""namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},"#,
        r#"{"name":"value","type":"string"}]}}},"#,
        r#"{"name":"status","type":{"type":"string","connect.default":"new"},"default":"new"},"#,
        r#"{"name":"addr","type":["null",{"type":"record","name":"ConnectDefault","#,
        r#""namespace":"io.confluent.connect.avro","fields":[{"name":"street","type":"string"}]}],"#,
        r#""default":null}],"#,
        r#""connect.doc":"An order","connect.version":2,"connect.name":"com.example.Order"}"#,
    );
    assert_eq!(registry.schema(1), expected);
    let requests = registry.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/subjects/orders-value/versions");
}

#[test]
fn round_trips_a_struct_of_every_type_and_caches_ids() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let schema = order_schema();
    let data = Data::new(Some(schema.clone()), order_value(&schema));
    let bytes = converter
        .from_connect("orders", Some(&data))
        .unwrap()
        .unwrap();
    let again = converter
        .from_connect("orders", Some(&data))
        .unwrap()
        .unwrap();
    assert_eq!(bytes, again);
    let read = converter
        .to_connect("orders", Some(&bytes))
        .unwrap()
        .unwrap();
    assert_eq!(read, data);
    converter.to_connect("orders", Some(&bytes)).unwrap();
    // One registration and one fetch by id: the rest came from the caches.
    let paths: Vec<String> = registry.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/subjects/orders-value/versions", "/schemas/ids/1"]);
    // A second converter (another worker) reads the same bytes through the registry.
    let other = self::converter(&registry);
    assert_eq!(
        other.to_connect("orders", Some(&bytes)).unwrap().unwrap(),
        data
    );
}

#[test]
fn round_trips_every_primitive_and_logical_type_at_top_level() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let cases = [
        (Schema::primitive(SchemaType::Boolean), Value::Boolean(true)),
        (Schema::primitive(SchemaType::Int8), Value::Int8(-128)),
        (Schema::primitive(SchemaType::Int16), Value::Int16(32_767)),
        (Schema::primitive(SchemaType::Int32), Value::Int32(i32::MIN)),
        (Schema::primitive(SchemaType::Int64), Value::Int64(i64::MAX)),
        (Schema::primitive(SchemaType::Float32), Value::Float32(1.5)),
        (Schema::primitive(SchemaType::Float64), Value::Float64(-0.1)),
        (
            Schema::primitive(SchemaType::String),
            Value::String("héllo".into()),
        ),
        (
            Schema::primitive(SchemaType::Bytes),
            Value::Bytes(vec![0, 255, 7]),
        ),
        (Schema::decimal(3), Value::Bytes(vec![0xFF, 0x85])), // -0.123
        (Schema::decimal(0), Value::Bytes(vec![0x00, 0x80])), // 128, keeps its length
        (Schema::date(), Value::Int32(-1)),
        (Schema::time(), Value::Int32(86_399_999)),
        (Schema::timestamp(), Value::Int64(-62_135_596_800_000)),
        (
            Schema::primitive(SchemaType::Int32).optional(),
            Value::Int32(5),
        ),
        (Schema::date().optional(), Value::Int32(3)),
    ];
    for (schema, value) in cases {
        let data = Data::new(Some(arc(schema)), value);
        assert_eq!(round_trip(&converter, &data), data, "{data:?}");
    }
}

#[test]
fn decimal_precision_parameter_and_schema_metadata_survive() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let mut decimal = Schema::decimal(2);
    decimal
        .parameters
        .push(("connect.decimal.precision".into(), "10".into()));
    let data = Data::new(Some(arc(decimal)), Value::Bytes(vec![0x04, 0xD2]));
    assert_round_trip(&converter, data);
    let schema: Json = serde_json::from_str(&registry.schema(1)).unwrap();
    assert_eq!(schema["precision"], 10);
    assert_eq!(schema["scale"], 2);

    let mut named = Schema::primitive(SchemaType::String).named("com.example.Code");
    named.version = Some(3);
    named.doc = Some("a code".into());
    named.parameters = vec![("b".into(), "2".into()), ("a".into(), "1".into())];
    assert_round_trip(
        &converter,
        Data::new(Some(arc(named)), Value::String("X1".into())),
    );
}

#[test]
fn round_trips_optional_fields_and_defaults() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let schema = arc(Schema::structure(vec![
        field("a", arc(Schema::primitive(SchemaType::Int32).optional())),
        field(
            "b",
            arc(with_default(
                Schema::primitive(SchemaType::Int32).optional(),
                Value::Int32(9),
            )),
        ),
        field(
            "c",
            arc(with_default(
                Schema::primitive(SchemaType::Int64),
                Value::Int64(-1),
            )),
        ),
        field(
            "d",
            arc(with_default(
                Schema::primitive(SchemaType::Bytes),
                Value::Bytes(vec![0, 200]),
            )),
        ),
        field(
            "e",
            arc(with_default(
                Schema::array(prim(SchemaType::Float64)),
                Value::Array(vec![Value::Float64(0.5)]),
            )),
        ),
        field(
            "f",
            arc(with_default(
                Schema::map(prim(SchemaType::Int8), prim(SchemaType::Boolean)),
                Value::Map(vec![(Value::Int8(1), Value::Boolean(true))]),
            )),
        ),
    ]));
    let avro: Json = serde_json::from_str(&converter.avro_schema(&schema).unwrap()).unwrap();
    assert_eq!(avro["fields"][0]["type"], json!(["null", "int"]));
    assert_eq!(avro["fields"][0]["default"], Json::Null);
    assert_eq!(
        avro["fields"][1]["type"],
        json!([{"type": "int", "connect.default": 9}, "null"])
    );
    assert_eq!(avro["fields"][1]["default"], 9);
    assert_eq!(avro["fields"][3]["default"], "\u{0}\u{c8}");
    assert_eq!(
        avro["fields"][5]["default"],
        json!([{"key": 1, "value": true}])
    );

    let mut set = Struct::new(schema.clone());
    set.put("a", Value::Int32(1));
    set.put("b", Value::Int32(2));
    set.put("c", Value::Int64(3));
    set.put("d", Value::Bytes(vec![1]));
    set.put("e", Value::Array(vec![]));
    set.put("f", Value::Map(vec![]));
    assert_round_trip(
        &converter,
        Data::new(Some(schema.clone()), Value::Struct(set)),
    );

    // Nulls take the defaults (Kafka's `Struct.get`); `a` has none and stays null.
    let read = round_trip(
        &converter,
        &Data::new(
            Some(schema.clone()),
            Value::Struct(Struct::new(schema.clone())),
        ),
    );
    let Value::Struct(read) = read.value else {
        panic!("not a struct")
    };
    assert_eq!(read.get("a"), Some(&Value::Null));
    assert_eq!(read.get("b"), Some(&Value::Int32(9)));
    assert_eq!(read.get("c"), Some(&Value::Int64(-1)));
    assert_eq!(read.get("d"), Some(&Value::Bytes(vec![0, 200])));
    assert_eq!(read.schema, schema);
}

#[test]
fn round_trips_nested_structs_arrays_and_maps() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let point = arc(Schema::structure(vec![
        field("x", prim(SchemaType::Int32)),
        field("y", prim(SchemaType::Int32)),
    ])
    .named("com.example.geo.Point"));
    let inner = arc(Schema::structure(vec![field(
        "label",
        arc(Schema::primitive(SchemaType::String).optional()),
    )]));
    let schema = arc(Schema::structure(vec![
        field("from", point.clone()),
        field("to", point.clone()),
        field("path", arc(Schema::array(point.clone()))),
        field(
            "by_name",
            arc(Schema::map(prim(SchemaType::String), point.clone())),
        ),
        field(
            "by_point",
            arc(Schema::map(point.clone(), prim(SchemaType::String))),
        ),
        field(
            "optional_keys",
            arc(Schema::map(
                arc(Schema::primitive(SchemaType::String).optional()),
                arc(Schema::array(prim(SchemaType::Int64)).optional()),
            )),
        ),
        field("inner", inner.clone()),
        field(
            "matrix",
            arc(Schema::array(arc(Schema::array(prim(SchemaType::Float32))))),
        ),
    ]));
    let make_point = |x, y| {
        let mut p = Struct::new(point.clone());
        p.put("x", Value::Int32(x));
        p.put("y", Value::Int32(y));
        Value::Struct(p)
    };
    let mut value = Struct::new(schema.clone());
    value.put("from", make_point(0, 0));
    value.put("to", make_point(1, 2));
    value.put(
        "path",
        Value::Array(vec![make_point(3, 4), make_point(5, 6)]),
    );
    value.put(
        "by_name",
        Value::Map(vec![
            (Value::String("a".into()), make_point(7, 8)),
            (Value::String("b".into()), make_point(9, 10)),
        ]),
    );
    value.put(
        "by_point",
        Value::Map(vec![
            (make_point(2, 2), Value::String("two".into())),
            (make_point(1, 1), Value::String("one".into())),
        ]),
    );
    value.put(
        "optional_keys",
        Value::Map(vec![
            (Value::Null, Value::Array(vec![Value::Int64(1)])),
            (Value::String("k".into()), Value::Null),
        ]),
    );
    let mut inner_value = Struct::new(inner);
    inner_value.put("label", Value::String("in".into()));
    value.put("inner", Value::Struct(inner_value));
    value.put(
        "matrix",
        Value::Array(vec![
            Value::Array(vec![Value::Float32(1.0)]),
            Value::Array(vec![]),
        ]),
    );
    assert_round_trip(
        &converter,
        Data::new(Some(schema.clone()), Value::Struct(value)),
    );

    // The second use of `Point` is a reference; the second non-string-key map has its own
    // entry record name.
    let avro: Json = serde_json::from_str(&registry.schema(1)).unwrap();
    assert_eq!(avro["name"], "ConnectDefault");
    assert_eq!(avro["fields"][0]["type"]["name"], "Point");
    assert_eq!(avro["fields"][0]["type"]["namespace"], "com.example.geo");
    assert_eq!(avro["fields"][1]["type"], "com.example.geo.Point");
    assert_eq!(avro["fields"][4]["type"]["items"]["name"], "MapEntry");
    assert_eq!(avro["fields"][5]["type"]["items"]["name"], "MapEntry2");
    assert_eq!(avro["fields"][6]["type"]["name"], "ConnectDefault2");
    assert!(avro["fields"][6]["type"].get("namespace").is_none());
}

#[test]
fn string_key_maps_keep_their_order() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let schema = arc(Schema::map(
        prim(SchemaType::String),
        prim(SchemaType::Int32),
    ));
    let data = Data::new(
        Some(schema.clone()),
        Value::Map(vec![
            (Value::String("b".into()), Value::Int32(2)),
            (Value::String("a".into()), Value::Int32(1)),
        ]),
    );
    assert_round_trip(&converter, data);
}

#[test]
fn nulls_schemaless_data_and_tombstones() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    assert_eq!(converter.from_connect("t", None).unwrap(), None);
    assert_eq!(
        converter
            .from_connect("t", Some(&Data::schemaless(Value::Null)))
            .unwrap(),
        None
    );
    let optional = arc(Schema::primitive(SchemaType::String).optional());
    assert_eq!(
        converter
            .from_connect("t", Some(&Data::new(Some(optional), Value::Null)))
            .unwrap(),
        None
    );
    assert_eq!(converter.to_connect("t", None).unwrap(), None);

    let err = converter
        .from_connect("t", Some(&Data::schemaless(Value::Int32(1))))
        .unwrap_err();
    assert!(matches!(err, ConvertError::FromConnect { .. }), "{err}");
    assert!(error_text(&err).contains("schemaless data cannot be written as Avro"));

    let required = arc(Schema::primitive(SchemaType::String));
    let err = converter
        .from_connect(
            "t",
            Some(&Data::new(Some(required.clone()), Value::Int32(1))),
        )
        .unwrap_err();
    assert!(error_text(&err).contains("int32 value does not fit a string schema"));
    let err = converter
        .from_connect("t", Some(&Data::new(Some(required), Value::Null)))
        .unwrap_err();
    assert!(error_text(&err).contains("null for a required string schema"));
    assert!(registry.requests().is_empty());
}

#[test]
fn wrong_magic_byte_and_short_input_are_clear_errors() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let err = converter
        .to_connect("t", Some(&[1, 0, 0, 0, 1, 2]))
        .unwrap_err();
    assert!(matches!(err, ConvertError::ToConnect { .. }), "{err}");
    let text = error_text(&err);
    assert!(text.contains("unknown magic byte 1"), "{text}");
    assert!(text.contains("topic `t`"), "{text}");
    let err = converter.to_connect("t", Some(b"{}")).unwrap_err();
    assert!(error_text(&err).contains("too few"), "{err}");
    let err = converter
        .to_connect("t", Some(&[0, 0, 0, 0, 9, 2]))
        .unwrap_err();
    let text = error_text(&err);
    assert!(matches!(err, ConvertError::SchemaRegistry { .. }), "{text}");
    assert!(text.contains("HTTP 404"), "{text}");
    assert!(text.contains("fetching schema id 9"), "{text}");
    assert!(text.contains("Schema 9 not found"), "{text}");
}

#[test]
fn trailing_or_truncated_bodies_are_errors() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let data = Data::new(Some(prim(SchemaType::String)), Value::String("abc".into()));
    let mut bytes = converter.from_connect("t", Some(&data)).unwrap().unwrap();
    bytes.push(0);
    let err = converter.to_connect("t", Some(&bytes)).unwrap_err();
    assert!(
        error_text(&err).contains("1 bytes left"),
        "{}",
        error_text(&err)
    );
    bytes.truncate(bytes.len() - 2);
    let err = converter.to_connect("t", Some(&bytes)).unwrap_err();
    assert!(
        error_text(&err).contains("invalid Avro data"),
        "{}",
        error_text(&err)
    );
}

#[test]
fn registry_down_is_a_clear_error() {
    let url = dead_url();
    let converter = AvroConverter::from_settings(&settings(&url, &[]), true).unwrap();
    let data = Data::new(Some(prim(SchemaType::Int32)), Value::Int32(1));
    let err = converter.from_connect("orders", Some(&data)).unwrap_err();
    assert!(matches!(err, ConvertError::SchemaRegistry { .. }), "{err}");
    let text = error_text(&err);
    assert!(
        text.contains("registering a schema under subject `orders-key`"),
        "{text}"
    );
    assert!(text.contains(&url), "{text}");
    let err = converter
        .to_connect("orders", Some(&[0, 0, 0, 0, 1, 2]))
        .unwrap_err();
    let text = error_text(&err);
    assert!(text.contains("fetching schema id 1"), "{text}");
    assert!(text.contains(&url), "{text}");
}

#[test]
fn uses_the_first_reachable_registry() {
    let registry = MockRegistry::start();
    let urls = format!("{} , {}", dead_url(), registry.url);
    let converter = AvroConverter::from_settings(&settings(&urls, &[]), false).unwrap();
    assert_round_trip(
        &converter,
        Data::new(Some(prim(SchemaType::Int64)), Value::Int64(5)),
    );
}

#[test]
fn subject_name_strategies() {
    let registry = MockRegistry::start();
    let schema =
        arc(Schema::structure(vec![field("a", prim(SchemaType::Int32))]).named("com.x.Rec"));
    let mut value = Struct::new(schema.clone());
    value.put("a", Value::Int32(1));
    let data = Data::new(Some(schema), Value::Struct(value));
    for (strategy, is_key, subject) in [
        (
            "io.confluent.kafka.serializers.subject.TopicNameStrategy",
            true,
            "t-key",
        ),
        ("RecordNameStrategy", false, "com.x.Rec"),
        (
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            true,
            "t-com.x.Rec",
        ),
    ] {
        let key = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let converter =
            AvroConverter::from_settings(&settings(&registry.url, &[(key, strategy)]), is_key)
                .unwrap();
        converter.from_connect("t", Some(&data)).unwrap();
        let last = registry.requests().pop().unwrap();
        assert_eq!(last.path, format!("/subjects/{subject}/versions"));
    }
    let converter = AvroConverter::from_settings(
        &settings(
            &registry.url,
            &[("value.subject.name.strategy", "RecordNameStrategy")],
        ),
        false,
    )
    .unwrap();
    let err = converter
        .from_connect(
            "t",
            Some(&Data::new(Some(prim(SchemaType::Int32)), Value::Int32(1))),
        )
        .unwrap_err();
    assert!(error_text(&err).contains("need a struct schema"), "{err}");
}

#[test]
fn without_auto_registration_looks_the_id_up() {
    let registry = MockRegistry::start();
    let writer = converter(&registry);
    let data = Data::new(Some(prim(SchemaType::String)), Value::String("x".into()));
    let converter = AvroConverter::from_settings(
        &settings(&registry.url, &[("auto.register.schemas", "false")]),
        false,
    )
    .unwrap();
    let err = converter.from_connect("t", Some(&data)).unwrap_err();
    let text = error_text(&err);
    assert!(
        text.contains("looking up a schema under subject `t-value`"),
        "{text}"
    );
    assert!(text.contains("Schema not found"), "{text}");

    let written = writer.from_connect("t", Some(&data)).unwrap().unwrap();
    let looked_up = converter.from_connect("t", Some(&data)).unwrap().unwrap();
    assert_eq!(written, looked_up);
    assert_eq!(
        registry.requests().last().unwrap().path,
        "/subjects/t-value"
    );
}

#[test]
fn use_latest_version_writes_with_the_latest_schema() {
    let registry = MockRegistry::start();
    // The latest schema has an extra field with a default.
    let latest = r#"{"type":"record","name":"Rec","namespace":"com.x","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"z"}]}"#;
    registry.put("t-value", latest);
    let converter = AvroConverter::from_settings(
        &settings(
            &registry.url,
            &[
                ("auto.register.schemas", "false"),
                ("use.latest.version", "true"),
                ("connect.meta.data", "false"),
            ],
        ),
        false,
    )
    .unwrap();
    let schema =
        arc(Schema::structure(vec![field("a", prim(SchemaType::Int32))]).named("com.x.Rec"));
    let mut value = Struct::new(schema.clone());
    value.put("a", Value::Int32(4));
    let bytes = converter
        .from_connect("t", Some(&Data::new(Some(schema), Value::Struct(value))))
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
    let read = converter.to_connect("t", Some(&bytes)).unwrap().unwrap();
    let Value::Struct(read) = read.value else {
        panic!("not a struct")
    };
    assert_eq!(read.get("a"), Some(&Value::Int32(4)));
    assert_eq!(read.get("b"), Some(&Value::String("z".into())));
}

#[test]
fn basic_auth_from_user_info_and_from_the_url() {
    let registry = MockRegistry::start();
    let data = Data::new(Some(prim(SchemaType::Boolean)), Value::Boolean(false));
    let converter = AvroConverter::from_settings(
        &settings(
            &registry.url,
            &[
                ("basic.auth.credentials.source", "USER_INFO"),
                ("basic.auth.user.info", "fred:letmein"),
            ],
        ),
        false,
    )
    .unwrap();
    converter.from_connect("t", Some(&data)).unwrap();
    let url = registry.url.replace("http://", "http://ann:pw@");
    let converter = AvroConverter::from_settings(&settings(&url, &[]), true).unwrap();
    converter.from_connect("t", Some(&data)).unwrap();
    let auth: Vec<Option<String>> = registry
        .requests()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        auth,
        [
            Some("Basic ZnJlZDpsZXRtZWlu".to_string()),
            Some("Basic YW5uOnB3".to_string())
        ]
    );
    let err = AvroConverter::from_settings(
        &settings(
            &registry.url,
            &[("basic.auth.credentials.source", "USER_INFO")],
        ),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("basic.auth.user.info"), "{err}");
}

#[test]
fn settings_are_validated() {
    let err = AvroConverter::from_settings(&BTreeMap::new(), false).unwrap_err();
    assert!(err.to_string().contains("schema.registry.url"), "{err}");
    let err = AvroConverter::from_settings(&settings("localhost:8081", &[]), false).unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
    let err = AvroConverter::from_settings(
        &settings("http://a", &[("value.subject.name.strategy", "Nope")]),
        false,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("value.subject.name.strategy"),
        "{err}"
    );
    let err =
        AvroConverter::from_settings(&settings("http://a", &[("connect.meta.data", "no")]), false)
            .unwrap_err();
    assert!(err.to_string().contains("connect.meta.data"), "{err}");
    let config =
        AvroConverterConfig::from_settings(&settings("http://a/, http://b", &[]), true).unwrap();
    assert_eq!(config.registry_urls, ["http://a/", "http://b"]);
    assert!(config.auto_register_schemas && !config.use_latest_version && config.connect_meta_data);
    assert_eq!(config.subject_name_strategy, SubjectNameStrategy::TopicName);
}

#[test]
fn factory_builds_the_avro_converter() {
    let registry = MockRegistry::start();
    for class in ["io.confluent.connect.avro.AvroConverter", "AvroConverter"] {
        let converter =
            super::super::converter(class, &settings(&registry.url, &[]), true).unwrap();
        let data = Data::new(Some(prim(SchemaType::Int32)), Value::Int32(1));
        let bytes = converter.from_connect("f", Some(&data)).unwrap().unwrap();
        assert_eq!(
            converter.to_connect("f", Some(&bytes)).unwrap().unwrap(),
            data
        );
    }
    assert_eq!(registry.requests()[0].path, "/subjects/f-key/versions");
    let err = super::super::converter("AvroConverter", &BTreeMap::new(), false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("schema.registry.url"), "{err}");
    assert!(super::super::header_converter("AvroConverter", &BTreeMap::new()).is_err());
}

#[test]
fn without_connect_meta_data_the_schema_is_plain_avro() {
    let registry = MockRegistry::start();
    let converter = AvroConverter::from_settings(
        &settings(&registry.url, &[("connect.meta.data", "false")]),
        false,
    )
    .unwrap();
    let schema = arc(Schema::structure(vec![
        field("price", arc(Schema::decimal(2))),
        field("day", arc(Schema::date().optional())),
        field("small", prim(SchemaType::Int8)),
    ])
    .named("com.x.Plain"));
    let mut value = Struct::new(schema.clone());
    value.put("price", Value::Bytes(vec![1]));
    value.put("day", Value::Int32(2));
    value.put("small", Value::Int8(3));
    let data = Data::new(Some(schema), Value::Struct(value));
    // Logical types, struct names and int8 still come back.
    assert_round_trip(&converter, data);
    assert_eq!(
        registry.schema(1),
        concat!(
            r#"{"type":"record","name":"Plain","namespace":"com.x","fields":["#,
            r#"{"name":"price","type":{"type":"bytes","scale":2,"precision":64,"logicalType":"decimal"}},"#,
            r#"{"name":"day","type":["null",{"type":"int","logicalType":"date"}],"default":null},"#,
            r#"{"name":"small","type":{"type":"int","connect.type":"int8"}}]}"#
        )
    );
}

#[test]
fn reads_schemas_written_by_other_producers() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let schema = r#"{"type":"record","name":"Ev","namespace":"n","doc":"d","fields":[
        {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
        {"name":"hash","type":{"type":"fixed","name":"Hash","size":2}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":1}},
        {"name":"next","type":["null","Kind"],"default":null},
        {"name":"n","type":"long","default":7}]}"#;
    let id = registry.put("ev-value", schema);
    let avro = apache_avro::Schema::parse_str(schema).unwrap();
    let record = apache_avro::types::Value::Record(vec![
        (
            "kind".into(),
            apache_avro::types::Value::Enum(1, "B".into()),
        ),
        (
            "hash".into(),
            apache_avro::types::Value::Fixed(2, vec![1, 2]),
        ),
        ("day".into(), apache_avro::types::Value::Date(10)),
        (
            "amount".into(),
            apache_avro::types::Value::Decimal(apache_avro::Decimal::from(vec![5u8])),
        ),
        (
            "next".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        ("n".into(), apache_avro::types::Value::Long(1)),
    ]);
    let body = apache_avro::writer::datum::GenericDatumWriter::builder(&avro)
        .build()
        .unwrap()
        .write_value_to_vec(record)
        .unwrap();
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(&body);
    let data = converter.to_connect("ev", Some(&bytes)).unwrap().unwrap();
    let schema = data.schema.clone().unwrap();
    assert_eq!(schema.name.as_deref(), Some("n.Ev"));
    assert_eq!(schema.doc.as_deref(), Some("d"));
    let kind = &schema.field("kind").unwrap().1.schema;
    assert_eq!(kind.ty, SchemaType::String);
    assert_eq!(
        kind.parameter("io.confluent.connect.avro.Enum"),
        Some("n.Kind")
    );
    assert_eq!(
        kind.parameter("io.confluent.connect.avro.Enum.B"),
        Some("B")
    );
    assert_eq!(
        schema.field("next").unwrap().1.schema.ty,
        SchemaType::String
    );
    assert!(schema.field("next").unwrap().1.schema.optional);
    assert_eq!(*schema.field("day").unwrap().1.schema, Schema::date());
    let amount = &schema.field("amount").unwrap().1.schema;
    assert_eq!(amount.name.as_deref(), Some(crate::data::logical::DECIMAL));
    assert_eq!(amount.parameter("scale"), Some("1"));
    assert_eq!(amount.parameter("connect.decimal.precision"), Some("9"));
    assert_eq!(
        schema.field("n").unwrap().1.schema.default,
        Some(Value::Int64(7))
    );
    let Value::Struct(value) = &data.value else {
        panic!("not a struct")
    };
    assert_eq!(value.get("kind"), Some(&Value::String("B".into())));
    assert_eq!(value.get("hash"), Some(&Value::Bytes(vec![1, 2])));
    assert_eq!(value.get("day"), Some(&Value::Int32(10)));
    assert_eq!(value.get("amount"), Some(&Value::Bytes(vec![5])));
    assert_eq!(value.get("next"), Some(&Value::Null));

    // Written back, enum and fixed stay enum and fixed.
    let rewritten = converter.from_connect("ev2", Some(&data)).unwrap().unwrap();
    assert_eq!(
        converter
            .to_connect("ev2", Some(&rewritten))
            .unwrap()
            .unwrap(),
        data
    );
    let text = registry.schema(u32::from_be_bytes(rewritten[1..5].try_into().unwrap()));
    let rewritten_schema: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(rewritten_schema["fields"][0]["type"]["type"], "enum");
    assert_eq!(
        rewritten_schema["fields"][0]["type"]["symbols"],
        json!(["A", "B"])
    );
    assert_eq!(rewritten_schema["fields"][1]["type"]["type"], "fixed");
    assert_eq!(rewritten_schema["fields"][4]["type"][1], "Kind");
}

#[test]
fn unsupported_avro_schemas_are_clear_errors() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let id = registry.put("u-value", r#"["int","string"]"#);
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend_from_slice(&[0, 2]);
    let err = converter.to_connect("u", Some(&bytes)).unwrap_err();
    let text = error_text(&err);
    assert!(
        text.contains(&format!("schema id {id} is not a usable Avro schema")),
        "{text}"
    );
    assert!(text.contains("unions"), "{text}");
}

/// A schema that Confluent's converter registered for a JDBC source table (as quoted in a
/// public error report): the same Connect schema gives the same text here.
#[test]
fn matches_a_schema_confluents_converter_registered() {
    let registry = MockRegistry::start();
    let converter = converter(&registry);
    let mut relevance = Schema::decimal(2).optional();
    relevance
        .parameters
        .push(("connect.decimal.precision".into(), "5".into()));
    let flag = || arc(Schema::primitive(SchemaType::Int8).optional());
    let schema = arc(Schema::structure(vec![
        field("news_url_md5", prim(SchemaType::String)),
        field("company_code", prim(SchemaType::String)),
        field("relevance", arc(relevance)),
        field("ncc_flag", flag()),
        field("published_at", arc(Schema::timestamp())),
        field("use_flag", flag()),
    ])
    .named("gn_news_company_table"));
    let expected = concat!(
        r#"{"type":"record","name":"gn_news_company_table","fields":["#,
        r#"{"name":"news_url_md5","type":"string"},{"name":"company_code","type":"string"},"#,
        r#"{"name":"relevance","type":["null",{"type":"bytes","scale":2,"precision":5,"#,
        r#""connect.version":1,"connect.parameters":{"scale":"2","connect.decimal.precision":"5"},"#,
        r#""connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}],"#,
        r#""default":null},"#,
        r#"{"name":"ncc_flag","type":["null",{"type":"int","connect.type":"int8"}],"default":null},"#,
        r#"{"name":"published_at","type":{"type":"long","connect.version":1,"#,
        r#""connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}},"#,
        r#"{"name":"use_flag","type":["null",{"type":"int","connect.type":"int8"}],"default":null}],"#,
        r#""connect.name":"gn_news_company_table"}"#,
    );
    assert_eq!(converter.avro_schema(&schema).unwrap(), expected);
    let mut value = Struct::new(schema.clone());
    value.put("news_url_md5", Value::String("m".into()));
    value.put("company_code", Value::String("c".into()));
    value.put("relevance", Value::Bytes(vec![0x01, 0x2C]));
    value.put("published_at", Value::Int64(0));
    value.put("use_flag", Value::Int8(1));
    assert_round_trip(&converter, Data::new(Some(schema), Value::Struct(value)));
    assert_eq!(registry.schema(1), expected);
}
