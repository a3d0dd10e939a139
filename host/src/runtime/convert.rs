//! Conversions between the bindgen types (see [`super::bindings`]) and the host data model
//! ([`crate::data`], [`crate::config::def`]).
//!
//! Host → guest conversions cannot fail: host data is trusted. Guest → host conversions
//! validate everything and return a message naming what was wrong (the instance turns it into
//! [`super::TrapCause::InvalidData`]); they never panic, never recurse deeper than
//! [`MAX_DEPTH`] and never build more than the guest sent, so a malicious table cannot blow
//! up the host's stack, memory or time.
//!
//! Table rules (from `types.wit`): a parent always comes before its children, so a child's
//! index must be greater than its parent's; this makes cycles impossible. Value tables must
//! also be trees (each node referenced once, every node reachable), which keeps the host copy
//! linear in the guest's. Schema tables may share a child between parents (the host shares
//! the `Arc`), but the fully expanded size of a schema is bounded, in nodes by
//! [`MAX_SCHEMA_SIZE`] and in bytes by `sandbox.schema.max.bytes` ([`HostLimits`]), before
//! anything is expanded: a converter writes a schema out in full for every record that
//! carries it, so a small table of shared children must not become megabytes per record.
//!
//! A `poll` batch holds at most [`MAX_BATCH_RECORDS`] records, refused before any record is
//! converted. Two bounds come first: the memory cap limits what the guest can build, and
//! wasmtime lifts at most 128 MiB from the guest per call (its default hostcall fuel), which
//! today stops a flood of the smallest records somewhat below a million. The record limit
//! holds whatever those are set to, since the log, offsets and converters work per record.

use std::{collections::HashMap, sync::Arc};

use super::{
    ConfigMap, ConnectorError, HostLimits,
    bindings::{wit, wit_config, wit_sink, wit_source},
    records_json::{self, RecordsJson},
};
use crate::{
    config::def::{ConfigKey, ConfigType, ConfigValue, Importance, Validator, Width},
    data::{
        Data, Field, Header, OffsetMap, RecordMetadata, Scalar, Schema, SchemaRef, SchemaType,
        SinkRecord, SourceRecord, Struct, TimestampType, TopicPartition, TopicPartitionOffset,
        Value,
    },
};

/// Deepest nesting of schemas or values accepted from a guest (the root is depth 1).
pub const MAX_DEPTH: usize = 64;
/// Most schemas in one batch's schema table.
pub const MAX_SCHEMAS: usize = 65_536;
/// Most nodes of one schema counted as a tree (shared children counted every time they are
/// used), so host code that walks schemas recursively stays linear.
pub const MAX_SCHEMA_SIZE: u64 = 100_000;
/// Most nodes in one value table (a key, value, header value or default).
pub const MAX_VALUE_NODES: usize = 1 << 20;
/// Most records in one `poll` batch. Real connectors return hundreds to thousands; Kafka's
/// producer batches are far smaller.
pub const MAX_BATCH_RECORDS: usize = 1_000_000;

/// Why guest data was rejected.
pub type Invalid = String;

// ---------------------------------------------------------------------------------------------
// Host → guest
// ---------------------------------------------------------------------------------------------

/// Builds a batch's schema table, defining each distinct schema once.
///
/// A top-level schema (of a key, value or header) is interned: the same `Arc`, or an equal
/// schema, gets the same index. Nested schemas are written after their parent, as the table
/// rules require, and are not shared between trees.
#[derive(Default)]
pub struct SchemaTable {
    schemas: Vec<wit::Schema>,
    /// One entry per distinct schema, compared by equality.
    defined: Vec<(SchemaRef, u32)>,
    /// Every `Arc` seen so far, by address; the `Arc`s are kept alive in `keep` so an
    /// address cannot be reused within the batch.
    by_address: HashMap<usize, u32>,
    keep: Vec<SchemaRef>,
    /// The address and index of the schema interned last: consecutive records nearly always
    /// share one `Arc`, and this spares hashing it for each.
    last: Option<(usize, u32)>,
}

impl SchemaTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `schema` in the table, adding it if needed.
    pub fn intern(&mut self, schema: &SchemaRef) -> u32 {
        let address = Arc::as_ptr(schema) as usize;
        if let Some((last, index)) = self.last
            && last == address
        {
            return index;
        }
        if let Some(&index) = self.by_address.get(&address) {
            self.last = Some((address, index));
            return index;
        }
        let index = match self.defined.iter().find(|(s, _)| **s == **schema) {
            Some(&(_, index)) => index,
            None => {
                let index = self.emit(schema);
                self.defined.push((schema.clone(), index));
                index
            }
        };
        self.by_address.insert(address, index);
        self.keep.push(schema.clone());
        self.last = Some((address, index));
        index
    }

    /// Writes `schema` and its children (after it) and returns its index.
    fn emit(&mut self, schema: &Schema) -> u32 {
        let index = self.schemas.len();
        self.schemas.push(wit::Schema {
            type_: schema_type_to_wit(schema.ty),
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default_value: None,
            value_schema: None,
            key_schema: None,
            fields: Vec::new(),
        });
        let value_schema = schema.value_schema.as_ref().map(|s| self.emit(s));
        let key_schema = schema.key_schema.as_ref().map(|s| self.emit(s));
        let fields = schema
            .fields
            .iter()
            .map(|field| wit::Field {
                name: field.name.clone(),
                schema: self.emit(&field.schema),
            })
            .collect();
        let entry = &mut self.schemas[index];
        entry.optional = schema.optional;
        entry.name.clone_from(&schema.name);
        entry.version = schema.version;
        entry.doc.clone_from(&schema.doc);
        entry.parameters.clone_from(&schema.parameters);
        entry.default_value = schema.default.as_ref().map(|d| value_to_wit(d.clone()));
        entry.value_schema = value_schema;
        entry.key_schema = key_schema;
        entry.fields = fields;
        table_index(index)
    }

    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }

    pub fn into_schemas(self) -> Vec<wit::Schema> {
        self.schemas
    }
}

