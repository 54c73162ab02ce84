"""A router whose history is PostgreSQL: a ticket's whole life lands there, and GetTicket's
timeline is read from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from clients.client import AsyncRouterClient
from clients.requests import make_agent, make_ticket
from router.api.ticket_router.v1 import agent_service_pb2 as agents_pb
from router.api.ticket_router.v1 import ticket_pb2 as pb
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.history.models import Ticket
from router.serve import running_router
from tests.router.service.conftest import eventually, router_settings
from tests.router.service.history_db import empty_database, ticket_events

INVOICE = make_ticket("t-pg-1", "Invoice charged twice",
                      "My credit card was charged twice for the March invoice.",
                      customer_tier="premium")


@pytest.mark.postgres
async def test_the_lifecycle_is_recorded_in_postgresql_and_read_back_from_it(
    redis_url: str, postgres_url: str, data_dir: Path, model_dir: Path
) -> None:
    empty_database(postgres_url)
    settings = router_settings(redis_url, data_dir, model_dir, database_url=postgres_url)
    async with (
        running_router(settings, telemetry=False) as running,
        AsyncRouterClient(f"127.0.0.1:{running.port}") as client,
    ):
        submitted = await client.submit_ticket(INVOICE)
        await client.call("AgentService", "UpsertAgent", agents_pb.UpsertAgentRequest(
            agent=make_agent("alice", [submitted.decision.queue], {"email": 1})))
        await client.call("AgentService", "AcceptOffer",
                          agents_pb.AcceptOfferRequest(agent_id="alice", ticket_id=INVOICE.id))
        await client.call("TicketService", "RecordFirstResponse",
                          tickets_pb.RecordFirstResponseRequest(ticket_id=INVOICE.id,
                                                                agent_id="alice"))
        await client.call("TicketService", "ResolveTicket",
                          tickets_pb.ResolveTicketRequest(ticket_id=INVOICE.id, agent_id="alice"))

        async def get() -> tickets_pb.GetTicketResponse:
            return await client.call(  # type: ignore[no-any-return]
                "TicketService", "GetTicket", tickets_pb.GetTicketRequest(ticket_id=INVOICE.id))

        async def completed_in_history() -> bool:
            return "completed" in [event.type for event in (await get()).events]

        await eventually(completed_in_history)
        ticket = await get()
        assert ticket.state == pb.TICKET_STATE_RESOLVED
        timeline = [(event.event_id, event.type) for event in ticket.events]
        assert timeline == ticket_events(postgres_url, INVOICE.id)
        lifecycle = ["enqueued", "offered", "accepted", "first_response", "completed"]
        assert [kind for _, kind in timeline if kind in lifecycle] == lifecycle

        engine = create_engine(postgres_url)
        try:
            async def submission_recorded() -> bool:  # written in batches off the request path
                with Session(engine) as session:
                    return session.get(Ticket, INVOICE.id) is not None

            await eventually(submission_recorded)
            with Session(engine) as session:
                row = session.get(Ticket, INVOICE.id)
                assert row is not None
                assert (row.subject, row.customer_tier, row.queue) == (
                    INVOICE.subject, "premium", submitted.decision.queue
                )
        finally:
            engine.dispose()
    assert not (data_dir / "history.sqlite3").exists()  # nothing went to the SQLite default
