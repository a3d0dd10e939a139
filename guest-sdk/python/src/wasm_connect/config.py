"""Configuration: :class:`ConfigDef` describes a connector's settings (Kafka Connect's
``ConfigDef``; the host renders it in ``/connector-plugins/{plugin}/config`` and applies its
validators), and :class:`Config` is the string-to-string configuration a connector or task
receives, with typed getters.

    CONFIG_DEF = (ConfigDef()
        .define("directory", ConfigType.STRING, doc="Where to write.", validator=NonEmptyString())
        .define("batch.size", ConfigType.INT, default=100, validator=Range.at_least(1)))

    def start(self, config):
        values = CONFIG_DEF.parse(config)   # typed, defaults applied; InvalidConfigError if bad
        self.batch_size = values["batch.size"]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .errors import InvalidConfigError


class ConfigType(enum.Enum):
    """Kafka Connect's ``ConfigDef.Type``."""

    BOOLEAN = "BOOLEAN"
    STRING = "STRING"
    INT = "INT"
    SHORT = "SHORT"
    LONG = "LONG"
    DOUBLE = "DOUBLE"
    LIST = "LIST"
    CLASS = "CLASS"
    PASSWORD = "PASSWORD"


class Importance(enum.Enum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class Width(enum.Enum):
    NONE = "NONE"
    SHORT = "SHORT"
    MEDIUM = "MEDIUM"
    LONG = "LONG"


@dataclass(frozen=True)
class Range:
    """A number within ``[min, max]``; either bound may be None (open)."""

    min: Optional[float] = None
    max: Optional[float] = None

    @classmethod
    def at_least(cls, minimum: float) -> "Range":
        return cls(minimum, None)

    @classmethod
    def between(cls, minimum: float, maximum: float) -> "Range":
        return cls(minimum, maximum)

    def check(self, name: str, value: Any) -> Optional[str]:
        if value is None:
            return None
        if self.min is not None and value < self.min:
            return f"Invalid value {value} for configuration {name}: Value must be at least {_num(self.min)}"
        if self.max is not None and value > self.max:
            return f"Invalid value {value} for configuration {name}: Value must be no more than {_num(self.max)}"
        return None


@dataclass(frozen=True)
class ValidString:
    """One of these strings (case-insensitive)."""

    values: Tuple[str, ...]

    def __init__(self, *values: str):
        object.__setattr__(self, "values", tuple(values))

    def check(self, name: str, value: Any) -> Optional[str]:
        if value is None:
            return None
        if str(value).lower() not in (v.lower() for v in self.values):
            return f"Invalid value {value} for configuration {name}: String must be one of: {', '.join(self.values)}"
        return None


@dataclass(frozen=True)
class NonEmptyString:
    """A non-empty string."""

    def check(self, name: str, value: Any) -> Optional[str]:
        if value is not None and str(value).strip() == "":
            return f"Invalid value {value!r} for configuration {name}: String must be non-empty"
        return None


Validator = Union[Range, ValidString, NonEmptyString]


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a setting without default: it must be given."""


@dataclass
class ConfigKey:
    """One setting (Kafka Connect's ``ConfigDef.ConfigKey``)."""

    name: str
    type: ConfigType
    default: Any = REQUIRED
    importance: Importance = Importance.MEDIUM
    doc: str = ""
    validator: Optional[Validator] = None
    group: Optional[str] = None
    order_in_group: int = 0
    width: Width = Width.NONE
    display_name: str = ""
    dependents: Sequence[str] = ()
    recommended_values: Sequence[str] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def default_string(self) -> Optional[str]:
        """The default as the host shows it; None for a required setting."""
        if self.required:
            return None
        return _to_string(self.default)

    def parse(self, raw: Optional[str]) -> Any:
        """The typed value of ``raw`` (None: the default). Raises :class:`InvalidConfigError`."""
        if raw is None:
            if self.required:
                raise InvalidConfigError(
                    f'Missing required configuration "{self.name}" which has no default value.'
                )
            value = self.default
            if isinstance(value, str) and self.type not in (ConfigType.STRING, ConfigType.PASSWORD, ConfigType.CLASS):
                value = _parse(self, value)
        else:
            value = _parse(self, raw)
        if self.validator is not None:
            problem = self.validator.check(self.name, value)
            if problem:
                raise InvalidConfigError(problem)
        return value


def _to_string(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _parse(key: ConfigKey, raw: str) -> Any:
    t = key.type
    text = raw.strip()
    try:
        if t is ConfigType.BOOLEAN:
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise ValueError("Expected value to be either true or false")
        if t in (ConfigType.INT, ConfigType.SHORT, ConfigType.LONG):
            value = int(text)
            bits = {ConfigType.SHORT: 16, ConfigType.INT: 32, ConfigType.LONG: 64}[t]
            if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
                raise ValueError(f"Not a number of type {t.value}")
            return value
        if t is ConfigType.DOUBLE:
            return float(text)
        if t is ConfigType.LIST:
            return [item.strip() for item in text.split(",") if item.strip()] if text else []
        return raw if t is ConfigType.PASSWORD else text
    except ValueError as e:
        reason = str(e) if "Expected" in str(e) or "Not a number" in str(e) else f"Not a number of type {t.value}"
        raise InvalidConfigError(
            f"Invalid value {raw} for configuration {key.name}: {reason}"
        ) from None


@dataclass
class ConfigValue:
    """The result of validating one setting (Kafka Connect's ``ConfigValue``)."""

    name: str
    value: Optional[str] = None
    recommended_values: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    visible: bool = True


class ConfigDef:
    """A connector's settings. ``define`` returns the ``ConfigDef``, so definitions chain."""

    def __init__(self, keys: Iterable[ConfigKey] = ()):
        self._keys: Dict[str, ConfigKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: ConfigKey) -> "ConfigDef":
        if key.name in self._keys:
            raise ValueError(f"configuration {key.name!r} is defined twice")
        if not key.required:
            try:
                key.parse(None)
            except InvalidConfigError as e:
                raise ValueError(f"the default of {key.name!r} is invalid: {e}") from None
        self._keys[key.name] = key
        return self

    def define(
        self,
        name: str,
        type: ConfigType,
        default: Any = REQUIRED,
        importance: Importance = Importance.MEDIUM,
        doc: str = "",
        **options: Any,
    ) -> "ConfigDef":
        """Adds a setting; ``options`` are the other :class:`ConfigKey` fields (``validator``,
        ``group``, ``order_in_group``, ``width``, ``display_name``, ``dependents``,
        ``recommended_values``)."""
        return self.add(ConfigKey(name, type, default, importance, doc, **options))

    def keys(self) -> List[ConfigKey]:
        return list(self._keys.values())

    def __getitem__(self, name: str) -> ConfigKey:
        return self._keys[name]

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def parse(self, config: Mapping[str, str]) -> Dict[str, Any]:
        """Typed values of every defined setting, defaults applied. Raises
        :class:`InvalidConfigError` naming every problem."""
        values: Dict[str, Any] = {}
        problems = []
        for key in self._keys.values():
            try:
                values[key.name] = key.parse(config.get(key.name))
            except InvalidConfigError as e:
                problems.append(str(e))
        if problems:
            raise InvalidConfigError("; ".join(problems))
        return values

    def validate(self, config: Mapping[str, str]) -> List[ConfigValue]:
        """One :class:`ConfigValue` per setting, with errors where the value does not parse or
        fails its validator."""
        out = []
        for key in self._keys.values():
            raw = config.get(key.name)
            result = ConfigValue(key.name, raw if raw is not None else key.default_string(),
                                 list(key.recommended_values))
            try:
                key.parse(raw)
            except InvalidConfigError as e:
                result.errors.append(str(e))
            out.append(result)
        return out


class Config(Mapping[str, str]):
    """A configuration as the host passes it: string keys to string values, in order. Read it
    like a dict, or with the typed getters, which raise :class:`InvalidConfigError` naming the
    setting when it is missing or malformed."""

    def __init__(self, pairs: Union[Mapping[str, str], Iterable[Tuple[str, str]]] = ()):
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._values: Dict[str, str] = {str(k): str(v) for k, v in items}

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    def pairs(self) -> List[Tuple[str, str]]:
        return list(self._values.items())

    def _typed(self, key: str, t: ConfigType, default: Any) -> Any:
        return ConfigKey(key, t, default).parse(self._values.get(key))

    def get_str(self, key: str, default: Any = REQUIRED) -> str:
        return self._typed(key, ConfigType.STRING, default)

    def get_int(self, key: str, default: Any = REQUIRED) -> int:
        return self._typed(key, ConfigType.INT, default)

    def get_long(self, key: str, default: Any = REQUIRED) -> int:
        return self._typed(key, ConfigType.LONG, default)

    def get_double(self, key: str, default: Any = REQUIRED) -> float:
        return self._typed(key, ConfigType.DOUBLE, default)

    def get_bool(self, key: str, default: Any = REQUIRED) -> bool:
        return self._typed(key, ConfigType.BOOLEAN, default)

    def get_list(self, key: str, default: Any = REQUIRED) -> List[str]:
        return self._typed(key, ConfigType.LIST, default)