/// Table indices are `u32` in WIT; host tables never get near that.
fn table_index(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

fn schema_type_to_wit(ty: SchemaType) -> wit::SchemaType {
    match ty {
        SchemaType::Int8 => wit::SchemaType::Int8,
        SchemaType::Int16 => wit::SchemaType::Int16,
        SchemaType::Int32 => wit::SchemaType::Int32,
        SchemaType::Int64 => wit::SchemaType::Int64,
        SchemaType::Float32 => wit::SchemaType::Float32,
        SchemaType::Float64 => wit::SchemaType::Float64,
        SchemaType::Boolean => wit::SchemaType::Boolean,
        SchemaType::String => wit::SchemaType::String,
        SchemaType::Bytes => wit::SchemaType::Bytes,
        SchemaType::Array => wit::SchemaType::Array,
        SchemaType::Map => wit::SchemaType::Map,
        SchemaType::Struct => wit::SchemaType::Struct,
    }
}

fn schema_type_from_wit(ty: wit::SchemaType) -> SchemaType {
    match ty {
        wit::SchemaType::Int8 => SchemaType::Int8,
        wit::SchemaType::Int16 => SchemaType::Int16,
        wit::SchemaType::Int32 => SchemaType::Int32,
        wit::SchemaType::Int64 => SchemaType::Int64,
        wit::SchemaType::Float32 => SchemaType::Float32,
        wit::SchemaType::Float64 => SchemaType::Float64,
        wit::SchemaType::Boolean => SchemaType::Boolean,
        wit::SchemaType::String => SchemaType::String,
        wit::SchemaType::Bytes => SchemaType::Bytes,
        wit::SchemaType::Array => SchemaType::Array,
        wit::SchemaType::Map => SchemaType::Map,
        wit::SchemaType::Struct => SchemaType::Struct,
    }
}

/// A value as a node table with its root at 0. A primitive is a single node and its buffer
/// is moved, not copied.
pub fn value_to_wit(value: Value) -> Vec<wit::ValueNode> {
    match primitive_node(value) {
        Ok(node) => vec![node],
        Err(container) => {
            let mut nodes = Vec::new();
            push_value(&mut nodes, container);
            nodes
        }
    }
}

/// The node of a primitive value, or the value back if it is a container.
fn primitive_node(value: Value) -> Result<wit::ValueNode, Value> {
    Ok(match value {
        Value::Null => wit::ValueNode::Null,
        Value::Boolean(v) => wit::ValueNode::Boolean(v),
        Value::Int8(v) => wit::ValueNode::Int8(v),
        Value::Int16(v) => wit::ValueNode::Int16(v),
        Value::Int32(v) => wit::ValueNode::Int32(v),
        Value::Int64(v) => wit::ValueNode::Int64(v),
        Value::Float32(v) => wit::ValueNode::Float32(v),
        Value::Float64(v) => wit::ValueNode::Float64(v),
        Value::String(v) => wit::ValueNode::String(v),
        Value::Bytes(v) => wit::ValueNode::Bytes(v),
        container @ (Value::Array(_) | Value::Map(_) | Value::Struct(_)) => return Err(container),
    })
}

/// Appends `value` in pre-order (parent first) and returns the index of its node.
fn push_value(nodes: &mut Vec<wit::ValueNode>, value: Value) -> u32 {
    let index = nodes.len();
    match primitive_node(value) {
        Ok(node) => nodes.push(node),
        Err(Value::Array(items)) => {
            nodes.push(wit::ValueNode::Null);
            let children = items.into_iter().map(|v| push_value(nodes, v)).collect();
            nodes[index] = wit::ValueNode::Array(children);
        }
        Err(Value::Map(entries)) => {
            nodes.push(wit::ValueNode::Null);
            let children = entries
                .into_iter()
                .map(|(k, v)| (push_value(nodes, k), push_value(nodes, v)))
                .collect();
            nodes[index] = wit::ValueNode::Map(children);
        }
        Err(Value::Struct(s)) => {
            nodes.push(wit::ValueNode::Null);
            let children = s.values.into_iter().map(|v| push_value(nodes, v)).collect();
            nodes[index] = wit::ValueNode::Struct(children);
        }
        // `primitive_node` only hands back containers.
        Err(_) => nodes.push(wit::ValueNode::Null),
    }
    table_index(index)
}

pub fn data_to_wit(data: Data, table: &mut SchemaTable) -> wit::Data {
    wit::Data {
        schema: data.schema.as_ref().map(|s| table.intern(s)),
        value: data_value_to_wit(data.value),
    }
}

/// A primitive as itself, with no node list around it; a container as a tree.
fn data_value_to_wit(value: Value) -> wit::DataValue {
    use wit::DataValue as D;
    match value {
        Value::Null => D::Null,
        Value::Boolean(v) => D::Boolean(v),
        Value::Int8(v) => D::Int8(v),
        Value::Int16(v) => D::Int16(v),
        Value::Int32(v) => D::Int32(v),
        Value::Int64(v) => D::Int64(v),
        Value::Float32(v) => D::Float32(v),
        Value::Float64(v) => D::Float64(v),
        Value::String(v) => D::String(v),
        Value::Bytes(v) => D::Bytes(v),
        container @ (Value::Array(_) | Value::Map(_) | Value::Struct(_)) => {
            D::Tree(value_to_wit(container))
        }
    }
}

pub fn header_to_wit(header: Header, table: &mut SchemaTable) -> wit::Header {
    wit::Header {
        key: header.key,
        value: data_to_wit(header.value, table),
    }
}

pub fn scalar_to_wit(scalar: Scalar) -> wit::Scalar {
    match scalar {
        Scalar::Null => wit::Scalar::Null,
        Scalar::Boolean(v) => wit::Scalar::Boolean(v),
        Scalar::Int(v) => wit::Scalar::Int(v),
        Scalar::Float(v) => wit::Scalar::Float(v),
        Scalar::String(v) => wit::Scalar::String(v),
    }
}

pub fn offset_map_to_wit(map: OffsetMap) -> wit::OffsetMap {
    map.into_iter()
        .map(|(k, v)| (k, scalar_to_wit(v)))
        .collect()
}

pub fn config_to_wit(config: &ConfigMap) -> wit::Config {
    config.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub fn topic_partition_to_wit(tp: &TopicPartition) -> wit::TopicPartition {
    wit::TopicPartition {
        topic: tp.topic.clone(),
        partition: tp.partition,
    }
}

pub fn topic_partition_offset_to_wit(tpo: TopicPartitionOffset) -> wit::TopicPartitionOffset {
    wit::TopicPartitionOffset {
        topic: tpo.topic,
        partition: tpo.partition,
        offset: tpo.offset,
    }
}

fn timestamp_type_to_wit(ty: TimestampType) -> wit_sink::TimestampType {
    match ty {
        TimestampType::NoTimestampType => wit_sink::TimestampType::NoTimestampType,
        TimestampType::CreateTime => wit_sink::TimestampType::CreateTime,
        TimestampType::LogAppendTime => wit_sink::TimestampType::LogAppendTime,
    }
}

fn sink_record_to_wit(
    record: SinkRecord,
    table: &mut SchemaTable,
    topics: &mut RecordTables,
    headers: &mut Vec<wit::Header>,
) -> wit_sink::SinkRecord {
    let header_count = table_index(record.headers.len());
    headers.extend(record.headers.into_iter().map(|h| header_to_wit(h, table)));
    wit_sink::SinkRecord {
        topic: topics.topic(&record.topic),
        partition: record.partition,
        offset: record.offset,
        key: record.key.map(|d| data_to_wit(d, table)),
        value: record.value.map(|d| data_to_wit(d, table)),
        timestamp: record.timestamp,
        timestamp_type: timestamp_type_to_wit(record.timestamp_type),
        header_count,
        original_topic: topics.topic(&record.original_topic),
        original_partition: record.original_partition,
        original_offset: record.original_offset,
    }
}

/// One `put` batch: the records, the schema and topic tables they refer to, and every
/// record's headers in one list.
pub fn sink_batch_to_wit(records: Vec<SinkRecord>) -> wit_sink::SinkBatch {
    let mut table = SchemaTable::new();
    let mut topics = RecordTables::default();
    let mut headers = Vec::new();
    let records = records
        .into_iter()
        .map(|r| sink_record_to_wit(r, &mut table, &mut topics, &mut headers))
        .collect();
    wit_sink::SinkBatch {
        schemas: table.into_schemas(),
        topics: topics.topics,
        headers,
        records,
    }
}

/// Builds the topic and source partition tables of a batch going to the guest.
#[derive(Default)]
struct RecordTables {
    topics: Vec<String>,
    topic_index: HashMap<String, u32>,
    partitions: Vec<wit::OffsetMap>,
    /// Records polled in one batch share their partition's `Arc`, so most lookups end here.
    partition_by_pointer: HashMap<*const OffsetMap, u32>,
    /// Every partition seen, which also keeps the pointers above from being reused.
    partitions_seen: Vec<(Arc<OffsetMap>, u32)>,
}

impl RecordTables {
    fn topic(&mut self, topic: &str) -> u32 {
        if self.topics.last().is_some_and(|last| last == topic) {
            return table_index(self.topics.len() - 1);
        }
        if let Some(&index) = self.topic_index.get(topic) {
            return index;
        }
        let index = table_index(self.topics.len());
        self.topic_index.insert(topic.to_owned(), index);
        self.topics.push(topic.to_owned());
        index
    }

    fn partition(&mut self, partition: Arc<OffsetMap>) -> u32 {
        let pointer = Arc::as_ptr(&partition);
        if let Some(&index) = self.partition_by_pointer.get(&pointer) {
            return index;
        }
        // A new `Arc`: an equal map from another poll, or a new partition.
        let index = match self.partitions_seen.iter().find(|(p, _)| *p == partition) {
            Some(&(_, index)) => index,
            None => {
                let index = table_index(self.partitions.len());
                self.partitions
                    .push(offset_map_to_wit((*partition).clone()));
                index
            }
        };
        self.partition_by_pointer.insert(pointer, index);
        self.partitions_seen.push((partition, index));
        index
    }
}

/// A source record with its schemas in `table` and its topic and source partition in `tables`.
fn source_record_to_wit(
    record: SourceRecord,
    table: &mut SchemaTable,
    tables: &mut RecordTables,
) -> wit_source::SourceRecord {
    wit_source::SourceRecord {
        source_partition: tables.partition(record.source_partition),
        source_offset: offset_map_to_wit(record.source_offset),
        topic: tables.topic(&record.topic),
        partition: record.partition,
        key: record.key.map(|d| data_to_wit(d, table)),
        value: record.value.map(|d| data_to_wit(d, table)),
        timestamp: record.timestamp,
        headers: record
            .headers
            .into_iter()
            .map(|h| header_to_wit(h, table))
            .collect(),
    }
}

/// One `commit-records` call: the records and the tables they refer to, each distinct schema,
/// topic and source partition defined once (as in [`sink_batch_to_wit`]).
pub fn committed_batch_to_wit(
    records: Vec<(SourceRecord, Option<RecordMetadata>)>,
) -> wit_source::CommittedBatch {
    let mut table = SchemaTable::new();
    let mut tables = RecordTables::default();
    let records = records
        .into_iter()
        .map(|(record, metadata)| wit_source::CommittedRecord {
            record: source_record_to_wit(record, &mut table, &mut tables),
            metadata: metadata.map(|m| wit_source::RecordMetadata {
                topic: m.topic.to_string(),
                partition: m.partition,
                offset: m.offset,
                timestamp: m.timestamp,
            }),
        })
        .collect();
    wit_source::CommittedBatch {
        schemas: table.into_schemas(),
        topics: tables.topics,
        source_partitions: tables.partitions,
        records,
    }
}

pub fn connector_error_to_wit(error: ConnectorError) -> wit::ConnectorError {
    match error {
        ConnectorError::InvalidConfig(m) => wit::ConnectorError::InvalidConfig(m),
        ConnectorError::Retriable(m) => wit::ConnectorError::Retriable(m),
        ConnectorError::Fatal(m) => wit::ConnectorError::Fatal(m),
    }
}

pub fn config_key_to_wit(key: ConfigKey) -> wit_config::ConfigKey {
    wit_config::ConfigKey {
        name: key.name,
        type_: match key.ty {
            ConfigType::Boolean => wit_config::ConfigType::Boolean,
            ConfigType::String => wit_config::ConfigType::String,
            ConfigType::Int => wit_config::ConfigType::Int,
            ConfigType::Short => wit_config::ConfigType::Short,
            ConfigType::Long => wit_config::ConfigType::Long,
            ConfigType::Double => wit_config::ConfigType::Double,
            ConfigType::List => wit_config::ConfigType::List,
            ConfigType::Class => wit_config::ConfigType::Class,
            ConfigType::Password => wit_config::ConfigType::Password,
        },
        default_value: key.default,
        importance: match key.importance {
            Importance::High => wit_config::Importance::High,
            Importance::Medium => wit_config::Importance::Medium,
            Importance::Low => wit_config::Importance::Low,
        },
        documentation: key.documentation,
        group: key.group,
        order_in_group: key.order_in_group,
        width: match key.width {
            Width::None => wit_config::Width::None,
            Width::Short => wit_config::Width::Short,
            Width::Medium => wit_config::Width::Medium,
            Width::Long => wit_config::Width::Long,
        },
        display_name: key.display_name,
        dependents: key.dependents,
        validator: key.validator.map(|v| match v {
            Validator::Range { min, max } => {
                wit_config::Validator::Range(wit_config::Range { min, max })
            }
            Validator::ValidString(values) => wit_config::Validator::ValidString(values),
            Validator::NonEmptyString => wit_config::Validator::NonEmptyString,
        }),
        recommended_values: key.recommended_values,
    }
}

pub fn config_value_to_wit(value: ConfigValue) -> wit_config::ConfigValue {
    wit_config::ConfigValue {
        name: value.name,
        value: value.value,
        recommended_values: value.recommended_values,
        errors: value.errors,
        visible: value.visible,
    }
}

// ---------------------------------------------------------------------------------------------
// Guest → host
// ---------------------------------------------------------------------------------------------

pub(super) fn describe(schema: &Schema) -> String {
    match &schema.name {
        Some(name) => format!("{} `{name}`", schema.ty.name()),
        None => schema.ty.name().to_owned(),
    }
}

/// Checks a reference from table entry `from` to entry `to` in a table of `len` entries.
fn check_ref(what: &str, from: usize, to: u32, len: usize) -> Result<usize, Invalid> {
    let to_index = to as usize;
    if to_index >= len {
        return Err(format!(
            "{what} {from} refers to {what} {to}, which does not exist (the table has {len})"
        ));
    }
    if to_index <= from {
        return Err(format!(
            "{what} {from} refers to {what} {to}, which is not after it"
        ));
    }
    Ok(to_index)
}

/// Converts a batch's schema table. Entry `i` of the result is the schema at index `i`;
/// children are shared `Arc`s.
pub fn schemas_from_wit(
    table: Vec<wit::Schema>,
    limits: &HostLimits,
) -> Result<Vec<SchemaRef>, Invalid> {
    let len = table.len();
    if len > MAX_SCHEMAS {
        return Err(format!(
            "the schema table has {len} schemas; at most {MAX_SCHEMAS} are allowed"
        ));
    }
    let mut built: Vec<Option<SchemaRef>> = vec![None; len];
    let mut sizes = vec![SchemaSize::default(); len];
    for (index, entry) in table.into_iter().enumerate().rev() {
        let schema = schema_from_wit(index, entry, &built, &mut sizes, limits)?;
        built[index] = Some(schema);
    }
    // Every entry was built above; `flatten` only drops what cannot be there.
    Ok(built.into_iter().flatten().collect())
}

/// How big a schema table entry is once expanded into a tree (a child shared by several
/// parents counted each time).
#[derive(Debug, Clone, Copy, Default)]
struct SchemaSize {
    depth: usize,
    nodes: u64,
    /// Roughly the bytes of its JSON form (Kafka Connect's schema envelope).
    bytes: u64,
}

/// The bytes a schema node adds to its JSON form, without its children: the type, the
/// optional flag, name, version, doc, parameters, field names and the default.
fn schema_own_bytes(schema: &Schema) -> u64 {
    let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() as u64 + 12);
    let parameters: u64 = schema
        .parameters
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + 6)
        .sum();
    let fields: u64 = schema.fields.iter().map(|f| f.name.len() as u64 + 12).sum();
    let default = schema.default.as_ref().map_or(0, value_bytes);
    40 + text(&schema.name) + text(&schema.doc) + parameters + fields + default
}

