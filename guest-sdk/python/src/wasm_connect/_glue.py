"""The WIT glue: classes componentize-py instantiates for the exported interfaces
(``Connector`` plus ``SinkTask`` or ``SourceTask``), wrapping the user's classes.

Every call converts between the WIT shapes and the SDK's, and every exception the user's code
raises becomes a ``connector-error`` (``fatal`` with the Python traceback unless it is one of
the SDK's errors) instead of a trap, so the host shows it as the task's trace. Calls without an
error result (``describe``, ``stop``, ...) log the traceback to the host instead.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from componentize_py_types import Err
from wit_world.exports import connector as _wit_connector
from wit_world.imports import config_def as _wit_config
from wit_world.imports import types as _wit

try:  # only in the source world
    from wit_world.exports import source_task as _wit_source
except ImportError:
    _wit_source = None

from . import _codec
from .config import Config, ConfigDef, ConfigKey, NonEmptyString, Range, ValidString
from .connector import SinkConnector, SinkTask, SourceConnector, SourceTask
from .errors import ConnectError, DataError, describe_exception
from .host import ConnectorContext, SinkTaskContext, SourceTaskContext, install_logging, log
from .records import RecordMetadata, SinkRecord, SourceRecord, TopicPartition


# Modules the connector's code imports that build.sh could not load into the component, with
# why: logged as warnings when the connector starts (see guest-sdk/python/scripts/preload.py).
UNAVAILABLE_MODULES: List[Tuple[str, str]] = []


def _wit_error(kind: str, message: str) -> Any:
    wit = _wit
    if kind == "invalid-config":
        return wit.ConnectorError_InvalidConfig(message)
    if kind == "retriable":
        return wit.ConnectorError_Retriable(message)
    return wit.ConnectorError_Fatal(message)


def _guard(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Calls ``fn``; any exception becomes ``Err(connector-error)`` naming ``what``."""
    try:
        return fn(*args)
    except Err:
        raise
    except BaseException as e:  # noqa: BLE001 - everything must reach the host
        kind, message = describe_exception(e)
        if not isinstance(e, ConnectError):
            message = f"{what} raised {message}"
        raise Err(_wit_error(kind, message)) from None


def _log_failure(what: str) -> None:
    try:
        log("error", f"{what} raised {traceback.format_exc().rstrip()}")
    except Exception:  # noqa: BLE001 - the host is gone; nothing more to do
        pass


def _config_keys(definition: ConfigDef) -> List[Any]:
    wit = _wit_config

    def validator(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, Range):
            return wit.Validator_Range(
                wit.Range(None if v.min is None else float(v.min), None if v.max is None else float(v.max))
            )
        if isinstance(v, ValidString):
            return wit.Validator_ValidString(list(v.values))
        if isinstance(v, NonEmptyString):
            return wit.Validator_NonEmptyString()
        raise ConnectError(f"unknown validator {v!r}: use Range, ValidString or NonEmptyString")

    keys = []
    for k in definition.keys():
        k: ConfigKey
        keys.append(
            wit.ConfigKey(
                name=k.name,
                type=getattr(wit.ConfigType, k.type.name),
                default_value=k.default_string(),
                importance=getattr(wit.Importance, k.importance.name),
                documentation=k.doc,
                group=k.group,
                order_in_group=k.order_in_group,
                width=getattr(wit.Width, k.width.name),
                display_name=k.display_name or k.name,
                dependents=list(k.dependents),
                validator=validator(k.validator),
                recommended_values=list(k.recommended_values),
            )
        )
    return keys


def _pairs(config: Any, what: str) -> List[Tuple[str, str]]:
    if isinstance(config, Config):
        return config.pairs()
    if isinstance(config, dict):
        return [(str(k), str(v)) for k, v in config.items()]
    raise ConnectError(f"{what} must be a dict of str to str, got {type(config).__name__}")


