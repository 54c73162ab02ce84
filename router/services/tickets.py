"""TicketService: submit, score, look up and move tickets through their life."""

from __future__ import annotations

import asyncio

import grpc

from queues.models import TicketStatus
from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc
from router.app import Routed, RouterApp
from router.auth import Role
from router.errors import FailedPrecondition, InvalidArgument
from router.history.models import HistoryEvent
from router.history.queries import ticket_timeline
from router.interceptors import current_principal
from router.validation import check_id, check_note, check_ticket


class TicketService(tickets_grpc.TicketServiceServicer):
    """Implements `ticket_router.v1.TicketService`."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def SubmitTicket(
        self, request: tickets_pb.SubmitTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.SubmitTicketResponse:
        check_ticket(request.ticket, max_body_chars=self.app.settings.max_body_chars)
        with self.app.admission.admit():
            routed = await self.app.submit(request.ticket)
        return _submit_response(routed)

    async def ScoreTicket(
        self, request: tickets_pb.ScoreTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.ScoreTicketResponse:
        check_ticket(
            request.ticket, max_body_chars=self.app.settings.max_body_chars, require_id=False
        )
        with self.app.admission.admit():
            scores, decision = await self.app.score_and_route(
                request.ticket, explain=request.explain
            )
        return tickets_pb.ScoreTicketResponse(scores=scores, decision=decision)

    async def GetTicket(
        self, request: tickets_pb.GetTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.GetTicketResponse:
        check_id(request.ticket_id, "ticket_id")
        routed = await self.app.ticket(request.ticket_id)
        state = routed.state
        data = state.data or {}
        events = await asyncio.to_thread(ticket_timeline, self.app.engine, request.ticket_id)
        response = tickets_pb.GetTicketResponse(
            ticket=routed.ticket,
            state=convert.STATE_BY_STATUS[state.status],
            scores=routed.scores,
            decision=routed.decision,
            queue=state.queue,
            priority=convert.priority_value(state.priority),
            agent_id=state.agent_id or "",
            submitted_at=convert.timestamp(data.get("submitted_at") or state.enqueued_at),
            events=[_history_event(event) for event in events],
        )
        for event in events:  # first occurrence of each milestone, from the history
            field = _MILESTONES.get(event.type)
            if field and not response.HasField(field):
                getattr(response, field).CopyFrom(convert.timestamp(event.time.timestamp()))
        return response

    async def RecordFirstResponse(
        self, request: tickets_pb.RecordFirstResponseRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.RecordFirstResponseResponse:
        check_id(request.ticket_id, "ticket_id")
        check_id(request.agent_id, "agent_id")
        current_principal().require_agent(request.agent_id)
        recorded = await self.app.record_first_response(request.ticket_id, request.agent_id)
        return tickets_pb.RecordFirstResponseResponse(
            first_response_at=convert.timestamp(recorded.at), already_recorded=not recorded.new
        )

    async def ResolveTicket(
        self, request: tickets_pb.ResolveTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.ResolveTicketResponse:
        check_id(request.ticket_id, "ticket_id")
        check_id(request.agent_id, "agent_id")
        resolution = check_note(request.resolution, "resolution")
        current_principal().require_agent(request.agent_id)
        before = await self.app.ticket(request.ticket_id)
        if before.state.status is TicketStatus.COMPLETED:
            return tickets_pb.ResolveTicketResponse(
                resolved_at=convert.timestamp(before.state.finished_at), already_resolved=True
            )
        state = await self.app.resolve(request.ticket_id, request.agent_id, resolution)
        return tickets_pb.ResolveTicketResponse(resolved_at=convert.timestamp(state.finished_at))

    async def CancelTicket(
        self, request: tickets_pb.CancelTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.CancelTicketResponse:
        check_id(request.ticket_id, "ticket_id")
        note = check_note(request.reason, "reason")
        before = await self.app.ticket(request.ticket_id)
        if before.state.status is TicketStatus.CANCELLED:
            return tickets_pb.CancelTicketResponse(
                cancelled_at=convert.timestamp(before.state.finished_at), already_cancelled=True
            )
        state = await self.app.cancel(request.ticket_id, note)
        return tickets_pb.CancelTicketResponse(cancelled_at=convert.timestamp(state.finished_at))

    async def TransferTicket(
        self, request: tickets_pb.TransferTicketRequest, context: grpc.aio.ServicerContext
    ) -> tickets_pb.TransferTicketResponse:
        check_id(request.ticket_id, "ticket_id")
        if not request.queue:
            raise InvalidArgument("name the queue to transfer to", field="queue")
        if request.priority and request.priority not in convert.PRIORITY_NAMES:
            raise InvalidArgument("use PRIORITY_P1..PRIORITY_P4", field="priority")
        note = check_note(request.reason, "reason")
        principal, holder = current_principal(), None
        if principal.role is Role.AGENT:  # an agent moves only what it holds (checked in Redis)
            check_id(request.agent_id, "agent_id")
            principal.require_agent(request.agent_id)
            holder = request.agent_id
        state = await self.app.transfer(
            request.ticket_id, request.queue, request.priority or None, note, holder
        )
        if state.status in (TicketStatus.COMPLETED, TicketStatus.CANCELLED):
            raise FailedPrecondition(f"ticket {request.ticket_id!r} is {state.status.value}")
        return tickets_pb.TransferTicketResponse(
            state=convert.STATE_BY_STATUS[state.status],
            queue=state.queue,
            priority=convert.priority_value(state.priority),
        )


_MILESTONES = {
    "offered": "first_offered_at",
    "accepted": "accepted_at",
    "first_response": "first_response_at",
    "completed": "resolved_at",
    "cancelled": "cancelled_at",
}


def _submit_response(routed: Routed) -> tickets_pb.SubmitTicketResponse:
    return tickets_pb.SubmitTicketResponse(
        created=routed.created,
        state=convert.STATE_BY_STATUS[routed.state.status],
        scores=routed.scores,
        decision=routed.decision,
        agent_id=routed.state.agent_id or "",
    )


def _history_event(event: HistoryEvent) -> pb.Event:
    return pb.Event(
        event_id=event.event_id,
        type=event.type,
        ticket_id=event.ticket_id or "",
        queue=event.queue or "",
        agent_id=event.agent_id or "",
        time=convert.timestamp(event.time.timestamp()),
        data=convert.string_map(event.data or {}),
    )
