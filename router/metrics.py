"""Every ticket-router metric, defined once through the OpenTelemetry API.

The service records through `RouterMetrics`' typed methods and never touches an instrument.
Names live under `ticket_router.`, with units per OpenTelemetry conventions (`s`, `{ticket}`).
The Prometheus exporter turns dots into underscores and appends the unit and `_total`:

    OpenTelemetry name                        Prometheus name (histograms add _bucket/_sum/_count)
    ticket_router.time_to_assign         s    ticket_router_time_to_assign_seconds
    ticket_router.time_to_accept         s    ticket_router_time_to_accept_seconds
    ticket_router.time_to_first_response s    ticket_router_time_to_first_response_seconds
    ticket_router.time_to_resolve        s    ticket_router_time_to_resolve_seconds
    ticket_router.scoring.duration       s    ticket_router_scoring_duration_seconds
    ticket_router.rpc.duration           s    ticket_router_rpc_duration_seconds
    ticket_router.tickets.submitted  {ticket} ticket_router_tickets_submitted_total
    ticket_router.tickets.routed     {ticket} ticket_router_tickets_routed_total
    ticket_router.offers              {offer} ticket_router_offers_total
    ticket_router.sla_breaches       {breach} ticket_router_sla_breaches_total
    ticket_router.escalations    {escalation} ticket_router_escalations_total
    ticket_router.errors              {error} ticket_router_errors_total
    ticket_router.queue.depth        {ticket} ticket_router_queue_depth
    ticket_router.queue.oldest_wait      s    ticket_router_queue_oldest_wait_seconds
    ticket_router.agents              {agent} ticket_router_agents
    ticket_router.agent.utilization      1    ticket_router_agent_utilization
    ticket_router.tickets.at_risk    {ticket} ticket_router_tickets_at_risk

Attributes are only those in `ALLOWED_ATTRIBUTES` (queue, priority, channel and a few bounded
per-metric ones), never ticket or agent ids; `AttributeGuard` enforces it and caps the number
of distinct values per attribute.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from router.errors import InvalidArgument
from router.status import status_code_for

logger = logging.getLogger(__name__)

METER_NAME = "ticket_router"
"""Instrumentation scope of every ticket-router instrument."""

ALLOWED_ATTRIBUTES = frozenset(
    {
        "queue",
        "priority",
        "channel",
        "rule",  # rule id from the rule set, or "model" / "triage": bounded by the rule set
        "outcome",  # offers: made, accepted, rejected, expired
        "kind",  # SLA breaches: first_response, resolution
        "level",  # escalation level name from the policy
        "state",  # agents: available, busy
        "model",  # scoring: category, priority, sla_risk
        "rpc.system",
        "rpc.service",
        "rpc.method",
        "rpc.response.status_code",
    }
)
"""The only attribute keys a ticket-router metric may carry: each has a bounded value set."""

OVERFLOW_VALUE = "_other"
"""Replaces attribute values beyond the per-key cap (and over-long values)."""

DEFAULT_MAX_VALUES_PER_ATTRIBUTE = 200
"""Distinct values kept per attribute key; queues and rules number far fewer."""

MAX_VALUE_CHARS = 100
"""Longer attribute values are not names of a bounded set: they become `OVERFLOW_VALUE`."""

OFFER_OUTCOMES = ("made", "accepted", "rejected", "expired")
BREACH_KINDS = ("first_response", "resolution")
SCORING_MODELS = ("category", "priority", "sla_risk", "all")
"""Usual `model` values of the scoring duration (`all`: the whole scoring step)."""
UNKNOWN_METHOD = "_OTHER"
"""`rpc.service`/`rpc.method` of calls to methods the server does not implement."""

# Bucket boundaries (seconds), chosen for what each histogram measures: quantiles are only as
# precise as the buckets around them.
FAST_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""RPC and scoring latency: the service aims at p99 < 15 ms."""
WAIT_BUCKETS_S = (
    1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400,
)  # fmt: skip
"""Time to assign and accept: seconds to hours."""
RESPONSE_BUCKETS_S = (
    60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 432000,
    604800, 1209600,
)  # fmt: skip
"""Time to first response and resolve: minutes to two weeks, around the SLA targets."""


