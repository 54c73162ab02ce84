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

class RuleFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_FORMAT_UNSPECIFIED: _ClassVar[RuleFormat]
    RULE_FORMAT_YAML: _ClassVar[RuleFormat]
    RULE_FORMAT_TOML: _ClassVar[RuleFormat]
RULE_FORMAT_UNSPECIFIED: RuleFormat
RULE_FORMAT_YAML: RuleFormat
RULE_FORMAT_TOML: RuleFormat

class RuleSet(_message.Message):
    __slots__ = ("version", "text", "format", "published_at", "published_by", "sha256")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_BY_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    version: int
    text: str
    format: RuleFormat
    published_at: _timestamp_pb2.Timestamp
    published_by: str
    sha256: str
    def __init__(self, version: _Optional[int] = ..., text: _Optional[str] = ..., format: _Optional[_Union[RuleFormat, str]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published_by: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class RuleProblem(_message.Message):
    __slots__ = ("line", "column", "rule_id", "path", "message")
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    line: int
    column: int
    rule_id: str
    path: str
    message: str
    def __init__(self, line: _Optional[int] = ..., column: _Optional[int] = ..., rule_id: _Optional[str] = ..., path: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class GetRulesRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetRulesResponse(_message.Message):
    __slots__ = ("rules", "live_version")
    RULES_FIELD_NUMBER: _ClassVar[int]
    LIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    rules: RuleSet
    live_version: int
    def __init__(self, rules: _Optional[_Union[RuleSet, _Mapping]] = ..., live_version: _Optional[int] = ...) -> None: ...

class ValidateRulesRequest(_message.Message):
    __slots__ = ("text", "format")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    text: str
    format: RuleFormat
    def __init__(self, text: _Optional[str] = ..., format: _Optional[_Union[RuleFormat, str]] = ...) -> None: ...

class ValidateRulesResponse(_message.Message):
    __slots__ = ("valid", "problems")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[RuleProblem]
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[RuleProblem, _Mapping]]] = ...) -> None: ...

class PublishRulesRequest(_message.Message):
    __slots__ = ("text", "format")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    text: str
    format: RuleFormat
    def __init__(self, text: _Optional[str] = ..., format: _Optional[_Union[RuleFormat, str]] = ...) -> None: ...

class PublishRulesResponse(_message.Message):
    __slots__ = ("version", "published_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    published_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExplainRoutingRequest(_message.Message):
    __slots__ = ("ticket_id", "ticket", "rule_version")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    RULE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    ticket: _ticket_pb2.Ticket
    rule_version: int
    def __init__(self, ticket_id: _Optional[str] = ..., ticket: _Optional[_Union[_ticket_pb2.Ticket, _Mapping]] = ..., rule_version: _Optional[int] = ...) -> None: ...

class RuleCheck(_message.Message):
    __slots__ = ("rule_id", "line", "matched", "failed_condition")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    FAILED_CONDITION_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    line: int
    matched: bool
    failed_condition: str
    def __init__(self, rule_id: _Optional[str] = ..., line: _Optional[int] = ..., matched: _Optional[bool] = ..., failed_condition: _Optional[str] = ...) -> None: ...

class CandidateAgent(_message.Message):
    __slots__ = ("agent_id", "eligible", "reason", "chosen")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    eligible: bool
    reason: str
    chosen: bool
    def __init__(self, agent_id: _Optional[str] = ..., eligible: _Optional[bool] = ..., reason: _Optional[str] = ..., chosen: _Optional[bool] = ...) -> None: ...

class ExplainRoutingResponse(_message.Message):
    __slots__ = ("rules", "matched_rule_id", "scores", "decision", "candidates")
    RULES_FIELD_NUMBER: _ClassVar[int]
    MATCHED_RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RuleCheck]
    matched_rule_id: str
    scores: _ticket_pb2.Scores
    decision: _ticket_pb2.RoutingDecision
    candidates: _containers.RepeatedCompositeFieldContainer[CandidateAgent]
    def __init__(self, rules: _Optional[_Iterable[_Union[RuleCheck, _Mapping]]] = ..., matched_rule_id: _Optional[str] = ..., scores: _Optional[_Union[_ticket_pb2.Scores, _Mapping]] = ..., decision: _Optional[_Union[_ticket_pb2.RoutingDecision, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[CandidateAgent, _Mapping]]] = ...) -> None: ...

