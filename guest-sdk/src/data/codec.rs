//! Conversion between the data model and the WIT flat tables of `types.wit`: a batch's schemas
//! are one `list<schema>` (children after their parent, referred to by index) and each value is
//! a `list<value-node>` with its root at node 0 and children at greater indices.
//!
//! Encoding interns each distinct schema once per batch ([`SchemaTable`]); decoding checks every
//! index and returns a [`DataError`] for anything malformed, never panicking.

use std::collections::HashMap;
use std::sync::Arc;

use wasm_connect_sdk_source_bindings::wasm_connect::connector::types as wit;

use super::{Data, DataError, Field, Schema, SchemaType, Struct, Value};

/// How deep schemas and values may nest when decoding. Indices only grow, so a table cannot
/// loop, but a deep one could exhaust the guest's stack; real data is far shallower.
const MAX_DEPTH: usize = 256;

fn schema_type_to_wit(t: SchemaType) -> wit::SchemaType {
    match t {
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

fn schema_type_from_wit(t: wit::SchemaType) -> SchemaType {
    match t {
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

/// The schema table of one batch being encoded. Each distinct schema is written once: first
/// looked up by `Arc` pointer (cheap, the common case of one shared `Arc`), then by structural
/// equality among the distinct schemas written so far.
#[derive(Default)]
pub(crate) struct SchemaTable {
    schemas: Vec<wit::Schema>,
    /// The last pointer looked up, to skip hashing in the common run of identical schemas.
    last: Option<(*const Schema, u32)>,
    by_pointer: HashMap<*const Schema, u32>,
    /// Keeps every pointer in `by_pointer` alive, so no address is reused within the batch.
    pinned: Vec<Arc<Schema>>,
    distinct: Vec<(Arc<Schema>, u32)>,
}

impl SchemaTable {
    /// The index of `schema` in the table, adding it (and its children) if it is new.
    pub(crate) fn intern(&mut self, schema: &Arc<Schema>) -> u32 {
        let pointer = Arc::as_ptr(schema);
        if let Some((last, index)) = self.last
            && last == pointer
        {
            return index;
        }
        let index = match self.by_pointer.get(&pointer) {
            Some(index) => *index,
            None => {
                let index = match self.distinct.iter().find(|(s, _)| **s == **schema) {
                    Some((_, index)) => *index,
                    None => {
                        let index = self.push_tree(schema);
                        self.distinct.push((schema.clone(), index));
                        index
                    }
                };
                self.by_pointer.insert(pointer, index);
                self.pinned.push(schema.clone());
                index
            }
        };
        self.last = Some((pointer, index));
        index
    }

    /// Writes `schema` and then its children (always after it, as the WIT requires).
    fn push_tree(&mut self, schema: &Schema) -> u32 {
        let index = self.len_u32();
        self.schemas.push(wit::Schema {
            type_: schema_type_to_wit(schema.schema_type),
            optional: schema.optional,
            name: schema.name.clone(),
            version: schema.version,
            doc: schema.doc.clone(),
            parameters: schema.parameters.clone(),
            default_value: schema.default_value.clone().map(encode_value),
            value_schema: None,
            key_schema: None,
            fields: Vec::new(),
        });
        let key_schema = schema.key_schema.as_ref().map(|s| self.push_tree(s));
        let value_schema = schema.value_schema.as_ref().map(|s| self.push_tree(s));
        let fields = schema
            .fields
            .iter()
            .map(|f| wit::Field {
                name: f.name.clone(),
                schema: self.push_tree(&f.schema),
            })
            .collect();
        let entry = &mut self.schemas[index as usize];
        entry.key_schema = key_schema;
        entry.value_schema = value_schema;
        entry.fields = fields;
        index
    }

    fn len_u32(&self) -> u32 {
        u32::try_from(self.schemas.len()).expect("fewer than 2^32 schemas in a batch")
    }

    /// Encodes `data`, interning its schema. Schemaless struct values use their own schema.
    pub(crate) fn encode_data(&mut self, data: Data) -> wit::Data {
        let schema = match (&data.schema, &data.value) {
            (Some(schema), _) => Some(self.intern(schema)),
            (None, Value::Struct(s)) => Some(self.intern(s.schema())),
            (None, _) => None,
        };
        wit::Data {
            schema,
            value: encode_data_value(data.value),
        }
    }

    /// The finished table.
    pub(crate) fn into_schemas(self) -> Vec<wit::Schema> {
        self.schemas
    }
}

/// Encodes a key, value or header value: a primitive as itself, a container as a tree.
fn encode_data_value(value: Value) -> wit::DataValue {
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
            D::Tree(encode_value(container))
        }
    }
}

/// Encodes a value tree: root at node 0, children after their parent. A primitive is one node.
pub(crate) fn encode_value(value: Value) -> Vec<wit::ValueNode> {
    let mut nodes = Vec::with_capacity(1);
    push_value(value, &mut nodes);
    nodes
}

fn node_index(nodes: &[wit::ValueNode]) -> u32 {
    u32::try_from(nodes.len()).expect("fewer than 2^32 nodes in a value")
}

fn push_value(value: Value, nodes: &mut Vec<wit::ValueNode>) {
    let node = match value {
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
        Value::Array(items) => {
            let at = nodes.len();
            nodes.push(wit::ValueNode::Null);
            let mut children = Vec::with_capacity(items.len());
            for item in items {
                children.push(node_index(nodes));
                push_value(item, nodes);
            }
            nodes[at] = wit::ValueNode::Array(children);
            return;
        }
        Value::Map(entries) => {
            let at = nodes.len();
            nodes.push(wit::ValueNode::Null);
            let mut children = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = node_index(nodes);
                push_value(k, nodes);
                let value = node_index(nodes);
                push_value(v, nodes);
                children.push((key, value));
            }
            nodes[at] = wit::ValueNode::Map(children);
            return;
        }
        Value::Struct(s) => {
            let at = nodes.len();
            nodes.push(wit::ValueNode::Null);
            let values = s.into_values();
            let mut children = Vec::with_capacity(values.len());
            for v in values {
                children.push(node_index(nodes));
                push_value(v, nodes);
            }
            nodes[at] = wit::ValueNode::Struct(children);
            return;
        }
    };
    nodes.push(node);
}

/// Decodes the schema table of one batch, each entry at most once (so every record referring
/// to an entry shares one `Arc`).
pub(crate) struct SchemaResolver<'a> {
    table: &'a [wit::Schema],
    decoded: Vec<Option<Arc<Schema>>>,
}

