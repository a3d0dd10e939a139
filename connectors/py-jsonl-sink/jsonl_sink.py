"""py-jsonl-sink: writes records as JSON lines into a directory, one rolling file per topic
partition, with exactly-once output across restarts.

Files are named ``<prefix><topic>-<partition>-<first offset, 20 digits>.jsonl``; a file is
rolled (closed, and the next one started) when it reaches ``rotate.max.bytes`` or
``rotate.max.records``.

How a restart neither loses nor duplicates lines: on each commit (``pre_commit``) the task
flushes and fsyncs the open files and then atomically replaces a small state file per partition
(``.<prefix><topic>-<partition>.state.json``) holding the current file, its committed length
and the next offset; it returns exactly those offsets for the host to commit. When a partition
is opened again, the task truncates the current file to the committed length, deletes files
started after it, and rewinds the consumer to the state's next offset (``context.offset``). So
the files always hold exactly the records before the committed offset, and records after it are
delivered again and rewritten byte for byte. Records at offsets the task already wrote are
skipped, in case the host redelivers them.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import os
import re
from typing import Any, Dict, List, Optional

import wasm_connect as wc

DIRECTORY = "directory"
PREFIX = "file.prefix"
MAX_BYTES = "rotate.max.bytes"
MAX_RECORDS = "rotate.max.records"
FORMAT = "format"
FSYNC = "fsync"

CONFIG_DEF = (
    wc.ConfigDef()
    .define(
        DIRECTORY,
        wc.ConfigType.STRING,
        importance=wc.Importance.HIGH,
        doc="Absolute path of the directory to write into. Grant it to the connector with "
        "sandbox.fs.write (same path). One connector per directory.",
        validator=wc.NonEmptyString(),
    )
    .define(
        PREFIX,
        wc.ConfigType.STRING,
        default="",
        importance=wc.Importance.LOW,
        doc="Prefix of every file name.",
    )
    .define(
        MAX_BYTES,
        wc.ConfigType.LONG,
        default=64 * 1024 * 1024,
        importance=wc.Importance.MEDIUM,
        doc="Roll the file once it holds at least this many bytes.",
        validator=wc.Range.at_least(1),
    )
    .define(
        MAX_RECORDS,
        wc.ConfigType.LONG,
        default=0,
        importance=wc.Importance.MEDIUM,
        doc="Roll the file once it holds this many records; 0 for no limit.",
        validator=wc.Range.at_least(0),
    )
    .define(
        FORMAT,
        wc.ConfigType.STRING,
        default="envelope",
        importance=wc.Importance.MEDIUM,
        doc="envelope: one object per record with topic, partition, offset, timestamp, key, "
        "value and headers; value: the record value alone.",
        validator=wc.ValidString("envelope", "value"),
    )
    .define(
        FSYNC,
        wc.ConfigType.BOOLEAN,
        default=True,
        importance=wc.Importance.LOW,
        doc="fsync files and state on every commit. Turning it off keeps exactly-once only "
        "across clean restarts, not power loss.",
    )
)


def _grants(config: wc.Config) -> List[str]:
    return [p.strip().rstrip("/") for p in config.get("sandbox.fs.write", "").split(",") if p.strip()]


class JsonlSink(wc.SinkConnector):
    class_name = "JsonlSink"
    aliases = ["PyJsonlSink"]
    description = "Writes records as JSON lines into rolling files per topic partition (Python)."
    connector_version = "0.1.0"
    CONFIG_DEF = CONFIG_DEF

    def validate(self, config: wc.Config) -> List[wc.ConfigValue]:
        values = super().validate(config)
        directory = config.get(DIRECTORY, "")
        if directory:
            for value in values:
                if value.name != DIRECTORY:
                    continue
                if not os.path.isabs(directory):
                    value.errors.append(f"{DIRECTORY} must be an absolute path, got {directory!r}")
                elif not any(
                    directory.rstrip("/") == g or directory.startswith(g + "/") for g in _grants(config)
                ):
                    value.errors.append(
                        f"{DIRECTORY} {directory} is not writable: grant it with sandbox.fs.write={directory}"
                    )
        return values

    def start(self, config: wc.Config) -> None:
        problems = [e for v in self.validate(config) for e in v.errors]
        if problems:
            raise wc.InvalidConfigError("; ".join(problems))
        self.config = dict(config)

    def task_configs(self, max_tasks: int) -> List[Dict[str, str]]:
        # Every task writes its own partitions' files; the consumer group splits partitions.
        return [dict(self.config) for _ in range(max_tasks)]


class _Partition:
    """The open file of one topic partition and what is committed of it."""

    def __init__(self, tp: wc.TopicPartition):
        self.tp = tp
        self.file: Optional[str] = None
        self.handle: Any = None
        self.bytes = 0
        self.records = 0
        self.next_offset: Optional[int] = None
        self.committed_offset: Optional[int] = None


class JsonlSinkTask(wc.SinkTask):
    def start(self, config: wc.Config) -> None:
        values = CONFIG_DEF.parse(config)
        self.directory = values[DIRECTORY]
        self.prefix = values[PREFIX]
        self.max_bytes = values[MAX_BYTES]
        self.max_records = values[MAX_RECORDS]
        self.envelope = values[FORMAT].lower() == "envelope"
        self.fsync = values[FSYNC]
        if not os.path.isdir(self.directory):
            try:
                os.makedirs(self.directory, exist_ok=True)
            except OSError as e:
                raise wc.InvalidConfigError(
                    f"cannot create {self.directory} ({e}); grant it with sandbox.fs.write={self.directory}"
                ) from e
        self.partitions: Dict[wc.TopicPartition, _Partition] = {}
        self.reporter = self.context.errant_record_reporter()

    # ---- file names and state

    def _stem(self, tp: wc.TopicPartition) -> str:
        return f"{self.prefix}{tp.topic}-{tp.partition}"

    def _state_path(self, tp: wc.TopicPartition) -> str:
        return os.path.join(self.directory, f".{self._stem(tp)}.state.json")

    def _files(self, tp: wc.TopicPartition) -> Dict[int, str]:
        """The partition's data files by first offset."""
        pattern = re.compile(re.escape(self._stem(tp)) + r"-(\d{20})\.jsonl$")
        found = {}
        for name in os.listdir(self.directory):
            m = pattern.match(name)
            if m:
                found[int(m.group(1))] = os.path.join(self.directory, name)
        return found

    def open(self, partitions: List[wc.TopicPartition]) -> None:
        resets = {}
        for tp in partitions:
            part = _Partition(tp)
            self.partitions[tp] = part
            try:
                with open(self._state_path(tp), encoding="utf-8") as f:
                    state = json.load(f)
            except FileNotFoundError:
                continue
            part.next_offset = part.committed_offset = int(state["next_offset"])
            current = os.path.join(self.directory, state["file"])
            # Drop whatever was written after the last commit: it is delivered again.
            for start, path in self._files(tp).items():
                if path != current and start >= part.next_offset:
                    os.remove(path)
            if os.path.exists(current):
                with open(current, "r+b") as f:
                    f.truncate(int(state["bytes"]))
                part.file, part.bytes, part.records = current, int(state["bytes"]), int(state["records"])
            resets[tp] = part.next_offset
            wc.log("info", f"{tp.topic}-{tp.partition}: resuming at offset {part.next_offset} in {state['file']}")
        if resets:
            self.context.offset(resets)

    # ---- writing

    def _line(self, record: wc.SinkRecord) -> str:
        if self.envelope:
            obj: Any = {
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp,
                "key": record.key,
                "value": record.value,
            }
            if record.headers:
                obj["headers"] = [[h.key, h.value] for h in record.headers]
        else:
            obj = record.value
        return json.dumps(_jsonable(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"

    def put(self, records: List[wc.SinkRecord]) -> None:
        for record in records:
            tp = record.topic_partition
            part = self.partitions.get(tp)
            if part is None:  # not opened (should not happen): track it anyway
                part = self.partitions[tp] = _Partition(tp)
            if part.next_offset is not None and record.original_offset < part.next_offset:
                continue  # already written
            try:
                line = self._line(record).encode("utf-8")
            except (TypeError, ValueError) as e:
                # Not representable as JSON: to the dead letter queue (fails under errors.tolerance=none).
                self.reporter.report(record, e)
                part.next_offset = record.original_offset + 1
                continue
            if part.handle is None:
                self._open_file(part, record.original_offset)
            part.handle.write(line)
            part.bytes += len(line)
            part.records += 1
            part.next_offset = record.original_offset + 1
            if part.bytes >= self.max_bytes or (self.max_records and part.records >= self.max_records):
                self._roll(part)

    def _open_file(self, part: _Partition, first_offset: int) -> None:
        if part.file is None:
            part.file = os.path.join(self.directory, f"{self._stem(part.tp)}-{first_offset:020d}.jsonl")
            part.bytes = part.records = 0
        part.handle = open(part.file, "ab", buffering=256 * 1024)

    def _roll(self, part: _Partition) -> None:
        part.handle.flush()
        if self.fsync:
            os.fsync(part.handle.fileno())
        part.handle.close()
        part.handle = None
        part.file = None  # the next record starts a new file

    # ---- committing

    def pre_commit(self, offsets: Dict[wc.TopicPartition, int]) -> Dict[wc.TopicPartition, int]:
        safe = {}
        for tp, part in self.partitions.items():
            if part.next_offset is None:
                continue
            if part.next_offset != part.committed_offset:
                self._commit(part)
            safe[tp] = part.next_offset
        return safe

    def _commit(self, part: _Partition) -> None:
        if part.handle is not None:
            part.handle.flush()
            if self.fsync:
                os.fsync(part.handle.fileno())
        state = {
            "file": os.path.basename(part.file) if part.file else None,
            "bytes": part.bytes,
            "records": part.records,
            "next_offset": part.next_offset,
        }
        if state["file"] is None:
            # Rolled and nothing since: the next file starts at next_offset, nothing to truncate.
            state["file"] = f"{self._stem(part.tp)}-{part.next_offset:020d}.jsonl"
            state["bytes"] = state["records"] = 0
        wc.replace_file(self._state_path(part.tp), json.dumps(state), fsync=self.fsync)
        part.committed_offset = part.next_offset

    def close(self, partitions: List[wc.TopicPartition]) -> None:
        for tp in partitions:
            part = self.partitions.pop(tp, None)
            if part is not None and part.handle is not None:
                part.handle.close()

    def stop(self) -> None:
        self.close(list(self.partitions))


def _jsonable(value: Any) -> Any:
    """JSON for Connect values: structs as objects, bytes as base64, decimals as strings, dates
    and times in ISO 8601, maps with non-string keys as [key, value] pairs."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return value
    if isinstance(value, wc.Struct):
        return {name: _jsonable(v) for name, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _jsonable(v) for k, v in value.items()}
        return [[_jsonable(k), _jsonable(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    raise TypeError(f"a {type(value).__name__} value has no JSON form")