class SimulateRulesRequest(_message.Message):
    __slots__ = ("text", "format", "since", "until", "limit", "max_examples")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    text: str
    format: RuleFormat
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    limit: int
    max_examples: int
    def __init__(self, text: _Optional[str] = ..., format: _Optional[_Union[RuleFormat, str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., max_examples: _Optional[int] = ...) -> None: ...

class QueueImpact(_message.Message):
    __slots__ = ("queue", "tickets_before", "tickets_after", "agents_available", "predicted_breaches_before", "predicted_breaches_after")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_AFTER_FIELD_NUMBER: _ClassVar[int]
    AGENTS_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_BREACHES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_BREACHES_AFTER_FIELD_NUMBER: _ClassVar[int]
    queue: str
    tickets_before: int
    tickets_after: int
    agents_available: int
    predicted_breaches_before: float
    predicted_breaches_after: float
    def __init__(self, queue: _Optional[str] = ..., tickets_before: _Optional[int] = ..., tickets_after: _Optional[int] = ..., agents_available: _Optional[int] = ..., predicted_breaches_before: _Optional[float] = ..., predicted_breaches_after: _Optional[float] = ...) -> None: ...

class RouteChange(_message.Message):
    __slots__ = ("from_queue", "to_queue", "tickets")
    FROM_QUEUE_FIELD_NUMBER: _ClassVar[int]
    TO_QUEUE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    from_queue: str
    to_queue: str
    tickets: int
    def __init__(self, from_queue: _Optional[str] = ..., to_queue: _Optional[str] = ..., tickets: _Optional[int] = ...) -> None: ...

class RuleHits(_message.Message):
    __slots__ = ("rule_id", "line", "tickets")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    line: int
    tickets: int
    def __init__(self, rule_id: _Optional[str] = ..., line: _Optional[int] = ..., tickets: _Optional[int] = ...) -> None: ...

class SimulatedTicket(_message.Message):
    __slots__ = ("ticket_id", "queue_before", "queue_after", "priority_before", "priority_after", "rule_id", "reason_after")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_AFTER_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_AFTER_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_AFTER_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    queue_before: str
    queue_after: str
    priority_before: _ticket_pb2.Priority
    priority_after: _ticket_pb2.Priority
    rule_id: str
    reason_after: _ticket_pb2.RoutingReason
    def __init__(self, ticket_id: _Optional[str] = ..., queue_before: _Optional[str] = ..., queue_after: _Optional[str] = ..., priority_before: _Optional[_Union[_ticket_pb2.Priority, str]] = ..., priority_after: _Optional[_Union[_ticket_pb2.Priority, str]] = ..., rule_id: _Optional[str] = ..., reason_after: _Optional[_Union[_ticket_pb2.RoutingReason, str]] = ...) -> None: ...

class SimulateRulesResponse(_message.Message):
    __slots__ = ("tickets", "first_submitted_at", "last_submitted_at", "queue_changed", "priority_changed", "predicted_breaches_before", "predicted_breaches_after", "risk_scored", "queues", "moves", "rules", "changed", "warnings", "reasons")
    class ReasonsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_BREACHES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_BREACHES_AFTER_FIELD_NUMBER: _ClassVar[int]
    RISK_SCORED_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    tickets: int
    first_submitted_at: _timestamp_pb2.Timestamp
    last_submitted_at: _timestamp_pb2.Timestamp
    queue_changed: int
    priority_changed: int
    predicted_breaches_before: float
    predicted_breaches_after: float
    risk_scored: bool
    queues: _containers.RepeatedCompositeFieldContainer[QueueImpact]
    moves: _containers.RepeatedCompositeFieldContainer[RouteChange]
    rules: _containers.RepeatedCompositeFieldContainer[RuleHits]
    changed: _containers.RepeatedCompositeFieldContainer[SimulatedTicket]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.ScalarMap[str, int]
    def __init__(self, tickets: _Optional[int] = ..., first_submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., queue_changed: _Optional[int] = ..., priority_changed: _Optional[int] = ..., predicted_breaches_before: _Optional[float] = ..., predicted_breaches_after: _Optional[float] = ..., risk_scored: _Optional[bool] = ..., queues: _Optional[_Iterable[_Union[QueueImpact, _Mapping]]] = ..., moves: _Optional[_Iterable[_Union[RouteChange, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[RuleHits, _Mapping]]] = ..., changed: _Optional[_Iterable[_Union[SimulatedTicket, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Mapping[str, int]] = ...) -> None: ...
