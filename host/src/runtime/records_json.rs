//! Source records a guest sends as one JSON text (`source-batch.records-json`, whose forms
//! `wit/source-task.wit` defines), checked and converted into the host data model as
//! strictly as the WIT records of [`super::convert`]: every value against its schema, the
//! same depth and node bounds, and an error naming the record and what was wrong.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use super::convert::{Invalid, MAX_DEPTH, MAX_VALUE_NODES};
use crate::data::{
    Data, Header, OffsetMap, Scalar, Schema, SchemaRef, SchemaType, SourceRecord, Struct, Value,
};

/// The tables the records of one batch refer to by index.
pub(super) struct Tables<'a> {
    pub schemas: &'a [SchemaRef],
    pub topics: &'a [Arc<str>],
    pub partitions: &'a [Arc<OffsetMap>],
}

/// Parses the JSON records of a batch, without converting them yet.
pub(super) fn parse(text: &str) -> Result<Vec<Json>, Invalid> {
    serde_json::from_str(text).map_err(|e| {
        format!("`records-json` is not a JSON array of records: {e} (see `source-batch` in wit/source-task.wit)")
    })
}

/// Converts the parsed JSON records of a batch; `first` is the index of the first of them in
/// the whole batch.
pub(super) fn records(
    records: Vec<Json>,
    first: usize,
    tables: &Tables<'_>,
) -> Result<Vec<SourceRecord>, Invalid> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| record(r, tables).map_err(|e| format!("record {}: {e}", first + i)))
        .collect()
}

fn record(json: Json, tables: &Tables<'_>) -> Result<SourceRecord, Invalid> {
    let Json::Array(fields) = json else {
        return Err(format!("is {}, not an array of its 8 fields", kind(&json)));
    };
    let Ok::<[Json; 8], _>(
        [
            partition_index,
            offset,
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
        ],
    ) = fields.try_into()
    else {
        return Err("is not an array of exactly 8 fields ([source-partition, source-offset, topic, partition, key, value, timestamp, headers])".into());
    };
    let source_partition = entry(tables.partitions, &partition_index, "source partition")?;
    let topic = entry(tables.topics, &topic, "topic")?;
    let source_offset = offset_map(offset).map_err(|e| format!("source offset {e}"))?;
    let partition = match partition {
        Json::Null => None,
        Json::Number(n) => Some(
            n.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| format!("partition {n} is not a 32-bit integer"))?,
        ),
        other => {
            return Err(format!(
                "partition is {}, not an integer or null",
                kind(&other)
            ));
        }
    };
    let timestamp = match timestamp {
        Json::Null => None,
        Json::Number(n) => Some(
            n.as_i64()
                .ok_or_else(|| format!("timestamp {n} is not a 64-bit integer"))?,
        ),
        other => {
            return Err(format!(
                "timestamp is {}, not an integer or null",
                kind(&other)
            ));
        }
    };
    let key = optional_data(key, tables.schemas).map_err(|e| format!("key: {e}"))?;
    let value = optional_data(value, tables.schemas).map_err(|e| format!("value: {e}"))?;
    let Json::Array(headers) = headers else {
        return Err(format!("headers are {}, not an array", kind(&headers)));
    };
    let headers = headers
        .into_iter()
        .enumerate()
        .map(|(i, h)| header(h, tables.schemas).map_err(|e| format!("header {i}: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(SourceRecord {
        source_partition: source_partition.clone(),
        source_offset,
        topic: topic.clone(),
        partition,
        key,
        value,
        timestamp,
        headers,
    })
}

/// A record's index into one of its batch's tables.
fn entry<'t, T>(table: &'t [T], index: &Json, what: &str) -> Result<&'t T, Invalid> {
    index
        .as_u64()
        .and_then(|i| table.get(usize::try_from(i).ok()?))
        .ok_or_else(|| {
            format!(
                "{what} {index} does not exist (the batch has {} {what}s)",
                table.len()
            )
        })
}

