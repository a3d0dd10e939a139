//! Every Connect schema type crosses the sandbox boundary both ways without loss: the
//! `every-type` record a guest builds arrives on the host exactly as the host builds it, the
//! host's record arrives in a guest exactly as the guest builds it, and the same holds end to
//! end through the JSON converter and the log.

use std::{sync::Arc, time::Duration};

use wasm_connect::{
    coordinator::State,
    data::{
        Data, Field, Header, Schema, SchemaRef, SchemaType, SinkRecord, Struct, TimestampType,
        Value,
    },
    runtime::{CallError, ConfigMap, InstanceContext, Plugin, Runtime, RuntimeConfig},
};
use wasm_connect_tests::{TestWorker, component, init_logging, shared_cache_dir, wait_until};

fn required(ty: SchemaType) -> SchemaRef {
    Arc::new(Schema::primitive(ty))
}

fn field(name: &str, schema: SchemaRef) -> Field {
    Field {
        name: name.into(),
        schema,
    }
}

/// The host's own construction of test-source's `every-type` value.
fn expected_value() -> Data {
    let nested_schema = Arc::new(
        Schema::structure(vec![
            field("label", required(SchemaType::String)),
            field("weight", required(SchemaType::Int64)),
        ])
        .named("wasm_connect.test.Nested"),
    );
    let element_schema = Arc::new(
        Schema::structure(vec![field("x", required(SchemaType::Int32))])
            .named("wasm_connect.test.Element"),
    );
    let mut with_default = Schema::primitive(SchemaType::Int32);
    with_default.default = Some(Value::Int32(7));
    let mut schema = Schema::structure(vec![
        field("int8", required(SchemaType::Int8)),
        field("int16", required(SchemaType::Int16)),
        field("int32", required(SchemaType::Int32)),
        field("int64", required(SchemaType::Int64)),
        field("float32", required(SchemaType::Float32)),
        field("float64", required(SchemaType::Float64)),
        field("boolean", required(SchemaType::Boolean)),
        field("string", required(SchemaType::String)),
        field("bytes", required(SchemaType::Bytes)),
        field(
            "optional_string",
            Arc::new(Schema::primitive(SchemaType::String).optional()),
        ),
        field("with_default", Arc::new(with_default)),
        field("decimal", Arc::new(Schema::decimal(2))),
        field("date", Arc::new(Schema::date())),
        field("time", Arc::new(Schema::time())),
        field("timestamp", Arc::new(Schema::timestamp())),
        field(
            "string_array",
            Arc::new(Schema::array(required(SchemaType::String))),
        ),
        field(
            "string_to_int32",
            Arc::new(Schema::map(
                required(SchemaType::String),
                required(SchemaType::Int32),
            )),
        ),
        field(
            "int32_to_string",
            Arc::new(Schema::map(
                required(SchemaType::Int32),
                required(SchemaType::String),
            )),
        ),
        field("nested", nested_schema.clone()),
        field(
            "struct_array",
            Arc::new(Schema::array(element_schema.clone())),
        ),
    ])
    .named("wasm_connect.test.EveryType");
    schema.version = Some(3);
    schema.doc = Some("One field of every Connect type".into());
    schema.parameters = vec![
        ("origin".into(), "test-source".into()),
        ("purpose".into(), "round-trip".into()),
    ];
    let schema = Arc::new(schema);
    let element = |x: i32| {
        Value::Struct(Struct {
            schema: element_schema.clone(),
            values: vec![Value::Int32(x)],
        })
    };
    let values = vec![
        Value::Int8(-8),
        Value::Int16(-1600),
        Value::Int32(32_000),
        Value::Int64(-64_000_000_000),
        Value::Float32(1.5),
        Value::Float64(-12_345.678_9),
        Value::Boolean(true),
        Value::String("héllo wörld".into()),
        Value::Bytes(vec![0, 1, 2, 254, 255]),
        Value::Null,
        Value::Int32(42),
        Value::Bytes(vec![0x30, 0x39]), // 12345 unscaled = 123.45
        Value::Int32(19_000),
        Value::Int32(45_296_789),
        Value::Int64(1_700_000_000_123),
        Value::Array(
            vec!["a".into(), "b".into(), "c".into()]
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
        Value::Map(vec![
            (Value::String("one".into()), Value::Int32(1)),
            (Value::String("two".into()), Value::Int32(2)),
        ]),
        Value::Map(vec![
            (Value::Int32(1), Value::String("one".into())),
            (Value::Int32(2), Value::String("two".into())),
        ]),
        Value::Struct(Struct {
            schema: nested_schema,
            values: vec![
                Value::String("inner".into()),
                Value::Int64(1_234_567_890_123),
            ],
        }),
        Value::Array(vec![element(1), element(2)]),
    ];
    Data::new(
        Some(schema.clone()),
        Value::Struct(Struct { schema, values }),
    )
}

fn expected_key() -> Data {
    Data::schemaless(Value::Map(vec![(
        Value::String("k".into()),
        Value::String("v".into()),
    )]))
}

fn expected_header() -> Header {
    Header {
        key: "h".into(),
        value: Data::new(Some(required(SchemaType::Int32)), Value::Int32(7)),
    }
}

async fn load(runtime: &Runtime, name: &str) -> Arc<Plugin> {
    let bytes = std::fs::read(component(name)).unwrap();
    runtime.load(&bytes, name).await.expect("component loads")
}

fn context() -> InstanceContext {
    wasm_connect_tests::bare_task_context("data-model")
}

fn config(pairs: &[(&str, &str)]) -> ConfigMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_from_a_guest_arrives_unchanged_on_the_host() {
    let runtime = runtime();
    let plugin = load(&runtime, "test_source").await;
    let mut task = plugin.source_task(context()).await.unwrap();
    task.start(&config(&[
        ("topic", "t"),
        ("mode", "every-type"),
        ("task.id", "0"),
        ("generation", "1"),
    ]))
    .await
    .unwrap();
    let records = task.poll().await.unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.value.as_ref(), Some(&expected_value()));
    assert_eq!(record.key.as_ref(), Some(&expected_key()));
    assert_eq!(record.headers, vec![expected_header()]);
}

