"""A Python source connector (the one docs/guides/python.md walks through): counts from where
it left off, emitting one struct record per number, and resumes from its committed offset."""

import datetime

import wasm_connect as wc

CONFIG_DEF = (
    wc.ConfigDef()
    .define("topic", wc.ConfigType.STRING, importance=wc.Importance.HIGH,
            doc="Topic to write to.", validator=wc.NonEmptyString())
    .define("count", wc.ConfigType.LONG, default=-1,
            doc="Stop after this many numbers in total; -1 for no end.")
    .define("batch.size", wc.ConfigType.INT, default=100, validator=wc.Range.between(1, 10000),
            doc="Records per poll.")
)

VALUE_SCHEMA = (
    wc.SchemaBuilder.struct()
    .name("example.Count")
    .field("seq", wc.INT64_SCHEMA)
    .field("text", wc.STRING_SCHEMA)
    .field("at", wc.SchemaBuilder.timestamp().build())
    .build()
)
# Number n is stamped n seconds after this.
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


class CounterSource(wc.SourceConnector):
    description = "Counts, one struct record per number, resuming where it stopped (Python)."
    connector_version = "1.0.0"
    CONFIG_DEF = CONFIG_DEF

    def start(self, config):
        CONFIG_DEF.parse(config)  # raises InvalidConfigError naming what is wrong
        self.config = dict(config)

    def task_configs(self, max_tasks):
        return [self.config]  # one counter: one task


class CounterTask(wc.SourceTask):
    def start(self, config):
        values = CONFIG_DEF.parse(config)
        self.topic, self.count, self.batch = values["topic"], values["count"], values["batch.size"]
        self.partition = {"counter": config["name"] if "name" in config else "counter"}
        committed = self.context.offset_storage_reader().offset(self.partition)
        self.next = committed["seq"] + 1 if committed else 0
        wc.log("info", f"counting from {self.next}")

    def poll(self):
        end = self.next + self.batch
        if self.count >= 0:
            end = min(end, self.count)
        records = []
        for seq in range(self.next, end):
            value = wc.Struct(VALUE_SCHEMA, seq=seq, text=f"number {seq}",
                              at=START + datetime.timedelta(seconds=seq))
            records.append(wc.SourceRecord(self.partition, {"seq": seq}, self.topic,
                                           key=str(seq), value=value, value_schema=VALUE_SCHEMA))
        self.next = max(self.next, end)
        if not records:
            self.context.poll_again_after(None)  # counted to the end: nothing more, ever
        return records


Connector, SourceTask = wc.export_source_connector(CounterSource, CounterTask)