fn offset_map(json: Json) -> Result<OffsetMap, Invalid> {
    let Json::Object(map) = json else {
        return Err(format!("is {}, not an object", kind(&json)));
    };
    map.into_iter()
        .map(|(key, value)| {
            let scalar = match value {
                Json::Null => Scalar::Null,
                Json::Bool(b) => Scalar::Boolean(b),
                Json::String(s) => Scalar::String(s),
                Json::Number(n) => number_scalar(&n).map_err(|e| format!("`{key}` {e}"))?,
                other => {
                    return Err(format!(
                        "`{key}` is {}; offsets hold only null, booleans, numbers and strings",
                        kind(&other)
                    ));
                }
            };
            Ok((key, scalar))
        })
        .collect()
}

/// An integer is an `int`, any other number a `float`.
fn number_scalar(n: &Number) -> Result<Scalar, Invalid> {
    if is_integer(n) {
        n.as_i64()
            .map(Scalar::Int)
            .ok_or_else(|| format!("= {n} does not fit in a 64-bit integer"))
    } else {
        Ok(Scalar::Float(float(n)?))
    }
}

/// Whether a number was written as an integer (no fraction, no exponent).
fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64() || !n.to_string().contains(['.', 'e', 'E'])
}

fn float(n: &Number) -> Result<f64, Invalid> {
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("= {n} is not a finite 64-bit float"))
}

fn optional_data(json: Json, schemas: &[SchemaRef]) -> Result<Option<Data>, Invalid> {
    match json {
        Json::Null => Ok(None),
        json => data(json, schemas).map(Some),
    }
}

/// `[schema, value]`.
fn data(json: Json, schemas: &[SchemaRef]) -> Result<Data, Invalid> {
    let Json::Array(pair) = json else {
        return Err(format!("is {}, not null or [schema, value]", kind(&json)));
    };
    let Ok::<[Json; 2], _>([schema, value]) = pair.try_into() else {
        return Err("is not [schema, value]".into());
    };
    let schema = match schema {
        Json::Null => None,
        index => Some(
            index
                .as_u64()
                .and_then(|i| schemas.get(usize::try_from(i).ok()?))
                .ok_or_else(|| {
                    format!(
                        "schema {index} does not exist (the batch has {} schemas)",
                        schemas.len()
                    )
                })?
                .clone(),
        ),
    };
    let mut nodes = 0;
    let value = convert(value, schema.as_ref(), 1, &mut nodes)?;
    Ok(Data { schema, value })
}

/// `[key, schema, value]`.
fn header(json: Json, schemas: &[SchemaRef]) -> Result<Header, Invalid> {
    let Json::Array(triple) = json else {
        return Err(format!("is {}, not [key, schema, value]", kind(&json)));
    };
    let Ok::<[Json; 3], _>([key, schema, value]) = triple.try_into() else {
        return Err("is not [key, schema, value]".into());
    };
    let Json::String(key) = key else {
        return Err(format!("its key is {}, not a string", kind(&key)));
    };
    let value =
        data(Json::Array(vec![schema, value]), schemas).map_err(|e| format!("(`{key}`) {e}"))?;
    Ok(Header { key, value })
}