/// Roughly the bytes of a value's JSON form (bytes as base64).
fn value_bytes(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64 + 2,
        Value::Bytes(b) => (b.len() as u64).div_ceil(3) * 4 + 2,
        Value::Array(items) => 2 + items.iter().map(|v| value_bytes(v) + 1).sum::<u64>(),
        Value::Map(entries) => {
            2 + entries
                .iter()
                .map(|(k, v)| value_bytes(k) + value_bytes(v) + 2)
                .sum::<u64>()
        }
        Value::Struct(s) => {
            2 + s
                .values
                .iter()
                .zip(&s.schema.fields)
                .map(|(v, f)| value_bytes(v) + f.name.len() as u64 + 4)
                .sum::<u64>()
        }
        _ => 8,
    }
}

/// Builds table entry `index`; every entry after it is already built.
fn schema_from_wit(
    index: usize,
    entry: wit::Schema,
    built: &[Option<SchemaRef>],
    sizes: &mut [SchemaSize],
    limits: &HostLimits,
) -> Result<SchemaRef, Invalid> {
    let len = built.len();
    let ty = schema_type_from_wit(entry.type_);
    let child = |to: u32| -> Result<(usize, SchemaRef), Invalid> {
        let to = check_ref("schema", index, to, len)?;
        match &built[to] {
            Some(schema) => Ok((to, schema.clone())),
            None => Err(format!(
                "schema {index} refers to schema {to}, which is invalid"
            )),
        }
    };
    let mut children = Vec::new();
    let (value_schema, key_schema) = match ty {
        SchemaType::Array => {
            if entry.key_schema.is_some() || !entry.fields.is_empty() {
                return Err(format!(
                    "schema {index} is an array but has a key schema or fields"
                ));
            }
            let Some(value) = entry.value_schema else {
                return Err(format!(
                    "schema {index} is an array without an element schema"
                ));
            };
            let (i, value) = child(value)?;
            children.push(i);
            (Some(value), None)
        }
        SchemaType::Map => {
            if !entry.fields.is_empty() {
                return Err(format!("schema {index} is a map but has fields"));
            }
            let (Some(key), Some(value)) = (entry.key_schema, entry.value_schema) else {
                return Err(format!(
                    "schema {index} is a map without a key schema or a value schema"
                ));
            };
            let (ki, key) = child(key)?;
            let (vi, value) = child(value)?;
            children.extend([ki, vi]);
            (Some(value), Some(key))
        }
        _ => {
            if entry.key_schema.is_some() || entry.value_schema.is_some() {
                return Err(format!(
                    "schema {index} is {} but has a key or value schema",
                    ty.name()
                ));
            }
            if ty != SchemaType::Struct && !entry.fields.is_empty() {
                return Err(format!("schema {index} is {} but has fields", ty.name()));
            }
            (None, None)
        }
    };
    let mut fields = Vec::with_capacity(entry.fields.len());
    for field in entry.fields {
        if fields.iter().any(|f: &Field| f.name == field.name) {
            return Err(format!(
                "schema {index} has two fields named `{}`",
                field.name
            ));
        }
        let (i, schema) = child(field.schema)?;
        children.push(i);
        fields.push(Field {
            name: field.name,
            schema,
        });
    }
    let depth = 1 + children.iter().map(|&i| sizes[i].depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(format!(
            "schema {index} is nested deeper than {MAX_DEPTH} levels"
        ));
    }
    let nodes = children
        .iter()
        .fold(1u64, |acc, &i| acc.saturating_add(sizes[i].nodes));
    if nodes > MAX_SCHEMA_SIZE {
        return Err(format!(
            "schema {index} expands to more than {MAX_SCHEMA_SIZE} schemas"
        ));
    }
    let children_bytes = children
        .iter()
        .fold(0u64, |acc, &i| acc.saturating_add(sizes[i].bytes));
    let schema = Schema {
        ty,
        optional: entry.optional,
        name: entry.name,
        version: entry.version,
        doc: entry.doc,
        parameters: entry.parameters,
        default: None,
        key_schema,
        value_schema,
        fields,
    };
    let schema = match entry.default_value {
        None => schema,
        Some(default) => {
            // A struct default refers to its schema; that is the schema without the default,
            // since an `Arc` cannot contain itself.
            let without_default = Arc::new(schema);
            let value = value_from_wit(default, Some(&without_default))
                .map_err(|e| format!("schema {index} default: {e}"))?;
            let mut schema = Arc::unwrap_or_clone(without_default);
            schema.default = Some(value);
            schema
        }
    };
    let bytes = schema_own_bytes(&schema).saturating_add(children_bytes);
    if bytes > limits.schema_max_bytes {
        return Err(format!(
            "schema {index} expands to more than {} bytes (sandbox.schema.max.bytes)",
            limits.schema_max_bytes
        ));
    }
    sizes[index] = SchemaSize {
        depth,
        nodes,
        bytes,
    };
    Ok(Arc::new(schema))
}

