"""AgentService: agent profiles and status, the offer stream, accept and reject."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import grpc

from queues.events import Event, EventType
from queues.models import AgentState, AgentStatus, Offer
from router import convert
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import agent_service_pb2_grpc as agents_grpc
from router.app import RouterApp
from router.errors import InvalidArgument, NotFound, OfferExpired
from router.interceptors import current_principal
from router.offer_hub import AGENT_EVENTS
from router.validation import check_agent, check_id, check_note

HEARTBEAT_S = 15.0
"""A stream re-sends the agent's pending offers this often, so a lost event costs at most this."""


RESUME_TOKEN = re.compile(r"\d{1,20}-\d{1,20}")
"""A resume token is an event id of the queues' stream."""
REPLAY_MAX_EVENTS = 50_000
"""Events read after a resume token at most, looking for missed withdrawals."""
_HANDED_BACK = frozenset({EventType.REJECTED, EventType.OFFER_EXPIRED, EventType.OFFER_REVOKED})


def _withdrawal(event: Event) -> agents_pb.StreamOffersResponse:
    """The stream message of an offer the agent can no longer accept."""
    data = event.data or {}
    expires_ms = data.get("expires_ms")
    reason = str(data.get("reason") or event.type) if event.type in _HANDED_BACK else event.type
    return agents_pb.StreamOffersResponse(
        withdrawal=agents_pb.OfferWithdrawal(
            ticket_id=event.ticket_id or "",
            reason=reason,
            offer_id=convert.offer_id_of(event.ticket_id or "", expires_ms / 1000)
            if isinstance(expires_ms, int | float) else "",
        ),
        resume_token=event.event_id,
    )


