//! Throughput of a transformation chain: four SMTs (InsertField, ReplaceField, MaskField,
//! RegexRouter) over a batch of 10,000 sink records, with a schema (Struct) and without (Map).
//!
//! Run with `cargo bench -p wasm-connect --bench transforms`; criterion reports the throughput
//! in elements (records) per second, and a warm-up line prints records/s for each case first.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use wasm_connect::data::{
    Data, Field, Schema, SchemaType, SinkRecord, Struct, TimestampType, Value,
};
use wasm_connect::transforms::TransformChain;

const BATCH: usize = 10_000;

fn chain() -> TransformChain {
    let settings: BTreeMap<String, String> = [
        ("transforms", "insert,replace,mask,route"),
        (
            "transforms.insert.type",
            "org.apache.kafka.connect.transforms.InsertField$Value",
        ),
        ("transforms.insert.topic.field", "source_topic"),
        ("transforms.insert.static.field", "pipeline"),
        ("transforms.insert.static.value", "bench"),
        ("transforms.replace.type", "ReplaceField$Value"),
        ("transforms.replace.exclude", "internal"),
        ("transforms.replace.renames", "name:customer_name"),
        ("transforms.mask.type", "MaskField$Value"),
        ("transforms.mask.fields", "card"),
        ("transforms.route.type", "RegexRouter"),
        ("transforms.route.regex", "orders-(.*)"),
        ("transforms.route.replacement", "clean-$1"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    match TransformChain::from_settings(&settings) {
        Ok(chain) => chain,
        Err(error) => panic!("bench chain is invalid: {error}"),
    }
}

fn record(value: Data, index: usize) -> SinkRecord {
    SinkRecord {
        topic: "orders-eu".into(),
        partition: 0,
        offset: index as i64,
        key: None,
        value: Some(value),
        timestamp: Some(1_700_000_000_000 + index as i64),
        timestamp_type: TimestampType::CreateTime,
        headers: Vec::new(),
        original_topic: "orders-eu".into(),
        original_partition: 0,
        original_offset: index as i64,
    }
}

fn struct_batch() -> Vec<SinkRecord> {
    let field = |name: &str, ty| Field {
        name: name.into(),
        schema: Arc::new(Schema::primitive(ty)),
    };
    // One schema shared by the whole batch, as a converter hands it over.
    let schema = Arc::new(Schema::structure(vec![
        field("id", SchemaType::Int64),
        field("name", SchemaType::String),
        field("card", SchemaType::String),
        field("amount", SchemaType::Float64),
        field("internal", SchemaType::Boolean),
    ]));
    (0..BATCH)
        .map(|index| {
            let value = Value::Struct(Struct {
                schema: schema.clone(),
                values: vec![
                    Value::Int64(index as i64),
                    Value::String(format!("customer-{index}")),
                    Value::String("4111-1111-1111-1111".into()),
                    Value::Float64(index as f64 * 1.5),
                    Value::Boolean(index % 2 == 0),
                ],
            });
            record(Data::new(Some(schema.clone()), value), index)
        })
        .collect()
}

fn map_batch() -> Vec<SinkRecord> {
    let entry = |key: &str, value| (Value::String(key.into()), value);
    (0..BATCH)
        .map(|index| {
            let value = Value::Map(vec![
                entry("id", Value::Int64(index as i64)),
                entry("name", Value::String(format!("customer-{index}"))),
                entry("card", Value::String("4111-1111-1111-1111".into())),
                entry("amount", Value::Float64(index as f64 * 1.5)),
                entry("internal", Value::Boolean(index % 2 == 0)),
            ]);
            record(Data::schemaless(value), index)
        })
        .collect()
}

fn run(chain: &TransformChain, batch: Vec<SinkRecord>) -> usize {
    batch
        .into_iter()
        .filter_map(|record| match chain.apply(record) {
            Ok(kept) => kept,
            Err(error) => panic!("transform failed: {error}"),
        })
        .count()
}

fn transforms(c: &mut Criterion) {
    let chain = chain();
    let mut group = c.benchmark_group("transforms");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, make) in [
        ("chain4_struct", struct_batch as fn() -> Vec<SinkRecord>),
        ("chain4_map", map_batch),
    ] {
        let batch = make();
        let started = Instant::now();
        let kept = run(&chain, batch);
        let rate = kept as f64 / started.elapsed().as_secs_f64();
        println!("transforms/{name}: warm-up {kept} records at {rate:.0} records/s");
        group.bench_function(name, |b| {
            b.iter_batched(
                make,
                |batch| black_box(run(&chain, batch)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, transforms);
criterion_main!(benches);
