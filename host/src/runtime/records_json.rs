//! Source records a guest sends as one JSON text (`source-batch.records-json`, whose forms
//! `wit/source-task.wit` defines), checked and converted into the host data model as
//! strictly as the WIT records of [`super::convert`]: every value against its schema, the
//! same depth and node bounds, and an error naming the record and what was wrong.
//!
//! The text is read twice, both times by `serde_json` without building a JSON tree: once
//! when the guest returns it, to check its syntax and count its records (the task loop needs
//! the count), and once to convert it, driven by each value's schema, so a number goes
//! straight into the integer or float its schema asks for.

use std::{
    cell::{Cell, RefCell},
    fmt,
    sync::Arc,
};

use base64::Engine as _;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    value::{MapAccessDeserializer, StringDeserializer},
};
use serde_json::Number;

use super::convert::{Invalid, MAX_DEPTH, MAX_VALUE_NODES, describe};
use crate::data::{
    Data, Header, OffsetMap, Scalar, Schema, SchemaRef, SchemaType, SourceRecord, Struct, Value,
};

/// A batch's `records-json`, its syntax checked and its records counted.
#[derive(Debug, Default)]
pub struct RecordsJson {
    text: String,
    count: usize,
}

impl RecordsJson {
    /// Checks the syntax of `text` (none or empty: no records) and counts its records.
    pub fn parse(text: Option<String>) -> Result<Self, Invalid> {
        let text = text.unwrap_or_default();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let count = read(&text, CountRecords).map_err(|e| {
            format!(
                "`records-json` is not a JSON array of records: {e} (see `source-batch` in wit/source-task.wit)"
            )
        })?;
        Ok(Self { text, count })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

fn read<'de, V: Visitor<'de>>(text: &'de str, visitor: V) -> serde_json::Result<V::Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = de.deserialize_seq(visitor)?;
    de.end()?;
    Ok(value)
}

struct CountRecords;

impl<'de> Visitor<'de> for CountRecords {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count += 1;
        }
        Ok(count)
    }
}

/// The tables the records of one batch refer to by index.
pub(super) struct Tables<'a> {
    pub schemas: &'a [SchemaRef],
    pub topics: &'a [Arc<str>],
    pub partitions: &'a [Arc<OffsetMap>],
}

/// Converts the records of `json`; `first` is the index of the first of them in the whole
/// batch (after its WIT records), so errors name records by their place in the batch.
pub(super) fn records(
    json: RecordsJson,
    first: usize,
    tables: &Tables<'_>,
) -> Result<Vec<SourceRecord>, Invalid> {
    if json.count == 0 {
        return Ok(Vec::new());
    }
    let ctx = Ctx {
        tables,
        path: RefCell::new(Vec::new()),
        problem: RefCell::new(None),
        nodes: Cell::new(0),
    };
    read(
        &json.text,
        RecordsVisitor {
            ctx: &ctx,
            first,
            count: json.count,
        },
    )
    .map_err(|e| ctx.message(&e))
}

/// Where in the batch the conversion is, for error messages: pushed on the way down and
/// popped on the way back; an error leaves it pointing at what failed.
enum Segment<'a> {
    Record(usize),
    /// A field of a record or header: `partition`, `timestamp`, ...
    Named(&'static str),
    SourceOffset,
    Key,
    Value,
    Header(usize),
    Field(&'a Schema, usize),
    Element(usize),
    MapKey(usize),
    MapValue(usize),
}

struct Ctx<'a> {
    tables: &'a Tables<'a>,
    path: RefCell<Vec<Segment<'a>>>,
    /// The message of a check of ours that failed (serde's own errors carry theirs).
    problem: RefCell<Option<String>>,
    /// Nodes of the current key, value or header value, against [`MAX_VALUE_NODES`].
    nodes: Cell<usize>,
}

impl<'a> Ctx<'a> {
    fn push(&self, segment: Segment<'a>) {
        self.path.borrow_mut().push(segment);
    }

    fn pop(&self) {
        self.path.borrow_mut().pop();
    }

    /// Fails the conversion with `message`.
    fn fail<T, E: de::Error>(&self, message: String) -> Result<T, E> {
        *self.problem.borrow_mut() = Some(message);
        Err(E::custom("see the problem"))
    }