fn node_kind(node: &wit::ValueNode) -> &'static str {
    match node {
        wit::ValueNode::Null => "null",
        wit::ValueNode::Boolean(_) => "boolean",
        wit::ValueNode::Int8(_) => "int8",
        wit::ValueNode::Int16(_) => "int16",
        wit::ValueNode::Int32(_) => "int32",
        wit::ValueNode::Int64(_) => "int64",
        wit::ValueNode::Float32(_) => "float32",
        wit::ValueNode::Float64(_) => "float64",
        wit::ValueNode::String(_) => "string",
        wit::ValueNode::Bytes(_) => "bytes",
        wit::ValueNode::Array(_) => "array",
        wit::ValueNode::Map(_) => "map",
        wit::ValueNode::Struct(_) => "struct",
    }
}

/// Converts a value table (root at node 0), checking it against `schema` if there is one.
pub fn value_from_wit(
    mut nodes: Vec<wit::ValueNode>,
    schema: Option<&SchemaRef>,
) -> Result<Value, Invalid> {
    value_from_nodes(&mut nodes, schema)
}

/// A key, value or header value from the guest: a primitive given directly is decoded as
/// the one-node tree it stands for, so both forms are checked against the schema alike.
fn data_value_from_wit(
    value: wit::DataValue,
    schema: Option<&SchemaRef>,
) -> Result<Value, Invalid> {
    use wit::{DataValue as D, ValueNode as N};
    let mut node = match value {
        D::Tree(nodes) => return value_from_wit(nodes, schema),
        D::Null => N::Null,
        D::Boolean(v) => N::Boolean(v),
        D::Int8(v) => N::Int8(v),
        D::Int16(v) => N::Int16(v),
        D::Int32(v) => N::Int32(v),
        D::Int64(v) => N::Int64(v),
        D::Float32(v) => N::Float32(v),
        D::Float64(v) => N::Float64(v),
        D::String(v) => N::String(v),
        D::Bytes(v) => N::Bytes(v),
    };
    value_from_nodes(std::slice::from_mut(&mut node), schema)
}

