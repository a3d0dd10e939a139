"""The Connect data model in Python: :class:`Schema` (built with :class:`SchemaBuilder`),
:class:`Struct`, and the logical types, mirroring Kafka Connect's ``org.apache.kafka.connect.data``.

Values are plain Python values, chosen by the schema:

=====================  ==========================================================
Schema type            Python value
=====================  ==========================================================
INT8/16/32/64          ``int`` (range-checked against the width)
FLOAT32/64             ``float``
BOOLEAN                ``bool``
STRING                 ``str``
BYTES                  ``bytes``
ARRAY                  ``list``
MAP                    ``dict`` (a list of ``(key, value)`` pairs when a key is unhashable)
STRUCT                 :class:`Struct`
Decimal (logical)      ``decimal.Decimal``
Date (logical)         ``datetime.date``
Time (logical)         ``datetime.time``
Timestamp (logical)    ``datetime.datetime`` (UTC)
=====================  ==========================================================

Schemaless data (no schema) maps ``None``, ``bool``, ``int`` (INT64), ``float`` (FLOAT64),
``str``, ``bytes``, ``list``, ``dict`` and :class:`Struct` the same way.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import enum
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Tuple

from .errors import DataError


class Type(enum.Enum):
    """Kafka Connect's ``Schema.Type``."""

    # By identity, as members compare: Enum's own hash is a Python-level call, and types are
    # looked up in dicts for every value encoded or checked.
    __hash__ = object.__hash__

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


_INT_RANGES = {
    Type.INT8: (-(2**7), 2**7 - 1),
    Type.INT16: (-(2**15), 2**15 - 1),
    Type.INT32: (-(2**31), 2**31 - 1),
    Type.INT64: (-(2**63), 2**63 - 1),
}

# Logical type names and the Decimal scale parameter, as in Kafka Connect.
DECIMAL = "org.apache.kafka.connect.data.Decimal"
DECIMAL_SCALE = "scale"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"

_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@dataclass(frozen=True)
class Field:
    """A field of a struct schema."""

    name: str
    schema: "Schema"


