//! Tests of the runtime: conversions, and a smoke run of the `test-source` guest when it has
//! been built.

use std::{sync::Arc, time::Duration};

use super::{
    HostLimits,
    bindings::{wit, wit_sink, wit_source},
    convert::{self, SchemaTable},
};
use crate::data::{
    Data, Field, Header, OffsetMap, RecordMetadata, Scalar, Schema, SchemaRef, SchemaType,
    SinkRecord, SourceRecord, Struct, TimestampType, Value,
};

pub(super) fn schema(s: Schema) -> SchemaRef {
    Arc::new(s)
}

pub(super) fn field(name: &str, schema: SchemaRef) -> Field {
    Field {
        name: name.into(),
        schema,
    }
}

/// Host → guest → host for one piece of data, through a batch schema table.
fn round_trip(data: Data) -> Data {
    let mut table = SchemaTable::new();
    let wit_data = convert::data_to_wit(data, &mut table);
    let schemas = convert::schemas_from_wit(table.into_schemas(), &HostLimits::default())
        .expect("schemas are valid");
    convert::data_from_wit(wit_data, &schemas).expect("data is valid")
}

fn assert_round_trips(data: Data) {
    assert_eq!(round_trip(data.clone()), data);
}

#[test]
fn primitives_round_trip() {
    let cases = [
        (SchemaType::Int8, Value::Int8(-8)),
        (SchemaType::Int16, Value::Int16(-16)),
        (SchemaType::Int32, Value::Int32(-32)),
        (SchemaType::Int64, Value::Int64(i64::MIN)),
        (SchemaType::Float32, Value::Float32(1.5)),
        (SchemaType::Float64, Value::Float64(-2.25)),
        (SchemaType::Boolean, Value::Boolean(true)),
        (SchemaType::String, Value::String("héllo".into())),
        (SchemaType::Bytes, Value::Bytes(vec![0, 1, 255])),
    ];
    for (ty, value) in cases {
        assert_round_trips(Data::new(
            Some(schema(Schema::primitive(ty))),
            value.clone(),
        ));
        // Optional, with a null value.
        assert_round_trips(Data::new(
            Some(schema(Schema::primitive(ty).optional())),
            Value::Null,
        ));
        // With name, version, doc, parameters and a default.
        let full = Schema {
            name: Some(format!("my.{}", ty.name())),
            version: Some(3),
            doc: Some("documented".into()),
            parameters: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            default: Some(value.clone()),
            ..Schema::primitive(ty)
        };
        assert_round_trips(Data::new(Some(schema(full.clone())), value));
        // A required schema with a default accepts null.
        assert_round_trips(Data::new(Some(schema(full)), Value::Null));
    }
}

#[test]
fn logical_types_round_trip() {
    assert_round_trips(Data::new(
        Some(schema(Schema::decimal(2))),
        Value::Bytes(vec![0x01, 0x2c]),
    ));
    assert_round_trips(Data::new(
        Some(schema(Schema::date())),
        Value::Int32(19_000),
    ));
    assert_round_trips(Data::new(
        Some(schema(Schema::time())),
        Value::Int32(3_600_000),
    ));
    assert_round_trips(Data::new(
        Some(schema(Schema::timestamp())),
        Value::Int64(1_700_000_000_000),
    ));
}

#[test]
fn nested_schemas_round_trip() {
    let point = schema(Schema::structure(vec![
        field("x", schema(Schema::primitive(SchemaType::Int32))),
        field("y", schema(Schema::primitive(SchemaType::Int32).optional())),
    ]));
    let map_long_keys = schema(Schema::map(
        schema(Schema::primitive(SchemaType::Int64)),
        schema(Schema::primitive(SchemaType::String).optional()),
    ));
    let map_struct_keys = schema(Schema::map(
        point.clone(),
        schema(Schema::array(schema(Schema::primitive(
            SchemaType::Float64,
        )))),
    ));
    let outer = schema(Schema::structure(vec![
        field("id", schema(Schema::primitive(SchemaType::String))),
        field("at", schema(Schema::timestamp())),
        field("points", schema(Schema::array(point.clone()))),
        field("names", map_long_keys),
        field("by_point", map_struct_keys),
        field("maybe", schema(Schema::structure(vec![]).optional())),
        field(
            "nested",
            schema(Schema::array(schema(Schema::array(schema(
                Schema::primitive(SchemaType::Int8),
            ))))),
        ),
    ]));
    let p = |x: i32, y: Option<i32>| {
        Value::Struct(Struct {
            schema: point.clone(),
            values: vec![Value::Int32(x), y.map_or(Value::Null, Value::Int32)],
        })
    };
    let value = Value::Struct(Struct {
        schema: outer.clone(),
        values: vec![
            Value::String("a".into()),
            Value::Int64(5),
            Value::Array(vec![p(1, Some(2)), p(3, None)]),
            Value::Map(vec![
                (Value::Int64(1), Value::String("one".into())),
                (Value::Int64(2), Value::Null),
            ]),
            Value::Map(vec![(
                p(0, None),
                Value::Array(vec![Value::Float64(0.5), Value::Float64(1.5)]),
            )]),
            Value::Null,
            Value::Array(vec![
                Value::Array(vec![]),
                Value::Array(vec![Value::Int8(1), Value::Int8(2)]),
            ]),
        ],
    });
    assert_round_trips(Data::new(Some(outer), value));
}

#[test]
fn struct_default_round_trips() {
    // A struct default refers to its schema without the default (an `Arc` cannot contain
    // itself); that is what comes back from the guest too.
    let base = schema(
        Schema::structure(vec![field(
            "n",
            schema(Schema::primitive(SchemaType::Int32)),
        )])
        .optional(),
    );
    let default = Value::Struct(Struct {
        schema: base.clone(),
        values: vec![Value::Int32(7)],
    });
    let with_default = schema(Schema {
        default: Some(default),
        ..(*base).clone()
    });
    assert_round_trips(Data::new(Some(with_default.clone()), Value::Null));
    let value = Value::Struct(Struct {
        schema: with_default.clone(),
        values: vec![Value::Int32(1)],
    });
    assert_round_trips(Data::new(Some(with_default), value));
}

