"""The classes a connector subclasses: :class:`SourceConnector` with :class:`SourceTask`, or
:class:`SinkConnector` with :class:`SinkTask` (Kafka Connect's classes of the same names).

One component instance serves either the connector or one task, so state lives on ``self``.
The SDK constructs the class with no arguments, sets ``self.context`` and then calls ``start``.
Raise :class:`~wasm_connect.errors.InvalidConfigError`, :class:`~wasm_connect.errors.RetriableError`
or :class:`~wasm_connect.errors.ConnectError`; any other exception fails the task with its
Python traceback.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional

from .config import Config, ConfigDef, ConfigValue
from .host import ConnectorContext, SinkTaskContext, SourceTaskContext
from .records import RecordMetadata, SinkRecord, SourceRecord, TopicPartition


class _Connector:
    #: The class name users put in ``connector.class`` (default: the Python class name).
    class_name: Optional[str] = None
    #: Further names that resolve to this plugin.
    aliases: List[str] = []
    #: One line saying what the connector does.
    description: str = ""
    #: The connector's version.
    connector_version: str = "0.1.0"
    #: The connector's settings; override or define ``config_def()``.
    CONFIG_DEF: ConfigDef = ConfigDef()

    context: ConnectorContext

    def version(self) -> str:
        return self.connector_version

    def config_def(self) -> ConfigDef:
        return self.CONFIG_DEF

    def validate(self, config: Config) -> List[ConfigValue]:
        """Checks ``config``; the default applies ``config_def()`` (types and validators).
        Override for cross-field rules (call ``super().validate`` first)."""
        return self.config_def().validate(config)

    def start(self, config: Config) -> None:
        """Starts the connector with its full configuration."""

    def task_configs(self, max_tasks: int) -> List[Mapping[str, str]]:
        """At most ``max_tasks`` task configurations (dicts of str to str)."""
        raise NotImplementedError("task_configs")

    def stop(self) -> None:
        """Stops the connector."""


class SourceConnector(_Connector):
    """Kafka Connect's ``SourceConnector``."""


class SinkConnector(_Connector):
    """Kafka Connect's ``SinkConnector``. The host adds ``topics``/``topics.regex`` to each task
    configuration."""


class SourceTask:
    """Kafka Connect's ``SourceTask``."""

    #: Set True to get :meth:`commit_record` calls (costs a copy of every record back).
    wants_commit_records: bool = False

    context: SourceTaskContext

    def start(self, config: Config) -> None:
        """Starts the task; read committed offsets with
        ``self.context.offset_storage_reader()`` to resume."""

    def poll(self) -> List[SourceRecord]:
        """The next records; an empty list means "nothing now". Do not block for long."""
        raise NotImplementedError("poll")

    def commit(self) -> None:
        """Called after the host stored the offsets of acknowledged records."""

    def commit_record(self, record: SourceRecord, metadata: Optional[RecordMetadata]) -> None:
        """A polled record the log acknowledged (``metadata``) or that was dropped (None)."""

    def stop(self) -> None:
        """Stops the task."""


class SinkTask:
    """Kafka Connect's ``SinkTask``. Offsets are dicts of :class:`TopicPartition` to the next
    offset to read."""

    context: SinkTaskContext

    def start(self, config: Config) -> None:
        """Starts the task."""

    def open(self, partitions: List[TopicPartition]) -> None:
        """Partitions newly assigned to this task, before records from them are put."""

    def put(self, records: List[SinkRecord]) -> None:
        """Delivers records; raise RetriableError to get the same batch again."""
        raise NotImplementedError("put")

    def flush(self, offsets: Dict[TopicPartition, int]) -> None:
        """Makes everything put so far durable (the default ``pre_commit`` calls it)."""

    def pre_commit(self, offsets: Dict[TopicPartition, int]) -> Dict[TopicPartition, int]:
        """The offsets safe to commit. Kafka Connect's default: ``flush`` and return
        ``offsets``. Override to commit only what is durably written (return fewer partitions
        or smaller offsets; an empty dict commits nothing)."""
        self.flush(offsets)
        return offsets

    def close(self, partitions: List[TopicPartition]) -> None:
        """Partitions taken away, after a final ``pre_commit``."""

    def stop(self) -> None:
        """Stops the task."""