impl<'a> SchemaResolver<'a> {
    pub(crate) fn new(table: &'a [wit::Schema]) -> Self {
        Self {
            table,
            decoded: vec![None; table.len()],
        }
    }

    /// The schema at `index`.
    pub(crate) fn get(&mut self, index: u32) -> Result<Arc<Schema>, DataError> {
        self.decode(index, None, 0)
    }

    fn decode(
        &mut self,
        index: u32,
        parent: Option<u32>,
        depth: usize,
    ) -> Result<Arc<Schema>, DataError> {
        let i = index as usize;
        if i >= self.table.len() {
            return Err(DataError::new(format!(
                "schema index {index} is out of range (the table has {} entries)",
                self.table.len()
            )));
        }
        if let Some(parent) = parent
            && index <= parent
        {
            return Err(DataError::new(format!(
                "schema {parent} refers to schema {index}, which does not come after it"
            )));
        }
        if let Some(schema) = &self.decoded[i] {
            return Ok(schema.clone());
        }
        if depth > MAX_DEPTH {
            return Err(DataError::new(format!(
                "schemas nest deeper than {MAX_DEPTH} levels"
            )));
        }
        let table = self.table;
        let entry = &table[i];
        let schema_type = schema_type_from_wit(entry.type_);
        let key_schema = entry
            .key_schema
            .map(|c| self.decode(c, Some(index), depth + 1))
            .transpose()?;
        let value_schema = entry
            .value_schema
            .map(|c| self.decode(c, Some(index), depth + 1))
            .transpose()?;
        let mut fields = Vec::with_capacity(entry.fields.len());
        for f in &entry.fields {
            fields.push(Field {
                name: f.name.clone(),
                schema: self.decode(f.schema, Some(index), depth + 1)?,
            });
        }
        match schema_type {
            SchemaType::Array if value_schema.is_none() => {
                return Err(DataError::new(format!(
                    "array schema {index} has no element schema"
                )));
            }
            SchemaType::Map if key_schema.is_none() || value_schema.is_none() => {
                return Err(DataError::new(format!(
                    "map schema {index} lacks its key or value schema"
                )));
            }
            _ => {}
        }
        if schema_type != SchemaType::Struct && !fields.is_empty() {
            return Err(DataError::new(format!(
                "schema {index} has fields but is not a struct"
            )));
        }
        let mut schema = Schema {
            schema_type,
            optional: entry.optional,
            name: entry.name.clone(),
            version: entry.version,
            doc: entry.doc.clone(),
            parameters: entry.parameters.clone(),
            default_value: None,
            key_schema,
            value_schema,
            fields,
        };
        if let Some(default) = &entry.default_value {
            // The default is a value of this very schema; a struct default refers to the
            // schema without its default, as Kafka Connect's builder does.
            let without_default = Arc::new(schema.clone());
            let value = decode_value_at(default.clone(), Some(&without_default), depth + 1)
                .map_err(|e| DataError::new(format!("default of schema {index}: {e}")))?;
            schema.default_value = Some(value);
        }
        let schema = Arc::new(schema);
        self.decoded[i] = Some(schema.clone());
        Ok(schema)
    }