    fn message(&self, error: &serde_json::Error) -> Invalid {
        let mut out = String::new();
        for segment in self.path.borrow().iter() {
            let part = match segment {
                Segment::Record(i) => format!("record {i}:"),
                Segment::Named(name) => (*name).into(),
                Segment::SourceOffset => "source offset".into(),
                Segment::Key => "key:".into(),
                Segment::Value => "value:".into(),
                Segment::Header(i) => format!("header {i}:"),
                Segment::Field(schema, i) => format!("field `{}`", schema.fields[*i].name),
                Segment::Element(i) => format!("[{i}]"),
                Segment::MapKey(i) => format!("map key {i}"),
                Segment::MapValue(i) => format!("map value {i}"),
            };
            out.push_str(&part);
            out.push(' ');
        }
        match self.problem.borrow_mut().take() {
            Some(problem) => out.push_str(&problem),
            None => out.push_str(&format!("is not valid: {error}")),
        }
        out
    }
}

struct RecordsVisitor<'c, 'a> {
    ctx: &'c Ctx<'a>,
    first: usize,
    count: usize,
}

impl<'de> Visitor<'de> for RecordsVisitor<'_, '_> {
    type Value = Vec<SourceRecord>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(self.count);
        loop {
            self.ctx.push(Segment::Record(self.first + records.len()));
            let Some(record) = seq.next_element_seed(RecordSeed(self.ctx))? else {
                self.ctx.pop();
                return Ok(records);
            };
            self.ctx.pop();
            records.push(record);
        }
    }
}

struct RecordSeed<'c, 'a>(&'c Ctx<'a>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = SourceRecord;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SourceRecord, D::Error> {
        d.deserialize_seq(self)
    }
}

const RECORD_FIELDS: &str =
    "[source-partition, source-offset, topic, partition, key, value, timestamp, headers]";

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = SourceRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a record: an array {RECORD_FIELDS}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SourceRecord, A::Error> {
        let ctx = self.0;
        let short = || format!("is not an array of exactly 8 fields {RECORD_FIELDS}");
        ctx.push(Segment::Named("source partition"));
        let Some(partition_index) = seq.next_element::<i64>()? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        let source_partition = entry(
            ctx,
            ctx.tables.partitions,
            partition_index,
            "source partition",
        )?;
        ctx.push(Segment::SourceOffset);
        let Some(source_offset) = seq.next_element_seed(OffsetSeed(ctx))? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        ctx.push(Segment::Named("topic"));
        let Some(topic_index) = seq.next_element::<i64>()? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        let topic = entry(ctx, ctx.tables.topics, topic_index, "topic")?;
        ctx.push(Segment::Named("partition"));
        let Some(partition) = seq.next_element::<Option<i64>>()? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        let partition = match partition.map(i32::try_from) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(_)) => {
                return ctx.fail(format!(
                    "partition {} is not a 32-bit integer",
                    partition.unwrap_or_default()
                ));
            }
        };
        let mut data = |segment| {
            ctx.push(segment);
            let data = seq.next_element_seed(OptionalDataSeed(ctx))?;
            ctx.pop();
            data.map_or_else(|| ctx.fail(short()), Ok)
        };
        let key = data(Segment::Key)?;
        let value = data(Segment::Value)?;
        ctx.push(Segment::Named("timestamp"));
        let Some(timestamp) = seq.next_element::<Option<i64>>()? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        ctx.push(Segment::Named("headers"));
        let Some(headers) = seq.next_element_seed(HeadersSeed(ctx))? else {
            ctx.pop();
            return ctx.fail(short());
        };
        ctx.pop();
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return ctx.fail(short());
        }
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
}

/// A record's index into one of its batch's tables.
fn entry<'t, T, E: de::Error>(
    ctx: &Ctx<'_>,
    table: &'t [T],
    index: i64,
    what: &str,
) -> Result<&'t T, E> {
    match usize::try_from(index).ok().and_then(|i| table.get(i)) {
        Some(entry) => Ok(entry),
        None => ctx.fail(format!(
            "{what} {index} does not exist (the batch has {} {what}s)",
            table.len()
        )),
    }
}

