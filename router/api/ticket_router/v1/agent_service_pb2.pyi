import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from router.api.ticket_router.v1 import ticket_pb2 as _ticket_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATUS_UNSPECIFIED: _ClassVar[AgentStatus]
    AGENT_STATUS_AVAILABLE: _ClassVar[AgentStatus]
    AGENT_STATUS_AWAY: _ClassVar[AgentStatus]
    AGENT_STATUS_OFFLINE: _ClassVar[AgentStatus]
AGENT_STATUS_UNSPECIFIED: AgentStatus
AGENT_STATUS_AVAILABLE: AgentStatus
AGENT_STATUS_AWAY: AgentStatus
AGENT_STATUS_OFFLINE: AgentStatus

class Agent(_message.Message):
    __slots__ = ("id", "display_name", "skills", "capacity", "queues", "status", "load")
    class SkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CapacityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class LoadEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    skills: _containers.ScalarMap[str, int]
    capacity: _containers.ScalarMap[str, int]
    queues: _containers.RepeatedScalarFieldContainer[str]
    status: AgentStatus
    load: _containers.ScalarMap[str, int]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., skills: _Optional[_Mapping[str, int]] = ..., capacity: _Optional[_Mapping[str, int]] = ..., queues: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., load: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("offer_id", "ticket", "agent_id", "queue", "priority", "offered_at", "expires_at")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    OFFERED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    ticket: _ticket_pb2.Ticket
    agent_id: str
    queue: str
    priority: _ticket_pb2.Priority
    offered_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, offer_id: _Optional[str] = ..., ticket: _Optional[_Union[_ticket_pb2.Ticket, _Mapping]] = ..., agent_id: _Optional[str] = ..., queue: _Optional[str] = ..., priority: _Optional[_Union[_ticket_pb2.Priority, str]] = ..., offered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OfferWithdrawal(_message.Message):
    __slots__ = ("offer_id", "ticket_id", "reason")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    ticket_id: str
    reason: str
    def __init__(self, offer_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("ticket_id", "agent_id", "queue", "accepted_at")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    agent_id: str
    queue: str
    accepted_at: _timestamp_pb2.Timestamp
    def __init__(self, ticket_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., queue: _Optional[str] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpsertAgentRequest(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class UpsertAgentResponse(_message.Message):
    __slots__ = ("agent", "created")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    created: bool
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class SetAgentStatusRequest(_message.Message):
    __slots__ = ("agent_id", "status")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    status: AgentStatus
    def __init__(self, agent_id: _Optional[str] = ..., status: _Optional[_Union[AgentStatus, str]] = ...) -> None: ...

class SetAgentStatusResponse(_message.Message):
    __slots__ = ("previous_status", "status", "offers_returned")
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFERS_RETURNED_FIELD_NUMBER: _ClassVar[int]
    previous_status: AgentStatus
    status: AgentStatus
    offers_returned: int
    def __init__(self, previous_status: _Optional[_Union[AgentStatus, str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., offers_returned: _Optional[int] = ...) -> None: ...

class StreamOffersRequest(_message.Message):
    __slots__ = ("agent_id", "resume_after")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    resume_after: str
    def __init__(self, agent_id: _Optional[str] = ..., resume_after: _Optional[str] = ...) -> None: ...

class StreamOffersResponse(_message.Message):
    __slots__ = ("offer", "withdrawal", "resume_token")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWAL_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    offer: Offer
    withdrawal: OfferWithdrawal
    resume_token: str
    def __init__(self, offer: _Optional[_Union[Offer, _Mapping]] = ..., withdrawal: _Optional[_Union[OfferWithdrawal, _Mapping]] = ..., resume_token: _Optional[str] = ...) -> None: ...

class AcceptOfferRequest(_message.Message):
    __slots__ = ("agent_id", "ticket_id", "offer_id")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    ticket_id: str
    offer_id: str
    def __init__(self, agent_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., offer_id: _Optional[str] = ...) -> None: ...

class AcceptOfferResponse(_message.Message):
    __slots__ = ("assignment",)
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    assignment: Assignment
    def __init__(self, assignment: _Optional[_Union[Assignment, _Mapping]] = ...) -> None: ...

class RejectOfferRequest(_message.Message):
    __slots__ = ("agent_id", "ticket_id", "offer_id", "reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    ticket_id: str
    offer_id: str
    reason: str
    def __init__(self, agent_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., offer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectOfferResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: _ticket_pb2.TicketState
    def __init__(self, state: _Optional[_Union[_ticket_pb2.TicketState, str]] = ...) -> None: ...