class AgentService(agents_grpc.AgentServiceServicer):
    """Implements `ticket_router.v1.AgentService`."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def UpsertAgent(
        self, request: agents_pb.UpsertAgentRequest, context: grpc.aio.ServicerContext
    ) -> agents_pb.UpsertAgentResponse:
        check_agent(request.agent)
        agent = request.agent
        # `status` is output only: a profile update keeps the stored status (a new agent
        # starts available); SetAgentStatus changes it.
        update = await self.app.queues.upsert_agent(
            agent.id, list(agent.queues), dict(agent.skills), dict(agent.capacity), None
        )
        for offer in update.handed_back:  # offers the new profile does not fit: offer again
            await self.app.assign_queue(offer.queue, limit=1)
        if update.agent.status is AgentStatus.AVAILABLE:
            await self.app.assign_agent(agent.id)
        return agents_pb.UpsertAgentResponse(
            agent=agent_message(update.agent, agent.display_name), created=update.created
        )

    async def SetAgentStatus(
        self, request: agents_pb.SetAgentStatusRequest, context: grpc.aio.ServicerContext
    ) -> agents_pb.SetAgentStatusResponse:
        check_id(request.agent_id, "agent_id")
        current_principal().require_agent(request.agent_id)
        status = convert.AGENT_STATUS_NAMES.get(request.status)
        if status is None:
            raise InvalidArgument(
                "use AGENT_STATUS_AVAILABLE, AGENT_STATUS_AWAY or AGENT_STATUS_OFFLINE",
                field="status",
            )
        before = await self._agent(request.agent_id)
        update = await self.app.queues.set_agent_status(request.agent_id, status)
        for offer in update.handed_back:  # back to the front of their queues: offer them again
            await self.app.assign_queue(offer.queue, limit=1)
        if status is AgentStatus.AVAILABLE:
            await self.app.assign_agent(request.agent_id)
        return agents_pb.SetAgentStatusResponse(
            previous_status=convert.AGENT_STATUS_VALUES[before.status],
            status=convert.AGENT_STATUS_VALUES[update.agent.status],
            offers_returned=len(update.handed_back),
        )

    async def StreamOffers(
        self, request: agents_pb.StreamOffersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[agents_pb.StreamOffersResponse]:
        check_id(request.agent_id, "agent_id")
        if request.resume_after and not RESUME_TOKEN.fullmatch(request.resume_after):
            raise InvalidArgument(
                f"resume_after {request.resume_after[:40]!r} is not a resume token; pass the "
                "resume_token of the last message processed, e.g. 1718000000000-0, or nothing",
                field="resume_after",
            )
        current_principal().require_agent(request.agent_id)
        await self._agent(request.agent_id)
        sent: set[str] = set()
        # Subscribe before reading the pending offers, so nothing made in between is missed;
        # pending offers are sent again on every (re)connection: an offer is never lost.
        async with self.app.offer_hub.subscribe(request.agent_id) as events:
            token = await self.app.offer_hub.latest_id()
            if request.resume_after:
                for missed in await self._missed_withdrawals(request):
                    yield missed
            while True:
                for offer in await self.app.queues.pending_offers(request.agent_id):
                    message = await self._offer_response(offer, resume_token=token)
                    if message.offer.offer_id not in sent:
                        sent.add(message.offer.offer_id)
                        yield message
                try:
                    event = await asyncio.wait_for(events.get(), HEARTBEAT_S)
                except TimeoutError:
                    continue
                response = await self._event_response(event, sent)
                if response is not None:
                    yield response

    async def _event_response(
        self, event: Event, sent: set[str]
    ) -> agents_pb.StreamOffersResponse | None:
        if event.type == EventType.OFFERED:
            offers = await self.app.queues.pending_offers(event.agent_id or "")
            for offer in offers:
                if offer.ticket_id == event.ticket_id:
                    response = await self._offer_response(offer, resume_token=event.event_id)
                    if response.offer.offer_id in sent:
                        return None
                    sent.add(response.offer.offer_id)
                    return response
            return None  # already accepted, expired or withdrawn
        return _withdrawal(event)

    async def _missed_withdrawals(
        self, request: agents_pb.StreamOffersRequest
    ) -> list[agents_pb.StreamOffersResponse]:
        """Withdrawals of this agent's offers after `resume_after` (the client was away), for
        tickets it no longer holds; within the event stream's retention, at most
        REPLAY_MAX_EVENTS events read."""
        pending = await self.app.queues.pending_offers(request.agent_id)
        open_offers = {convert.offer_id(o) for o in pending}
        held = {o.ticket_id for o in pending}
        missed, after, read = [], request.resume_after, 0
        while read < REPLAY_MAX_EVENTS:
            page = await self.app.offer_hub.reader.read(after, 500)
            if not page:
                break
            read, after = read + len(page), page[-1].event_id
            for event in page:
                if (event.agent_id != request.agent_id or event.type not in AGENT_EVENTS
                        or event.type == EventType.OFFERED):
                    continue
                message = _withdrawal(event)
                offer_id = message.withdrawal.offer_id
                # skip what is open now, and a ticket held again when the event does not
                # name the offer it withdrew
                if offer_id in open_offers or (not offer_id and event.ticket_id in held):
                    continue
                missed.append(message)
        return missed

    async def _offer_response(
        self, offer: Offer, *, resume_token: str
    ) -> agents_pb.StreamOffersResponse:
        try:
            ticket = (await self.app.ticket(offer.ticket_id)).ticket
        except NotFound:
            ticket = None
        return agents_pb.StreamOffersResponse(
            offer=convert.offer_message(offer, ticket), resume_token=resume_token
        )

    async def AcceptOffer(
        self, request: agents_pb.AcceptOfferRequest, context: grpc.aio.ServicerContext
    ) -> agents_pb.AcceptOfferResponse:
        check_id(request.agent_id, "agent_id")
        check_id(request.ticket_id, "ticket_id")
        current_principal().require_agent(request.agent_id)
        await self._check_offer_id(request.ticket_id, request.offer_id)
        assignment = await self.app.accept(request.ticket_id, request.agent_id)
        return agents_pb.AcceptOfferResponse(
            assignment=agents_pb.Assignment(
                ticket_id=assignment.ticket_id,
                agent_id=assignment.agent_id,
                queue=assignment.queue,
                accepted_at=convert.timestamp(assignment.assigned_at),
            )
        )

    async def RejectOffer(
        self, request: agents_pb.RejectOfferRequest, context: grpc.aio.ServicerContext
    ) -> agents_pb.RejectOfferResponse:
        check_id(request.agent_id, "agent_id")
        check_id(request.ticket_id, "ticket_id")
        note = check_note(request.reason, "reason")
        current_principal().require_agent(request.agent_id)
        await self._check_offer_id(request.ticket_id, request.offer_id)
        state = await self.app.reject(request.ticket_id, request.agent_id, note)
        return agents_pb.RejectOfferResponse(state=convert.STATE_BY_STATUS[state.status])

    async def _check_offer_id(self, ticket_id: str, offer_id: str) -> None:
        """A given offer id must name the ticket's current offer, not an earlier one."""
        if not offer_id:
            return
        state = await self.app.queues.get_ticket(ticket_id)
        current = (
            convert.offer_id_of(ticket_id, state.offer_expires_at)
            if state is not None and state.offer_expires_at is not None
            else None
        )
        if offer_id != current:
            raise OfferExpired(
                f"offer {offer_id!r} is no longer open (it expired, was withdrawn or "
                "re-offered); take the offer the stream sends now"
            )

    async def _agent(self, agent_id: str) -> AgentState:
        agent = await self.app.queues.get_agent(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id!r} does not exist; register it with UpsertAgent")
        return agent


def agent_message(agent: AgentState, display_name: str = "") -> agents_pb.Agent:
    """The proto form of an agent."""
    return agents_pb.Agent(
        id=agent.agent_id,
        display_name=display_name,
        skills=agent.skills,
        capacity=agent.capacity,
        queues=agent.queues,
        status=convert.AGENT_STATUS_VALUES[agent.status],
        load=agent.load,
    )