@dataclass(frozen=True, eq=True)
class Schema:
    """A Connect schema. Immutable and hashable (the default value does not take part in the
    hash); build one with :class:`SchemaBuilder` or use the ``*_SCHEMA`` constants."""

    type: Type
    optional: bool = False
    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: Tuple[Tuple[str, str], ...] = ()
    default: Any = None
    key_schema: Optional["Schema"] = None
    value_schema: Optional["Schema"] = None
    fields: Tuple[Field, ...] = ()

    def __hash__(self) -> int:
        return hash(
            (self.type, self.optional, self.name, self.version, self.parameters,
             self.key_schema, self.value_schema, self.fields)
        )

    def field(self, name: str) -> Optional[Field]:
        """The field named ``name`` of a struct schema, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def parameter(self, key: str) -> Optional[str]:
        for k, v in self.parameters:
            if k == key:
                return v
        return None

    @property
    def logical(self) -> Optional[str]:
        """The logical type name if this is Decimal, Date, Time or Timestamp on the right type."""
        if self.name == DECIMAL and self.type is Type.BYTES:
            return DECIMAL
        if self.name in (DATE, TIME) and self.type is Type.INT32:
            return self.name
        if self.name == TIMESTAMP and self.type is Type.INT64:
            return TIMESTAMP
        return None

    def validate_value(self, value: Any) -> None:
        """Raises :class:`DataError` if ``value`` does not fit this schema, as Kafka Connect's
        ``ConnectSchema.validateValue``."""
        _validate(self, value, "value")

    def __repr__(self) -> str:
        parts = [self.type.name]
        if self.name:
            parts.append(self.name)
        if self.optional:
            parts.append("optional")
        return f"Schema({', '.join(parts)})"


def _validate(schema: Schema, value: Any, where: str) -> None:
    if value is None:
        if schema.optional or schema.default is not None:
            return
        raise DataError(f"invalid null {where} for required {schema.type.name} schema")
    t = schema.type
    logical = schema.logical
    if logical == DECIMAL and isinstance(value, _decimal.Decimal):
        return
    if logical == DATE and isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return
    if logical == TIME and isinstance(value, _dt.time):
        return
    if logical == TIMESTAMP and isinstance(value, _dt.datetime):
        return
    if t in _INT_RANGES:
        low, high = _INT_RANGES[t]
        if isinstance(value, int) and not isinstance(value, bool):
            if not low <= value <= high:
                raise DataError(f"{where} {value} is out of range for {t.name}")
            return
    elif t in (Type.FLOAT32, Type.FLOAT64):
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            return
    elif t is Type.BOOLEAN:
        if isinstance(value, bool):
            return
    elif t is Type.STRING:
        if isinstance(value, str):
            return
    elif t is Type.BYTES:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return
    elif t is Type.ARRAY:
        if isinstance(value, (list, tuple)):
            if schema.value_schema is not None:
                for i, item in enumerate(value):
                    _validate(schema.value_schema, item, f"{where}[{i}]")
            return
    elif t is Type.MAP:
        entries = _map_entries(value)
        if entries is not None:
            for k, v in entries:
                if schema.key_schema is not None:
                    _validate(schema.key_schema, k, f"key of {where}")
                if schema.value_schema is not None:
                    _validate(schema.value_schema, v, f"{where}[{k!r}]")
            return
    elif t is Type.STRUCT:
        if isinstance(value, Struct):
            if value.schema.fields != schema.fields:
                raise DataError(
                    f"struct schemas do not match for {where}: the value's fields differ from the schema's"
                )
            return
    raise DataError(
        f"invalid {where} of Python type {type(value).__name__} for schema type {t.name}"
        + (f" ({logical})" if logical else "")
    )


def _map_entries(value: Any) -> Optional[list]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)) and all(
        isinstance(e, (list, tuple)) and len(e) == 2 for e in value
    ):
        return [tuple(e) for e in value]
    return None


class SchemaBuilder:
    """Builds a :class:`Schema`, as Kafka Connect's ``SchemaBuilder``::

        row = (SchemaBuilder.struct().name("com.example.Row")
               .field("id", INT64_SCHEMA)
               .field("tags", SchemaBuilder.array(STRING_SCHEMA).build())
               .build())
    """

    def __init__(self, schema_type: Type):
        self._type = schema_type
        self._optional = False
        self._name: Optional[str] = None
        self._version: Optional[int] = None
        self._doc: Optional[str] = None
        self._parameters: list = []
        self._default: Any = None
        self._key: Optional[Schema] = None
        self._value: Optional[Schema] = None
        self._fields: list = []

    # Primitive types.
    @classmethod
    def int8(cls) -> "SchemaBuilder":
        return cls(Type.INT8)

    @classmethod
    def int16(cls) -> "SchemaBuilder":
        return cls(Type.INT16)

    @classmethod
    def int32(cls) -> "SchemaBuilder":
        return cls(Type.INT32)

    @classmethod
    def int64(cls) -> "SchemaBuilder":
        return cls(Type.INT64)

    @classmethod
    def float32(cls) -> "SchemaBuilder":
        return cls(Type.FLOAT32)

    @classmethod
    def float64(cls) -> "SchemaBuilder":
        return cls(Type.FLOAT64)

    @classmethod
    def boolean(cls) -> "SchemaBuilder":
        return cls(Type.BOOLEAN)

    @classmethod
    def string(cls) -> "SchemaBuilder":
        return cls(Type.STRING)

    @classmethod
    def bytes(cls) -> "SchemaBuilder":
        return cls(Type.BYTES)

    # Containers.
    @classmethod
    def struct(cls) -> "SchemaBuilder":
        return cls(Type.STRUCT)

    @classmethod
    def array(cls, element: Schema) -> "SchemaBuilder":
        builder = cls(Type.ARRAY)
        builder._value = element
        return builder

    @classmethod
    def map(cls, key: Schema, value: Schema) -> "SchemaBuilder":
        builder = cls(Type.MAP)
        builder._key = key
        builder._value = value
        return builder

    # Logical types.
    @classmethod
    def decimal(cls, scale: int) -> "SchemaBuilder":
        return cls(Type.BYTES).name(DECIMAL).parameter(DECIMAL_SCALE, str(int(scale))).version(1)

    @classmethod
    def date(cls) -> "SchemaBuilder":
        return cls(Type.INT32).name(DATE).version(1)

    @classmethod
    def time(cls) -> "SchemaBuilder":
        return cls(Type.INT32).name(TIME).version(1)

    @classmethod
    def timestamp(cls) -> "SchemaBuilder":
        return cls(Type.INT64).name(TIMESTAMP).version(1)

    def optional(self) -> "SchemaBuilder":
        self._optional = True
        return self

    def required(self) -> "SchemaBuilder":
        self._optional = False
        return self

    def name(self, name: str) -> "SchemaBuilder":
        self._name = name
        return self

    def version(self, version: int) -> "SchemaBuilder":
        self._version = version
        return self

    def doc(self, doc: str) -> "SchemaBuilder":
        self._doc = doc
        return self

    def parameter(self, key: str, value: str) -> "SchemaBuilder":
        self._parameters = [(k, v) for k, v in self._parameters if k != key]
        self._parameters.append((key, value))
        return self

    def default_value(self, value: Any) -> "SchemaBuilder":
        self._default = value
        return self

    def field(self, name: str, schema: Schema) -> "SchemaBuilder":
        if self._type is not Type.STRUCT:
            raise DataError(f"cannot add field {name!r} to a {self._type.name} schema: only structs have fields")
        if any(f.name == name for f in self._fields):
            raise DataError(f"duplicate field {name!r} in struct schema")
        if not isinstance(schema, Schema):
            raise DataError(f"field {name!r} needs a Schema, got {type(schema).__name__} (call .build()?)")
        self._fields.append(Field(name, schema))
        return self

    def build(self) -> Schema:
        schema = Schema(
            type=self._type,
            optional=self._optional,
            name=self._name,
            version=self._version,
            doc=self._doc,
            parameters=tuple(self._parameters),
            default=self._default,
            key_schema=self._key,
            value_schema=self._value,
            fields=tuple(self._fields),
        )
        if self._default is not None:
            _validate(schema, self._default, "default value")
        return schema


def _primitive(t: Type, optional: bool) -> Schema:
    return Schema(type=t, optional=optional)


INT8_SCHEMA = _primitive(Type.INT8, False)
INT16_SCHEMA = _primitive(Type.INT16, False)
INT32_SCHEMA = _primitive(Type.INT32, False)
INT64_SCHEMA = _primitive(Type.INT64, False)
FLOAT32_SCHEMA = _primitive(Type.FLOAT32, False)
FLOAT64_SCHEMA = _primitive(Type.FLOAT64, False)
BOOLEAN_SCHEMA = _primitive(Type.BOOLEAN, False)
STRING_SCHEMA = _primitive(Type.STRING, False)
BYTES_SCHEMA = _primitive(Type.BYTES, False)
OPTIONAL_INT8_SCHEMA = _primitive(Type.INT8, True)
OPTIONAL_INT16_SCHEMA = _primitive(Type.INT16, True)
OPTIONAL_INT32_SCHEMA = _primitive(Type.INT32, True)
OPTIONAL_INT64_SCHEMA = _primitive(Type.INT64, True)
OPTIONAL_FLOAT32_SCHEMA = _primitive(Type.FLOAT32, True)
OPTIONAL_FLOAT64_SCHEMA = _primitive(Type.FLOAT64, True)
OPTIONAL_BOOLEAN_SCHEMA = _primitive(Type.BOOLEAN, True)
OPTIONAL_STRING_SCHEMA = _primitive(Type.STRING, True)
OPTIONAL_BYTES_SCHEMA = _primitive(Type.BYTES, True)


class Struct:
    """A struct value with its schema, as Kafka Connect's ``Struct``: ``put`` checks each value
    against its field's schema, ``validate`` checks that required fields are set.

    ``Struct(schema, id=1, name="a")`` or ``Struct(schema, {"id": 1})``; read with ``s["id"]``
    or ``s.get("id")``.
    """

    __slots__ = ("schema", "_values")

    def __init__(self, schema: Schema, values: Optional[Mapping[str, Any]] = None, **kwargs: Any):
        if type(schema) is not Schema and not isinstance(schema, Schema) or schema.type is not _STRUCT:
            raise DataError(f"a Struct needs a STRUCT schema, got {schema!r}")
        self.schema = schema
        self._values: dict = {}
        entry = _CHECKS.get(id(schema))
        checks = entry[1] if entry is not None and entry[0] is schema else _field_checks(schema)
        own = self._values
        for source in (values, kwargs) if values else (kwargs,):
            for name, value in source.items():
                check = checks.get(name)
                if check is None:
                    self._field(name)  # raises, naming the fields
                # The field's plain Python type in range is the common case: checked inline.
                kind, low, high = check
                if type(value) is not kind or (low is not None and not low <= value <= high):
                    self.put(name, value)
                else:
                    own[name] = value

    def _field(self, name: str) -> Field:
        f = _fields_by_name(self.schema).get(name)
        if f is None:
            names = ", ".join(f.name for f in self.schema.fields) or "none"
            raise DataError(f"{name!r} is not a field of this struct (fields: {names})")
        return f

    def put(self, name: str, value: Any) -> "Struct":
        """Sets field ``name``; raises :class:`DataError` if the value does not fit."""
        f = self._field(name)
        if not _fits(f.schema, value):
            _validate(f.schema, value, f"field {name!r}")
        self._values[name] = value
        return self

    def get(self, name: str) -> Any:
        """The value of field ``name``, or the field's default if it was not set."""
        f = self._field(name)
        value = self._values.get(name)
        return f.schema.default if value is None else value

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.put(name, value)

    def validate(self) -> None:
        """Raises :class:`DataError` if a required field without default is unset."""
        for f in self.schema.fields:
            _validate(f.schema, self.get(f.name), f"field {f.name!r}")

    def items(self) -> Iterable[Tuple[str, Any]]:
        """(name, value) for every field, in schema order."""
        return [(f.name, self.get(f.name)) for f in self.schema.fields]

    def to_dict(self) -> dict:
        """The fields as a plain dict, nested structs converted too."""
        return {name: _plain(value) for name, value in self.items()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Struct)
            and self.schema.fields == other.schema.fields
            and list(self.items()) == list(other.items())
        )

    def __repr__(self) -> str:
        shown = ",".join(f"{n}={v!r}" for n, v in self.items() if v is not None)
        return f"Struct{{{shown}}}"