/// One value against its schema (or schemaless), counting nodes against [`MAX_VALUE_NODES`].
fn convert(
    json: Json,
    schema: Option<&SchemaRef>,
    depth: usize,
    nodes: &mut usize,
) -> Result<Value, Invalid> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the value is nested deeper than {MAX_DEPTH} levels"
        ));
    }
    *nodes += 1;
    if *nodes > MAX_VALUE_NODES {
        return Err(format!("the value has more than {MAX_VALUE_NODES} nodes"));
    }
    let Some(schema) = schema else {
        return schemaless(json, depth, nodes);
    };
    let mismatch =
        |json: &Json| format!("is {} but its schema is {}", kind(json), describe(schema));
    Ok(match (schema.ty, json) {
        (_, Json::Null) => {
            if !schema.optional && schema.default.is_none() {
                return Err(format!(
                    "is null but its schema ({}) is required and has no default",
                    describe(schema)
                ));
            }
            Value::Null
        }
        (SchemaType::Boolean, Json::Bool(b)) => Value::Boolean(b),
        (SchemaType::Int8, Json::Number(n)) => Value::Int8(integer(&n, "int8")?),
        (SchemaType::Int16, Json::Number(n)) => Value::Int16(integer(&n, "int16")?),
        (SchemaType::Int32, Json::Number(n)) => Value::Int32(integer(&n, "int32")?),
        (SchemaType::Int64, Json::Number(n)) => Value::Int64(integer(&n, "int64")?),
        (SchemaType::Float32, json) => Value::Float32(floating(json, schema)? as f32),
        (SchemaType::Float64, json) => Value::Float64(floating(json, schema)?),
        (SchemaType::String, Json::String(s)) => Value::String(s),
        (SchemaType::Bytes, Json::String(s)) => Value::Bytes(base64(&s)?),
        (SchemaType::Array, Json::Array(items)) => {
            let element = schema.value_schema.as_ref();
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                values.push(
                    convert(item, element, depth + 1, nodes).map_err(|e| format!("[{i}] {e}"))?,
                );
            }
            Value::Array(values)
        }
        (SchemaType::Map, Json::Array(entries)) => Value::Map(map_entries(
            entries,
            schema.key_schema.as_ref(),
            schema.value_schema.as_ref(),
            depth,
            nodes,
        )?),
        (SchemaType::Struct, Json::Array(items)) => {
            if items.len() != schema.fields.len() {
                return Err(format!(
                    "is a struct of {} values but its schema ({}) has {} fields",
                    items.len(),
                    describe(schema),
                    schema.fields.len()
                ));
            }
            let mut values = Vec::with_capacity(items.len());
            for (item, field) in items.into_iter().zip(&schema.fields) {
                values.push(
                    convert(item, Some(&field.schema), depth + 1, nodes)
                        .map_err(|e| format!("field `{}` {e}", field.name))?,
                );
            }
            Value::Struct(Struct {
                schema: schema.clone(),
                values,
            })
        }
        (_, json) => return Err(mismatch(&json)),
    })
}

fn schemaless(json: Json, depth: usize, nodes: &mut usize) -> Result<Value, Invalid> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => {
            if is_integer(&n) {
                Value::Int64(integer(&n, "int64")?)
            } else {
                Value::Float64(float(&n)?)
            }
        }
        Json::String(s) => Value::String(s),
        Json::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                values
                    .push(convert(item, None, depth + 1, nodes).map_err(|e| format!("[{i}] {e}"))?);
            }
            Value::Array(values)
        }
        Json::Object(object) => tagged(object, depth, nodes)?,
    })
}

/// A schemaless `{"bytes": base64}` or `{"map": [[key, value], ...]}`.
fn tagged(object: Map<String, Json>, depth: usize, nodes: &mut usize) -> Result<Value, Invalid> {
    let mut entries = object.into_iter();
    match (entries.next(), entries.next()) {
        (Some((tag, Json::String(s))), None) if tag == "bytes" => Ok(Value::Bytes(base64(&s)?)),
        (Some((tag, Json::Array(pairs))), None) if tag == "map" => {
            Ok(Value::Map(map_entries(pairs, None, None, depth, nodes)?))
        }
        _ => Err(
            "is an object; schemaless objects are only {\"bytes\": base64} and {\"map\": [[key, value], ...]}"
                .into(),
        ),
    }
}