fn sink_record(value: Data) -> SinkRecord {
    SinkRecord {
        topic: "t".into(),
        partition: 0,
        offset: 0,
        key: Some(expected_key()),
        value: Some(value),
        timestamp: Some(1),
        timestamp_type: TimestampType::CreateTime,
        headers: vec![expected_header()],
        original_topic: "t".into(),
        original_partition: 0,
        original_offset: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_from_the_host_arrives_unchanged_in_a_guest() {
    let runtime = runtime();
    let plugin = load(&runtime, "test_sink").await;
    let mut task = plugin.sink_task(context()).await.unwrap();
    task.start(&config(&[("mode", "check-every-type")]))
        .await
        .unwrap();
    task.put(vec![sink_record(expected_value())])
        .await
        .expect("the guest sees the same record");

    // The check can fail: one changed field is named.
    let mut changed = expected_value();
    if let Value::Struct(row) = &mut changed.value {
        row.values[0] = Value::Int8(-7);
    }
    match task.put(vec![sink_record(changed)]).await {
        Err(CallError::Connector { error, .. }) => {
            assert!(error.to_string().contains("int8"), "{error}")
        }
        other => panic!("expected the guest to reject the changed record, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_survives_the_json_converter_and_the_log() {
    init_logging();
    let json = "org.apache.kafka.connect.json.JsonConverter";
    let worker = TestWorker::embedded(&[
        ("key.converter", json),
        ("value.converter", json),
        ("header.converter", json),
    ])
    .await;
    worker
        .create(&[
            ("name", "source"),
            ("connector.class", "TestSource"),
            ("modes", "every-type"),
            ("topic", "types"),
        ])
        .await;
    worker
        .create(&[
            ("name", "sink"),
            ("connector.class", "TestSink"),
            ("mode", "check-every-type"),
            ("topics", "types"),
        ])
        .await;
    worker.wait_records("sink", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = worker.herder.status("sink").unwrap();
    assert_eq!(
        status.tasks[&0].state,
        State::Running,
        "{:?}",
        status.tasks[&0].trace
    );
    wait_until(Duration::from_secs(5), "the source to stay healthy", || {
        worker
            .herder
            .status("source")
            .is_some_and(|s| s.tasks[&0].state == State::Running)
    })
    .await;
    worker.stop().await;
}