#[test]
fn schemaless_data_round_trips() {
    let value = Value::Map(vec![
        (Value::String("k".into()), Value::Int64(1)),
        (
            Value::Int32(2),
            Value::Array(vec![Value::Null, Value::Boolean(false)]),
        ),
        (
            Value::Array(vec![Value::Bytes(vec![1])]),
            Value::Map(vec![]),
        ),
    ]);
    assert_round_trips(Data::schemaless(value));
    assert_round_trips(Data::schemaless(Value::Null));
    assert_round_trips(Data::schemaless(Value::String("plain".into())));
}

#[test]
fn primitives_cross_as_themselves_and_containers_as_trees() {
    let mut table = SchemaTable::new();
    let string = Data::new(
        Some(schema(Schema::primitive(SchemaType::String))),
        Value::String("x".repeat(100)),
    );
    let wit_data = convert::data_to_wit(string, &mut table);
    assert!(matches!(&wit_data.value, wit::DataValue::String(s) if s.len() == 100));
    assert_eq!(wit_data.schema, Some(0));
    let null = convert::data_to_wit(Data::schemaless(Value::Null), &mut table);
    assert!(matches!(null.value, wit::DataValue::Null));
    let array = convert::data_to_wit(
        Data::schemaless(Value::Array(vec![Value::Int8(1)])),
        &mut table,
    );
    assert!(matches!(&array.value, wit::DataValue::Tree(nodes) if nodes.len() == 2));
}

#[test]
fn a_primitive_as_a_one_node_tree_means_the_same_and_both_are_checked() {
    use wit::{DataValue as D, ValueNode as N};
    let int32 = schema(Schema::primitive(SchemaType::Int32));
    let schemas = [int32.clone()];
    let decode = |value| {
        convert::data_from_wit(
            wit::Data {
                schema: Some(0),
                value,
            },
            &schemas,
        )
    };
    let expected = Data::new(Some(int32), Value::Int32(7));
    assert_eq!(decode(D::Int32(7)).unwrap(), expected);
    assert_eq!(decode(D::Tree(vec![N::Int32(7)])).unwrap(), expected);
    let direct = decode(D::String("7".into())).unwrap_err();
    let tree = decode(D::Tree(vec![N::String("7".into())])).unwrap_err();
    assert_eq!(direct, tree);
    assert_rejected(&direct, "int32");
}

fn sink_record(
    offset: i64,
    key: Option<Data>,
    value: Option<Data>,
    headers: Vec<Header>,
) -> SinkRecord {
    SinkRecord {
        topic: "t".into(),
        partition: 1,
        offset,
        key,
        value,
        timestamp: Some(offset * 10),
        timestamp_type: TimestampType::CreateTime,
        headers,
        original_topic: "orig".into(),
        original_partition: 2,
        original_offset: offset + 100,
    }
}

#[test]
fn sink_batches_round_trip_and_define_each_schema_once() {
    let string = schema(Schema::primitive(SchemaType::String));
    let equal_string = schema(Schema::primitive(SchemaType::String));
    let row = schema(Schema::structure(vec![field("v", string.clone())]));
    let records: Vec<SinkRecord> = (0..10)
        .map(|i| {
            let key_schema = if i % 2 == 0 { &string } else { &equal_string };
            sink_record(
                i,
                Some(Data::new(
                    Some(key_schema.clone()),
                    Value::String(format!("k{i}")),
                )),
                Some(Data::new(
                    Some(row.clone()),
                    Value::Struct(Struct {
                        schema: row.clone(),
                        values: vec![Value::String(format!("v{i}"))],
                    }),
                )),
                vec![Header {
                    key: "h".into(),
                    value: Data::new(Some(string.clone()), Value::String("x".into())),
                }],
            )
        })
        .chain([sink_record(
            10,
            None,
            Some(Data::schemaless(Value::Null)),
            vec![],
        )])
        .collect();
    let batch = convert::sink_batch_to_wit(records.clone());
    // string (shared by keys and headers), row and row's field schema.
    assert_eq!(batch.schemas.len(), 3);
    assert_eq!(batch.topics, ["t", "orig"]);
    // One header for each record but the last, in one list.
    assert_eq!(batch.headers.len(), 10);
    assert_eq!(batch.records[10].header_count, 0);
    assert!(
        batch
            .records
            .iter()
            .all(|r| (r.topic, r.original_topic) == (0, 1))
    );
    assert_eq!(
        convert::sink_batch_from_wit(batch, &HostLimits::default()).unwrap(),
        records
    );
}

/// The `source-batch` a guest would return with the records of a `commit-records` call (the
/// two share their table format).
fn as_source_batch(batch: wit_source::CommittedBatch) -> wit_source::SourceBatch {
    wit_source::SourceBatch {
        schemas: batch.schemas,
        topics: batch.topics,
        source_partitions: batch.source_partitions,
        records: batch.records.into_iter().map(|c| c.record).collect(),
        records_json: None,
    }
}

#[test]
fn source_records_round_trip() {
    let record = SourceRecord {
        source_partition: Arc::new(vec![("file".into(), Scalar::String("a.txt".into()))]),
        source_offset: vec![
            ("pos".into(), Scalar::Int(42)),
            ("f".into(), Scalar::Float(0.5)),
            ("b".into(), Scalar::Boolean(true)),
            ("n".into(), Scalar::Null),
        ],
        topic: "out".into(),
        partition: None,
        key: None,
        value: Some(Data::new(
            Some(schema(Schema::primitive(SchemaType::Bytes))),
            Value::Bytes(vec![1, 2, 3]),
        )),
        timestamp: None,
        headers: vec![Header {
            key: "h".into(),
            value: Data::schemaless(Value::Int64(1)),
        }],
    };
    let batch = as_source_batch(convert::committed_batch_to_wit(vec![(
        record.clone(),
        None,
    )]));
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap(),
        vec![record]
    );
}