fn value_from_nodes(
    nodes: &mut [wit::ValueNode],
    schema: Option<&SchemaRef>,
) -> Result<Value, Invalid> {
    let len = nodes.len();
    if len == 0 {
        return Err(
            "the value table is empty (a null value is `null`, or a tree of one null node)".into(),
        );
    }
    if len > MAX_VALUE_NODES {
        return Err(format!(
            "the value table has {len} nodes; at most {MAX_VALUE_NODES} are allowed"
        ));
    }
    let mut decoder = ValueDecoder {
        nodes,
        used: Vec::new(),
    };
    if len > 1 {
        decoder.used = vec![false; len];
        decoder.used[0] = true;
    }
    let value = decoder.decode(0, schema, 1)?;
    if let Some(unused) = decoder.used.iter().position(|used| !used) {
        return Err(format!("node {unused} is not part of the value tree"));
    }
    Ok(value)
}

struct ValueDecoder<'a> {
    nodes: &'a mut [wit::ValueNode],
    /// Which nodes are already part of the tree; empty for a single-node table.
    used: Vec<bool>,
}

impl ValueDecoder<'_> {
    /// Claims node `to` as a child of node `from`.
    fn child(&mut self, from: usize, to: u32) -> Result<usize, Invalid> {
        let to = check_ref("node", from, to, self.nodes.len())?;
        match self.used.get_mut(to) {
            Some(used) if !*used => {
                *used = true;
                Ok(to)
            }
            _ => Err(format!(
                "node {from} refers to node {to}, which is already used"
            )),
        }
    }

    fn decode(
        &mut self,
        index: usize,
        schema: Option<&SchemaRef>,
        depth: usize,
    ) -> Result<Value, Invalid> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "node {index} is nested deeper than {MAX_DEPTH} levels"
            ));
        }
        let node = std::mem::replace(&mut self.nodes[index], wit::ValueNode::Null);
        let ty = schema.map(|s| s.ty);
        let mismatch = |node: &wit::ValueNode, schema: &Schema| {
            format!(
                "node {index} is {} but its schema is {}",
                node_kind(node),
                describe(schema)
            )
        };
        use wit::ValueNode as N;
        Ok(match (node, ty) {
            (N::Null, _) => {
                if let Some(s) = schema
                    && !s.optional
                    && s.default.is_none()
                {
                    return Err(format!(
                        "node {index} is null but its schema ({}) is required and has no default",
                        describe(s)
                    ));
                }
                Value::Null
            }
            (N::Boolean(v), None | Some(SchemaType::Boolean)) => Value::Boolean(v),
            (N::Int8(v), None | Some(SchemaType::Int8)) => Value::Int8(v),
            (N::Int16(v), None | Some(SchemaType::Int16)) => Value::Int16(v),
            (N::Int32(v), None | Some(SchemaType::Int32)) => Value::Int32(v),
            (N::Int64(v), None | Some(SchemaType::Int64)) => Value::Int64(v),
            (N::Float32(v), None | Some(SchemaType::Float32)) => Value::Float32(v),
            (N::Float64(v), None | Some(SchemaType::Float64)) => Value::Float64(v),
            (N::String(v), None | Some(SchemaType::String)) => Value::String(v),
            (N::Bytes(v), None | Some(SchemaType::Bytes)) => Value::Bytes(v),
            (N::Array(children), None | Some(SchemaType::Array)) => {
                let items = schema.and_then(|s| s.value_schema.as_ref());
                let mut values = Vec::with_capacity(children.len());
                for child in children {
                    let child = self.child(index, child)?;
                    values.push(self.decode(child, items, depth + 1)?);
                }
                Value::Array(values)
            }
            (N::Map(entries), None | Some(SchemaType::Map)) => {
                let keys = schema.and_then(|s| s.key_schema.as_ref());
                let values = schema.and_then(|s| s.value_schema.as_ref());
                let mut out = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let key = self.child(index, key)?;
                    let key = self.decode(key, keys, depth + 1)?;
                    let value = self.child(index, value)?;
                    let value = self.decode(value, values, depth + 1)?;
                    out.push((key, value));
                }
                Value::Map(out)
            }
            (N::Struct(children), Some(SchemaType::Struct)) => {
                // `ty` is Some only when `schema` is.
                let Some(schema) = schema else {
                    return Err(format!("node {index} is a struct without a schema"));
                };
                if children.len() != schema.fields.len() {
                    return Err(format!(
                        "node {index} is a struct with {} values but its schema ({}) has {} fields",
                        children.len(),
                        describe(schema),
                        schema.fields.len()
                    ));
                }
                let mut values = Vec::with_capacity(children.len());
                for (child, field) in children.into_iter().zip(&schema.fields) {
                    let child = self.child(index, child)?;
                    let value = self
                        .decode(child, Some(&field.schema), depth + 1)
                        .map_err(|e| format!("field `{}`: {e}", field.name))?;
                    values.push(value);
                }
                Value::Struct(Struct {
                    schema: schema.clone(),
                    values,
                })
            }
            (N::Struct(_), None) => {
                return Err(format!(
                    "node {index} is a struct in schemaless data (structs need a schema)"
                ));
            }
            (node, _) => match schema {
                Some(schema) => return Err(mismatch(&node, schema)),
                None => return Err(format!("node {index} is invalid")),
            },
        })
    }
}