def _make_connector_glue(user_class: Type[Any]) -> type:
    # componentize-py may make a new export object per call, so the user's object lives in
    # the module (one component instance serves one connector or task).
    holder: List[Any] = []

    class Connector:
        def _connector(self) -> Any:
            if not holder:
                install_logging()
                impl = user_class()
                impl.context = ConnectorContext()
                holder.append(impl)
            return holder[0]

        def describe(self) -> Any:
            wit = _wit_connector
            try:
                c = self._connector()
                return wit.PluginInfo(
                    class_name=c.class_name or type(c).__name__,
                    aliases=list(c.aliases),
                    description=c.description,
                )
            except Exception:
                _log_failure(f"{user_class.__name__}.describe")
                raise

        def version(self) -> str:
            try:
                return str(self._connector().version())
            except Exception:
                _log_failure(f"{user_class.__name__}.version")
                raise

        def config_def(self) -> List[Any]:
            try:
                return _config_keys(self._connector().config_def())
            except Exception:
                _log_failure(f"{user_class.__name__}.config_def")
                raise

        def validate(self, config: List[Tuple[str, str]]) -> List[Any]:
            wit = _wit_config
            try:
                values = self._connector().validate(Config(config))
                return [
                    wit.ConfigValue(v.name, v.value, list(v.recommended_values), list(v.errors), v.visible)
                    for v in values
                ]
            except Exception:
                # An entry with an error makes the configuration invalid and shows why.
                message = describe_exception(_current_exception())[1]
                return [
                    wit.ConfigValue(
                        "connector.class", None, [], [f"{user_class.__name__}.validate raised {message}"], True
                    )
                ]

        def start(self, config: List[Tuple[str, str]]) -> None:
            for name, error in UNAVAILABLE_MODULES:
                log(
                    "warn",
                    f"this component lacks module {name}, which the connector's code imports "
                    f"({error}); code importing it raises ModuleNotFoundError",
                )
            _guard(f"{user_class.__name__}.start", lambda: self._connector().start(Config(config)))

        def task_configs(self, max_tasks: int) -> List[List[Tuple[str, str]]]:
            def run() -> List[List[Tuple[str, str]]]:
                configs = self._connector().task_configs(max_tasks)
                if configs is None:
                    raise ConnectError(f"{user_class.__name__}.task_configs returned None, not a list")
                return [_pairs(c, "a task config") for c in configs]

            return _guard(f"{user_class.__name__}.task_configs", run)

        def stop(self) -> None:
            try:
                if holder:
                    holder[0].stop()
            except Exception:
                _log_failure(f"{user_class.__name__}.stop")

    return Connector


def _current_exception() -> BaseException:
    return sys.exc_info()[1]  # type: ignore[return-value]


_TIMESTAMP_TYPES = {
    "NO_TIMESTAMP_TYPE": "NoTimestampType",
    "CREATE_TIME": "CreateTime",
    "LOG_APPEND_TIME": "LogAppendTime",
}


def _make_sink_task_glue(user_class: Type[SinkTask]) -> type:
    name = user_class.__name__

    holder: List[SinkTask] = []  # see _make_connector_glue

    class SinkTaskGlue:
        def _started(self) -> SinkTask:
            if not holder:
                raise ConnectError(f"{name} was called before start")
            return holder[0]

        def start(self, config: List[Tuple[str, str]]) -> None:
            def run() -> None:
                install_logging()
                task = user_class()
                task.context = SinkTaskContext()
                holder[:] = [task]
                task.start(Config(config))

            _guard(f"{name}.start", run)

        def open(self, partitions: List[Any]) -> None:
            _guard(
                f"{name}.open",
                lambda: self._started().open([TopicPartition(p.topic, p.partition) for p in partitions]),
            )

        def put(self, batch: Any) -> None:
            def run() -> None:
                task = self._started()
                task.put(_decode_sink_batch(batch))

            _guard(f"{name}.put", run)

        def pre_commit(self, offsets: List[Any]) -> List[Any]:
            wit = _wit

            def run() -> List[Any]:
                asked = {TopicPartition(o.topic, o.partition): o.offset for o in offsets}
                safe = self._started().pre_commit(dict(asked))
                if safe is None:
                    raise ConnectError(f"{name}.pre_commit returned None; return a dict (empty commits nothing)")
                if not isinstance(safe, dict):
                    raise ConnectError(
                        f"{name}.pre_commit returned a {type(safe).__name__}; return a dict of TopicPartition to offset"
                    )
                return [wit.TopicPartitionOffset(tp[0], tp[1], int(o)) for tp, o in safe.items()]

            return _guard(f"{name}.pre_commit", run)

        def close(self, partitions: List[Any]) -> None:
            _guard(
                f"{name}.close",
                lambda: self._started().close([TopicPartition(p.topic, p.partition) for p in partitions]),
            )

        def stop(self) -> None:
            try:
                if holder:
                    holder[0].stop()
            except Exception:
                _log_failure(f"{name}.stop")

    SinkTaskGlue.__name__ = "SinkTask"
    return SinkTaskGlue