struct OffsetSeed<'c, 'a>(&'c Ctx<'a>);

impl<'de> DeserializeSeed<'de> for OffsetSeed<'_, '_> {
    type Value = OffsetMap;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<OffsetMap, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OffsetSeed<'_, '_> {
    type Value = OffsetMap;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of null, boolean, number and string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OffsetMap, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(1));
        while let Some(key) = map.next_key::<String>()? {
            let scalar = map.next_value_seed(ScalarSeed {
                ctx: self.0,
                key: &key,
            })?;
            out.push((key, scalar));
        }
        Ok(out)
    }
}

struct ScalarSeed<'c, 'a, 'k> {
    ctx: &'c Ctx<'a>,
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_, '_, '_> {
    type Value = Scalar;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_, '_, '_> {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null, a boolean, a number or a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Scalar::Int(v)),
            Err(_) => self.ctx.fail(format!(
                "`{}` = {v} does not fit in a 64-bit integer",
                self.key
            )),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::String(v))
    }

    /// A number that is not a 64-bit integer, as `serde_json` hands it over.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        let key = self.key;
        let ctx = self.ctx;
        match Number::deserialize(MapAccessDeserializer::new(map)) {
            Ok(n) => match number(&n) {
                Ok(Numeric::Float(f)) => Ok(Scalar::Float(f)),
                Ok(Numeric::Int(i)) => Ok(Scalar::Int(i)),
                Err(problem) => ctx.fail(format!("`{key}` {problem}")),
            },
            Err(_) => ctx.fail(format!(
                "`{key}` is an object; offsets hold only null, booleans, numbers and strings"
            )),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Scalar, A::Error> {
        self.ctx.fail(format!(
            "`{}` is an array; offsets hold only null, booleans, numbers and strings",
            self.key
        ))
    }
}

enum Numeric {
    Int(i64),
    Float(f64),
}

/// An integer is an `Int`, any other number a finite `Float`.
fn number(n: &Number) -> Result<Numeric, Invalid> {
    if let Some(i) = n.as_i64() {
        return Ok(Numeric::Int(i));
    }
    let text = n.to_string();
    if !text.contains(['.', 'e', 'E']) {
        return Err(format!("= {n} does not fit in a 64-bit integer"));
    }
    match n.as_f64().filter(|f| f.is_finite()) {
        Some(f) => Ok(Numeric::Float(f)),
        None => Err(format!("= {n} is not a finite 64-bit float")),
    }
}

/// `null` (none) or `[schema, value]`.
struct OptionalDataSeed<'c, 'a>(&'c Ctx<'a>);

impl<'de> DeserializeSeed<'de> for OptionalDataSeed<'_, '_> {
    type Value = Option<Data>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Data>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalDataSeed<'_, '_> {
    type Value = Option<Data>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null or [schema, value]")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Data>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Data>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<Data>, D::Error> {
        d.deserialize_seq(DataVisitor(self.0)).map(Some)
    }
}

struct DataVisitor<'c, 'a>(&'c Ctx<'a>);

impl<'de> Visitor<'de> for DataVisitor<'_, '_> {
    type Value = Data;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("[schema, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
        let ctx = self.0;
        let Some(schema) = seq.next_element::<Option<i64>>()? else {
            return ctx.fail("is not [schema, value]".into());
        };
        let value = data_value(ctx, schema, &mut seq)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return ctx.fail("is not [schema, value]".into());
        }
        Ok(value)
    }
}

/// The value after a data's schema index, checked against that schema.
fn data_value<'de, 'a, A: SeqAccess<'de>>(
    ctx: &Ctx<'a>,
    schema: Option<i64>,
    seq: &mut A,
) -> Result<Data, A::Error> {
    let schemas = ctx.tables.schemas;
    let schema: Option<&'a SchemaRef> = match schema {
        None => None,
        Some(index) => match usize::try_from(index).ok().and_then(|i| schemas.get(i)) {
            Some(schema) => Some(schema),
            None => {
                return ctx.fail(format!(
                    "schema {index} does not exist (the batch has {} schemas)",
                    schemas.len()
                ));
            }
        },
    };
    ctx.nodes.set(0);
    let Some(value) = seq.next_element_seed(ValueSeed {
        ctx,
        schema,
        depth: 1,
    })?
    else {
        return ctx.fail("is not [schema, value]".into());
    };
    Ok(Data {
        schema: schema.cloned(),
        value,
    })
}

