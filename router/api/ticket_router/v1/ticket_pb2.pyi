import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_CHAT: _ClassVar[Channel]
    CHANNEL_PHONE: _ClassVar[Channel]
    CHANNEL_WEB: _ClassVar[Channel]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_P1: _ClassVar[Priority]
    PRIORITY_P2: _ClassVar[Priority]
    PRIORITY_P3: _ClassVar[Priority]
    PRIORITY_P4: _ClassVar[Priority]

class TicketState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICKET_STATE_UNSPECIFIED: _ClassVar[TicketState]
    TICKET_STATE_WAITING: _ClassVar[TicketState]
    TICKET_STATE_OFFERED: _ClassVar[TicketState]
    TICKET_STATE_ASSIGNED: _ClassVar[TicketState]
    TICKET_STATE_RESOLVED: _ClassVar[TicketState]
    TICKET_STATE_CANCELLED: _ClassVar[TicketState]

class RoutingReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_REASON_UNSPECIFIED: _ClassVar[RoutingReason]
    ROUTING_REASON_RULE: _ClassVar[RoutingReason]
    ROUTING_REASON_CATEGORY_MAP: _ClassVar[RoutingReason]
    ROUTING_REASON_TRIAGE: _ClassVar[RoutingReason]
    ROUTING_REASON_DEFAULT: _ClassVar[RoutingReason]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_EMAIL: Channel
CHANNEL_CHAT: Channel
CHANNEL_PHONE: Channel
CHANNEL_WEB: Channel
PRIORITY_UNSPECIFIED: Priority
PRIORITY_P1: Priority
PRIORITY_P2: Priority
PRIORITY_P3: Priority
PRIORITY_P4: Priority
TICKET_STATE_UNSPECIFIED: TicketState
TICKET_STATE_WAITING: TicketState
TICKET_STATE_OFFERED: TicketState
TICKET_STATE_ASSIGNED: TicketState
TICKET_STATE_RESOLVED: TicketState
TICKET_STATE_CANCELLED: TicketState
ROUTING_REASON_UNSPECIFIED: RoutingReason
ROUTING_REASON_RULE: RoutingReason
ROUTING_REASON_CATEGORY_MAP: RoutingReason
ROUTING_REASON_TRIAGE: RoutingReason
ROUTING_REASON_DEFAULT: RoutingReason

class Ticket(_message.Message):
    __slots__ = ("id", "subject", "body", "channel", "customer_id", "customer_tier", "product", "language", "created_at", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TIER_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    body: str
    channel: Channel
    customer_id: str
    customer_tier: str
    product: str
    language: str
    created_at: _timestamp_pb2.Timestamp
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., body: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., customer_id: _Optional[str] = ..., customer_tier: _Optional[str] = ..., product: _Optional[str] = ..., language: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class FeatureContribution(_message.Message):
    __slots__ = ("feature", "contribution")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    feature: str
    contribution: float
    def __init__(self, feature: _Optional[str] = ..., contribution: _Optional[float] = ...) -> None: ...

class FeatureContributions(_message.Message):
    __slots__ = ("contributions",)
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    contributions: _containers.RepeatedCompositeFieldContainer[FeatureContribution]
    def __init__(self, contributions: _Optional[_Iterable[_Union[FeatureContribution, _Mapping]]] = ...) -> None: ...

class Explanation(_message.Message):
    __slots__ = ("tasks",)
    class TasksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureContributions
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureContributions, _Mapping]] = ...) -> None: ...
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.MessageMap[str, FeatureContributions]
    def __init__(self, tasks: _Optional[_Mapping[str, FeatureContributions]] = ...) -> None: ...

class Scores(_message.Message):
    __slots__ = ("category", "category_confidence", "category_probabilities", "priority", "priority_probabilities", "sla_risk", "model_version", "explanation")
    class CategoryProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class PriorityProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    SLA_RISK_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    category: str
    category_confidence: float
    category_probabilities: _containers.ScalarMap[str, float]
    priority: Priority
    priority_probabilities: _containers.ScalarMap[str, float]
    sla_risk: float
    model_version: str
    explanation: Explanation
    def __init__(self, category: _Optional[str] = ..., category_confidence: _Optional[float] = ..., category_probabilities: _Optional[_Mapping[str, float]] = ..., priority: _Optional[_Union[Priority, str]] = ..., priority_probabilities: _Optional[_Mapping[str, float]] = ..., sla_risk: _Optional[float] = ..., model_version: _Optional[str] = ..., explanation: _Optional[_Union[Explanation, _Mapping]] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("queue", "priority", "required_skills", "tags", "rule_id", "rule_version", "reason")
    class RequiredSkillsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    queue: str
    priority: Priority
    required_skills: _containers.ScalarMap[str, int]
    tags: _containers.RepeatedScalarFieldContainer[str]
    rule_id: str
    rule_version: int
    reason: RoutingReason
    def __init__(self, queue: _Optional[str] = ..., priority: _Optional[_Union[Priority, str]] = ..., required_skills: _Optional[_Mapping[str, int]] = ..., tags: _Optional[_Iterable[str]] = ..., rule_id: _Optional[str] = ..., rule_version: _Optional[int] = ..., reason: _Optional[_Union[RoutingReason, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "type", "ticket_id", "queue", "agent_id", "time", "data")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    ticket_id: str
    queue: str
    agent_id: str
    time: _timestamp_pb2.Timestamp
    data: _containers.ScalarMap[str, str]
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., ticket_id: _Optional[str] = ..., queue: _Optional[str] = ..., agent_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data: _Optional[_Mapping[str, str]] = ...) -> None: ...
