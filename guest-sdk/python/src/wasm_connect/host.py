"""The host's imports, the Python way.

* Logging: the standard :mod:`logging` module writes to the host (``logging.getLogger(__name__)
  .info(...)``); the SDK installs :class:`HostLogHandler` on the root logger at level INFO.
  :func:`log` writes one line directly.
* Contexts, as Kafka Connect's: every connector, source task and sink task has ``self.context``.
  :class:`ConnectorContext` (request task reconfiguration, raise an error), :class:`SourceTaskContext`
  (adds the :class:`OffsetStorageReader`, and ``poll_again_after``) and :class:`SinkTaskContext` (assignment, offset
  resets, pause/resume, request commit, retry timeout, and the :class:`ErrantRecordReporter`).

Interfaces of the other world (offsets in a sink, the sink context in a source) raise
:class:`ConnectError` saying so, without touching the sandbox.
"""

from __future__ import annotations

import logging as _logging
from typing import Any, Dict, Iterable, List, Optional, Set, Union


from componentize_py_types import Err
from wit_world.imports import connector_context as _wit_context
from wit_world.imports import logging as _wit_logging
from wit_world.imports import types as _wit

from . import _codec
from .errors import ConnectError, describe_exception
from .records import OffsetMap, SinkRecord, TopicPartition

# The bindings are imported when the module loads (componentize-py snapshots the app after its
# imports; modules first imported inside a call are not found at run time). The world-specific
# ones exist only in their world.
_WORLD_MODULES: Dict[str, Any] = {}
try:
    from wit_world.imports import offset_storage_reader as _wit_offsets
    from wit_world.imports import source_task_context as _wit_source_context

    _WORLD_MODULES["offset_storage_reader"] = _wit_offsets
    _WORLD_MODULES["source_task_context"] = _wit_source_context
except ImportError:
    pass
try:
    from wit_world.imports import errant_record_reporter as _wit_reporter
    from wit_world.imports import sink_task_context as _wit_sink_context

    _WORLD_MODULES["errant_record_reporter"] = _wit_reporter
    _WORLD_MODULES["sink_task_context"] = _wit_sink_context
except ImportError:
    pass

_LEVELS = ("trace", "debug", "info", "warn", "error")


_WIT_LEVELS = {
    "trace": _wit.Level.TRACE,
    "debug": _wit.Level.DEBUG,
    "info": _wit.Level.INFO,
    "warn": _wit.Level.WARN,
    "error": _wit.Level.ERROR,
}


def log(level: str, message: str) -> None:
    """Writes one log line at ``level`` (trace, debug, info, warn or error) to the host."""
    wit_level = _WIT_LEVELS.get(level)
    if wit_level is None:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
    _wit_logging.log(wit_level, message)


class HostLogHandler(_logging.Handler):
    """A :mod:`logging` handler that sends records to the host's log."""

    def emit(self, record: _logging.LogRecord) -> None:
        try:
            if record.levelno >= _logging.ERROR:
                level = "error"
            elif record.levelno >= _logging.WARNING:
                level = "warn"
            elif record.levelno >= _logging.INFO:
                level = "info"
            elif record.levelno >= _logging.DEBUG:
                level = "debug"
            else:
                level = "trace"
            log(level, self.format(record))
        except Exception:  # never let logging fail a call
            self.handleError(record)


def install_logging(level: int = _logging.INFO) -> None:
    """Routes the root logger to the host (idempotent)."""
    root = _logging.getLogger()
    if not any(isinstance(h, HostLogHandler) for h in root.handlers):
        handler = HostLogHandler()
        handler.setFormatter(_logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)


def _world_import(name: str, world: str) -> Any:
    module = _WORLD_MODULES.get(name)
    if module is None:
        raise ConnectError(
            f"`{name.replace('_', '-')}` is only available to {world} connectors; this component "
            f"was built for the other world"
        )
    return module


class ConnectorContext:
    """Kafka Connect's ``ConnectorContext``; from a task, requests go to its connector."""

    def request_task_reconfiguration(self) -> None:
        """Asks the host to call ``task_configs`` again; returns at once."""
        _wit_context.request_task_reconfiguration()

    def raise_error(self, error: Union[str, BaseException]) -> None:
        """Fails this connector or task with ``error`` as its trace (Kafka Connect's
        ``raiseError``). The host stops calling the instance."""
        if isinstance(error, BaseException):
            error = describe_exception(error)[1]
        _wit_context.raise_error(str(error))


class OffsetStorageReader:
    """Reads committed source offsets (Kafka Connect's ``OffsetStorageReader``)."""

    def offset(self, partition: OffsetMap) -> Optional[OffsetMap]:
        """The last committed offset of one source partition, or None."""
        reader = _world_import("offset_storage_reader", "source")
        found = reader.offset(_codec.encode_offset_map(partition, "source partition"))
        return None if found is None else _codec.decode_offset_map(found)

    def offsets(self, partitions: Iterable[OffsetMap]) -> List[Optional[OffsetMap]]:
        """The last committed offsets of several partitions, in the order asked for."""
        reader = _world_import("offset_storage_reader", "source")
        asked = [_codec.encode_offset_map(p, "source partition") for p in partitions]
        return [None if o is None else _codec.decode_offset_map(o) for o in reader.offsets(asked)]