#[test]
fn committed_records_carry_their_schemas_once_per_call() {
    let name = schema(Schema::primitive(SchemaType::String));
    let row = schema(Schema::structure(vec![field("name", name.clone())]));
    // Equal to `row` but a different `Arc`: still one table entry.
    let equal_row = schema(Schema::structure(vec![field("name", name.clone())]));
    let file_a = Arc::new(vec![("file".into(), Scalar::String("a.txt".into()))]);
    let record = |i: i64, row: &SchemaRef| SourceRecord {
        source_partition: file_a.clone(),
        source_offset: vec![("pos".into(), Scalar::Int(i))],
        topic: "out".into(),
        partition: Some(0),
        key: None,
        value: Some(Data::new(
            Some(row.clone()),
            Value::Struct(Struct {
                schema: row.clone(),
                values: vec![Value::String(format!("r{i}"))],
            }),
        )),
        timestamp: Some(i),
        headers: vec![],
    };
    let metadata = |i: i64| RecordMetadata {
        topic: "out".into(),
        partition: 0,
        offset: i,
        timestamp: Some(i),
    };
    let records = vec![
        (record(0, &row), Some(metadata(0))),
        (record(1, &equal_row), Some(metadata(1))),
        (record(2, &row), None),
    ];
    let batch = convert::committed_batch_to_wit(records.clone());
    // `row` once, then its field's schema.
    assert_eq!(batch.schemas.len(), 2);
    assert_eq!(batch.schemas[0].type_, wit::SchemaType::Struct);
    assert_eq!(batch.schemas[0].fields[0].name, "name");
    assert_eq!(batch.schemas[1].type_, wit::SchemaType::String);
    assert!(
        batch
            .records
            .iter()
            .all(|r| r.record.value.as_ref().unwrap().schema == Some(0))
    );
    assert_eq!(batch.records[1].metadata.as_ref().unwrap().offset, 1);
    assert!(batch.records[2].metadata.is_none());

    // The records decode back with their schemas.
    let decoded =
        convert::source_batch_from_wit(as_source_batch(batch), &HostLimits::default()).unwrap();
    let expected: Vec<_> = records.into_iter().map(|(r, _)| r).collect();
    assert_eq!(decoded, expected);
}

#[test]
fn committed_records_list_each_topic_and_source_partition_once() {
    let file = |name: &str| vec![("file".into(), Scalar::String(name.into()))];
    let (a, b) = (Arc::new(file("a.txt")), Arc::new(file("b.txt")));
    // Equal to `a` but a different `Arc`, as when records of two polls are committed together.
    let a_again = Arc::new(file("a.txt"));
    let record = |partition: &Arc<OffsetMap>, topic: &str, i: i64| SourceRecord {
        source_partition: partition.clone(),
        source_offset: vec![("pos".into(), Scalar::Int(i))],
        topic: topic.into(),
        partition: None,
        key: None,
        value: None,
        timestamp: None,
        headers: vec![],
    };
    let records: Vec<_> = [
        record(&a, "x", 0),
        record(&b, "y", 1),
        record(&a, "x", 2),
        record(&a_again, "y", 3),
        record(&b, "x", 4),
    ]
    .into_iter()
    .map(|r| (r, None))
    .collect();
    let batch = convert::committed_batch_to_wit(records.clone());
    assert_eq!(batch.topics, ["x", "y"]);
    assert_eq!(batch.source_partitions.len(), 2);
    let refs: Vec<_> = batch
        .records
        .iter()
        .map(|c| (c.record.source_partition, c.record.topic))
        .collect();
    assert_eq!(refs, [(0, 0), (1, 1), (0, 0), (0, 1), (1, 0)]);

    // Records decoded from one batch share their partition's map.
    let decoded =
        convert::source_batch_from_wit(as_source_batch(batch), &HostLimits::default()).unwrap();
    assert!(Arc::ptr_eq(
        &decoded[0].source_partition,
        &decoded[3].source_partition
    ));
    let expected: Vec<_> = records.into_iter().map(|(r, _)| r).collect();
    assert_eq!(decoded, expected);
}

#[test]
fn config_defs_round_trip() {
    use crate::config::def::{ConfigKey, ConfigType, ConfigValue, Importance, Validator, Width};
    let key = ConfigKey {
        name: "batch.size".into(),
        ty: ConfigType::Int,
        default: Some("100".into()),
        importance: Importance::Medium,
        documentation: "How many.".into(),
        group: Some("Tuning".into()),
        order_in_group: 2,
        width: Width::Short,
        display_name: "Batch size".into(),
        dependents: vec!["other".into()],
        validator: Some(Validator::Range {
            min: Some(1.0),
            max: None,
        }),
        recommended_values: vec!["10".into()],
    };
    assert_eq!(
        convert::config_key_from_wit(convert::config_key_to_wit(key.clone())),
        key
    );
    let value = ConfigValue {
        name: "batch.size".into(),
        value: None,
        recommended_values: vec![],
        errors: vec!["required".into()],
        visible: true,
    };
    assert_eq!(
        convert::config_value_from_wit(convert::config_value_to_wit(value.clone())),
        value
    );
}

// --- Rejections --------------------------------------------------------------------------

fn wit_schema(ty: wit::SchemaType) -> wit::Schema {
    wit::Schema {
        type_: ty,
        optional: false,
        name: None,
        version: None,
        doc: None,
        parameters: vec![],
        default_value: None,
        value_schema: None,
        key_schema: None,
        fields: vec![],
    }
}

fn source_batch(schemas: Vec<wit::Schema>, value: wit::Data) -> wit_source::SourceBatch {
    let record = |value| wit_source::SourceRecord {
        source_partition: 0,
        source_offset: vec![],
        topic: 0,
        partition: None,
        key: None,
        value: Some(value),
        timestamp: None,
        headers: vec![],
    };
    let ok = wit::Data {
        schema: None,
        value: wit::DataValue::Null,
    };
    wit_source::SourceBatch {
        schemas,
        topics: vec!["t".into()],
        source_partitions: vec![vec![]],
        records: vec![
            record(ok.clone()),
            record(ok.clone()),
            record(ok),
            record(value),
        ],
        records_json: None,
    }
}

fn rejection(schemas: Vec<wit::Schema>, schema: Option<u32>, nodes: Vec<wit::ValueNode>) -> String {
    convert::source_batch_from_wit(
        source_batch(
            schemas,
            wit::Data {
                schema,
                value: wit::DataValue::Tree(nodes),
            },
        ),
        &HostLimits::default(),
    )
    .expect_err("the batch must be rejected")
}