pub fn data_from_wit(data: wit::Data, schemas: &[SchemaRef]) -> Result<Data, Invalid> {
    let schema = match data.schema {
        None => None,
        Some(index) => match schemas.get(index as usize) {
            Some(schema) => Some(schema.clone()),
            None => {
                return Err(format!(
                    "schema {index} does not exist (the batch has {} schemas)",
                    schemas.len()
                ));
            }
        },
    };
    let value = data_value_from_wit(data.value, schema.as_ref())?;
    Ok(Data { schema, value })
}

fn headers_from_wit(
    headers: impl IntoIterator<Item = wit::Header>,
    schemas: &[SchemaRef],
) -> Result<Vec<Header>, Invalid> {
    headers
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let value = data_from_wit(h.value, schemas)
                .map_err(|e| format!("header {i} (`{}`): {e}", h.key))?;
            Ok(Header { key: h.key, value })
        })
        .collect()
}

pub fn scalar_from_wit(scalar: wit::Scalar) -> Scalar {
    match scalar {
        wit::Scalar::Null => Scalar::Null,
        wit::Scalar::Boolean(v) => Scalar::Boolean(v),
        wit::Scalar::Int(v) => Scalar::Int(v),
        wit::Scalar::Float(v) => Scalar::Float(v),
        wit::Scalar::String(v) => Scalar::String(v),
    }
}

