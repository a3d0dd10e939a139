"""Conversion between the SDK's data model and the WIT flat tables of ``wit/types.wit``.

A batch's schemas are one list (children after their parent, referred to by index); each value
is a list of value nodes with its root at node 0 and children at greater indices. Encoding
interns each distinct schema once per batch (:class:`SchemaTable`); decoding checks every index
and raises :class:`DataError` for anything malformed.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
from typing import Any, Dict, List, Optional, Tuple

from wit_world.imports import types as wit

from . import data as d
from .data import Schema, Struct, Type
from .errors import DataError
from .records import Header, OffsetMap

MAX_DEPTH = 256

_TO_WIT_TYPE = {
    Type.INT8: wit.SchemaType.INT8,
    Type.INT16: wit.SchemaType.INT16,
    Type.INT32: wit.SchemaType.INT32,
    Type.INT64: wit.SchemaType.INT64,
    Type.FLOAT32: wit.SchemaType.FLOAT32,
    Type.FLOAT64: wit.SchemaType.FLOAT64,
    Type.BOOLEAN: wit.SchemaType.BOOLEAN,
    Type.STRING: wit.SchemaType.STRING,
    Type.BYTES: wit.SchemaType.BYTES,
    Type.ARRAY: wit.SchemaType.ARRAY,
    Type.MAP: wit.SchemaType.MAP,
    Type.STRUCT: wit.SchemaType.STRUCT,
}
_FROM_WIT_TYPE = {v: k for k, v in _TO_WIT_TYPE.items()}
# A key, value or header value: a primitive directly, anything else as a tree of nodes.
_TREE = wit.DataValue_Tree
_DIRECT_NULL = wit.DataValue_Null
_DIRECT_STRING = wit.DataValue_String
_DIRECT_BYTES = wit.DataValue_Bytes
_DIRECT = {
    wit.ValueNode_Null: wit.DataValue_Null,
    wit.ValueNode_Boolean: wit.DataValue_Boolean,
    wit.ValueNode_Int8: wit.DataValue_Int8,
    wit.ValueNode_Int16: wit.DataValue_Int16,
    wit.ValueNode_Int32: wit.DataValue_Int32,
    wit.ValueNode_Int64: wit.DataValue_Int64,
    wit.ValueNode_Float32: wit.DataValue_Float32,
    wit.ValueNode_Float64: wit.DataValue_Float64,
    wit.ValueNode_String: wit.DataValue_String,
    wit.ValueNode_Bytes: wit.DataValue_Bytes,
}
_PLAIN_TYPES = {str: Type.STRING, bytes: Type.BYTES}
_INT_NODES = {
    Type.INT8: wit.ValueNode_Int8,
    Type.INT16: wit.ValueNode_Int16,
    Type.INT32: wit.ValueNode_Int32,
    Type.INT64: wit.ValueNode_Int64,
}


# ---------------------------------------------------------------------------------- decoding


def decode_schemas(table: List[wit.Schema]) -> List[Schema]:
    """Decodes a batch's schema table into :class:`Schema` objects, index for index."""
    decoded: Dict[int, Schema] = {}

    def child(parent: int, index: Optional[int], depth: int) -> Optional[Schema]:
        if index is None:
            return None
        if not parent < index < len(table):
            raise DataError(
                f"schema {parent} refers to schema {index}, which is not after it in a table of {len(table)}"
            )
        return get(index, depth + 1)

    def get(index: int, depth: int) -> Schema:
        found = decoded.get(index)
        if found is not None:
            return found
        if depth > MAX_DEPTH:
            raise DataError(f"schemas nest deeper than {MAX_DEPTH} levels")
        raw = table[index]
        schema_type = _FROM_WIT_TYPE[raw.type]
        fields = tuple(
            d.Field(f.name, child(index, f.schema, depth)) for f in raw.fields
        )
        shell = Schema(
            type=schema_type,
            optional=raw.optional,
            name=raw.name,
            version=raw.version,
            doc=raw.doc,
            parameters=tuple((k, v) for k, v in raw.parameters),
            key_schema=child(index, raw.key_schema, depth),
            value_schema=child(index, raw.value_schema, depth),
            fields=fields,
        )
        if raw.default_value is not None:
            default = decode_value(raw.default_value, shell)
            shell = Schema(**{**shell.__dict__, "default": default})
        decoded[index] = shell
        return shell

    return [get(i, 0) for i in range(len(table))]