struct HeadersSeed<'c, 'a>(&'c Ctx<'a>);

impl<'de> DeserializeSeed<'de> for HeadersSeed<'_, '_> {
    type Value = Vec<Header>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Header>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HeadersSeed<'_, '_> {
    type Value = Vec<Header>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of headers [key, schema, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Header>, A::Error> {
        let mut headers = Vec::new();
        loop {
            self.0.push(Segment::Header(headers.len()));
            let Some(header) = seq.next_element_seed(HeaderSeed(self.0))? else {
                self.0.pop();
                return Ok(headers);
            };
            self.0.pop();
            headers.push(header);
        }
    }
}

struct HeaderSeed<'c, 'a>(&'c Ctx<'a>);

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_, '_> {
    type Value = Header;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Header, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_, '_> {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a header [key, schema, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
        let ctx = self.0;
        ctx.push(Segment::Named("key"));
        let Some(key) = seq.next_element::<String>()? else {
            ctx.pop();
            return ctx.fail("is not [key, schema, value]".into());
        };
        ctx.pop();
        let Some(schema) = seq.next_element::<Option<i64>>()? else {
            return ctx.fail("is not [key, schema, value]".into());
        };
        let value = data_value(ctx, schema, &mut seq)?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return ctx.fail("is not [key, schema, value]".into());
        }
        Ok(Header { key, value })
    }
}

/// One value against its schema (or schemaless), counting nodes against
/// [`MAX_VALUE_NODES`] and depth against [`MAX_DEPTH`].
struct ValueSeed<'c, 'a> {
    ctx: &'c Ctx<'a>,
    schema: Option<&'a SchemaRef>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let ctx = self.ctx;
        if self.depth > MAX_DEPTH {
            return ctx.fail(format!(
                "the value is nested deeper than {MAX_DEPTH} levels"
            ));
        }
        let nodes = ctx.nodes.get() + 1;
        if nodes > MAX_VALUE_NODES {
            return ctx.fail(format!("the value has more than {MAX_VALUE_NODES} nodes"));
        }
        ctx.nodes.set(nodes);
        match self.schema {
            None => d.deserialize_any(Schemaless(self)),
            Some(_) => d.deserialize_option(self),
        }
    }
}

impl ValueSeed<'_, '_> {
    fn schema(&self) -> &Schema {
        self.schema
            .map(|s| &**s)
            .expect("typed values have a schema")
    }

    fn mismatch<T, E: de::Error>(&self, what: &str) -> Result<T, E> {
        let schema = self.schema();
        self.ctx
            .fail(format!("is {what} but its schema is {}", describe(schema)))
    }
}

/// A value with a schema: null, or what the schema's type says.
impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} value", self.schema().ty.name())
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        let schema = self.schema();
        if !schema.optional && schema.default.is_none() {
            return self.ctx.fail(format!(
                "is null but its schema ({}) is required and has no default",
                describe(schema)
            ));
        }
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let schema = self.schema.expect("typed values have a schema");
        match schema.ty {
            SchemaType::Int8
            | SchemaType::Int16
            | SchemaType::Int32
            | SchemaType::Int64
            | SchemaType::Float32
            | SchemaType::Float64
            | SchemaType::Boolean => d.deserialize_any(Primitive(self)),
            SchemaType::String => d.deserialize_string(Primitive(self)),
            SchemaType::Bytes => d.deserialize_str(Primitive(self)),
            SchemaType::Array => d.deserialize_seq(Array(self)),
            SchemaType::Map => d.deserialize_seq(Pairs(self)),
            SchemaType::Struct => d.deserialize_seq(Fields(self)),
        }
    }
}

/// A primitive with a schema.
struct Primitive<'c, 'a>(ValueSeed<'c, 'a>);