    /// Decodes one key, value or header value of the batch.
    pub(crate) fn decode_data(&mut self, data: wit::Data) -> Result<Data, DataError> {
        let schema = data.schema.map(|i| self.get(i)).transpose()?;
        let value = decode_data_value(data.value, schema.as_ref())?;
        Ok(Data { schema, value })
    }
}

/// Decodes a key, value or header value; a primitive given directly is decoded as the
/// one-node tree it stands for.
fn decode_data_value(
    value: wit::DataValue,
    schema: Option<&Arc<Schema>>,
) -> Result<Value, DataError> {
    use wit::{DataValue as D, ValueNode as N};
    let mut node = match value {
        D::Tree(nodes) => return decode_value(nodes, schema),
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
    decode_nodes(std::slice::from_mut(&mut node), schema, 0)
}

/// Decodes a value tree, using `schema` (if any) to build structs.
pub(crate) fn decode_value(
    nodes: Vec<wit::ValueNode>,
    schema: Option<&Arc<Schema>>,
) -> Result<Value, DataError> {
    decode_value_at(nodes, schema, 0)
}

fn decode_value_at(
    mut nodes: Vec<wit::ValueNode>,
    schema: Option<&Arc<Schema>>,
    depth: usize,
) -> Result<Value, DataError> {
    decode_nodes(&mut nodes, schema, depth)
}

fn decode_nodes(
    nodes: &mut [wit::ValueNode],
    schema: Option<&Arc<Schema>>,
    depth: usize,
) -> Result<Value, DataError> {
    if nodes.is_empty() {
        return Err(DataError::new(
            "empty value table (a null value is `null`, or a tree of one null node)",
        ));
    }
    let mut decoder = ValueDecoder {
        visited: if nodes.len() > 1 {
            vec![false; nodes.len()]
        } else {
            Vec::new()
        },
        nodes,
    };
    decoder.decode(0, None, schema, depth)
}

struct ValueDecoder<'a> {
    nodes: &'a mut [wit::ValueNode],
    /// Which nodes were decoded already; a node referred to twice is an error. Empty for
    /// one-node values, which need no check.
    visited: Vec<bool>,
}