class AttributeGuard:
    """Builds metric attributes: known keys only, a bounded number of values per key.

    Args:
        max_values_per_key: distinct values kept per key; later new ones become `_other`.
    """

    def __init__(self, max_values_per_key: int = DEFAULT_MAX_VALUES_PER_ATTRIBUTE) -> None:
        self.max_values_per_key = max_values_per_key
        self._seen: dict[str, set[str]] = {key: set() for key in ALLOWED_ATTRIBUTES}
        self._lock = threading.Lock()

    def __call__(self, **attributes: object) -> dict[str, str]:
        """Attributes with dots in keys spelt as `__` (e.g. `rpc__method`); None values dropped.

        Raises:
            InvalidArgument: a key outside `ALLOWED_ATTRIBUTES` (e.g. a ticket or agent id).
        """
        return self.build({key.replace("__", "."): value for key, value in attributes.items()})

    def build(self, attributes: Mapping[str, object]) -> dict[str, str]:
        """Like calling the guard, with keys as they are exported (`rpc.method`)."""
        result: dict[str, str] = {}
        for key, raw in attributes.items():
            seen = self._seen.get(key)
            if seen is None:
                raise InvalidArgument(
                    f"metric attribute {key!r} is not allowed: metrics carry only bounded "
                    f"attributes ({', '.join(sorted(ALLOWED_ATTRIBUTES))}), never ids"
                )
            if raw is None:
                continue
            value = str(raw)
            if value not in seen:
                value = self._admit(seen, value)
            result[key] = value
        return result

    def _admit(self, seen: set[str], value: str) -> str:
        if len(value) > MAX_VALUE_CHARS:
            return OVERFLOW_VALUE
        with self._lock:
            if value in seen:
                return value
            if len(seen) >= self.max_values_per_key:
                return OVERFLOW_VALUE
            seen.add(value)
            return value


class Tally:
    """A monotonic counter that counts in a dict and reports its totals when metrics are read.

    OpenTelemetry's `Counter.add` cleans and hashes the attributes at every call (~20 us here,
    several calls per ticket); a tally adds to a dict entry (~1 us) and an observable counter
    reports the running totals at each collection: the same cumulative sums, exported the same.
    """

    def __init__(self, meter: Meter, name: str, unit: str, description: str) -> None:
        self._totals: dict[tuple[tuple[str, str], ...], list[Any]] = {}
        self._lock = threading.Lock()  # collections run on the exporter's thread
        meter.create_observable_counter(
            name, callbacks=[self._observe], unit=unit, description=description
        )

    def add(self, amount: int, attributes: dict[str, str]) -> None:
        """Count `amount` under `attributes` (built by an `AttributeGuard`)."""
        key = tuple(sorted(attributes.items()))
        with self._lock:
            entry = self._totals.get(key)
            if entry is None:
                self._totals[key] = [amount, attributes]
            else:
                entry[0] += amount

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            return [Observation(total, attributes) for total, attributes in self._totals.values()]