impl Primitive<'_, '_> {
    fn integer<E: de::Error>(self, v: i128, shown: &dyn fmt::Display) -> Result<Value, E> {
        let ty = self.0.schema().ty;
        let value = match ty {
            SchemaType::Int8 => i8::try_from(v).ok().map(Value::Int8),
            SchemaType::Int16 => i16::try_from(v).ok().map(Value::Int16),
            SchemaType::Int32 => i32::try_from(v).ok().map(Value::Int32),
            SchemaType::Int64 => i64::try_from(v).ok().map(Value::Int64),
            SchemaType::Float32 => Some(Value::Float32(v as f32)),
            SchemaType::Float64 => Some(Value::Float64(v as f64)),
            _ => return self.0.mismatch("a number"),
        };
        match value {
            Some(value) => Ok(value),
            None => self
                .0
                .ctx
                .fail(format!("= {shown} is not an {}", ty.name())),
        }
    }

    fn float<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.0.schema().ty {
            SchemaType::Float32 => Ok(Value::Float32(v as f32)),
            SchemaType::Float64 => Ok(Value::Float64(v)),
            ty @ (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64) => {
                self.0.ctx.fail(format!("= {v} is not an {}", ty.name()))
            }
            _ => self.0.mismatch("a number"),
        }
    }
}

impl<'de> Visitor<'de> for Primitive<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.0.schema().ty {
            SchemaType::Boolean => Ok(Value::Boolean(v)),
            _ => self.0.mismatch("a boolean"),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.integer(i128::from(v), &v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.integer(i128::from(v), &v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.float(v)
    }

    /// A number that is not a 64-bit integer (a fraction, an exponent or a bigger integer),
    /// as `serde_json` hands it over.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        let n = match Number::deserialize(MapAccessDeserializer::new(map)) {
            Ok(n) => n,
            Err(_) => return self.0.mismatch("an object"),
        };
        match self.0.schema().ty {
            SchemaType::Float32 | SchemaType::Float64 => {
                match n.as_f64().filter(|f| f.is_finite()) {
                    Some(f) => self.float(f),
                    None => self
                        .0
                        .ctx
                        .fail(format!("= {n} is not a finite 64-bit float")),
                }
            }
            ty @ (SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64) => {
                self.0.ctx.fail(format!("= {n} is not an {}", ty.name()))
            }
            _ => self.0.mismatch("a number"),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let schema = self.0.schema();
        match schema.ty {
            SchemaType::String => Ok(Value::String(v.to_owned())),
            SchemaType::Bytes => match base64::engine::general_purpose::STANDARD.decode(v) {
                Ok(bytes) => Ok(Value::Bytes(bytes)),
                Err(e) => self.0.ctx.fail(format!(
                    "is not standard base64 ({e}); bytes are sent as base64 text"
                )),
            },
            SchemaType::Float32 | SchemaType::Float64 => {
                let f = match v {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => {
                        return self.0.ctx.fail(format!(
                            "is the string {v:?}; a {} is a number, \"NaN\", \"Infinity\" or \"-Infinity\"",
                            describe(schema)
                        ));
                    }
                };
                self.float(f)
            }
            _ => self.0.mismatch("a string"),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        match self.0.schema().ty {
            SchemaType::String => Ok(Value::String(v)),
            _ => self.visit_str(&v),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        self.0.mismatch("an array")
    }
}

struct Array<'c, 'a>(ValueSeed<'c, 'a>);

impl<'de> Visitor<'de> for Array<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ValueSeed { ctx, schema, depth } = self.0;
        let element = schema.and_then(|s| s.value_schema.as_ref());
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            ctx.push(Segment::Element(values.len()));
            let seed = ValueSeed {
                ctx,
                schema: element,
                depth: depth + 1,
            };
            let Some(value) = seq.next_element_seed(seed)? else {
                ctx.pop();
                return Ok(Value::Array(values));
            };
            ctx.pop();
            values.push(value);
        }
    }
}

/// A map as an array of `[key, value]` pairs (with a schema, or inside `{"map": ...}`).
struct Pairs<'c, 'a>(ValueSeed<'c, 'a>);