# Per struct schema (by identity, the schema kept so its id is not reused): its fields by name.
_FIELDS: dict = {}


def _fields_by_name(schema: Schema) -> dict:
    entry = _FIELDS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_FIELDS) >= 1024:
            _FIELDS.clear()
        entry = (schema, {f.name: f for f in schema.fields})
        _FIELDS[id(schema)] = entry
    return entry[1]


_STRUCT = Type.STRUCT  # an Enum member lookup costs more than a global's

# Per struct schema (as _FIELDS): for each field name, the one Python type that certainly
# fits the field (None for none) and the integer range to check, for Struct's inline check.
_CHECKS: dict = {}
_PLAIN_KINDS = {
    Type.FLOAT32: float,
    Type.FLOAT64: float,
    Type.BOOLEAN: bool,
    Type.STRING: str,
    Type.BYTES: bytes,
}


def _field_checks(schema: Schema) -> dict:
    entry = _CHECKS.get(id(schema))
    if entry is None or entry[0] is not schema:
        checks = {}
        for f in schema.fields:
            t = f.schema.type
            bounds = _INT_RANGES.get(t)
            if f.schema.logical is not None:
                # Logical values (datetime, Decimal, ...) go through put's full check.
                kind = _dt.datetime if f.schema.logical == TIMESTAMP else None
                checks[f.name] = (kind, None, None)
            elif bounds is not None:
                checks[f.name] = (int, bounds[0], bounds[1])
            else:
                checks[f.name] = (_PLAIN_KINDS.get(t), None, None)
        if len(_CHECKS) >= 1024:
            _CHECKS.clear()
        entry = (schema, checks)
        _CHECKS[id(schema)] = entry
    return entry[1]