pub fn offset_map_from_wit(map: wit::OffsetMap) -> OffsetMap {
    map.into_iter()
        .map(|(k, v)| (k, scalar_from_wit(v)))
        .collect()
}

/// The records of one `poll`.
pub fn source_batch_from_wit(
    mut batch: wit_source::SourceBatch,
    limits: &HostLimits,
) -> Result<Vec<SourceRecord>, Invalid> {
    let json = RecordsJson::parse(batch.records_json.take())?;
    source_batch_with_json(batch, json, limits)
}

/// The records of one `poll` whose `records-json` was taken out and checked by
/// [`RecordsJson::parse`] (which tells how many records the batch has).
pub fn source_batch_with_json(
    batch: wit_source::SourceBatch,
    json: RecordsJson,
    limits: &HostLimits,
) -> Result<Vec<SourceRecord>, Invalid> {
    let count = batch.records.len() + json.len();
    check_batch_records(count)?;
    let schemas = schemas_from_wit(batch.schemas, limits)?;
    let (topics, partitions) =
        record_tables_from_wit(batch.topics, batch.source_partitions, count)?;
    let first = batch.records.len();
    let mut records = batch
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| source_record_from_wit(r, &schemas, &topics, &partitions, i))
        .collect::<Result<Vec<_>, _>>()?;
    if !json.is_empty() {
        let tables = records_json::Tables {
            schemas: &schemas,
            topics: &topics,
            partitions: &partitions,
        };
        records.extend(records_json::records(json, first, &tables)?);
    }
    Ok(records)
}

/// A batch's topics and source partitions, each shared by the records that refer to it.
type RecordTablesFromWit = (Vec<Arc<str>>, Vec<Arc<OffsetMap>>);

/// The topic and source partition tables of a source or committed batch. Guests list each
/// value once or a few times; a table longer than the batch has records is refused.
fn record_tables_from_wit(
    topics: Vec<String>,
    partitions: Vec<wit::OffsetMap>,
    records: usize,
) -> Result<RecordTablesFromWit, Invalid> {
    for (what, len) in [
        ("topics", topics.len()),
        ("source-partitions", partitions.len()),
    ] {
        if len > records {
            return Err(format!(
                "the `{what}` table has {len} entries for {records} records; it may have at most one per record"
            ));
        }
    }
    let topics = topics.into_iter().map(Arc::from).collect();
    let partitions = partitions
        .into_iter()
        .map(|p| Arc::new(offset_map_from_wit(p)))
        .collect();
    Ok((topics, partitions))
}

/// Looks up a record's index into one of its batch's tables.
fn table_entry<'t, T>(table: &'t [T], index: u32, what: &str) -> Result<&'t T, Invalid> {
    table.get(index as usize).ok_or_else(|| {
        format!(
            "{what} {index} does not exist (the batch has {} {what}s)",
            table.len()
        )
    })
}

fn source_record_from_wit(
    r: wit_source::SourceRecord,
    schemas: &[SchemaRef],
    topics: &[Arc<str>],
    partitions: &[Arc<OffsetMap>],
    i: usize,
) -> Result<SourceRecord, Invalid> {
    let topic = table_entry(topics, r.topic, "topic").map_err(|e| format!("record {i}: {e}"))?;
    let source_partition = table_entry(partitions, r.source_partition, "source partition")
        .map_err(|e| format!("record {i}: {e}"))?;
    let key = r
        .key
        .map(|d| data_from_wit(d, schemas))
        .transpose()
        .map_err(|e| format!("record {i} key: {e}"))?;
    let value = r
        .value
        .map(|d| data_from_wit(d, schemas))
        .transpose()
        .map_err(|e| format!("record {i} value: {e}"))?;
    let headers = headers_from_wit(r.headers, schemas).map_err(|e| format!("record {i} {e}"))?;
    Ok(SourceRecord {
        source_partition: source_partition.clone(),
        source_offset: offset_map_from_wit(r.source_offset),
        topic: topic.clone(),
        partition: r.partition,
        key,
        value,
        timestamp: r.timestamp,
        headers,
    })
}

/// Refuses a batch of more than [`MAX_BATCH_RECORDS`] records.
pub fn check_batch_records(count: usize) -> Result<(), Invalid> {
    if count > MAX_BATCH_RECORDS {
        return Err(format!(
            "the batch has {count} records; at most {MAX_BATCH_RECORDS} are allowed"
        ));
    }
    Ok(())
}

fn timestamp_type_from_wit(ty: wit_sink::TimestampType) -> TimestampType {
    match ty {
        wit_sink::TimestampType::NoTimestampType => TimestampType::NoTimestampType,
        wit_sink::TimestampType::CreateTime => TimestampType::CreateTime,
        wit_sink::TimestampType::LogAppendTime => TimestampType::LogAppendTime,
    }
}

