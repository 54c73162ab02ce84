import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from router.api.ticket_router.v1 import ticket_pb2 as _ticket_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitTicketRequest(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _ticket_pb2.Ticket
    def __init__(self, ticket: _Optional[_Union[_ticket_pb2.Ticket, _Mapping]] = ...) -> None: ...

class SubmitTicketResponse(_message.Message):
    __slots__ = ("created", "state", "scores", "decision", "agent_id")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    created: bool
    state: _ticket_pb2.TicketState
    scores: _ticket_pb2.Scores
    decision: _ticket_pb2.RoutingDecision
    agent_id: str
    def __init__(self, created: _Optional[bool] = ..., state: _Optional[_Union[_ticket_pb2.TicketState, str]] = ..., scores: _Optional[_Union[_ticket_pb2.Scores, _Mapping]] = ..., decision: _Optional[_Union[_ticket_pb2.RoutingDecision, _Mapping]] = ..., agent_id: _Optional[str] = ...) -> None: ...

class ScoreTicketRequest(_message.Message):
    __slots__ = ("ticket", "explain")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    ticket: _ticket_pb2.Ticket
    explain: bool
    def __init__(self, ticket: _Optional[_Union[_ticket_pb2.Ticket, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class ScoreTicketResponse(_message.Message):
    __slots__ = ("scores", "decision")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    scores: _ticket_pb2.Scores
    decision: _ticket_pb2.RoutingDecision
    def __init__(self, scores: _Optional[_Union[_ticket_pb2.Scores, _Mapping]] = ..., decision: _Optional[_Union[_ticket_pb2.RoutingDecision, _Mapping]] = ...) -> None: ...

class GetTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class GetTicketResponse(_message.Message):
    __slots__ = ("ticket", "state", "scores", "decision", "queue", "priority", "agent_id", "submitted_at", "first_offered_at", "accepted_at", "first_response_at", "resolved_at", "cancelled_at", "events")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_OFFERED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_RESPONSE_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ticket: _ticket_pb2.Ticket
    state: _ticket_pb2.TicketState
    scores: _ticket_pb2.Scores
    decision: _ticket_pb2.RoutingDecision
    queue: str
    priority: _ticket_pb2.Priority
    agent_id: str
    submitted_at: _timestamp_pb2.Timestamp
    first_offered_at: _timestamp_pb2.Timestamp
    accepted_at: _timestamp_pb2.Timestamp
    first_response_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[_ticket_pb2.Event]
    def __init__(self, ticket: _Optional[_Union[_ticket_pb2.Ticket, _Mapping]] = ..., state: _Optional[_Union[_ticket_pb2.TicketState, str]] = ..., scores: _Optional[_Union[_ticket_pb2.Scores, _Mapping]] = ..., decision: _Optional[_Union[_ticket_pb2.RoutingDecision, _Mapping]] = ..., queue: _Optional[str] = ..., priority: _Optional[_Union[_ticket_pb2.Priority, str]] = ..., agent_id: _Optional[str] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_offered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_response_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_ticket_pb2.Event, _Mapping]]] = ...) -> None: ...

class RecordFirstResponseRequest(_message.Message):
    __slots__ = ("ticket_id", "agent_id")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    agent_id: str
    def __init__(self, ticket_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class RecordFirstResponseResponse(_message.Message):
    __slots__ = ("first_response_at", "already_recorded")
    FIRST_RESPONSE_AT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RECORDED_FIELD_NUMBER: _ClassVar[int]
    first_response_at: _timestamp_pb2.Timestamp
    already_recorded: bool
    def __init__(self, first_response_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., already_recorded: _Optional[bool] = ...) -> None: ...

class ResolveTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "agent_id", "resolution")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    agent_id: str
    resolution: str
    def __init__(self, ticket_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., resolution: _Optional[str] = ...) -> None: ...

class ResolveTicketResponse(_message.Message):
    __slots__ = ("resolved_at", "already_resolved")
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    resolved_at: _timestamp_pb2.Timestamp
    already_resolved: bool
    def __init__(self, resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., already_resolved: _Optional[bool] = ...) -> None: ...

class CancelTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "reason")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    reason: str
    def __init__(self, ticket_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelTicketResponse(_message.Message):
    __slots__ = ("cancelled_at", "already_cancelled")
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled_at: _timestamp_pb2.Timestamp
    already_cancelled: bool
    def __init__(self, cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., already_cancelled: _Optional[bool] = ...) -> None: ...

class TransferTicketRequest(_message.Message):
    __slots__ = ("ticket_id", "queue", "priority", "reason", "agent_id")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    queue: str
    priority: _ticket_pb2.Priority
    reason: str
    agent_id: str
    def __init__(self, ticket_id: _Optional[str] = ..., queue: _Optional[str] = ..., priority: _Optional[_Union[_ticket_pb2.Priority, str]] = ..., reason: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class TransferTicketResponse(_message.Message):
    __slots__ = ("state", "queue", "priority")
    STATE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    state: _ticket_pb2.TicketState
    queue: str
    priority: _ticket_pb2.Priority
    def __init__(self, state: _Optional[_Union[_ticket_pb2.TicketState, str]] = ..., queue: _Optional[str] = ..., priority: _Optional[_Union[_ticket_pb2.Priority, str]] = ...) -> None: ...
