"""wasm-connect's Python SDK: write Kafka Connect connectors in Python, built into WebAssembly
components with componentize-py (``guest-sdk/python/build.sh``).

A sink connector's ``app.py``::

    import wasm_connect as wc

    class MySink(wc.SinkConnector):
        description = "Prints records."
        CONFIG_DEF = wc.ConfigDef().define("prefix", wc.ConfigType.STRING, default="")

        def start(self, config):
            self.config = config

        def task_configs(self, max_tasks):
            return [dict(self.config)] * max_tasks

    class MySinkTask(wc.SinkTask):
        def put(self, records):
            for r in records:
                wc.log("info", f"{r.topic}/{r.partition}@{r.offset}: {r.value!r}")

    Connector, SinkTask = wc.export_sink_connector(MySink, MySinkTask)

See docs/guides/python.md for the whole walk-through.
"""

from .config import (
    REQUIRED,
    Config,
    ConfigDef,
    ConfigKey,
    ConfigType,
    ConfigValue,
    Importance,
    NonEmptyString,
    Range,
    ValidString,
    Width,
)
from .connector import SinkConnector, SinkTask, SourceConnector, SourceTask
from .data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT16_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_BOOLEAN_SCHEMA,
    OPTIONAL_BYTES_SCHEMA,
    OPTIONAL_FLOAT32_SCHEMA,
    OPTIONAL_FLOAT64_SCHEMA,
    OPTIONAL_INT8_SCHEMA,
    OPTIONAL_INT16_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_INT64_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    Field,
    Schema,
    SchemaBuilder,
    Struct,
    Type,
)
from .errors import ConnectError, DataError, InvalidConfigError, RetriableError
from .files import replace_file
from .host import (
    ConnectorContext,
    ErrantRecordReporter,
    OffsetStorageReader,
    SinkTaskContext,
    SourceTaskContext,
    log,
)
from .records import Header, RecordMetadata, SinkRecord, SourceRecord, TopicPartition


def export_sink_connector(connector, task):
    """The ``(Connector, SinkTask)`` classes componentize-py exports; assign them at the top
    level of the app module: ``Connector, SinkTask = export_sink_connector(MySink, MyTask)``."""
    from ._glue import export_sink_connector as export

    return export(connector, task)


def export_source_connector(connector, task):
    """The ``(Connector, SourceTask)`` classes componentize-py exports; assign them at the top
    level of the app module: ``Connector, SourceTask = export_source_connector(MySrc, MyTask)``."""
    from ._glue import export_source_connector as export

    return export(connector, task)


__version__ = "0.1.0"