/// A `put` batch back on the host (the inverse of [`sink_batch_to_wit`], used by tests and
/// tools).
pub fn sink_batch_from_wit(
    batch: wit_sink::SinkBatch,
    limits: &HostLimits,
) -> Result<Vec<SinkRecord>, Invalid> {
    let schemas = schemas_from_wit(batch.schemas, limits)?;
    let topics: Vec<Arc<str>> = batch.topics.into_iter().map(Arc::from).collect();
    let total = batch.headers.len();
    let mut headers = batch.headers.into_iter();
    let records = batch
        .records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let count = r.header_count as usize;
            if count > headers.len() {
                return Err(format!(
                    "record {i} has {count} headers, past the end of the batch's {total} headers"
                ));
            }
            let topic = |index| {
                table_entry(&topics, index, "topic")
                    .cloned()
                    .map_err(|e| format!("record {i}: {e}"))
            };
            let key = r
                .key
                .map(|d| data_from_wit(d, &schemas))
                .transpose()
                .map_err(|e| format!("record {i} key: {e}"))?;
            let value = r
                .value
                .map(|d| data_from_wit(d, &schemas))
                .transpose()
                .map_err(|e| format!("record {i} value: {e}"))?;
            let headers = headers_from_wit(headers.by_ref().take(count), &schemas)
                .map_err(|e| format!("record {i} {e}"))?;
            Ok(SinkRecord {
                topic: topic(r.topic)?,
                partition: r.partition,
                offset: r.offset,
                key,
                value,
                timestamp: r.timestamp,
                timestamp_type: timestamp_type_from_wit(r.timestamp_type),
                headers,
                original_topic: topic(r.original_topic)?,
                original_partition: r.original_partition,
                original_offset: r.original_offset,
            })
        })
        .collect::<Result<Vec<_>, Invalid>>()?;
    if headers.len() != 0 {
        return Err(format!(
            "the records have {} headers, but the batch's `headers` list has {total}",
            total - headers.len()
        ));
    }
    Ok(records)
}

pub fn config_from_wit(config: wit::Config) -> ConfigMap {
    config.into_iter().collect()
}

pub fn topic_partition_from_wit(tp: wit::TopicPartition) -> TopicPartition {
    TopicPartition {
        topic: tp.topic,
        partition: tp.partition,
    }
}

pub fn topic_partition_offset_from_wit(tpo: wit::TopicPartitionOffset) -> TopicPartitionOffset {
    TopicPartitionOffset {
        topic: tpo.topic,
        partition: tpo.partition,
        offset: tpo.offset,
    }
}

/// A guest's error, its message cut to `max` bytes.
pub fn connector_error_from_wit(error: wit::ConnectorError, max: usize) -> ConnectorError {
    let bounded = |message| crate::text::truncated(message, max);
    match error {
        wit::ConnectorError::InvalidConfig(m) => ConnectorError::InvalidConfig(bounded(m)),
        wit::ConnectorError::Retriable(m) => ConnectorError::Retriable(bounded(m)),
        wit::ConnectorError::Fatal(m) => ConnectorError::Fatal(bounded(m)),
    }
}

pub fn config_key_from_wit(key: wit_config::ConfigKey) -> ConfigKey {
    ConfigKey {
        name: key.name,
        ty: match key.type_ {
            wit_config::ConfigType::Boolean => ConfigType::Boolean,
            wit_config::ConfigType::String => ConfigType::String,
            wit_config::ConfigType::Int => ConfigType::Int,
            wit_config::ConfigType::Short => ConfigType::Short,
            wit_config::ConfigType::Long => ConfigType::Long,
            wit_config::ConfigType::Double => ConfigType::Double,
            wit_config::ConfigType::List => ConfigType::List,
            wit_config::ConfigType::Class => ConfigType::Class,
            wit_config::ConfigType::Password => ConfigType::Password,
        },
        default: key.default_value,
        importance: match key.importance {
            wit_config::Importance::High => Importance::High,
            wit_config::Importance::Medium => Importance::Medium,
            wit_config::Importance::Low => Importance::Low,
        },
        documentation: key.documentation,
        group: key.group,
        order_in_group: key.order_in_group,
        width: match key.width {
            wit_config::Width::None => Width::None,
            wit_config::Width::Short => Width::Short,
            wit_config::Width::Medium => Width::Medium,
            wit_config::Width::Long => Width::Long,
        },
        display_name: key.display_name,
        dependents: key.dependents,
        validator: key.validator.map(|v| match v {
            wit_config::Validator::Range(r) => Validator::Range {
                min: r.min,
                max: r.max,
            },
            wit_config::Validator::ValidString(values) => Validator::ValidString(values),
            wit_config::Validator::NonEmptyString => Validator::NonEmptyString,
        }),
        recommended_values: key.recommended_values,
    }
}

pub fn config_value_from_wit(value: wit_config::ConfigValue) -> ConfigValue {
    ConfigValue {
        name: value.name,
        value: value.value,
        recommended_values: value.recommended_values,
        errors: value.errors,
        visible: value.visible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_table_defines_each_distinct_schema_once_whatever_the_order() {
        let a: SchemaRef = Arc::new(Schema::primitive(SchemaType::Int32));
        let b: SchemaRef = Arc::new(Schema::primitive(SchemaType::String));
        // Equal to `a`, another allocation.
        let a_again: SchemaRef = Arc::new(Schema::primitive(SchemaType::Int32));
        let mut table = SchemaTable::new();
        let indices: Vec<u32> = [&a, &a, &b, &a, &b, &b, &a_again, &a]
            .into_iter()
            .map(|schema| table.intern(schema))
            .collect();
        assert_eq!(indices, [0, 0, 1, 0, 1, 1, 0, 0]);
        let schemas = table.into_schemas();
        assert_eq!(schemas.len(), 2);
        assert!(matches!(schemas[0].type_, wit::SchemaType::Int32));
        assert!(matches!(schemas[1].type_, wit::SchemaType::String));
    }
}