impl<'de> Visitor<'de> for Pairs<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of [key, value] pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ValueSeed { ctx, schema, depth } = self.0;
        let keys = schema.and_then(|s| s.key_schema.as_ref());
        let values = schema.and_then(|s| s.value_schema.as_ref());
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let seed = Pair {
                ctx,
                keys,
                values,
                depth,
                index: out.len(),
            };
            match seq.next_element_seed(seed)? {
                Some(pair) => out.push(pair),
                None => return Ok(Value::Map(out)),
            }
        }
    }
}

struct Pair<'c, 'a> {
    ctx: &'c Ctx<'a>,
    keys: Option<&'a SchemaRef>,
    values: Option<&'a SchemaRef>,
    depth: usize,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for Pair<'_, '_> {
    type Value = (Value, Value);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Value, Value), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Pair<'_, '_> {
    type Value = (Value, Value);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map entry [key, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Value, Value), A::Error> {
        let Pair {
            ctx,
            keys,
            values,
            depth,
            index,
        } = self;
        let not_a_pair = || format!("map entry {index} is not [key, value]");
        ctx.push(Segment::MapKey(index));
        let key = seq.next_element_seed(ValueSeed {
            ctx,
            schema: keys,
            depth: depth + 1,
        })?;
        ctx.pop();
        ctx.push(Segment::MapValue(index));
        let value = seq.next_element_seed(ValueSeed {
            ctx,
            schema: values,
            depth: depth + 1,
        })?;
        ctx.pop();
        match (key, value) {
            (Some(key), Some(value)) if seq.next_element::<IgnoredAny>()?.is_none() => {
                Ok((key, value))
            }
            _ => ctx.fail(not_a_pair()),
        }
    }
}

struct Fields<'c, 'a>(ValueSeed<'c, 'a>);

impl<'de> Visitor<'de> for Fields<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a struct: an array of its field values in field order")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ValueSeed { ctx, schema, depth } = self.0;
        let schema = schema.expect("structs have a schema");
        let fields = schema.fields.len();
        let mut values = Vec::with_capacity(fields);
        for (i, field) in schema.fields.iter().enumerate() {
            ctx.push(Segment::Field(schema, i));
            let seed = ValueSeed {
                ctx,
                schema: Some(&field.schema),
                depth: depth + 1,
            };
            let Some(value) = seq.next_element_seed(seed)? else {
                ctx.pop();
                return ctx.fail(format!(
                    "is a struct of {i} values but its schema ({}) has {fields} fields",
                    describe(schema)
                ));
            };
            ctx.pop();
            values.push(value);
        }
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return ctx.fail(format!(
                "is a struct of more than {fields} values but its schema ({}) has {fields} fields",
                describe(schema)
            ));
        }
        Ok(Value::Struct(Struct {
            schema: schema.clone(),
            values,
        }))
    }
}

/// A value without a schema: its JSON type says what it is.
struct Schemaless<'c, 'a>(ValueSeed<'c, 'a>);

const SCHEMALESS_OBJECTS: &str = "is an object; schemaless objects are only {\"bytes\": base64} and {\"map\": [[key, value], ...]}";

impl<'de> Visitor<'de> for Schemaless<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a schemaless value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Value::Int64(v)),
            Err(_) => self.0.ctx.fail(format!("= {v} is not an int64")),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Array(self.0).visit_seq(seq)
    }

    /// `{"bytes": base64}`, `{"map": [[key, value], ...]}`, or a number that is not a 64-bit
    /// integer, as `serde_json` hands it over.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let ctx = self.0.ctx;
        let Some(tag) = map.next_key::<String>()? else {
            return ctx.fail(SCHEMALESS_OBJECTS.into());
        };
        let value = match tag.as_str() {
            "bytes" => {
                let text = map.next_value::<String>()?;
                match base64::engine::general_purpose::STANDARD.decode(&text) {
                    Ok(bytes) => Value::Bytes(bytes),
                    Err(e) => {
                        return ctx.fail(format!(
                            "is not standard base64 ({e}); bytes are sent as base64 text"
                        ));
                    }
                }
            }
            "map" => map.next_value_seed(PairsSeed(self.0))?,
            _ => {
                let replayed = Replay {
                    key: Some(tag),
                    map,
                };
                return match Number::deserialize(MapAccessDeserializer::new(replayed)) {
                    Ok(n) => match number(&n) {
                        Ok(Numeric::Int(i)) => Ok(Value::Int64(i)),
                        Ok(Numeric::Float(f)) => Ok(Value::Float64(f)),
                        Err(problem) => ctx.fail(problem),
                    },
                    Err(_) => ctx.fail(SCHEMALESS_OBJECTS.into()),
                };
            }
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return ctx.fail(SCHEMALESS_OBJECTS.into());
        }
        Ok(value)
    }
}