def _make_source_task_glue(user_class: Type[SourceTask]) -> type:
    name = user_class.__name__

    holder: List[SourceTask] = []  # see _make_connector_glue

    class SourceTaskGlue:
        def _started(self) -> SourceTask:
            if not holder:
                raise ConnectError(f"{name} was called before start")
            return holder[0]

        def start(self, config: List[Tuple[str, str]]) -> Any:
            wit = _wit_source
            def run() -> Any:
                install_logging()
                task = user_class()
                task.context = SourceTaskContext()
                holder[:] = [task]
                task.start(Config(config))
                return wit.TaskOptions(bool(task.wants_commit_records))

            return _guard(f"{name}.start", run)

        def poll(self) -> Any:
            wit = _wit_source
            def run() -> Any:
                records = self._started().poll() or []
                if records:
                    table = _codec.SchemaTable()
                    tables = _RecordTables()
                    text = _codec.json_records(records, table, tables)
                    if text is not None:
                        return wit.SourceBatch(table.schemas, tables.topics, tables.source_partitions, [], text)
                # Empty, or something only WIT records carry (they also name what is wrong).
                table = _codec.SchemaTable()
                tables = _RecordTables()
                out = []
                for i, r in enumerate(records):
                    if not isinstance(r, SourceRecord):
                        raise ConnectError(
                            f"{name}.poll returned a {type(r).__name__} at position {i}; return SourceRecord objects"
                        )
                    out.append(_encode_source_record(wit, table, tables, r, i))
                return wit.SourceBatch(table.schemas, tables.topics, tables.source_partitions, out, None)

            return _guard(f"{name}.poll", run)

        def commit(self) -> None:
            _guard(f"{name}.commit", lambda: self._started().commit())

        def commit_records(self, batch: Any) -> None:
            def run() -> None:
                task = self._started()
                schemas = _codec.decode_schemas(batch.schemas)
                partitions = [_codec.decode_offset_map(p) for p in batch.source_partitions]
                for c in batch.records:
                    r = c.record
                    key, key_schema = _codec.decode_data(r.key, schemas)
                    value, value_schema = _codec.decode_data(r.value, schemas)
                    record = SourceRecord(
                        source_partition=dict(_entry(partitions, r.source_partition, "source partition")),
                        source_offset=_codec.decode_offset_map(r.source_offset),
                        topic=_entry(batch.topics, r.topic, "topic"),
                        partition=r.partition,
                        key=key,
                        key_schema=key_schema,
                        value=value,
                        value_schema=value_schema,
                        timestamp=r.timestamp,
                        headers=_codec.decode_headers(r.headers, schemas),
                    )
                    m = c.metadata
                    metadata = None if m is None else RecordMetadata(m.topic, m.partition, m.offset, m.timestamp)
                    task.commit_record(record, metadata)

            _guard(f"{name}.commit_records", run)

        def stop(self) -> None:
            try:
                if holder:
                    holder[0].stop()
            except Exception:
                _log_failure(f"{name}.stop")

    SourceTaskGlue.__name__ = "SourceTask"
    return SourceTaskGlue


class _RecordTables:
    """The topics and source partitions of one batch, which WIT records refer to by index, each
    listed once: a partition is converted once per batch, however many records carry it."""

    def __init__(self) -> None:
        self.topics: List[str] = []
        self.source_partitions: List[Any] = []
        self._topic_index: Dict[str, int] = {}
        self._partition_index: Dict[Any, int] = {}
        # The last partition object and its index: a task's records usually share one dict.
        # Within a batch the same object has the same content when encoded, mutated or not.
        self._last_partition: Any = None
        self._last_partition_index = 0

    def topic(self, topic: str) -> int:
        index = self._topic_index.get(topic)
        if index is None:
            index = len(self.topics)
            self.topics.append(topic)
            self._topic_index[topic] = index
        return index

    def partition(self, partition: Any, what: str) -> int:
        if partition is self._last_partition and partition is not None:
            return self._last_partition_index
        index = self._partition(partition, what)
        self._last_partition = partition
        self._last_partition_index = index
        return index

    def _partition(self, partition: Any, what: str) -> int:
        if partition is not None and not isinstance(partition, dict):
            _codec.encode_offset_map(partition, what)  # raises, naming the record
        # The type too: True == 1 in Python, but a boolean and an int are different scalars.
        key = tuple((k, type(v), v) for k, v in (partition or {}).items())
        try:
            index = self._partition_index.get(key)
        except TypeError:  # an unhashable value, which no offset map may hold
            _codec.encode_offset_map(partition, what)  # raises, naming the record and key
            raise
        if index is None:
            index = len(self.source_partitions)
            self.source_partitions.append(_codec.encode_offset_map(partition, what))
            self._partition_index[key] = index
        return index


