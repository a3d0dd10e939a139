"""A native stand-in for every host import, for unit tests of connectors outside the sandbox.

The generated bindings (``componentize-py bindings``, run by ``test.sh`` for the connector's
world) declare the imported functions but raise NotImplementedError outside a component;
:func:`install` replaces them with a recorder that plays the worker's part:

* logging: ``host.logs`` collects ``(level, message)``;
* the connector context: ``host.raised`` (``raise_error``), ``host.reconfigurations``;
* sources: the offset storage reader answers what ``host.set_offset(partition, offset)`` set;
* sinks: ``host.assignment`` (set it to ``[("topic", 0), ...]``), ``host.resets``
  (``(topic, partition, offset)`` from ``context.offset(...)``), ``host.paused``,
  ``host.commit_requests``, ``host.timeouts``, and the errant record reporter's
  ``host.reports`` (``host.reject_reports = "why"`` makes it refuse, as under
  ``errors.tolerance=none``).

Files need no stand-in: natively, ``open`` reaches the real filesystem.
"""

import importlib
import json

from componentize_py_types import Err
from wit_world.imports import connector_context, logging, types

from wasm_connect import _codec


def _world(name):
    """The bindings of an interface of the connector's world, or None in the other world."""
    try:
        return importlib.import_module(f"wit_world.imports.{name}")
    except ImportError:
        return None


def _key(partition):
    return json.dumps(partition, sort_keys=True, default=str)


class FakeHost:
    def __init__(self):
        self.logs = []
        self.raised = []
        self.reconfigurations = 0
        self.poll_again_after = []
        self.offsets = {}
        self.assignment = []
        self.resets = []
        self.paused = set()
        self.commit_requests = 0
        self.timeouts = []
        self.reports = []
        self.reject_reports = None

    def set_offset(self, partition, offset):
        """The committed offset (a dict, or None for none) of a source partition (a dict)."""
        self.offsets[_key(partition)] = offset

    def install(self):
        logging.log = lambda level, message: self.logs.append((level.name.lower(), message))
        connector_context.raise_error = self.raised.append
        connector_context.request_task_reconfiguration = self._reconfigure
        source = _world("source_task_context")
        if source is not None:
            source.poll_again_after = self.poll_again_after.append
        offsets = _world("offset_storage_reader")
        if offsets is not None:
            offsets.offset = self._offset
            offsets.offsets = lambda partitions: [self._offset(p) for p in partitions]
        sink = _world("sink_task_context")
        if sink is not None:
            sink.assignment = lambda: [types.TopicPartition(t, p) for t, p in self.assignment]
            sink.reset_offsets = lambda offsets: self.resets.extend(
                (o.topic, o.partition, o.offset) for o in offsets
            )
            sink.pause = lambda tps: self.paused.update((tp.topic, tp.partition) for tp in tps)
            sink.resume = lambda tps: self.paused.difference_update((tp.topic, tp.partition) for tp in tps)
            sink.request_commit = self._request_commit
            sink.timeout = self.timeouts.append
        reporter = _world("errant_record_reporter")
        if reporter is not None:
            reporter.report = self._report
            reporter.flush = lambda: None
            reporter.status = lambda report_id: reporter.ReportStatus_Written()
        return self

    def _offset(self, partition):
        found = self.offsets.get(_key(_codec.decode_offset_map(partition)))
        return None if found is None else _codec.encode_offset_map(found, "offset")

    def _reconfigure(self):
        self.reconfigurations += 1

    def _request_commit(self):
        self.commit_requests += 1

    def _report(self, topic, partition, offset, error):
        if self.reject_reports:
            raise Err(self.reject_reports)
        self.reports.append((topic, partition, offset, error))
        return len(self.reports)


def install():
    return FakeHost().install()
