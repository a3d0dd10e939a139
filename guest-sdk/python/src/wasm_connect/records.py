"""Records as a connector sees them: :class:`SourceRecord` (what ``poll`` returns),
:class:`SinkRecord` (what ``put`` receives), :class:`Header`, :class:`TopicPartition` and
:class:`RecordMetadata`, shaped like Kafka Connect's classes of the same names.

Keys, values and header values are plain Python values with an optional :class:`Schema`
(``key_schema``/``value_schema``), as in Kafka Connect. Source partitions and offsets are dicts
of ``str`` to ``None``, ``bool``, ``int``, ``float`` or ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, NamedTuple, Optional, Union

from .data import Schema

OffsetValue = Union[None, bool, int, float, str]
OffsetMap = Dict[str, OffsetValue]


class TopicPartition(NamedTuple):
    """A Kafka topic partition. Hashable, so it keys offset dicts."""

    topic: str
    partition: int


@dataclass
class Header:
    """A record header: a key and a value with an optional schema."""

    key: str
    value: Any
    schema: Optional[Schema] = None


@dataclass
class SourceRecord:
    """A record to write to the log, as Kafka Connect's ``SourceRecord``.

    ``source_partition`` names where it comes from (e.g. ``{"filename": "a.txt"}``) and
    ``source_offset`` how far into that partition it is (e.g. ``{"position": 1024}``); the host
    stores the offset once the log acknowledged the record. ``partition=None`` lets the host's
    partitioner choose; ``timestamp`` is milliseconds since the epoch.
    """

    source_partition: OffsetMap
    source_offset: OffsetMap
    topic: str
    value: Any = None
    value_schema: Optional[Schema] = None
    key: Any = None
    key_schema: Optional[Schema] = None
    partition: Optional[int] = None
    timestamp: Optional[int] = None
    headers: List[Header] = field(default_factory=list)


@dataclass
class SinkRecord:
    """A record read from the log, as Kafka Connect's ``SinkRecord``.

    ``topic``/``partition``/``offset`` are after transforms; ``original_*`` name where the
    record really is in the log: use those with the errant record reporter and in
    ``pre_commit``. ``timestamp_type`` is ``"NoTimestampType"``, ``"CreateTime"`` or
    ``"LogAppendTime"``.
    """

    topic: str
    partition: int
    offset: int
    value: Any = None
    value_schema: Optional[Schema] = None
    key: Any = None
    key_schema: Optional[Schema] = None
    timestamp: Optional[int] = None
    timestamp_type: str = "NoTimestampType"
    headers: List[Header] = field(default_factory=list)
    original_topic: str = ""
    original_partition: int = 0
    original_offset: int = 0

    def __post_init__(self) -> None:
        if not self.original_topic:
            self.original_topic = self.topic
            self.original_partition = self.partition
            self.original_offset = self.offset

    @property
    def topic_partition(self) -> TopicPartition:
        """The original topic partition (where the record is in the log)."""
        return TopicPartition(self.original_topic, self.original_partition)


@dataclass
class RecordMetadata:
    """Where the log put a source record, as Kafka's ``RecordMetadata``."""

    topic: str
    partition: int
    offset: int
    timestamp: Optional[int] = None