def _decode_sink_batch(batch: Any) -> List[SinkRecord]:
    """The records of a `put` batch: topics by index into ``batch.topics``, and each record's
    headers the next ``header_count`` of ``batch.headers``."""
    schemas = _codec.decode_schemas(batch.schemas)
    topics = batch.topics
    headers = batch.headers
    at = 0
    records = []
    try:
        for r in batch.records:
            key, key_schema = _codec.decode_data(r.key, schemas)
            value, value_schema = _codec.decode_data(r.value, schemas)
            count = r.header_count
            if count:
                if at + count > len(headers):
                    raise IndexError
                own = _codec.decode_headers(headers[at : at + count], schemas)
                at += count
            else:
                own = []
            records.append(
                SinkRecord(
                    topic=topics[r.topic],
                    partition=r.partition,
                    offset=r.offset,
                    key=key,
                    key_schema=key_schema,
                    value=value,
                    value_schema=value_schema,
                    timestamp=r.timestamp,
                    timestamp_type=_TIMESTAMP_TYPES.get(r.timestamp_type.name, "NoTimestampType"),
                    headers=own,
                    original_topic=topics[r.original_topic],
                    original_partition=r.original_partition,
                    original_offset=r.original_offset,
                )
            )
    except IndexError:
        # Named here, off the common path: the first record that refers past a table.
        problem = _sink_batch_problem(batch)
        if problem is None:
            raise
    else:
        if at == len(headers):
            return records
        problem = f"its records have {at} headers, but its `headers` list has {len(headers)}"
    raise ConnectError(f"malformed sink batch: {problem}")


def _sink_batch_problem(batch: Any) -> Optional[str]:
    """What makes a `put` batch refer past its tables, if anything."""
    topics, headers = batch.topics, batch.headers
    at = 0
    for i, r in enumerate(batch.records):
        for index in (r.topic, r.original_topic):
            if index >= len(topics):
                return f"record {i}: topic {index} does not exist (the batch has {len(topics)} topics)"
        at += r.header_count
        if at > len(headers):
            return f"record {i} has {r.header_count} headers, past the end of the batch's {len(headers)} headers"
    return None


def _entry(table: List[Any], index: int, what: str) -> Any:
    if index >= len(table):
        raise ConnectError(f"malformed committed batch: {what} {index} does not exist (the batch has {len(table)} {what}s)")
    return table[index]


def _encode_source_record(wit: Any, table: _codec.SchemaTable, tables: _RecordTables, r: SourceRecord, i: int) -> Any:
    try:
        # Without the names errors would carry: building them is a fair share of a record's
        # cost. Encoding is deterministic, so a record that fails fails again below, named.
        return wit.SourceRecord(
            source_partition=tables.partition(r.source_partition, ""),
            source_offset=_codec.encode_offset_map(r.source_offset, ""),
            topic=tables.topic(r.topic),
            partition=r.partition,
            key=table.encode_data(r.key, r.key_schema, ""),
            value=table.encode_data(r.value, r.value_schema, ""),
            timestamp=r.timestamp,
            headers=table.encode_headers(r.headers) if r.headers else [],
        )
    except DataError:
        pass
    # Outside the handler, so the error shown is only the named one.
    return _encode_source_record_as(wit, table, tables, r, f"record {i}")


def _encode_source_record_as(
    wit: Any, table: _codec.SchemaTable, tables: _RecordTables, r: SourceRecord, what: str
) -> Any:
    return wit.SourceRecord(
        source_partition=tables.partition(r.source_partition, f"{what} source_partition"),
        source_offset=_codec.encode_offset_map(r.source_offset, f"{what} source_offset"),
        topic=tables.topic(r.topic),
        partition=r.partition,
        key=table.encode_data(r.key, r.key_schema, f"{what} key"),
        value=table.encode_data(r.value, r.value_schema, f"{what} value"),
        timestamp=r.timestamp,
        headers=table.encode_headers(r.headers) if r.headers else [],
    )


def _check(cls: Any, base: type, what: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"{what} must be a subclass of wasm_connect.{base.__name__}, got {cls!r}")


def export_sink_connector(connector: Type[SinkConnector], task: Type[SinkTask]) -> Tuple[type, type]:
    """The classes componentize-py exports for the ``sink-connector`` world. In the app module::

        Connector, SinkTask = wasm_connect.export_sink_connector(MyConnector, MyTask)
    """
    _check(connector, SinkConnector, "the connector")
    _check(task, SinkTask, "the task")
    return _make_connector_glue(connector), _make_sink_task_glue(task)


def export_source_connector(
    connector: Type[SourceConnector], task: Type[SourceTask]
) -> Tuple[type, type]:
    """The classes componentize-py exports for the ``source-connector`` world. In the app module::

        Connector, SourceTask = wasm_connect.export_source_connector(MyConnector, MyTask)
    """
    _check(connector, SourceConnector, "the connector")
    _check(task, SourceTask, "the task")
    return _make_connector_glue(connector), _make_source_task_glue(task)