fn map_entries(
    entries: Vec<Json>,
    keys: Option<&SchemaRef>,
    values: Option<&SchemaRef>,
    depth: usize,
    nodes: &mut usize,
) -> Result<Vec<(Value, Value)>, Invalid> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let pair = match entry {
            Json::Array(pair) => <[Json; 2]>::try_from(pair).ok(),
            _ => None,
        };
        let Some([key, value]) = pair else {
            return Err(format!("map entry {i} is not [key, value]"));
        };
        let key = convert(key, keys, depth + 1, nodes).map_err(|e| format!("map key {i} {e}"))?;
        let value =
            convert(value, values, depth + 1, nodes).map_err(|e| format!("map value {i} {e}"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn integer<T: TryFrom<i64>>(n: &Number, what: &str) -> Result<T, Invalid> {
    n.as_i64()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| format!("= {n} is not an {what}"))
}

/// A float schema's value: a number, or `"NaN"`, `"Infinity"` or `"-Infinity"`.
fn floating(json: Json, schema: &Schema) -> Result<f64, Invalid> {
    match json {
        Json::Number(n) => float(&n),
        Json::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(format!(
                "is the string {s:?}; a {} is a number, \"NaN\", \"Infinity\" or \"-Infinity\"",
                describe(schema)
            )),
        },
        other => Err(format!(
            "is {} but its schema is {}",
            kind(&other),
            describe(schema)
        )),
    }
}

fn base64(text: &str) -> Result<Vec<u8>, Invalid> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("is not standard base64 ({e}); bytes are sent as base64 text"))
}