fn assert_rejected(message: &str, expected: &str) {
    assert!(
        message.contains(expected),
        "expected {expected:?} in {message:?}"
    );
}

#[test]
fn rejects_nodes_that_refer_backwards_or_out_of_range() {
    use wit::ValueNode as N;
    let message = rejection(
        vec![],
        None,
        vec![N::Array(vec![1, 2]), N::Int32(1), N::Array(vec![1])],
    );
    assert_eq!(
        message,
        "record 3 value: node 2 refers to node 1, which is not after it"
    );
    assert_rejected(
        &rejection(vec![], None, vec![N::Array(vec![0])]),
        "node 0 refers to node 0, which is not after it",
    );
    assert_rejected(
        &rejection(vec![], None, vec![N::Map(vec![(1, 9)]), N::Int8(1)]),
        "node 0 refers to node 9, which does not exist",
    );
    assert_rejected(
        &rejection(vec![], None, vec![N::Array(vec![1, 1]), N::Int8(1)]),
        "node 0 refers to node 1, which is already used",
    );
    assert_rejected(
        &rejection(vec![], None, vec![N::Int8(1), N::Int8(2)]),
        "node 1 is not part of the value tree",
    );
    assert_rejected(&rejection(vec![], None, vec![]), "the value table is empty");
}

#[test]
fn rejects_values_that_do_not_match_their_schema() {
    use wit::{SchemaType as T, ValueNode as N};
    assert_rejected(
        &rejection(
            vec![wit_schema(T::Int32)],
            Some(0),
            vec![N::String("1".into())],
        ),
        "record 3 value: node 0 is string but its schema is int32",
    );
    assert_rejected(
        &rejection(vec![wit_schema(T::Int32)], Some(0), vec![N::Null]),
        "node 0 is null but its schema (int32) is required and has no default",
    );
    assert_rejected(
        &rejection(vec![wit_schema(T::Int32)], Some(3), vec![N::Int32(1)]),
        "schema 3 does not exist",
    );
    let strukt = wit::Schema {
        fields: vec![wit::Field {
            name: "a".into(),
            schema: 1,
        }],
        ..wit_schema(T::Struct)
    };
    assert_rejected(
        &rejection(
            vec![strukt.clone(), wit_schema(T::Int64)],
            Some(0),
            vec![N::Struct(vec![1, 2]), N::Int64(1), N::Int64(2)],
        ),
        "node 0 is a struct with 2 values but its schema (struct) has 1 fields",
    );
    assert_rejected(
        &rejection(
            vec![strukt, wit_schema(T::Int64)],
            Some(0),
            vec![N::Struct(vec![1]), N::Int32(1)],
        ),
        "field `a`: node 1 is int32 but its schema is int64",
    );
    assert_rejected(
        &rejection(vec![], None, vec![N::Struct(vec![])]),
        "struct in schemaless data",
    );
    let array = wit::Schema {
        value_schema: Some(1),
        ..wit_schema(T::Array)
    };
    assert_rejected(
        &rejection(
            vec![array, wit_schema(T::String)],
            Some(0),
            vec![N::Array(vec![1]), N::Bytes(vec![])],
        ),
        "node 1 is bytes but its schema is string",
    );
}

#[test]
fn rejects_malformed_schema_tables() {
    use wit::{SchemaType as T, ValueNode as N};
    let one = vec![N::Null];
    // A field referring to its own struct: a cycle.
    let cyclic = wit::Schema {
        optional: true,
        fields: vec![wit::Field {
            name: "self".into(),
            schema: 0,
        }],
        ..wit_schema(T::Struct)
    };
    assert_rejected(
        &rejection(vec![cyclic], Some(0), one.clone()),
        "schema 0 refers to schema 0, which is not after it",
    );
    assert_rejected(
        &rejection(vec![wit_schema(T::Array)], None, one.clone()),
        "schema 0 is an array without an element schema",
    );
    let map = wit::Schema {
        value_schema: Some(1),
        key_schema: Some(7),
        ..wit_schema(T::Map)
    };
    assert_rejected(
        &rejection(vec![map, wit_schema(T::Int8)], None, one.clone()),
        "schema 0 refers to schema 7, which does not exist",
    );
    let with_fields = wit::Schema {
        fields: vec![wit::Field {
            name: "x".into(),
            schema: 1,
        }],
        ..wit_schema(T::Int32)
    };
    assert_rejected(
        &rejection(vec![with_fields, wit_schema(T::Int8)], None, one.clone()),
        "schema 0 is int32 but has fields",
    );
    let bad_default = wit::Schema {
        default_value: Some(vec![N::String("no".into())]),
        ..wit_schema(T::Int32)
    };
    assert_rejected(
        &rejection(vec![bad_default], None, one.clone()),
        "schema 0 default: node 0 is string but its schema is int32",
    );
    let duplicate_fields = wit::Schema {
        fields: vec![
            wit::Field {
                name: "x".into(),
                schema: 1,
            },
            wit::Field {
                name: "x".into(),
                schema: 1,
            },
        ],
        ..wit_schema(T::Struct)
    };
    assert_rejected(
        &rejection(vec![duplicate_fields, wit_schema(T::Int8)], None, one),
        "schema 0 has two fields named `x`",
    );
}

