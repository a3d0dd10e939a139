"""A native stand-in for the host's imports, for unit tests outside the sandbox.

The generated bindings (``componentize-py bindings``, run by ``test.sh``) declare the imported
functions but raise NotImplementedError outside a component; :func:`install` replaces them with
recorders so connectors and the SDK can be driven natively.
"""

from wit_world.imports import connector_context, logging, sink_task_context, errant_record_reporter
from componentize_py_types import Err


class FakeHost:
    def __init__(self):
        self.logs = []
        self.raised = []
        self.reconfigurations = 0
        self.resets = []
        self.commit_requests = 0
        self.reports = []
        self.reject_reports = None

    def install(self):
        logging.log = lambda level, message: self.logs.append((level.name.lower(), message))
        connector_context.raise_error = self.raised.append
        connector_context.request_task_reconfiguration = self._reconfigure
        sink_task_context.reset_offsets = lambda offsets: self.resets.extend(
            (o.topic, o.partition, o.offset) for o in offsets
        )
        sink_task_context.request_commit = self._request_commit
        errant_record_reporter.report = self._report
        errant_record_reporter.flush = lambda: None
        return self

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