struct PairsSeed<'c, 'a>(ValueSeed<'c, 'a>);

impl<'de> DeserializeSeed<'de> for PairsSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_seq(Pairs(self.0))
    }
}

/// A map whose first key was already read, handed on whole.
struct Replay<A> {
    key: Option<String>,
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.key.take() {
            Some(key) => seed
                .deserialize(StringDeserializer::<A::Error>::new(key))
                .map(Some),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use serde_json::{Value as Json, json};

    use crate::{
        data::{Data, Header, Scalar, Schema, SchemaType, SourceRecord, Struct, Value},
        runtime::{
            HostLimits,
            bindings::{wit, wit_source},
            convert,
            tests::{field, schema},
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
    fn any_finite_number_fits_a_float_field() {
        let records = vec![every_type(0)];
        let mut b = batch(&records, 0);
        let mut rows: Json = serde_json::from_str(b.records_json.as_deref().unwrap()).unwrap();
        rows[0][5][1][5] = serde_json::from_str("18446744073709551616").unwrap();
        rows[0][5][1][4] = json!(3);
        b.records_json = Some(rows.to_string());
        let decoded = decode(b).unwrap();
        let Some(Value::Struct(row)) = decoded[0].value.as_ref().map(|d| &d.value) else {
            panic!("a struct: {decoded:?}");
        };
        assert_eq!(row.values[5], Value::Float64(18_446_744_073_709_551_616.0));
        assert_eq!(row.values[4], Value::Float32(3.0));
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
                "record 1: key: is not valid: invalid type: string \"k\", expected [schema, value] at line 1 column",
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
                Box::new(|r| r[1]["id"] = json!({"a": 1})),
                "record 1: source offset `id` is an object; offsets hold only null, booleans, numbers and strings",
            ),
            (
                Box::new(|r| r[1]["id"] = serde_json::from_str("18446744073709551616").unwrap()),
                "record 1: source offset `id` = 18446744073709551616 does not fit in a 64-bit integer",
            ),
            (
                Box::new(|r| r[5][1][3] = serde_json::from_str("18446744073709551616").unwrap()),
                "record 1: value: field `i64` = 18446744073709551616 is not an int64",
            ),
            (
                Box::new(|r| r[5][1][8] = json!(1.5)),
                "record 1: value: field `bool` is a number but its schema is boolean",
            ),
            (
                Box::new(|r| r[5][1][5] = serde_json::from_str("1e400").unwrap()),
                "record 1: value: field `f64` = 1e+400 is not a finite 64-bit float",
            ),
            (
                Box::new(|r| r[4] = json!([null, {"bytes": "AA==", "extra": 1}])),
                "record 1: key: is an object; schemaless objects are only",
            ),
            (
                Box::new(|r| r[1] = json!([])),
                "record 1: source offset is not valid: invalid type: sequence, expected an object of null, boolean, number and string values",
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
                "record 1: timestamp is not valid: invalid type: string \"now\", expected i64",
            ),
            (
                Box::new(|r| r[7][0][0] = json!(1)),
                "record 1: headers header 0: key is not valid: invalid type: integer `1`, expected a string",
            ),
            (
                Box::new(|r| {
                    r.as_array_mut().unwrap().pop();
                }),
                "record 1: is not an array of exactly 8 fields",
            ),
            (
                Box::new(|r| *r = json!({})),
                "record 1: is not valid: invalid type: map, expected a record: an array [source-partition, source-offset, topic, partition, key, value, timestamp, headers]",
            ),
        ];
        let mut wrong = Vec::new();
        for (edit, expected) in cases {
            let error = error_after(edit);
            if !error.starts_with(expected) {
                wrong.push(format!("{error}\n  expected: {expected}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