#[test]
fn rejects_deep_or_exploding_tables_without_overflowing_the_stack() {
    use wit::{SchemaType as T, ValueNode as N};
    // 100,000 nested arrays.
    let depth = 100_000u32;
    let nodes: Vec<_> = (0..depth)
        .map(|i| {
            if i + 1 < depth {
                N::Array(vec![i + 1])
            } else {
                N::Null
            }
        })
        .collect();
    assert_rejected(
        &rejection(vec![], None, nodes),
        "is nested deeper than 64 levels",
    );
    // A chain of 100 array schemas.
    let mut schemas: Vec<_> = (0..100u32)
        .map(|i| wit::Schema {
            value_schema: Some(i + 1),
            ..wit_schema(T::Array)
        })
        .collect();
    schemas.push(wit_schema(T::Int8));
    assert_rejected(
        &rejection(schemas, None, vec![N::Null]),
        "is nested deeper than 64 levels",
    );
    // 40 structs, each with two fields of the next: 2^40 schemas when expanded.
    let mut schemas: Vec<_> = (0..40u32)
        .map(|i| wit::Schema {
            fields: vec![
                wit::Field {
                    name: "a".into(),
                    schema: i + 1,
                },
                wit::Field {
                    name: "b".into(),
                    schema: i + 1,
                },
            ],
            ..wit_schema(T::Struct)
        })
        .collect();
    schemas.push(wit_schema(T::Int8));
    // With room for its bytes, the node count stops it.
    let roomy = HostLimits {
        schema_max_bytes: u64::MAX,
        ..HostLimits::default()
    };
    assert_rejected(
        &convert::schemas_from_wit(schemas.clone(), &roomy).unwrap_err(),
        "expands to more than 100000 schemas",
    );
    assert_rejected(
        &rejection(schemas, None, vec![N::Null]),
        "expands to more than 1048576 bytes (sandbox.schema.max.bytes)",
    );
}

#[test]
fn a_schema_whose_shared_children_expand_past_the_byte_limit_is_refused_before_expanding() {
    use wit::SchemaType as T;
    // 10 structs, each with two fields of the next, ending in a string with a 2 KiB doc: 11
    // table entries, 2,047 nodes and about 2 MiB of JSON once expanded.
    let doc = "d".repeat(2 << 10);
    let mut schemas: Vec<_> = (0..10u32)
        .map(|i| wit::Schema {
            fields: vec![
                wit::Field {
                    name: "a".into(),
                    schema: i + 1,
                },
                wit::Field {
                    name: "b".into(),
                    schema: i + 1,
                },
            ],
            ..wit_schema(T::Struct)
        })
        .collect();
    schemas.push(wit::Schema {
        doc: Some(doc),
        ..wit_schema(T::String)
    });
    let error = convert::schemas_from_wit(schemas.clone(), &HostLimits::default()).unwrap_err();
    // The first entry to pass 1 MiB is struct 1: 2^9 leaves of about 2 KiB each.
    assert_eq!(
        error,
        "schema 1 expands to more than 1048576 bytes (sandbox.schema.max.bytes)"
    );
    // Within a larger limit the same table is accepted, its children shared, not copied.
    let roomy = HostLimits {
        schema_max_bytes: 4 << 20,
        ..HostLimits::default()
    };
    let built = convert::schemas_from_wit(schemas, &roomy).unwrap();
    assert!(Arc::ptr_eq(
        &built[0].fields[0].schema,
        &built[0].fields[1].schema
    ));
}

#[test]
fn rejects_records_that_refer_to_missing_topics_or_source_partitions() {
    let ok = wit::Data {
        schema: None,
        value: wit::DataValue::Null,
    };
    let mut batch = source_batch(vec![], ok.clone());
    batch.records[2].topic = 1;
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "record 2: topic 1 does not exist (the batch has 1 topics)"
    );
    let mut batch = source_batch(vec![], ok.clone());
    batch.records[1].source_partition = 7;
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "record 1: source partition 7 does not exist (the batch has 1 source partitions)"
    );
    let mut batch = source_batch(vec![], ok.clone());
    batch.topics = vec![String::new(); 5];
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "the `topics` table has 5 entries for 4 records; it may have at most one per record"
    );
    let mut batch = source_batch(vec![], ok);
    batch.records.clear();
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "the `topics` table has 1 entries for 0 records; it may have at most one per record"
    );
}

#[test]
fn batches_of_more_than_a_million_records_are_refused() {
    assert_eq!(
        convert::check_batch_records(convert::MAX_BATCH_RECORDS),
        Ok(())
    );
    assert_eq!(
        convert::check_batch_records(5_000_000).unwrap_err(),
        "the batch has 5000000 records; at most 1000000 are allowed"
    );
    // The check runs before any record is looked at.
    let mut batch = source_batch(
        vec![],
        wit::Data {
            schema: None,
            value: wit::DataValue::Tree(vec![]),
        },
    );
    let record = batch.records[0].clone();
    batch.records = vec![record; convert::MAX_BATCH_RECORDS + 1];
    assert_eq!(
        convert::source_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "the batch has 1000001 records; at most 1000000 are allowed"
    );
}

#[test]
fn sink_record_headers_name_the_failing_header() {
    use wit::ValueNode as N;
    let batch = wit_sink::SinkBatch {
        schemas: vec![],
        topics: vec!["t".into()],
        headers: vec![wit::Header {
            key: "trace".into(),
            value: wit::Data {
                schema: None,
                value: wit::DataValue::Tree(vec![N::Array(vec![0])]),
            },
        }],
        records: vec![wit_sink::SinkRecord {
            topic: 0,
            partition: 0,
            offset: 0,
            key: None,
            value: None,
            timestamp: None,
            timestamp_type: wit_sink::TimestampType::NoTimestampType,
            header_count: 1,
            original_topic: 0,
            original_partition: 0,
            original_offset: 0,
        }],
    };
    assert_eq!(
        convert::sink_batch_from_wit(batch, &HostLimits::default()).unwrap_err(),
        "record 0 header 0 (`trace`): node 0 refers to node 0, which is not after it"
    );
}

#[test]
fn sink_batches_whose_header_counts_do_not_add_up_are_rejected() {
    let mut records: Vec<SinkRecord> = (0..3)
        .map(|i| {
            let header = |key: &str| Header {
                key: key.into(),
                value: Data::schemaless(Value::Int64(i)),
            };
            sink_record(i, None, None, vec![header("a"), header("b")])
        })
        .collect();
    records[1].headers.clear();
    let batch = convert::sink_batch_to_wit(records.clone());
    assert_eq!(batch.headers.len(), 4);
    let counts: Vec<u32> = batch.records.iter().map(|r| r.header_count).collect();
    assert_eq!(counts, [2, 0, 2]);
    assert_eq!(
        convert::sink_batch_from_wit(batch.clone(), &HostLimits::default()).unwrap(),
        records
    );
    let mut past_the_end = batch.clone();
    past_the_end.records[1].header_count = 1;
    assert_eq!(
        convert::sink_batch_from_wit(past_the_end, &HostLimits::default()).unwrap_err(),
        "record 2 has 2 headers, past the end of the batch's 4 headers"
    );
    let mut left_over = batch;
    left_over.records[2].header_count = 1;
    assert_eq!(
        convert::sink_batch_from_wit(left_over, &HostLimits::default()).unwrap_err(),
        "the records have 3 headers, but the batch's `headers` list has 4"
    );
}