def decode_data(data: Optional[wit.Data], schemas: List[Schema]) -> Tuple[Any, Optional[Schema]]:
    """(value, schema) of an optional WIT data."""
    if data is None:
        return None, None
    schema = None
    if data.schema is not None:
        if not 0 <= data.schema < len(schemas):
            raise DataError(f"data refers to schema {data.schema} of {len(schemas)}")
        schema = schemas[data.schema]
    value = data.value
    kind = type(value)
    if kind is _TREE:
        return decode_value(value.value, schema), schema
    if kind is _DIRECT_NULL:
        return None, schema
    # A primitive given directly (most keys and values).
    if schema is None or schema.logical is None:
        return value.value, schema
    return _from_logical(value.value, schema), schema


def decode_value(nodes: List[wit.ValueNode], schema: Optional[Schema]) -> Any:
    """Decodes a value tree (root at node 0), converting logical types when ``schema`` says so."""
    if not nodes:
        raise DataError("empty value tree (a null value is [null])")
    if len(nodes) == 1:
        # A plain value (most keys and values): no tree to walk.
        node = nodes[0]
        kind = type(node)
        if kind is wit.ValueNode_String or kind is wit.ValueNode_Bytes or kind is wit.ValueNode_Int64:
            if schema is None or schema.logical is None:
                return node.value
        elif kind is wit.ValueNode_Null:
            return None

    def node_at(parent: int, index: int) -> Any:
        if not parent < index < len(nodes):
            raise DataError(
                f"value node {parent} refers to node {index}, which is not after it in a tree of {len(nodes)}"
            )
        return index

    def go(index: int, schema: Optional[Schema], depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DataError(f"values nest deeper than {MAX_DEPTH} levels")
        node = nodes[index]
        if isinstance(node, wit.ValueNode_Null):
            return None
        if isinstance(node, wit.ValueNode_Array):
            element = schema.value_schema if schema is not None else None
            return [go(node_at(index, i), element, depth + 1) for i in node.value]
        if isinstance(node, wit.ValueNode_Map):
            ks = schema.key_schema if schema is not None else None
            vs = schema.value_schema if schema is not None else None
            entries = [
                (go(node_at(index, k), ks, depth + 1), go(node_at(index, v), vs, depth + 1))
                for k, v in node.value
            ]
            try:
                return dict(entries)
            except TypeError:  # an unhashable key (list, dict): keep the pairs
                return entries
        if isinstance(node, wit.ValueNode_Struct):
            if schema is None or schema.type is not Type.STRUCT:
                raise DataError("a struct value needs a struct schema")
            if len(node.value) != len(schema.fields):
                raise DataError(
                    f"struct value has {len(node.value)} fields, its schema {len(schema.fields)}"
                )
            s = Struct.__new__(Struct)
            s.schema = schema
            s._values = {
                f.name: go(node_at(index, i), f.schema, depth + 1)
                for f, i in zip(schema.fields, node.value)
            }
            return s
        if schema is None or schema.logical is None:
            return node.value
        return _from_logical(node.value, schema)

    return go(0, schema, 0)


def _from_logical(value: Any, schema: Schema) -> Any:
    """The Python value of a primitive of a logical type (Decimal, Date, Time, Timestamp)."""
    logical = schema.logical
    if logical == d.DECIMAL:
        return d.decimal_from_bytes(value, int(schema.parameter(d.DECIMAL_SCALE) or 0))
    if logical == d.DATE:
        return d.days_to_date(value)
    if logical == d.TIME:
        return d.millis_to_time(value)
    return d.millis_to_timestamp(value)


def decode_offset_map(pairs: List[Tuple[str, wit.Scalar]]) -> OffsetMap:
    return {k: v.value if not isinstance(v, wit.Scalar_Null) else None for k, v in pairs}


def decode_headers(headers: List[wit.Header], schemas: List[Schema]) -> List[Header]:
    out = []
    for h in headers:
        value, schema = decode_data(h.value, schemas)
        out.append(Header(h.key, value, schema))
    return out


# ---------------------------------------------------------------------------------- encoding


def encode_offset_map(values: Optional[OffsetMap], what: str) -> List[Tuple[str, wit.Scalar]]:
    if values is None:
        return []
    if not isinstance(values, dict):
        raise DataError(f"{what} must be a dict of str to scalars, got {type(values).__name__}")
    out = []
    for k, v in values.items():
        if not isinstance(k, str):
            raise DataError(f"{what} keys must be strings, got {k!r}")
        if v is None:
            scalar = wit.Scalar_Null()
        elif isinstance(v, bool):
            scalar = wit.Scalar_Boolean(v)
        elif isinstance(v, int):
            scalar = wit.Scalar_Int(v)
        elif isinstance(v, float):
            scalar = wit.Scalar_Float(v)
        elif isinstance(v, str):
            scalar = wit.Scalar_String(v)
        else:
            raise DataError(
                f"{what}[{k!r}] is a {type(v).__name__}; offsets hold only None, bool, int, float and str"
            )
        out.append((k, scalar))
    return out


class SchemaTable:
    """The schema table of one batch being encoded: each distinct schema is written once."""

    def __init__(self) -> None:
        self.schemas: List[wit.Schema] = []
        # Keyed by structural equality (defaults included); the hash leaves defaults out.
        self._index: Dict[Schema, int] = {}
        self._last: Optional[Tuple[Schema, int]] = None

    def intern(self, schema: Schema) -> int:
        last = self._last
        if last is not None and last[0] is schema:
            return last[1]
        index = self._index.get(schema)
        if index is None:
            index = self._push_tree(schema)
            self._index[schema] = index
        self._last = (schema, index)
        return index

    def _push_tree(self, schema: Schema) -> int:
        index = len(self.schemas)
        self.schemas.append(
            wit.Schema(
                type=_TO_WIT_TYPE[schema.type],
                optional=schema.optional,
                name=schema.name,
                version=schema.version,
                doc=schema.doc,
                parameters=list(schema.parameters),
                default_value=None
                if schema.default is None
                else encode_value(schema.default, schema, "default value"),
                value_schema=None,
                key_schema=None,
                fields=[],
            )
        )
        entry = self.schemas[index]
        entry.key_schema = self._push_tree(schema.key_schema) if schema.key_schema else None
        entry.value_schema = self._push_tree(schema.value_schema) if schema.value_schema else None
        entry.fields = [wit.Field(f.name, self._push_tree(f.schema)) for f in schema.fields]
        return index

    def encode_data(self, value: Any, schema: Optional[Schema], what: str) -> Optional[wit.Data]:
        """WIT data for ``value`` with ``schema``; None for a null value without schema."""
        if schema is None:
            if value is None:
                return None
            if isinstance(value, Struct):
                schema = value.schema
        if schema is not None and not isinstance(schema, Schema):
            raise DataError(f"{what} schema must be a Schema, got {type(schema).__name__}")
        index = self.intern(schema) if schema is not None else None
        kind = type(value)
        if (kind is str or kind is bytes) and (
            schema is None or (schema.logical is None and schema.type is _PLAIN_TYPES[kind])
        ):
            return wit.Data(index, _DIRECT_STRING(value) if kind is str else _DIRECT_BYTES(value))
        nodes = encode_value(value, schema, what)
        if len(nodes) == 1:
            # A primitive crosses as itself, without a node list around it.
            node = nodes[0]
            direct = _DIRECT.get(type(node))
            if direct is not None:
                return wit.Data(index, direct(node.value) if direct is not _DIRECT_NULL else direct())
        return wit.Data(index, _TREE(nodes))

    def encode_headers(self, headers: List[Header]) -> List[wit.Header]:
        out = []
        for h in headers or ():
            data = self.encode_data(h.value, h.schema, f"header {h.key!r}")
            out.append(wit.Header(h.key, data if data is not None else wit.Data(None, _DIRECT_NULL())))
        return out


def encode_value(value: Any, schema: Optional[Schema], what: str = "value") -> List[wit.ValueNode]:
    """The value tree of ``value``: with a schema, node kinds follow the schema (and the value is
    checked against it); without one they follow the Python type.

    Values of the plain Python type for their schema go through an encoder compiled once per
    schema (:func:`_encoder`); anything else (a subclass, a logical type given as a number, a
    value that does not fit) takes the general path below, which names what is wrong."""
    encode = _SCHEMALESS if schema is None else _encoder(schema)
    if encode is not None:
        nodes: List[Any] = []
        try:
            encode(value, nodes)
            return nodes
        except _Slow:
            pass
    return _encode_value_checked(value, schema, what)


class _Slow(Exception):
    """A compiled encoder met a value it leaves to the general path."""


# Compiled encoders by schema identity; the schema is kept so an id is never reused for
# another. Bounded: a connector making schemas per record only loses the speed-up.
_ENCODERS: Dict[int, Tuple[Schema, Any]] = {}
_ENCODERS_MAX = 1024
_NULL = wit.ValueNode_Null
_STRING = wit.ValueNode_String
_BYTES = wit.ValueNode_Bytes
_INT64 = wit.ValueNode_Int64
_PLAIN_NODES = {
    Type.BOOLEAN: (bool, wit.ValueNode_Boolean),
    Type.STRING: (str, _STRING),
    Type.BYTES: (bytes, _BYTES),
}


def _encoder(schema: Schema) -> Any:
    """The compiled encoder of ``schema`` (appends its value's nodes, returns the root's
    index), or None when it nests too deep to compile."""
    entry = _ENCODERS.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    if not isinstance(schema, Schema):
        return None
    encode = _compile(schema, 0)
    if len(_ENCODERS) >= _ENCODERS_MAX:
        _ENCODERS.clear()
    _ENCODERS[id(schema)] = (schema, encode)
    return encode


# The logical types carried as integers: the Python type each takes and its conversion, shared
# by the WIT and the JSON encoders.
_INT_LOGICAL = {
    d.TIMESTAMP: (_dt.datetime, d.timestamp_to_millis),
    d.DATE: (_dt.date, d.date_to_days),
    d.TIME: (_dt.time, d.time_to_millis),
}


def _compile(schema: Schema, depth: int) -> Any:
    if depth > 32:
        return None
    t = schema.type
    nullable = schema.optional or schema.default is not None
    logical = schema.logical

    def null(nodes: List[Any]) -> int:
        if not nullable:
            raise _Slow
        nodes.append(_NULL())
        return len(nodes) - 1

    if t in _INT_NODES:
        low, high = d._INT_RANGES[t]
        make = _INT_NODES[t]
        convert = _INT_LOGICAL.get(logical)

        def integer(value: Any, nodes: List[Any]) -> int:
            kind = type(value)
            if kind is not int:
                if value is None:
                    return null(nodes)
                if convert is None or kind is not convert[0]:
                    raise _Slow
                value = convert[1](value)
            if not low <= value <= high:
                raise _Slow
            nodes.append(make(value))
            return len(nodes) - 1

        return integer
    if t is Type.FLOAT32 or t is Type.FLOAT64:
        make = wit.ValueNode_Float32 if t is Type.FLOAT32 else wit.ValueNode_Float64

        def floating(value: Any, nodes: List[Any]) -> int:
            kind = type(value)
            if kind is not float and kind is not int:
                if value is None:
                    return null(nodes)
                raise _Slow
            nodes.append(make(float(value)))
            return len(nodes) - 1

        return floating
    plain = _PLAIN_NODES.get(t)
    if plain is not None:
        # bool, str or bytes exactly; a Decimal (bytes) or bytearray takes the general path.
        kind, make = plain

        def exact(value: Any, nodes: List[Any]) -> int:
            if type(value) is not kind:
                if value is None:
                    return null(nodes)
                raise _Slow
            nodes.append(make(value))
            return len(nodes) - 1

        return exact
    if t is Type.ARRAY:
        element = _compile(schema.value_schema, depth + 1) if schema.value_schema else None
        if element is None:
            return None

        def array(value: Any, nodes: List[Any]) -> int:
            kind = type(value)
            if kind is not list and kind is not tuple:
                if value is None:
                    return null(nodes)
                raise _Slow
            index = len(nodes)
            nodes.append(None)
            nodes[index] = wit.ValueNode_Array([element(v, nodes) for v in value])
            return index

        return array
    if t is Type.MAP:
        key = _compile(schema.key_schema, depth + 1) if schema.key_schema else None
        item = _compile(schema.value_schema, depth + 1) if schema.value_schema else None
        if key is None or item is None:
            return None

        def mapping(value: Any, nodes: List[Any]) -> int:
            if type(value) is not dict:
                if value is None:
                    return null(nodes)
                raise _Slow
            index = len(nodes)
            nodes.append(None)
            nodes[index] = wit.ValueNode_Map([(key(k, nodes), item(v, nodes)) for k, v in value.items()])
            return index

        return mapping
    fields = []
    for f in schema.fields:
        encode = _compile(f.schema, depth + 1)
        if encode is None:
            return None
        fields.append((f.name, f.schema.default, encode))
    own_fields = schema.fields

    def structure(value: Any, nodes: List[Any]) -> int:
        if type(value) is not Struct:
            if value is None:
                return null(nodes)
            raise _Slow
        if value.schema is not schema and value.schema.fields != own_fields:
            raise _Slow
        index = len(nodes)
        nodes.append(None)
        values = value._values
        children = []
        for name, default, encode in fields:
            v = values.get(name)
            children.append(encode(default if v is None else v, nodes))
        nodes[index] = wit.ValueNode_Struct(children)
        return index

    return structure


def _schemaless(value: Any, nodes: List[Any]) -> int:
    """Schemaless strings, bytes and int64s; anything else takes the general path."""
    kind = type(value)
    if kind is str:
        nodes.append(_STRING(value))
    elif kind is bytes:
        nodes.append(_BYTES(value))
    elif kind is int and -(2**63) <= value < 2**63:
        nodes.append(_INT64(value))
    elif value is None:
        nodes.append(_NULL())
    else:
        raise _Slow
    return len(nodes) - 1


_SCHEMALESS = _schemaless


def _encode_value_checked(value: Any, schema: Optional[Schema], what: str) -> List[wit.ValueNode]:
    """:func:`encode_value`'s general path: every check, every accepted Python type."""
    nodes: List[Any] = []

    def push(value: Any, schema: Optional[Schema], path: str, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise DataError(f"{path} nests deeper than {MAX_DEPTH} levels")
        index = len(nodes)
        nodes.append(None)
        nodes[index] = node(value, schema, path, depth)
        return index

    def node(value: Any, schema: Optional[Schema], path: str, depth: int) -> Any:
        if value is None:
            if schema is not None and not schema.optional and schema.default is None:
                raise DataError(f"{path} is None but its {schema.type.name} schema is required")
            return wit.ValueNode_Null()
        if schema is None:
            return schemaless(value, path, depth)
        d._validate(schema, value, path) if schema.type.is_primitive else None
        t = schema.type
        logical = schema.logical
        if logical == d.DECIMAL and isinstance(value, _decimal.Decimal):
            value = d.decimal_to_bytes(value, int(schema.parameter(d.DECIMAL_SCALE) or 0))
        elif logical == d.DATE and isinstance(value, _dt.date):
            value = d.date_to_days(value)
        elif logical == d.TIME and isinstance(value, _dt.time):
            value = d.time_to_millis(value)
        elif logical == d.TIMESTAMP and isinstance(value, _dt.datetime):
            value = d.timestamp_to_millis(value)
        if t in _INT_NODES:
            return _INT_NODES[t](value)
        if t is Type.FLOAT32:
            return wit.ValueNode_Float32(float(value))
        if t is Type.FLOAT64:
            return wit.ValueNode_Float64(float(value))
        if t is Type.BOOLEAN:
            return wit.ValueNode_Boolean(value)
        if t is Type.STRING:
            return wit.ValueNode_String(value)
        if t is Type.BYTES:
            return wit.ValueNode_Bytes(bytes(value))
        if t is Type.ARRAY:
            if not isinstance(value, (list, tuple)):
                raise DataError(f"{path} is a {type(value).__name__}, its schema an ARRAY")
            return wit.ValueNode_Array(
                [push(v, schema.value_schema, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            )
        if t is Type.MAP:
            entries = d._map_entries(value)
            if entries is None:
                raise DataError(f"{path} is a {type(value).__name__}, its schema a MAP")
            return wit.ValueNode_Map(
                [
                    (
                        push(k, schema.key_schema, f"key of {path}", depth + 1),
                        push(v, schema.value_schema, f"{path}[{k!r}]", depth + 1),
                    )
                    for k, v in entries
                ]
            )
        if not isinstance(value, Struct):
            raise DataError(f"{path} is a {type(value).__name__}, its schema a STRUCT")
        if value.schema.fields != schema.fields:
            raise DataError(f"{path}: the struct's fields differ from its schema's")
        return wit.ValueNode_Struct(
            [push(value.get(f.name), f.schema, f"{path}.{f.name}", depth + 1) for f in schema.fields]
        )

    def schemaless(value: Any, path: str, depth: int) -> Any:
        if isinstance(value, bool):
            return wit.ValueNode_Boolean(value)
        if isinstance(value, int):
            if not -(2**63) <= value < 2**63:
                raise DataError(f"{path} = {value} does not fit in an int64")
            return wit.ValueNode_Int64(value)
        if isinstance(value, float):
            return wit.ValueNode_Float64(value)
        if isinstance(value, str):
            return wit.ValueNode_String(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return wit.ValueNode_Bytes(bytes(value))
        if isinstance(value, (list, tuple)):
            return wit.ValueNode_Array(
                [push(v, None, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            )
        if isinstance(value, dict):
            return wit.ValueNode_Map(
                [
                    (push(k, None, f"key of {path}", depth + 1), push(v, None, f"{path}[{k!r}]", depth + 1))
                    for k, v in value.items()
                ]
            )
        if isinstance(value, Struct):
            return node(value, value.schema, path, depth)
        raise DataError(
            f"{path} is a {type(value).__name__}, which has no schemaless Connect form; give it a schema"
        )

    push(value, schema, what, 0)
    return nodes


# ------------------------------------------------------------------------- JSON source records
#
# A poll's records can cross the boundary as one JSON text (`source-batch.records-json`, whose
# forms wit/source-task.wit defines): CPython's C JSON encoder writes a whole batch in one call,
# where the WIT objects cost about a dozen bindings objects per record to build and lower. Only
# plain values take this path (as the compiled WIT encoders above); a batch with anything else
# is encoded as WIT records, which check and name every problem.

import binascii as _binascii
import json as _json

_JSON_TEXT = _json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode
_JSON_ENCODERS: Dict[int, Tuple[Schema, Any]] = {}
_I64_LOW, _I64_HIGH = -(2**63), 2**63 - 1


def _base64(value: bytes) -> str:
    return _binascii.b2a_base64(value, newline=False).decode("ascii")


def json_records(records: List[Any], table: "SchemaTable", tables: Any) -> Optional[str]:
    """The JSON text of ``records`` (``SourceRecord`` objects), interning their schemas, topics
    and source partitions in ``table`` and ``tables``; None when any record holds something
    only the WIT form carries (the caller then encodes the batch as WIT records, with fresh
    tables)."""
    from .records import SourceRecord  # records imports data only; no cycle at call time

    rows = []
    append = rows.append
    partition_of = tables.partition
    topic_of = tables.topic
    # The schema of the last value and its (index, encoder): a task's records share one.
    last_schema: Any = None
    last_index = 0
    last_encode: Any = None
    try:
        for r in records:
            if type(r) is not SourceRecord:
                return None
            topic, partition, timestamp = r.topic, r.partition, r.timestamp
            if type(topic) is not str:
                return None
            if partition is not None and type(partition) is not int:
                return None
            if timestamp is not None and type(timestamp) is not int:
                return None
            offset = r.source_offset
            if offset is None:
                offset = {}
            elif type(offset) is not dict:
                return None
            for k in offset:
                if type(k) is not str:
                    return None
            key, key_schema = r.key, r.key_schema
            if key_schema is None and (key is None or type(key) is str):
                key = None if key is None else [None, key]
            else:
                key = _json_data(table, key, key_schema)
            value, value_schema = r.value, r.value_schema
            if value_schema is not None and value_schema is last_schema:
                value = [last_index, last_encode(value)]
            elif value_schema is not None and type(value_schema) is Schema:
                last_encode = _json_encoder(value_schema)
                if last_encode is None:
                    return None
                last_schema, last_index = value_schema, table.intern(value_schema)
                value = [last_index, last_encode(value)]
            else:
                value = _json_data(table, value, value_schema)
            headers = r.headers
            append(
                [
                    partition_of(r.source_partition, ""),
                    offset,
                    topic_of(topic),
                    partition,
                    key,
                    value,
                    timestamp,
                    [_json_header(table, h) for h in headers] if headers else [],
                ]
            )
        return _JSON_TEXT(rows)
    except (_Slow, DataError, TypeError, ValueError, OverflowError, RecursionError):
        return None


def _json_header(table: "SchemaTable", h: Any) -> List[Any]:
    if type(h) is not Header or type(h.key) is not str:
        raise _Slow
    data = _json_data(table, h.value, h.schema)
    return [h.key, None, None] if data is None else [h.key, data[0], data[1]]


def _json_data(table: "SchemaTable", value: Any, schema: Optional[Schema]) -> Optional[List[Any]]:
    if schema is None:
        if value is None:
            return None
        if type(value) is not Struct:
            return [None, _json_schemaless(value, 0)]
        schema = value.schema
    elif type(schema) is not Schema:
        raise _Slow
    encode = _json_encoder(schema)
    if encode is None:
        raise _Slow
    return [table.intern(schema), encode(value)]


def _json_schemaless(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        if _I64_LOW <= value <= _I64_HIGH:
            return value
    elif kind is bytes:
        return {"bytes": _base64(value)}
    elif depth < 32:
        if kind is list or kind is tuple:
            return [_json_schemaless(v, depth + 1) for v in value]
        if kind is dict:
            return {
                "map": [
                    [_json_schemaless(k, depth + 1), _json_schemaless(v, depth + 1)]
                    for k, v in value.items()
                ]
            }
    raise _Slow


# The same encoders by schema value, for connectors that build an equal schema per record.
_JSON_BY_VALUE: Dict[Schema, Any] = {}


def _json_encoder(schema: Schema) -> Any:
    """The compiled JSON encoder of ``schema`` (returns its value's JSON form, or raises
    :class:`_Slow`), or None when it nests too deep to compile."""
    entry = _JSON_ENCODERS.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    try:
        encode = _JSON_BY_VALUE.get(schema, _Slow)
    except TypeError:  # an unhashable default value
        encode = _Slow
    if encode is _Slow:
        encode = _compile_json(schema, 0)
        if len(_JSON_BY_VALUE) >= _ENCODERS_MAX:
            _JSON_BY_VALUE.clear()
        try:
            _JSON_BY_VALUE[schema] = encode
        except TypeError:
            pass
    if len(_JSON_ENCODERS) >= _ENCODERS_MAX:
        _JSON_ENCODERS.clear()
    _JSON_ENCODERS[id(schema)] = (schema, encode)
    return encode


def _compile_json(schema: Schema, depth: int) -> Any:
    if depth > 32:
        return None
    t = schema.type
    nullable = schema.optional or schema.default is not None
    logical = schema.logical

    def null() -> None:
        if not nullable:
            raise _Slow
        return None

    if t in _INT_NODES:
        low, high = d._INT_RANGES[t]
        convert = _INT_LOGICAL.get(logical)

        def integer(value: Any) -> Any:
            kind = type(value)
            if kind is not int:
                if value is None:
                    return null()
                if convert is None or kind is not convert[0]:
                    raise _Slow
                value = convert[1](value)
            if not low <= value <= high:
                raise _Slow
            return value

        return integer
    if t is Type.FLOAT32 or t is Type.FLOAT64:

        def floating(value: Any) -> Any:
            kind = type(value)
            if kind is not float and kind is not int:
                if value is None:
                    return null()
                raise _Slow
            return float(value)  # not finite: the encoder refuses it, and WIT carries it

        return floating
    if t is Type.BOOLEAN or t is Type.STRING:
        kind = bool if t is Type.BOOLEAN else str

        def exact(value: Any) -> Any:
            if type(value) is not kind:
                if value is None:
                    return null()
                raise _Slow
            return value

        return exact
    if t is Type.BYTES:
        scale = int(schema.parameter(d.DECIMAL_SCALE) or 0) if logical == d.DECIMAL else None

        def binary(value: Any) -> Any:
            kind = type(value)
            if kind is bytes and scale is None:
                return _base64(value)
            if value is None:
                return null()
            if kind is _decimal.Decimal and scale is not None:
                return _base64(d.decimal_to_bytes(value, scale))
            raise _Slow

        return binary
    if t is Type.ARRAY:
        element = _compile_json(schema.value_schema, depth + 1) if schema.value_schema else None
        if element is None:
            return None

        def array(value: Any) -> Any:
            kind = type(value)
            if kind is not list and kind is not tuple:
                if value is None:
                    return null()
                raise _Slow
            return [element(v) for v in value]

        return array
    if t is Type.MAP:
        key = _compile_json(schema.key_schema, depth + 1) if schema.key_schema else None
        item = _compile_json(schema.value_schema, depth + 1) if schema.value_schema else None
        if key is None or item is None:
            return None

        def mapping(value: Any) -> Any:
            if type(value) is not dict:
                if value is None:
                    return null()
                raise _Slow
            return [[key(k), item(v)] for k, v in value.items()]

        return mapping
    fields = []
    for f in schema.fields:
        encode = _compile_json(f.schema, depth + 1)
        if encode is None:
            return None
        fields.append((f, encode))
    return _json_struct_encoder(schema, nullable, fields)


# Structs of at most this many fields get an encoder written out as Python code.
_INLINE_FIELDS_MAX = 64


def _json_struct_encoder(schema: Schema, nullable: bool, fields: List[Tuple[Any, Any]]) -> Any:
    """A struct's JSON encoder: its fields' values in field order, each field's default for
    None. Up to :data:`_INLINE_FIELDS_MAX` fields it is generated as one function whose body
    checks each field's plain type inline (ints in range, str, bool, float, an aware
    datetime for a Timestamp) and calls the field's own encoder only for anything else: a
    call per field is most of the cost in CPython. Field names and defaults are bound as
    variables, never written into the code."""
    own_fields = schema.fields
    if len(fields) > _INLINE_FIELDS_MAX:

        def structure(value: Any) -> Any:
            if type(value) is not Struct:
                if value is None and nullable:
                    return None
                raise _Slow
            if value.schema is not schema and value.schema.fields != own_fields:
                raise _Slow
            values = value._values
            out = []
            for f, encode in fields:
                v = values.get(f.name)
                out.append(encode(f.schema.default if v is None else v))
            return out

        return structure
    env: Dict[str, Any] = {
        "Struct": Struct,
        "_Slow": _Slow,
        "schema": schema,
        "own_fields": own_fields,
        "nullable": nullable,
        "datetime": _dt.datetime,
        "EPOCH": d._EPOCH,
        "MS": d._ONE_MILLISECOND,
    }
    lines = [
        "def structure(value):",
        "    if type(value) is not Struct:",
        "        if value is None and nullable:",
        "            return None",
        "        raise _Slow",
        "    if value.schema is not schema and value.schema.fields != own_fields:",
        "        raise _Slow",
        "    get = value._values.get",
    ]
    for i, (f, encode) in enumerate(fields):
        env[f"n{i}"], env[f"e{i}"] = f.name, encode
        v = f"v{i}"
        lines.append(f"    {v} = get(n{i})")
        if f.schema.default is not None:
            env[f"d{i}"] = f.schema.default
            lines.append(f"    if {v} is None: {v} = d{i}")
        t, logical = f.schema.type, f.schema.logical
        bounds = d._INT_RANGES.get(t)
        if logical == d.TIMESTAMP:
            lines.append(
                f"    if type({v}) is datetime and {v}.tzinfo is not None: {v} = ({v} - EPOCH) // MS"
            )
            lines.append(f"    elif type({v}) is not int: {v} = e{i}({v})")
        elif logical is None and bounds is not None:
            env[f"lo{i}"], env[f"hi{i}"] = bounds
            lines.append(f"    if type({v}) is not int or not lo{i} <= {v} <= hi{i}: {v} = e{i}({v})")
        elif logical is None and t in (Type.STRING, Type.BOOLEAN, Type.FLOAT64, Type.FLOAT32):
            env[f"k{i}"] = {Type.STRING: str, Type.BOOLEAN: bool}.get(t, float)
            lines.append(f"    if type({v}) is not k{i}: {v} = e{i}({v})")
        else:
            lines.append(f"    {v} = e{i}({v})")
    lines.append("    return [" + "".join(f"v{i}, " for i in range(len(fields))) + "]")
    exec(compile("\n".join(lines), f"<struct encoder {schema.name or ''}>", "exec"), env)
    return env["structure"]
