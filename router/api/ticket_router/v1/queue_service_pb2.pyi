import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Queue(_message.Message):
    __slots__ = ("name", "assignment_policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    assignment_policy: str
    def __init__(self, name: _Optional[str] = ..., assignment_policy: _Optional[str] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("queue", "depth", "oldest_wait", "agents_available", "agents_busy", "agents_unavailable")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAIT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_BUSY_FIELD_NUMBER: _ClassVar[int]
    AGENTS_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    depth: int
    oldest_wait: _duration_pb2.Duration
    agents_available: int
    agents_busy: int
    agents_unavailable: int
    def __init__(self, queue: _Optional[str] = ..., depth: _Optional[int] = ..., oldest_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., agents_available: _Optional[int] = ..., agents_busy: _Optional[int] = ..., agents_unavailable: _Optional[int] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[Queue]
    def __init__(self, queues: _Optional[_Iterable[_Union[Queue, _Mapping]]] = ...) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    def __init__(self, queue: _Optional[str] = ...) -> None: ...

class GetQueueStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: QueueStats
    def __init__(self, stats: _Optional[_Union[QueueStats, _Mapping]] = ...) -> None: ...