impl ValueDecoder<'_> {
    fn decode(
        &mut self,
        index: u32,
        parent: Option<u32>,
        schema: Option<&Arc<Schema>>,
        depth: usize,
    ) -> Result<Value, DataError> {
        let i = index as usize;
        if i >= self.nodes.len() {
            return Err(DataError::new(format!(
                "value node {index} is out of range (the value has {} nodes)",
                self.nodes.len()
            )));
        }
        if let Some(parent) = parent
            && index <= parent
        {
            return Err(DataError::new(format!(
                "value node {parent} refers to node {index}, which does not come after it"
            )));
        }
        if !self.visited.is_empty() {
            if self.visited[i] {
                return Err(DataError::new(format!(
                    "value node {index} is referred to twice"
                )));
            }
            self.visited[i] = true;
        }
        if depth > MAX_DEPTH {
            return Err(DataError::new(format!(
                "values nest deeper than {MAX_DEPTH} levels"
            )));
        }
        // Each node is decoded once, so its strings and bytes can be moved out.
        let node = std::mem::replace(&mut self.nodes[i], wit::ValueNode::Null);
        Ok(match node {
            wit::ValueNode::Null => Value::Null,
            wit::ValueNode::Boolean(v) => Value::Boolean(v),
            wit::ValueNode::Int8(v) => Value::Int8(v),
            wit::ValueNode::Int16(v) => Value::Int16(v),
            wit::ValueNode::Int32(v) => Value::Int32(v),
            wit::ValueNode::Int64(v) => Value::Int64(v),
            wit::ValueNode::Float32(v) => Value::Float32(v),
            wit::ValueNode::Float64(v) => Value::Float64(v),
            wit::ValueNode::String(v) => Value::String(v),
            wit::ValueNode::Bytes(v) => Value::Bytes(v),
            wit::ValueNode::Array(children) => {
                let element = schema.and_then(|s| s.value_schema.as_ref());
                let mut items = Vec::with_capacity(children.len());
                for c in children {
                    items.push(self.decode(c, Some(index), element, depth + 1)?);
                }
                Value::Array(items)
            }
            wit::ValueNode::Map(children) => {
                let key_schema = schema.and_then(|s| s.key_schema.as_ref());
                let value_schema = schema.and_then(|s| s.value_schema.as_ref());
                let mut entries = Vec::with_capacity(children.len());
                for (k, v) in children {
                    let key = self.decode(k, Some(index), key_schema, depth + 1)?;
                    let value = self.decode(v, Some(index), value_schema, depth + 1)?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            wit::ValueNode::Struct(children) => {
                let schema = match schema {
                    Some(s) if s.schema_type == SchemaType::Struct => s,
                    _ => {
                        return Err(DataError::new(format!(
                            "value node {index} is a struct but its schema is not a struct schema"
                        )));
                    }
                };
                if children.len() != schema.fields.len() {
                    return Err(DataError::new(format!(
                        "struct value node {index} has {} fields, its schema {}",
                        children.len(),
                        schema.fields.len()
                    )));
                }
                let mut values = Vec::with_capacity(children.len());
                for (c, field) in children.into_iter().zip(&schema.fields) {
                    values.push(self.decode(c, Some(index), Some(&field.schema), depth + 1)?);
                }
                Value::Struct(Struct::from_parts(schema.clone(), values))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaBuilder;
    use crate::data::logical;

    fn round_trip(data: Vec<Data>) -> (Vec<Data>, usize) {
        let mut table = SchemaTable::default();
        let encoded: Vec<wit::Data> = data.into_iter().map(|d| table.encode_data(d)).collect();
        let schemas = table.into_schemas();
        let count = schemas.len();
        let mut resolver = SchemaResolver::new(&schemas);
        let decoded = encoded
            .into_iter()
            .map(|d| resolver.decode_data(d).unwrap())
            .collect();
        (decoded, count)
    }

    fn assert_round_trips(data: Data) {
        let (decoded, _) = round_trip(vec![data.clone()]);
        assert_eq!(decoded, vec![data]);
    }

    #[test]
    fn every_primitive_round_trips() {
        let cases: Vec<(Arc<Schema>, Value)> = vec![
            (SchemaBuilder::int8().build(), Value::Int8(-8)),
            (SchemaBuilder::int16().build(), Value::Int16(-1600)),
            (SchemaBuilder::int32().build(), Value::Int32(i32::MIN)),
            (SchemaBuilder::int64().build(), Value::Int64(i64::MAX)),
            (SchemaBuilder::float32().build(), Value::Float32(1.5)),
            (SchemaBuilder::float64().build(), Value::Float64(-2.25e300)),
            (SchemaBuilder::boolean().build(), Value::Boolean(true)),
            (
                SchemaBuilder::string().build(),
                Value::String("héllo".into()),
            ),
            (
                SchemaBuilder::bytes().build(),
                Value::Bytes(vec![0, 1, 255]),
            ),
            (SchemaBuilder::string().optional().build(), Value::Null),
        ];
        for (schema, value) in cases {
            assert_round_trips(Data::new(schema, value));
        }
    }

    #[test]
    fn primitives_cross_as_themselves_and_containers_as_trees() {
        let mut table = SchemaTable::default();
        let d = table.encode_data(Data::string("abc"));
        assert_eq!(d.value, wit::DataValue::String("abc".into()));
        let d = table.encode_data(Data::bytes(vec![1, 2]));
        assert_eq!(d.value, wit::DataValue::Bytes(vec![1, 2]));
        let d = table.encode_data(Data::schemaless("x"));
        assert_eq!(d.schema, None);
        assert_eq!(d.value, wit::DataValue::String("x".into()));
        let d = table.encode_data(Data::schemaless(Value::Array(vec![Value::Int8(1)])));
        assert_eq!(
            d.value,
            wit::DataValue::Tree(vec![
                wit::ValueNode::Array(vec![1]),
                wit::ValueNode::Int8(1)
            ])
        );
    }

    #[test]
    fn a_primitive_as_a_one_node_tree_decodes_alike() {
        let schemas = vec![wit_schema(wit::SchemaType::Int64)];
        let decode = |value| {
            decode_one(
                schemas.clone(),
                wit::Data {
                    schema: Some(0),
                    value,
                },
            )
        };
        let direct = decode(wit::DataValue::Int64(5)).unwrap();
        assert_eq!(direct.value, Value::Int64(5));
        assert_eq!(
            decode(wit::DataValue::Tree(vec![wit::ValueNode::Int64(5)])).unwrap(),
            direct
        );
    }

    #[test]
    fn schema_metadata_and_defaults_round_trip() {
        let schema = SchemaBuilder::int32()
            .optional()
            .name("com.example.Count")
            .version(3)
            .doc("how many")
            .parameter("a", "1")
            .parameter("b", "2")
            .default_value(42)
            .build();
        assert_round_trips(Data::new(schema.clone(), Value::Null));
        assert_round_trips(Data::new(schema, 7));
    }

    #[test]
    fn logical_types_round_trip() {
        let decimal = SchemaBuilder::decimal(2).build();
        assert_eq!(decimal.parameter("scale"), Some("2"));
        assert_round_trips(Data::new(
            decimal,
            Value::Bytes(logical::decimal_to_bytes(-12345)),
        ));
        assert_round_trips(Data::new(SchemaBuilder::date().build(), 19_000));
        assert_round_trips(Data::new(SchemaBuilder::time().build(), 3_600_000));
        assert_round_trips(Data::new(
            SchemaBuilder::timestamp().build(),
            1_700_000_000_000_i64,
        ));
    }

    fn nested() -> Data {
        let point = SchemaBuilder::struct_()
            .name("Point")
            .field("x", SchemaBuilder::int32().build())
            .field("label", SchemaBuilder::string().optional().build())
            .build();
        let map = SchemaBuilder::map(SchemaBuilder::string().build(), point.clone()).build();
        let array = SchemaBuilder::array(map).optional().build();
        let outer = SchemaBuilder::struct_()
            .field("maps", array)
            .field(
                "defaulted",
                SchemaBuilder::string().default_value("dflt").build(),
            )
            .build();
        let p = |x: i32, label: Option<&str>| {
            Value::Struct(
                Struct::new(point.clone())
                    .unwrap()
                    .with("x", x)
                    .unwrap()
                    .with("label", label)
                    .unwrap(),
            )
        };
        let maps = Value::Array(vec![
            Value::Map(vec![
                (Value::from("a"), p(1, Some("one"))),
                (Value::from("b"), p(2, None)),
            ]),
            Value::Map(vec![]),
        ]);
        Data::from_struct(
            Struct::new(outer)
                .unwrap()
                .with("maps", maps)
                .unwrap()
                .with("defaulted", "given")
                .unwrap(),
        )
    }

    #[test]
    fn nested_array_of_maps_of_structs_round_trips() {
        assert_round_trips(nested());
    }

    #[test]
    fn schemaless_map_and_nulls_round_trip() {
        assert_round_trips(Data::schemaless(Value::Map(vec![
            (Value::from("k"), Value::from("v")),
            (Value::Int32(1), Value::Null),
            (
                Value::from("list"),
                Value::Array(vec![Value::Int64(1), Value::Null]),
            ),
        ])));
        assert_round_trips(Data::schemaless(Value::Null));
    }

    #[test]
    fn struct_default_round_trips() {
        let inner = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .build();
        let default = Struct::new(inner.clone()).unwrap().with("a", 5).unwrap();
        let schema = SchemaBuilder::struct_()
            .field("a", SchemaBuilder::int32().build())
            .optional()
            .default_value(default)
            .build();
        let (decoded, _) = round_trip(vec![Data::new(schema, Value::Null)]);
        let decoded_schema = decoded[0].schema.as_ref().unwrap();
        let Some(Value::Struct(default)) = &decoded_schema.default_value else {
            panic!("no struct default: {decoded_schema:?}");
        };
        assert_eq!(default.get("a"), Some(&Value::Int32(5)));
        assert!(decoded_schema.optional);
    }

    #[test]
    fn a_batch_carries_each_schema_once() {
        let shared = nested().schema.unwrap();
        let mut data: Vec<Data> = (0..10_000)
            .map(|_| Data::new(shared.clone(), nested().value))
            .collect();
        // Equal but separately allocated schemas are interned too.
        data.push(nested());
        data.push(Data::string("x"));
        let (decoded, count) = round_trip(data);
        let nested_entries = {
            let mut table = SchemaTable::default();
            table.intern(&shared);
            table.into_schemas().len()
        };
        assert_eq!(count, nested_entries + 1);
        let first = decoded[0].schema.as_ref().unwrap();
        assert!(Arc::ptr_eq(first, decoded[9_999].schema.as_ref().unwrap()));
    }

    fn decode_one(schemas: Vec<wit::Schema>, data: wit::Data) -> Result<Data, DataError> {
        SchemaResolver::new(&schemas).decode_data(data)
    }

    fn wit_schema(type_: wit::SchemaType) -> wit::Schema {
        wit::Schema {
            type_,
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

    #[test]
    fn bad_indices_are_rejected() {
        let string = || wit_schema(wit::SchemaType::String);
        let data = |schema, nodes| wit::Data {
            schema,
            value: wit::DataValue::Tree(nodes),
        };
        // Schema index out of range.
        let err = decode_one(vec![], data(Some(0), vec![wit::ValueNode::Null])).unwrap_err();
        assert!(err.message().contains("out of range"), "{err}");
        // A child schema before its parent (a cycle).
        let mut array = wit_schema(wit::SchemaType::Array);
        array.value_schema = Some(0);
        let err = decode_one(vec![array], data(Some(0), vec![wit::ValueNode::Null])).unwrap_err();
        assert!(err.message().contains("does not come after"), "{err}");
        // A field pointing past the table.
        let mut st = wit_schema(wit::SchemaType::Struct);
        st.fields = vec![wit::Field {
            name: "f".into(),
            schema: 9,
        }];
        assert!(decode_one(vec![st], data(Some(0), vec![wit::ValueNode::Null])).is_err());
        // Empty value.
        assert!(decode_one(vec![string()], data(Some(0), vec![])).is_err());
        // A value node referring backwards, out of range, or twice.
        for nodes in [
            vec![wit::ValueNode::Array(vec![0])],
            vec![wit::ValueNode::Array(vec![5])],
            vec![wit::ValueNode::Array(vec![1, 1]), wit::ValueNode::Null],
            vec![wit::ValueNode::Map(vec![(1, 0)]), wit::ValueNode::Null],
        ] {
            assert!(decode_one(vec![], data(None, nodes)).is_err());
        }
        // A struct value without a struct schema, or with the wrong field count.
        assert!(decode_one(vec![], data(None, vec![wit::ValueNode::Struct(vec![])])).is_err());
        let mut st = wit_schema(wit::SchemaType::Struct);
        st.fields = vec![wit::Field {
            name: "f".into(),
            schema: 1,
        }];
        let err = decode_one(
            vec![st, string()],
            data(Some(0), vec![wit::ValueNode::Struct(vec![])]),
        )
        .unwrap_err();
        assert!(err.message().contains("fields"), "{err}");
        // A bad default.
        let mut with_default = string();
        with_default.default_value = Some(vec![wit::ValueNode::Array(vec![3])]);
        assert!(
            decode_one(
                vec![with_default],
                data(Some(0), vec![wit::ValueNode::Null])
            )
            .is_err()
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let n = 100_000;
        let nodes: Vec<wit::ValueNode> = (0..n)
            .map(|i| {
                if i + 1 < n {
                    wit::ValueNode::Array(vec![i + 1])
                } else {
                    wit::ValueNode::Null
                }
            })
            .collect();
        let err = decode_value(nodes, None).unwrap_err();
        assert!(err.message().contains("deeper"), "{err}");
        let schemas: Vec<wit::Schema> = (0..n)
            .map(|i| {
                let mut s = wit_schema(wit::SchemaType::Array);
                s.value_schema = Some(i + 1);
                if i + 1 == n {
                    s = wit_schema(wit::SchemaType::String);
                }
                s
            })
            .collect();
        assert!(SchemaResolver::new(&schemas).get(0).is_err());
    }
}