class QueueStatsLike(Protocol):
    """What the queue gauges read for one queue (e.g. the queue store's stats)."""

    @property
    def queue(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def oldest_wait_s(self) -> float: ...
    @property
    def agents_available(self) -> int: ...
    @property
    def agents_busy(self) -> int: ...


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """One queue's state for the gauges.

    Attributes:
        queue: queue name.
        depth: tickets waiting.
        oldest_wait_s: age of the oldest waiting ticket, 0 when none waits.
        agents_available: agents able to take a ticket from the queue.
        agents_busy: agents of the queue working at full capacity.
        utilization: used capacity / total capacity of the queue's agents, None if unknown.
        at_risk: waiting or unanswered tickets flagged at risk, None if unknown.
    """

    queue: str
    depth: int
    oldest_wait_s: float
    agents_available: int
    agents_busy: int
    utilization: float | None = None
    at_risk: int | None = None


QueueSnapshotSource = Callable[[], Iterable[QueueStatsLike]]


class _CachedSnapshot:
    """Calls the snapshot source at most once per `ttl_s`, however many gauges read it."""

    def __init__(self, source: QueueSnapshotSource, ttl_s: float) -> None:
        self.source = source
        self.ttl_s = ttl_s
        self._value: list[QueueStatsLike] = []
        self._taken_at = -float("inf")
        self._lock = threading.Lock()

    def get(self) -> list[QueueStatsLike]:
        with self._lock:
            now = time.monotonic()
            if now - self._taken_at >= self.ttl_s:
                self._taken_at = now
                try:
                    self._value = list(self.source())
                except Exception:
                    # A failed read (e.g. Redis down) must not break the scrape: report no
                    # queue series rather than stale ones until the source recovers.
                    logger.warning("queue snapshot for metrics failed", exc_info=True)
                    self._value = []
            return self._value


class RouterMetrics:
    """The service's metrics: one typed method per thing that happens.

    Args:
        meter: where instruments come from; default `metrics.get_meter("ticket_router")`,
            i.e. whatever provider `router.telemetry.setup_telemetry` installed (a no-op one
            if none was).
        max_values_per_attribute: cap on distinct values per attribute key.
    """

    def __init__(
        self,
        meter: Meter | None = None,
        *,
        max_values_per_attribute: int = DEFAULT_MAX_VALUES_PER_ATTRIBUTE,
    ) -> None:
        meter = meter or metrics.get_meter(METER_NAME)
        self.attributes = AttributeGuard(max_values_per_attribute)
        self._snapshot: _CachedSnapshot | None = None

        def histogram(name: str, description: str, buckets: Iterable[float]) -> Any:
            return meter.create_histogram(
                f"{METER_NAME}.{name}",
                unit="s",
                description=description,
                explicit_bucket_boundaries_advisory=[float(b) for b in buckets],
            )

        self._time_to_assign = histogram(
            "time_to_assign", "From submission to the first offer to an agent.", WAIT_BUCKETS_S
        )
        self._time_to_accept = histogram(
            "time_to_accept", "From submission to an agent accepting it.", WAIT_BUCKETS_S
        )
        self._time_to_first_response = histogram(
            "time_to_first_response", "From submission to the first response.", RESPONSE_BUCKETS_S
        )
        self._time_to_resolve = histogram(
            "time_to_resolve", "From submission to resolution.", RESPONSE_BUCKETS_S
        )
        self._scoring_duration = histogram(
            "scoring.duration", "Time to score one ticket with one model.", FAST_BUCKETS_S
        )
        self._rpc_duration = histogram(
            "rpc.duration", "Server-side duration of each gRPC call.", FAST_BUCKETS_S
        )
        def tally(name: str, unit: str, description: str) -> Tally:
            return Tally(meter, f"{METER_NAME}.{name}", unit, description)

        self._submitted = tally("tickets.submitted", "{ticket}", "Tickets accepted.")
        self._routed = tally(
            "tickets.routed", "{ticket}",
            "Tickets given a queue, by the rule (or model) that decided.",
        )
        self._offers = tally("offers", "{offer}", "Offers to agents, by outcome.")
        self._sla_breaches = tally("sla_breaches", "{breach}", "SLA targets missed.")
        self._escalations = tally("escalations", "{escalation}", "Levels fired.")
        self._errors = tally("errors", "{error}", "gRPC calls that did not end OK.")
        for name, unit, description, callback in (
            ("queue.depth", "{ticket}", "Tickets waiting in the queue.", self._observe_depth),
            ("queue.oldest_wait", "s", "Age of the oldest waiting ticket.", self._observe_oldest),
            ("agents", "{agent}", "Agents of the queue by state.", self._observe_agents),
            (
                "agent.utilization",
                "1",
                "Used over total capacity of the queue's agents.",
                self._observe_utilization,
            ),
            ("tickets.at_risk", "{ticket}", "Tickets flagged at risk.", self._observe_at_risk),
        ):
            meter.create_observable_gauge(
                f"{METER_NAME}.{name}", callbacks=[callback], unit=unit, description=description
            )

    # --- histograms ---------------------------------------------------------------------

    def record_time_to_assign(
        self, seconds: float, queue: str, priority: str, channel: str
    ) -> None:
        """A ticket got its first offer `seconds` after submission."""
        self._time_to_assign.record(seconds, self._ticket(queue, priority, channel))

    def record_time_to_accept(
        self, seconds: float, queue: str, priority: str, channel: str
    ) -> None:
        """A ticket was accepted by an agent `seconds` after submission."""
        self._time_to_accept.record(seconds, self._ticket(queue, priority, channel))

    def record_time_to_first_response(
        self, seconds: float, queue: str, priority: str, channel: str
    ) -> None:
        """A ticket got its first response `seconds` after submission."""
        self._time_to_first_response.record(seconds, self._ticket(queue, priority, channel))

    def record_time_to_resolve(
        self, seconds: float, queue: str, priority: str, channel: str
    ) -> None:
        """A ticket was resolved `seconds` after submission."""
        self._time_to_resolve.record(seconds, self._ticket(queue, priority, channel))

    def record_scoring_duration(self, seconds: float, model: str) -> None:
        """Scoring one ticket with `model` (one of `SCORING_MODELS`) took `seconds`."""
        self._scoring_duration.record(seconds, self.attributes(model=model))

    def record_rpc(self, seconds: float, service: str, method: str, code: grpc.StatusCode) -> None:
        """A gRPC call ended with `code` after `seconds`; non-OK codes also count as errors."""
        attributes = self.attributes.build(
            {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "rpc.response.status_code": code.name,
            }
        )
        self._rpc_duration.record(seconds, attributes)
        if code is not grpc.StatusCode.OK:
            self._errors.add(1, attributes)

    def record_error(self, service: str, method: str, code: grpc.StatusCode) -> None:
        """A gRPC call failed with `code` before any handler ran (e.g. an unknown method)."""
        attributes = self.attributes.build(
            {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "rpc.response.status_code": code.name,
            }
        )
        self._errors.add(1, attributes)

    # --- counters -------------------------------------------------------------------------

    def record_submitted(self, queue: str, rule: str, priority: str, channel: str) -> None:
        """A ticket was accepted by SubmitTicket (not counted again when resubmitted)."""
        self._submitted.add(1, self._ticket(queue, priority, channel, rule=rule))

    def record_routed(self, queue: str, rule: str, priority: str, channel: str) -> None:
        """A ticket was routed to `queue` by `rule` (a rule id, or e.g. `model`/`triage`)."""
        self._routed.add(1, self._ticket(queue, priority, channel, rule=rule))

    def record_offer(
        self, outcome: str, queue: str, priority: str | None = None, channel: str | None = None
    ) -> None:
        """An offer was made, accepted, rejected or expired.

        Raises:
            InvalidArgument: `outcome` is not one of `OFFER_OUTCOMES`.
        """
        _check_one_of("outcome", outcome, OFFER_OUTCOMES)
        self._offers.add(1, self._ticket(queue, priority, channel, outcome=outcome))

    def record_sla_breach(
        self, kind: str, queue: str, priority: str, channel: str | None = None
    ) -> None:
        """A ticket missed its first-response or resolution target.

        Raises:
            InvalidArgument: `kind` is not one of `BREACH_KINDS`.
        """
        _check_one_of("kind", kind, BREACH_KINDS)
        self._sla_breaches.add(1, self._ticket(queue, priority, channel, kind=kind))

    def record_escalation(
        self, level: str, queue: str, priority: str, channel: str | None = None
    ) -> None:
        """Escalation `level` fired for a ticket (`priority` is the one before it)."""
        self._escalations.add(1, self._ticket(queue, priority, channel, level=level))

    # --- gauges ---------------------------------------------------------------------------

    def observe_queues(self, source: QueueSnapshotSource, *, ttl_s: float = 5.0) -> None:
        """Feed the queue gauges from `source`, called at most once per `ttl_s`.

        Args:
            source: returns one stats object per queue (`QueueSnapshot` or anything with
                its attributes; `utilization` and `at_risk` are optional). It runs in the
                thread that collects metrics (the Prometheus HTTP server's, the OTLP
                exporter's), so it must be thread-safe and must not need the event loop:
                an asyncio service passes a function returning its latest sweep's result.
            ttl_s: how long one snapshot serves every gauge and scrape.
        """
        self._snapshot = _CachedSnapshot(source, ttl_s)

    def _queues(self) -> list[QueueStatsLike]:
        return self._snapshot.get() if self._snapshot is not None else []

    def _observe_depth(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(s.depth, self.attributes(queue=s.queue)) for s in self._queues()]

    def _observe_oldest(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(s.oldest_wait_s, self.attributes(queue=s.queue)) for s in self._queues()
        ]

    def _observe_agents(self, _options: CallbackOptions) -> Iterable[Observation]:
        observations = []
        for stats in self._queues():
            for state, count in (
                ("available", stats.agents_available),
                ("busy", stats.agents_busy),
            ):
                observations.append(
                    Observation(count, self.attributes(queue=stats.queue, state=state))
                )
        return observations

    def _observe_utilization(self, _options: CallbackOptions) -> Iterable[Observation]:
        return _optional(self._queues(), "utilization", self.attributes)

    def _observe_at_risk(self, _options: CallbackOptions) -> Iterable[Observation]:
        return _optional(self._queues(), "at_risk", self.attributes)

    def _ticket(
        self, queue: str, priority: str | None, channel: str | None, **extra: str
    ) -> dict[str, str]:
        return self.attributes(queue=queue, priority=priority, channel=channel, **extra)


def _optional(
    queues: Iterable[QueueStatsLike], name: str, attributes: AttributeGuard
) -> list[Observation]:
    observations = []
    for stats in queues:
        value = getattr(stats, name, None)
        if value is not None:
            observations.append(Observation(value, attributes(queue=stats.queue)))
    return observations


def _check_one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidArgument(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")


# --- per-RPC metrics ----------------------------------------------------------------------


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Records every RPC's duration and status code (and counts non-OK codes as errors).

    Put it first in the server's interceptor list so that it is outermost: it then sees
    the status that inner interceptors (auth, error mapping) give the call. A domain error
    that reaches it unmapped is counted with the code `router.status` maps it to.

    Args:
        metrics: where to record.
    """

    def __init__(self, metrics: RouterMetrics) -> None:
        self.metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            # Unknown method: grpc answers UNIMPLEMENTED. Its name is the caller's choice,
            # so it is not used as an attribute (unbounded).
            unimplemented = grpc.StatusCode.UNIMPLEMENTED
            self.metrics.record_error(UNKNOWN_METHOD, UNKNOWN_METHOD, unimplemented)
            return handler
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary_response(service, method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary_response(service, method, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream_response(service, method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream_response(service, method, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary_response(
        self, service: str, method: str, behavior: Callable[..., Any]
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = None
            try:
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            except BaseException as error:
                code = _code_of(error, context)
                raise
            finally:
                self._record(started, service, method, code, context)

        return wrapper

    def _wrap_stream_response(
        self, service: str, method: str, behavior: Callable[..., Any]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            code = None
            try:
                result = behavior(request, context)
                if hasattr(result, "__aiter__"):
                    async for response in result:
                        yield response
                elif inspect.isawaitable(result):
                    await result  # a handler that writes with context.write()
                else:
                    for response in result:
                        yield response
            except BaseException as error:
                code = _code_of(error, context)
                raise
            finally:
                self._record(started, service, method, code, context)

        return wrapper

    def _record(
        self,
        started: float,
        service: str,
        method: str,
        code: grpc.StatusCode | None,
        context: grpc.aio.ServicerContext,
    ) -> None:
        if code is None:
            code = _context_code(context) or grpc.StatusCode.OK
        self.metrics.record_rpc(time.perf_counter() - started, service, method, code)


def _context_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode | None:
    try:
        code = context.code()
    except Exception:  # a context without code() support: fall back to the caller's view
        return None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return next((c for c in grpc.StatusCode if c.value[0] == code), None)
    return None


def _code_of(error: BaseException, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    if isinstance(error, grpc.aio.AbortError):
        return _context_code(context) or grpc.StatusCode.UNKNOWN
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    code = status_code_for(error)
    # grpc answers an unhandled non-domain exception with UNKNOWN, not INTERNAL.
    return grpc.StatusCode.UNKNOWN if code is grpc.StatusCode.INTERNAL else code