def _fits(schema: Schema, value: Any) -> bool:
    """True when ``value`` is the plain Python type of a primitive ``schema`` and in range: the
    common case, checked without building the message :func:`_validate` would need. False
    means "ask :func:`_validate`", not "invalid"."""
    kind = type(value)
    t = schema.type
    if kind is int:
        bounds = _INT_RANGES.get(t)
        return bounds is not None and bounds[0] <= value <= bounds[1]
    if kind is str:
        return t is Type.STRING
    if kind is float:
        return t is Type.FLOAT64 or t is Type.FLOAT32
    if kind is bool:
        return t is Type.BOOLEAN
    if kind is bytes:
        return t is Type.BYTES
    if kind is _dt.datetime:
        return t is Type.INT64 and schema.name == TIMESTAMP
    return False


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# Logical type conversions (Kafka Connect's Decimal/Date/Time/Timestamp helpers).


def decimal_to_bytes(value: _decimal.Decimal, scale: int) -> bytes:
    """Kafka Connect's ``Decimal.fromLogical``: the unscaled value as big-endian two's
    complement, shortest form. Raises :class:`DataError` if ``value`` has more decimals."""
    unscaled = value.scaleb(scale)
    if unscaled != unscaled.to_integral_value():
        raise DataError(f"decimal {value} has more than {scale} decimal places")
    n = int(unscaled)
    bits = n.bit_length() if n >= 0 else (~n).bit_length()
    length = bits // 8 + 1
    return n.to_bytes(length, "big", signed=True)


def decimal_from_bytes(data: bytes, scale: int) -> _decimal.Decimal:
    """Kafka Connect's ``Decimal.toLogical``."""
    if not data:
        raise DataError("empty bytes are not a Decimal")
    return _decimal.Decimal(int.from_bytes(data, "big", signed=True)).scaleb(-scale)


def date_to_days(value: _dt.date) -> int:
    return (value - _EPOCH_DATE).days


def days_to_date(days: int) -> _dt.date:
    return _EPOCH_DATE + _dt.timedelta(days=days)


def time_to_millis(value: _dt.time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def millis_to_time(millis: int) -> _dt.time:
    if not 0 <= millis < 86_400_000:
        raise DataError(f"Time value {millis} is outside one day of milliseconds")
    seconds, ms = divmod(millis, 1000)
    minutes, s = divmod(seconds, 60)
    h, m = divmod(minutes, 60)
    return _dt.time(h, m, s, ms * 1000)


_ONE_MILLISECOND = _dt.timedelta(milliseconds=1)


def timestamp_to_millis(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return (value - _EPOCH) // _ONE_MILLISECOND  # floored, as Java's millis


def millis_to_timestamp(millis: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(milliseconds=millis)