// --- Smoke test with the `test-source` guest --------------------------------------------

/// The `test-source` component built by `cargo build-connectors`, or None (saying so) when it
/// was not built.
fn test_source_bytes() -> Option<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/wasm32-wasip2/wasm/test_source.wasm"
    );
    let bytes = std::fs::read(path).ok();
    if bytes.is_none() {
        println!("skipped: {path} not built (run `cargo build-connectors`)");
    }
    bytes
}

/// `test-source` loaded on a runtime of its own with its own compile cache (both to be kept
/// while the plugin is used), or None when it was not built.
async fn load_test_source() -> Option<(
    tempfile::TempDir,
    super::Runtime,
    std::sync::Arc<super::Plugin>,
)> {
    let bytes = test_source_bytes()?;
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = super::Runtime::new(super::RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..super::RuntimeConfig::default()
    })
    .expect("runtime");
    let plugin = runtime
        .load(&bytes, "test_source.wasm")
        .await
        .expect("load");
    Some((cache, runtime, plugin))
}

/// The config of task 0 of `test-source` in `mode`, five records a poll.
fn test_source_task(mode: &str) -> super::ConfigMap {
    [
        ("topic", "t"),
        ("mode", mode),
        ("task.id", "0"),
        ("batch.size", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Runs `test-source` (built by `cargo build-connectors`) if it is there. The real guest
/// tests live in `tests/`; this only checks that the runtime and the fixture agree.
#[tokio::test]
async fn test_source_guest_smoke() {
    use super::{
        CallError, ConfigMap, InstanceContext, PluginKind, Runtime, RuntimeConfig, SandboxLimits,
        TrapCause,
    };

    let Some(bytes) = test_source_bytes() else {
        return;
    };
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let plugin = runtime
        .load(&bytes, "test_source.wasm")
        .await
        .expect("load");
    assert_eq!(plugin.info.kind, PluginKind::Source);
    assert!(!plugin.info.class_name.is_empty());
    assert!(plugin.info.digest.starts_with("sha256:"));
    // A second load comes from the cache.
    let again = runtime
        .load(&bytes, "test_source.wasm")
        .await
        .expect("cached load");
    assert_eq!(again.info.class_name, plugin.info.class_name);

    let context = || InstanceContext::detached("smoke", Some(0), SandboxLimits::default());
    let config = test_source_task;

    let mut connector = plugin.connector(context()).await.expect("instantiate");
    let connector_config: ConfigMap = [("topic".to_owned(), "smoke".to_owned())].into();
    connector
        .start(&connector_config)
        .await
        .expect("connector start");
    let task_configs = connector.task_configs(2).await.expect("task configs");
    assert!(!task_configs.is_empty());
    connector.stop().await.expect("connector stop");

    let mut task = plugin.source_task(context()).await.expect("instantiate");
    task.start(&config("ok")).await.expect("start");
    let records = task.poll().await.expect("poll in mode ok");
    assert_eq!(records.len(), 5);
    task.stop().await.expect("stop");

    let mut task = plugin.source_task(context()).await.expect("instantiate");
    task.start(&config("every-type")).await.expect("start");
    let records = task.poll().await.expect("poll in mode every-type");
    assert_eq!(records.len(), 1);

    // `commit-records`: the task checks each committed record against what it polled (a struct
    // value with its schema) and raises an error on any difference.
    let (events, mut raised) = tokio::sync::mpsc::unbounded_channel();
    let mut task = plugin
        .source_task(InstanceContext {
            events,
            ..context()
        })
        .await
        .expect("instantiate");
    let options = task.start(&config("commit-records")).await.expect("start");
    assert!(options.wants_commit_records);
    let records = task.poll().await.expect("poll in mode commit-records");
    assert_eq!(records.len(), 1);
    let metadata = crate::data::RecordMetadata {
        topic: "smoke".into(),
        partition: 0,
        offset: 0,
        timestamp: None,
    };
    let committed = records.into_iter().map(|r| (r, Some(metadata.clone())));
    task.commit_records(committed.collect())
        .await
        .expect("commit-records keeps schemas");
    assert!(
        raised.try_recv().is_err(),
        "the task raised an error on a committed record"
    );
    task.stop().await.expect("stop");

    let mut task = plugin.source_task(context()).await.expect("instantiate");
    let trapped = match task.start(&config("panic")).await {
        Err(error) => error,
        Ok(_) => task.poll().await.expect_err("mode panic must trap"),
    };
    match &trapped {
        CallError::Trap {
            cause: TrapCause::Trap(message),
            ..
        } => assert!(message.contains("panic from test-source"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(matches!(
        task.poll().await,
        Err(CallError::Trap {
            cause: TrapCause::Poisoned,
            ..
        })
    ));
}

/// CPU time this thread used so far.
#[allow(unsafe_code, reason = "getrusage has no safe wrapper in std")]
fn thread_cpu_time() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// A call running past `throttle_after` gets an eighth of a thread: in the same wall-clock
/// time a throttled busy loop uses far less CPU than an unthrottled one. (The test runtime has
/// one thread, so the guest runs on this thread.)
#[tokio::test(flavor = "current_thread")]
async fn a_long_call_is_throttled() {
    use super::{InstanceContext, Runtime, RuntimeConfig, SandboxLimits};

    let Some(bytes) = test_source_bytes() else {
        return;
    };
    let cache = tempfile::tempdir().expect("temporary directory");
    let cpu_in_400ms = |throttle_after: Option<Duration>| {
        let bytes = bytes.clone();
        let cache = cache.path().to_owned();
        async move {
            let runtime = Runtime::new(RuntimeConfig {
                cache_dir: Some(cache),
                throttle_after,
                ..RuntimeConfig::default()
            })
            .expect("runtime");
            let plugin = runtime
                .load(&bytes, "test_source.wasm")
                .await
                .expect("load");
            let limits = SandboxLimits {
                timeout: Duration::from_millis(400),
                ..SandboxLimits::default()
            };
            let mut task = plugin
                .source_task(InstanceContext::detached("throttle", Some(0), limits))
                .await
                .expect("instantiate");
            let config: super::ConfigMap = [("topic", "t"), ("mode", "loop"), ("task.id", "0")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            task.start(&config).await.expect("start");
            let before = thread_cpu_time();
            task.poll().await.expect_err("the loop hits the deadline");
            thread_cpu_time() - before
        }
    };
    let free = cpu_in_400ms(None).await;
    let throttled = cpu_in_400ms(Some(Duration::from_millis(50))).await;
    // Unthrottled it spins for all 400 ms; throttled for 50 ms and then an eighth of the rest.
    assert!(
        throttled.as_secs_f64() < 0.7 * free.as_secs_f64(),
        "throttled loop used {throttled:?} of CPU, unthrottled {free:?}"
    );
}

/// A component compiled after another that shares most of its functions (two builds of the
/// test source) reuses them from the compiled-function cache, in a new runtime as after a
/// restart, and the component so compiled runs; with the cache off nothing is reused.
#[tokio::test]
async fn components_that_share_functions_compile_only_what_is_new() {
    use super::{InstanceContext, Runtime, RuntimeConfig, SandboxLimits};

    let Some(first) = test_source_bytes() else {
        return;
    };
    let second_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/wasm32-wasip2/wasm/test_source_v2.wasm"
    );
    let Ok(second) = std::fs::read(second_path) else {
        println!("skipped: {second_path} not built (run `cargo build-connectors`)");
        return;
    };
    let runtime = |dir: &std::path::Path, max: u64| {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.to_owned()),
            function_cache_max_bytes: max,
            ..RuntimeConfig::default()
        })
        .expect("runtime")
    };

    let off = tempfile::tempdir().expect("temporary directory");
    let runtime_off = runtime(off.path(), 0);
    runtime_off
        .load(&first, "test_source.wasm")
        .await
        .expect("load");
    let counts = runtime_off.compile_counts();
    assert_eq!((counts.misses, counts.functions_reused), (1, 0));
    assert!(!off.path().join("functions").exists());

    let on = tempfile::tempdir().expect("temporary directory");
    let filler = runtime(on.path(), u64::MAX);
    filler.load(&first, "test_source.wasm").await.expect("load");
    let filled = filler.compile_counts();
    assert!(filled.functions_compiled > 100, "{filled:?}");
    drop(filler);

    // A new runtime on the same directory, as after a restart.
    let restarted = runtime(on.path(), u64::MAX);
    let plugin = restarted
        .load(&second, "test_source_v2.wasm")
        .await
        .expect("load");
    let counts = restarted.compile_counts();
    assert_eq!(counts.misses, 1);
    assert!(
        counts.functions_reused > counts.functions_compiled,
        "most functions are shared: {counts:?}"
    );

    // Code assembled from reused functions runs.
    let mut task = plugin
        .source_task(InstanceContext::detached(
            "reuse",
            Some(0),
            SandboxLimits::default(),
        ))
        .await
        .expect("instantiate");
    task.start(&test_source_task("ok")).await.expect("start");
    assert_eq!(task.poll().await.expect("poll").len(), 5);
}

/// `source-task-context.poll-again-after` during a `poll` that returned nothing is what
/// the worker waits; a `poll` with records, or without the call, leaves the wait to the
/// worker's back-off, and the value does not carry over to the next `poll`.
#[tokio::test]
async fn a_source_task_says_how_long_it_has_nothing() {
    use super::{InstanceContext, SandboxLimits};

    let Some((_cache, _runtime, plugin)) = load_test_source().await else {
        return;
    };
    let task = |settings: &'static [(&'static str, &'static str)]| {
        let plugin = plugin.clone();
        async move {
            let mut task = plugin
                .source_task(InstanceContext::detached(
                    "idle",
                    Some(0),
                    SandboxLimits::default(),
                ))
                .await
                .expect("instantiate");
            let config: super::ConfigMap = [("topic", "t"), ("mode", "idle"), ("task.id", "0")]
                .iter()
                .chain(settings)
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            task.start(&config).await.expect("start");
            task
        }
    };

    let mut hinting = task(&[("idle.ms", "1234")]).await;
    let batch = hinting.poll_batch().await.expect("poll");
    assert!(batch.is_empty());
    assert_eq!(batch.idle_for(), Some(Duration::from_millis(1234)));

    let mut silent = task(&[]).await;
    assert_eq!(silent.poll_batch().await.expect("poll").idle_for(), None);

    let mut busy = task(&[("idle.ms", "1234"), ("idle.with.records", "true")]).await;
    let batch = busy.poll_batch().await.expect("poll");
    assert!(!batch.is_empty());
    assert_eq!(batch.idle_for(), None, "a poll with records is not idle");
}

/// An idle task instance gives back the pages its fiber stack touched, and its next calls run
/// as on a fresh stack, making the same records as an instance that never idled; a connector
/// instance gives them back after every call.
#[tokio::test]
async fn an_idle_instance_gives_back_its_stack_pages() {
    use super::{ConfigMap, InstanceContext, SandboxLimits};

    let Some((_cache, _runtime, plugin)) = load_test_source().await else {
        return;
    };
    let context = || InstanceContext::detached("stack", Some(0), SandboxLimits::default());

    let mut steady = plugin.source_task(context()).await.expect("instantiate");
    steady.start(&test_source_task("ok")).await.expect("start");
    let mut idling = plugin.source_task(context()).await.expect("instantiate");
    idling.start(&test_source_task("ok")).await.expect("start");
    assert!(
        idling.stack_resident_pages().expect("the stack is known") > 0,
        "the calls so far touched the stack"
    );
    for round in 0..3 {
        idling.idle();
        assert_eq!(idling.stack_resident_pages(), Some(0), "round {round}");
        let records = idling.poll().await.expect("poll after idle");
        assert_eq!(records, steady.poll().await.expect("poll"), "round {round}");
        assert!(idling.stack_resident_pages().unwrap() > 0, "round {round}");
    }
    // Idle twice in a row: nothing ran in between, nothing to give back.
    idling.idle();
    idling.idle();
    assert_eq!(idling.stack_resident_pages(), Some(0));
    idling.stop().await.expect("stop after idle");

    let mut connector = plugin
        .connector(InstanceContext::detached(
            "stack",
            None,
            SandboxLimits::default(),
        ))
        .await
        .expect("instantiate");
    assert_eq!(
        connector.stack_resident_pages(),
        Some(0),
        "after instantiation"
    );
    let config: ConfigMap = [("topic".to_owned(), "t".to_owned())].into();
    connector.start(&config).await.expect("connector start");
    assert_eq!(connector.stack_resident_pages(), Some(0), "after start");
    assert!(
        !connector
            .task_configs(2)
            .await
            .expect("task configs")
            .is_empty()
    );
    assert_eq!(
        connector.stack_resident_pages(),
        Some(0),
        "after task-configs"
    );
}

/// With `plugin.compile.baseline.min.bytes` at or below its size, a component not in the
/// compile cache loads with baseline code: its instances run and are held to fuel, deadlines,
/// memory and stack as optimized ones are. The optimized code then replaces it for new
/// instances (those running keep theirs), lands in the compile cache, and a restart loads it
/// from there without the baseline compiler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::await_holding_lock,
    reason = "the test holds the background compile back on purpose; only that thread waits"
)]
async fn a_large_component_runs_baseline_code_until_its_optimized_code_is_ready() {
    use super::{
        CallError, CodeTier, InstanceContext, Runtime, RuntimeConfig, SandboxLimits, TrapCause,
    };

    let Some(bytes) = test_source_bytes() else {
        return;
    };
    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = |dir: &std::path::Path, min: Option<usize>| {
        Runtime::new(RuntimeConfig {
            cache_dir: Some(dir.to_owned()),
            baseline_min_bytes: min,
            ..RuntimeConfig::default()
        })
        .expect("runtime")
    };
    let config = test_source_task;
    let limited = |limits: SandboxLimits| InstanceContext::detached("tiers", Some(0), limits);
    let context = || limited(SandboxLimits::default());

    let first = runtime(cache.path(), Some(bytes.len()));
    // Holds the optimizing compile back until the baseline code has been checked.
    let hold = first.shared.optimizing.lock().expect("optimizing lock");
    let plugin = first.load(&bytes, "test_source.wasm").await.expect("load");
    assert_eq!(plugin.tier(), CodeTier::Baseline);
    let counts = first.compile_counts();
    assert_eq!((counts.baseline, counts.hits), (1, 0), "{counts:?}");

    let mut early = plugin.source_task(context()).await.expect("instantiate");
    early.start(&config("ok")).await.expect("start");
    assert_eq!(early.poll().await.expect("poll").len(), 5);
    // Mapped copy-on-write, it takes two slots of the capacity (`sandbox.memory.cow.enable`
    // is off).
    assert_eq!(first.capacity().report().instances, 2);
    // The limits hold for baseline code too (the baseline compiler meters fuel and epochs).
    let traps = [
        (
            "loop",
            SandboxLimits {
                fuel_per_call: Some(50_000_000),
                ..SandboxLimits::default()
            },
        ),
        (
            "loop",
            SandboxLimits {
                fuel_per_call: None,
                timeout: Duration::from_millis(300),
                ..SandboxLimits::default()
            },
        ),
        (
            "memory",
            SandboxLimits {
                memory_max_bytes: 32 << 20,
                ..SandboxLimits::default()
            },
        ),
        ("deep", SandboxLimits::default()),
    ];
    for (mode, limits) in traps {
        let mut task = plugin
            .source_task(limited(limits))
            .await
            .expect("instantiate");
        task.start(&config(mode)).await.expect("start");
        let cause = match task.poll().await {
            Err(CallError::Trap { cause, .. }) => cause,
            other => panic!("{mode} under {limits:?} must trap, got {other:?}"),
        };
        let expected = match (mode, limits.fuel_per_call) {
            ("loop", Some(_)) => matches!(cause, TrapCause::FuelExhausted { .. }),
            ("loop", None) => matches!(cause, TrapCause::Timeout { .. }),
            ("memory", _) => matches!(cause, TrapCause::MemoryLimit { .. }),
            _ => matches!(cause, TrapCause::StackOverflow),
        };
        assert!(expected, "{mode} under {limits:?} trapped with {cause:?}");
    }

    assert_eq!(plugin.tier(), CodeTier::Baseline);
    drop(hold);
    assert_eq!(plugin.settled().await, CodeTier::Optimized);
    assert_eq!(first.compile_counts().misses, 1);
    let cached = std::fs::read_dir(cache.path())
        .expect("cache directory")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".cwasm"))
        .count();
    assert_eq!(cached, 1, "the optimized code is in the compile cache");
    // The instance made from baseline code runs on; new ones run the optimized code.
    assert_eq!(early.poll().await.expect("poll").len(), 5);
    let mut late = plugin.source_task(context()).await.expect("instantiate");
    late.start(&config("ok")).await.expect("start");
    assert_eq!(late.poll().await.expect("poll").len(), 5);
    assert_eq!(first.capacity().report().instances, 3);

    // A restart finds the optimized code in the cache.
    let restarted = runtime(cache.path(), Some(0));
    let again = restarted
        .load(&bytes, "test_source.wasm")
        .await
        .expect("load");
    assert_eq!(again.tier(), CodeTier::Optimized);
    let counts = restarted.compile_counts();
    assert_eq!((counts.baseline, counts.hits), (0, 1), "{counts:?}");

    // Smaller than the threshold, or with it off: optimized before `load` returns.
    for min in [Some(bytes.len() + 1), None] {
        let fresh = tempfile::tempdir().expect("temporary directory");
        let runtime = runtime(fresh.path(), min);
        let plugin = runtime
            .load(&bytes, "test_source.wasm")
            .await
            .expect("load");
        assert_eq!(plugin.tier(), CodeTier::Optimized, "{min:?}");
        assert_eq!(runtime.compile_counts().baseline, 0);
    }
}
