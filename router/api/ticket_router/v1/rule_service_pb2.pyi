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