class SourceTaskContext(ConnectorContext):
    """Kafka Connect's ``SourceTaskContext``."""

    def offset_storage_reader(self) -> OffsetStorageReader:
        return OffsetStorageReader()

    def poll_again_after(self, seconds: Optional[float]) -> None:
        """Beyond Kafka Connect: tells the host this task has no records for ``seconds``
        (``None``: until it is stopped, paused or resumed). A Java source task blocks in
        ``poll`` until it has records; a component's ``poll`` must return, and this is how it
        waits without being called: after a ``poll`` that returned no records, the host polls
        again once ``seconds`` passed, instead of backing off on its own (50 ms, doubling up to
        the worker's ``source.idle.backoff.max.ms``). Only the last call during a ``poll``
        counts, and only if that ``poll`` returns no records."""
        if seconds is None:
            milliseconds = 2**64 - 1
        else:
            if seconds != seconds or seconds < 0:
                raise ValueError(f"poll_again_after takes seconds >= 0 or None, not {seconds!r}")
            milliseconds = min(int(seconds * 1000), 2**64 - 1)
        _world_import("source_task_context", "source").poll_again_after(milliseconds)


class ReportHandle:
    """One errant record report: ``status()`` is ``"pending"``, ``"written"`` or
    ``"failed: <reason>"``; ``done()`` says whether it is no longer pending."""

    def __init__(self, report_id: int):
        self.id = report_id

    def status(self) -> str:
        module = _world_import("errant_record_reporter", "sink")
        status = module.status(self.id)
        if isinstance(status, module.ReportStatus_Pending):
            return "pending"
        if isinstance(status, module.ReportStatus_Written):
            return "written"
        return f"failed: {status.value}"

    def done(self) -> bool:
        return self.status() != "pending"


class ErrantRecordReporter:
    """Kafka Connect's ``ErrantRecordReporter`` (KIP-610): sends a record that cannot be
    processed to the dead letter queue. The host waits for every report before it commits
    offsets past the record."""

    def report(self, record: SinkRecord, error: Union[str, BaseException]) -> ReportHandle:
        """Reports ``record`` (of the current or previous ``put``) with ``error``. Raises
        :class:`ConnectError` if the host refuses (unknown record, or ``errors.tolerance=none``,
        which fails the task as in Kafka Connect)."""
        module = _world_import("errant_record_reporter", "sink")
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        try:
            report_id = module.report(
                record.original_topic, record.original_partition, record.original_offset, message
            )
        except Err as e:
            raise ConnectError(f"the errant record reporter refused the report: {e.value}") from None
        return ReportHandle(report_id)

    def flush(self) -> None:
        """Waits until every report so far is written or failed; raises :class:`ConnectError`
        with the first failure."""
        module = _world_import("errant_record_reporter", "sink")
        try:
            module.flush()
        except Err as e:
            raise ConnectError(f"a dead letter queue write failed: {e.value}") from None


def _wit_tp(tp: TopicPartition) -> Any:
    topic, partition = tp
    return _wit.TopicPartition(topic, partition)


class SinkTaskContext(ConnectorContext):
    """Kafka Connect's ``SinkTaskContext``."""

    def assignment(self) -> Set[TopicPartition]:
        """The partitions currently assigned to this task."""
        ctx = _world_import("sink_task_context", "sink")
        return {TopicPartition(tp.topic, tp.partition) for tp in ctx.assignment()}

    def offset(self, offsets: Dict[TopicPartition, int]) -> None:
        """Rewinds (or forwards) consumption of these partitions to the given offsets before the
        next ``put``: for tasks that keep their own offsets in the target system."""
        ctx = _world_import("sink_task_context", "sink")
        ctx.reset_offsets(
            [_wit.TopicPartitionOffset(tp[0], tp[1], int(o)) for tp, o in offsets.items()]
        )

    def pause(self, *partitions: TopicPartition) -> None:
        ctx = _world_import("sink_task_context", "sink")
        ctx.pause([_wit_tp(tp) for tp in partitions])

    def resume(self, *partitions: TopicPartition) -> None:
        ctx = _world_import("sink_task_context", "sink")
        ctx.resume([_wit_tp(tp) for tp in partitions])

    def request_commit(self) -> None:
        """Asks for an offset commit (``pre_commit``) as soon as possible."""
        _world_import("sink_task_context", "sink").request_commit()

    def timeout(self, milliseconds: int) -> None:
        """How long to wait before redelivering a batch after ``put`` raised RetriableError."""
        _world_import("sink_task_context", "sink").timeout(int(milliseconds))

    def errant_record_reporter(self) -> ErrantRecordReporter:
        return ErrantRecordReporter()