fn describe(schema: &Schema) -> String {
    match &schema.name {
        Some(name) => format!("{} `{name}`", schema.ty.name()),
        None => schema.ty.name().to_owned(),
    }
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use serde_json::{Value as Json, json};

    use crate::{
        data::{
            Data, Field, Header, Scalar, Schema, SchemaRef, SchemaType, SourceRecord, Struct, Value,
        },
        runtime::{
            HostLimits,
            bindings::{wit, wit_source},
            convert,
        },
    };

    /// The JSON form of a value, as an SDK writes it (floats as numbers unless not finite).
    fn value_json(value: &Value, schemaless: bool) -> Json {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let float = |f: f64| {
            if f.is_nan() {
                json!("NaN")
            } else if f.is_infinite() {
                json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                json!(f)
            }
        };
        match value {
            Value::Null => Json::Null,
            Value::Boolean(b) => json!(b),
            Value::Int8(v) => json!(v),
            Value::Int16(v) => json!(v),
            Value::Int32(v) => json!(v),
            Value::Int64(v) => json!(v),
            Value::Float32(v) => float(f64::from(*v)),
            Value::Float64(v) => float(*v),
            Value::String(s) => json!(s),
            Value::Bytes(b) if schemaless => json!({ "bytes": b64(b) }),
            Value::Bytes(b) => json!(b64(b)),
            Value::Array(items) => items.iter().map(|v| value_json(v, schemaless)).collect(),
            Value::Map(entries) => {
                let pairs: Json = entries
                    .iter()
                    .map(|(k, v)| json!([value_json(k, schemaless), value_json(v, schemaless)]))
                    .collect();
                if schemaless {
                    json!({ "map": pairs })
                } else {
                    pairs
                }
            }
            Value::Struct(s) => s.values.iter().map(|v| value_json(v, false)).collect(),
        }
    }

    /// A batch whose WIT records are the first `wit_records` of `records` and whose JSON
    /// text holds the rest, all referring to one set of tables (made by the host's own
    /// encoder, so the JSON rows use the indices the WIT records would).
    fn batch(records: &[SourceRecord], wit_records: usize) -> wit_source::SourceBatch {
        let committed =
            convert::committed_batch_to_wit(records.iter().cloned().map(|r| (r, None)).collect());
        let data = |data: &Option<Data>, wit: &Option<wit::Data>| match (data, wit) {
            (Some(d), Some(w)) => json!([w.schema, value_json(&d.value, d.schema.is_none())]),
            _ => Json::Null,
        };
        let mut rows = Vec::new();
        for (r, c) in records.iter().zip(&committed.records).skip(wit_records) {
            let offset: serde_json::Map<String, Json> = r
                .source_offset
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Scalar::Null => Json::Null,
                        Scalar::Boolean(b) => json!(b),
                        Scalar::Int(i) => json!(i),
                        Scalar::Float(f) => json!(f),
                        Scalar::String(s) => json!(s),
                    };
                    (k.clone(), v)
                })
                .collect();
            let headers: Vec<Json> = r
                .headers
                .iter()
                .zip(&c.record.headers)
                .map(|(h, w)| {
                    let pair = data(&Some(h.value.clone()), &Some(w.value.clone()));
                    json!([h.key, pair[0], pair[1]])
                })
                .collect();
            rows.push(json!([
                c.record.source_partition,
                offset,
                c.record.topic,
                r.partition,
                data(&r.key, &c.record.key),
                data(&r.value, &c.record.value),
                r.timestamp,
                headers
            ]));
        }
        wit_source::SourceBatch {
            schemas: committed.schemas,
            topics: committed.topics,
            source_partitions: committed.source_partitions,
            records: committed
                .records
                .into_iter()
                .take(wit_records)
                .map(|c| c.record)
                .collect(),
            records_json: Some(Json::Array(rows).to_string()),
        }
    }

    fn decode(batch: wit_source::SourceBatch) -> Result<Vec<SourceRecord>, String> {
        convert::source_batch_from_wit(batch, &HostLimits::default())
    }

    fn schema(s: Schema) -> SchemaRef {
        Arc::new(s)
    }

    fn field(name: &str, schema: SchemaRef) -> Field {
        Field {
            name: name.into(),
            schema,
        }
    }

    /// A record of every type, logical types, nesting, nulls and non-finite floats.
    fn every_type(i: i64) -> SourceRecord {
        let p = |t| schema(Schema::primitive(t));
        let row = schema(
            Schema::structure(vec![
                field("i8", p(SchemaType::Int8)),
                field("i16", p(SchemaType::Int16)),
                field("i32", p(SchemaType::Int32)),
                field("i64", p(SchemaType::Int64)),
                field("f32", p(SchemaType::Float32)),
                field("f64", p(SchemaType::Float64)),
                field("nan", p(SchemaType::Float64)),
                field("inf", p(SchemaType::Float32)),
                field("bool", p(SchemaType::Boolean)),
                field("text", p(SchemaType::String)),
                field("bytes", p(SchemaType::Bytes)),
                field("decimal", schema(Schema::decimal(2))),
                field("date", schema(Schema::date())),
                field("at", schema(Schema::timestamp())),
                field("list", schema(Schema::array(p(SchemaType::Int32)))),
                field(
                    "map",
                    schema(Schema::map(p(SchemaType::Int64), p(SchemaType::String))),
                ),
                field(
                    "maybe",
                    schema(Schema::primitive(SchemaType::String).optional()),
                ),
                field(
                    "inner",
                    schema(Schema::structure(vec![field("x", p(SchemaType::Int64))]).named("In")),
                ),
            ])
            .named("Row"),
        );
        let inner = row.fields[17].schema.clone();
        let value = Value::Struct(Struct {
            schema: row.clone(),
            values: vec![
                Value::Int8(-128),
                Value::Int16(32_767),
                Value::Int32(-7),
                Value::Int64(i64::MIN + i),
                Value::Float32(1.5),
                Value::Float64(0.1 + i as f64),
                Value::Float64(f64::NAN),
                Value::Float32(f32::NEG_INFINITY),
                Value::Boolean(true),
                Value::String(format!("\"quoted\" é \u{1F600} {i}")),
                Value::Bytes(vec![0, 255, 1, 2]),
                Value::Bytes(vec![0x01, 0x00]),
                Value::Int32(19_000),
                Value::Int64(1_704_067_200_000 + i),
                Value::Array(vec![Value::Int32(1), Value::Int32(2)]),
                Value::Map(vec![
                    (Value::Int64(1), Value::String("one".into())),
                    (Value::Int64(2), Value::String("two".into())),
                ]),
                Value::Null,
                Value::Struct(Struct {
                    schema: inner,
                    values: vec![Value::Int64(i)],
                }),
            ],
        });
        SourceRecord {
            source_partition: Arc::new(vec![("table".into(), Scalar::String("t".into()))]),
            source_offset: vec![
                ("id".into(), Scalar::Int(i)),
                ("f".into(), Scalar::Float(0.5)),
                ("done".into(), Scalar::Boolean(false)),
                ("none".into(), Scalar::Null),
                ("name".into(), Scalar::String("x".into())),
            ],
            topic: "rows".into(),
            partition: Some(3),
            key: Some(Data::schemaless(Value::String(i.to_string()))),
            value: Some(Data::new(Some(row), value)),
            timestamp: Some(1_704_067_200_000 + i),
            headers: vec![
                Header {
                    key: "raw".into(),
                    value: Data::schemaless(Value::Bytes(vec![9, 8])),
                },
                Header {
                    key: "tags".into(),
                    value: Data::schemaless(Value::Array(vec![
                        Value::Boolean(false),
                        Value::Float64(2.5),
                        Value::Map(vec![(Value::String("k".into()), Value::Int64(-1))]),
                        Value::Null,
                    ])),
                },
                Header {
                    key: "n".into(),
                    value: Data::new(Some(p(SchemaType::Int16)), Value::Int16(5)),
                },
            ],
        }
    }

    /// Compares with NaN equal to itself (`Value`'s `PartialEq` follows IEEE).
    fn same(a: &[SourceRecord], b: &[SourceRecord]) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn json_records_decode_to_the_records_the_wit_form_carries() {
        let records: Vec<_> = (0..3)
            .map(every_type)
            .chain([SourceRecord {
                source_partition: Arc::new(vec![]),
                source_offset: vec![],
                topic: "other".into(),
                partition: None,
                key: None,
                value: None,
                timestamp: None,
                headers: vec![],
            }])
            .collect();
        let from_wit = decode(batch(&records, records.len())).unwrap();
        assert!(same(&from_wit, &records), "{from_wit:#?}");
        for wit_records in [0, 1, 3] {
            let decoded = decode(batch(&records, wit_records)).unwrap();
            assert!(same(&decoded, &records), "{wit_records}: {decoded:#?}");
        }
        // Records of one source partition share its map, whichever form they came in.
        let decoded = decode(batch(&records, 1)).unwrap();
        assert!(Arc::ptr_eq(
            &decoded[0].source_partition,
            &decoded[2].source_partition
        ));
    }

    #[test]
    fn an_empty_text_adds_no_records() {
        let records = vec![every_type(1)];
        let mut b = batch(&records, 1);
        b.records_json = Some(String::new());
        assert_eq!(decode(b).unwrap().len(), 1);
    }

    /// The error for a batch of `every_type(0)` sent as JSON, with `edit` applied to its
    /// one row.
    fn error_after(edit: impl FnOnce(&mut Json)) -> String {
        let records = vec![every_type(0), every_type(1)];
        let mut b = batch(&records, 1);
        let mut rows: Json = serde_json::from_str(b.records_json.as_deref().unwrap()).unwrap();
        edit(&mut rows[0]);
        b.records_json = Some(rows.to_string());
        decode(b).unwrap_err()
    }

    #[test]
    fn bad_json_records_are_refused_naming_the_record_and_what_is_wrong() {
        type Edit = Box<dyn FnOnce(&mut Json)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|r| r[5][1][0] = json!(128)),
                "record 1: value: field `i8` = 128 is not an int8",
            ),
            (
                Box::new(|r| r[5][1][3] = json!(1.5)),
                "record 1: value: field `i64` = 1.5 is not an int64",
            ),
            (
                Box::new(|r| r[5][1][3] = json!("1")),
                "record 1: value: field `i64` is a string but its schema is int64",
            ),
            (
                Box::new(|r| r[5][1][5] = json!("nan")),
                "record 1: value: field `f64` is the string \"nan\"; a float64 is a number, \"NaN\", \"Infinity\" or \"-Infinity\"",
            ),
            (
                Box::new(|r| r[5][1][10] = json!("not base64!")),
                "record 1: value: field `bytes` is not standard base64",
            ),
            (
                Box::new(|r| r[5][1][9] = Json::Null),
                "record 1: value: field `text` is null but its schema (string) is required and has no default",
            ),
            (
                Box::new(|r| {
                    r[5][1].as_array_mut().unwrap().pop();
                }),
                "record 1: value: is a struct of 17 values but its schema (struct `Row`) has 18 fields",
            ),
            (
                Box::new(|r| r[5][1][15] = json!([[1, "one", 3]])),
                "record 1: value: field `map` map entry 0 is not [key, value]",
            ),
            (
                Box::new(|r| r[5][0] = json!(99)),
                "record 1: value: schema 99 does not exist",
            ),
            (
                Box::new(|r| r[4] = json!("k")),
                "record 1: key: is a string, not null or [schema, value]",
            ),
            (
                Box::new(|r| r[4] = json!([null, {"when": 1}])),
                "record 1: key: is an object; schemaless objects are only",
            ),
            (
                Box::new(|r| r[4] = json!([null, 18446744073709551615u64])),
                "record 1: key: = 18446744073709551615 is not an int64",
            ),
            (
                Box::new(|r| r[1]["id"] = json!([1])),
                "record 1: source offset `id` is an array; offsets hold only null, booleans, numbers and strings",
            ),
            (
                Box::new(|r| r[1] = json!([])),
                "record 1: source offset is an array, not an object",
            ),
            (
                Box::new(|r| r[0] = json!(4)),
                "record 1: source partition 4 does not exist (the batch has 1 source partitions)",
            ),
            (
                Box::new(|r| r[2] = json!(-1)),
                "record 1: topic -1 does not exist (the batch has 1 topics)",
            ),
            (
                Box::new(|r| r[3] = json!(2_147_483_648i64)),
                "record 1: partition 2147483648 is not a 32-bit integer",
            ),
            (
                Box::new(|r| r[6] = json!("now")),
                "record 1: timestamp is a string, not an integer or null",
            ),
            (
                Box::new(|r| r[7][0][0] = json!(1)),
                "record 1: header 0: its key is a number, not a string",
            ),
            (
                Box::new(|r| {
                    r.as_array_mut().unwrap().pop();
                }),
                "record 1: is not an array of exactly 8 fields",
            ),
            (
                Box::new(|r| *r = json!({})),
                "record 1: is an object, not an array of its 8 fields",
            ),
        ];
        for (edit, expected) in cases {
            let error = error_after(edit);
            assert!(
                error.starts_with(expected),
                "{error}\n  expected: {expected}"
            );
        }
    }

    #[test]
    fn malformed_or_oversized_json_is_refused_before_any_record_is_converted() {
        let records = vec![every_type(0)];
        let mut b = batch(&records, 0);
        b.records_json = Some("[[0,".into());
        let error = decode(b).unwrap_err();
        assert!(
            error.starts_with("`records-json` is not a JSON array of records: EOF"),
            "{error}"
        );

        // JSON records count towards the table rule: 2 topics for 1 record is refused.
        let mut b = batch(&records, 0);
        b.topics.push("extra".into());
        assert_eq!(
            decode(b).unwrap_err(),
            "the `topics` table has 2 entries for 1 records; it may have at most one per record"
        );

        // Values nest no deeper than the WIT form allows.
        let mut deep = json!(1);
        for _ in 0..70 {
            deep = json!([deep]);
        }
        let mut b = batch(&records, 0);
        let mut rows: Json = serde_json::from_str(b.records_json.as_deref().unwrap()).unwrap();
        rows[0][4] = json!([null, deep]);
        b.records_json = Some(rows.to_string());
        let error = decode(b).unwrap_err();
        assert!(error.contains("nested deeper than 64 levels"), "{error}");
    }
}
