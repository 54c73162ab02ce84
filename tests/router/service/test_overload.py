"""Admission control over a real server: past its limit a router refuses at once, loses nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import grpc
import pytest
import redis

from clients.client import AsyncRouterClient
from clients.requests import make_ticket
from clients.retry import Idempotency, is_retryable, retry_delay_s
from router.admission import RETRY_AFTER_S
from router.api.ticket_router.v1 import ticket_service_pb2 as tickets_pb
from router.api.ticket_router.v1 import ticket_service_pb2_grpc as tickets_grpc
from router.serve import running_router
from tests.router.service.conftest import router_settings

CONCURRENT = 40
LIMIT = 2
PAUSE_MS = 1000


def tickets(prefix: str) -> list[tickets_pb.SubmitTicketRequest]:
    return [
        tickets_pb.SubmitTicketRequest(ticket=make_ticket(
            f"{prefix}-{index}", "Invoice charged twice",
            f"My card was charged twice for invoice {index}.",
        ))
        for index in range(CONCURRENT)
    ]


async def test_calls_beyond_the_limit_are_refused_with_a_retry_delay_and_nothing_is_lost(
    redis_url: str, data_dir: Path, model_dir: Path
) -> None:
    settings = router_settings(redis_url, data_dir, model_dir, max_inflight_submissions=LIMIT)
    requests = tickets(f"overload-{uuid.uuid4().hex[:8]}")
    async with running_router(settings, telemetry=False) as running:
        target = f"127.0.0.1:{running.port}"
        async with grpc.aio.insecure_channel(target) as channel:
            stub = tickets_grpc.TicketServiceStub(channel)
            # Redis answers no write for a while (a slow dependency): the calls the router takes
            # wait on it, and past the limit the others are refused instead of piling up
            paused = redis.Redis.from_url(redis_url)
            paused.client_pause(PAUSE_MS, all=False)
            try:
                results = await asyncio.gather(
                    *(stub.SubmitTicket(request, timeout=30) for request in requests),
                    return_exceptions=True,
                )
            finally:
                paused.client_unpause()
                paused.close()
            refused = [(q, r) for q, r in zip(requests, results, strict=True)
                       if isinstance(r, BaseException)]
            accepted = [q for q, r in zip(requests, results, strict=True)
                        if not isinstance(r, BaseException)]
            assert refused, f"{CONCURRENT} concurrent submissions, limit {LIMIT}: none refused"
            assert accepted, "the router took none at all"
            for _, error in refused:
                assert isinstance(error, grpc.aio.AioRpcError), error
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "max_inflight_submissions" in (error.details() or "")
                assert retry_delay_s(error) == pytest.approx(RETRY_AFTER_S)
                assert is_retryable(error, Idempotency.IDEMPOTENT)
                assert not is_retryable(error, Idempotency.UNKNOWN)

            async def stored(ticket_id: str) -> bool:
                try:
                    await stub.GetTicket(tickets_pb.GetTicketRequest(ticket_id=ticket_id),
                                         timeout=10)
                except grpc.aio.AioRpcError as error:
                    assert error.code() is grpc.StatusCode.NOT_FOUND
                    return False
                return True

            # every accepted ticket is there; a refused one did nothing
            assert all([await stored(q.ticket.id) for q in accepted])
            assert not any([await stored(q.ticket.id) for q, _ in refused])

        # still serving: the client's retries (after the RetryInfo delay) get the rest in
        async with AsyncRouterClient(target) as client:
            again = await asyncio.gather(
                *(client.submit_ticket(q.ticket, timeout=30) for q, _ in refused),
                return_exceptions=True,
            )
        failed = [r for r in again if isinstance(r, BaseException)]
        # jittered on top of the RetryInfo delay, the retries spread out and get in (all of
        # them on a quiet machine; most when it is busy)
        assert len(failed) <= len(refused) // 4, f"{len(failed)} failed: {failed[:1]}"
        assert all(r.created for r in again if not isinstance(r, BaseException))
        assert running.app.admission.in_progress == 0


async def test_resource_exhausted_without_retry_info_is_not_retried(
    redis_url: str, data_dir: Path, model_dir: Path
) -> None:
    """A size limit (here the channel's own receive limit) cannot succeed on a repeat."""
    settings = router_settings(redis_url, data_dir, model_dir)
    async with running_router(settings, telemetry=False) as running:
        options = [("grpc.max_receive_message_length", 16)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}", options) as channel:
            stub = tickets_grpc.TicketServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.ScoreTicket(tickets_pb.ScoreTicketRequest(
                    ticket=make_ticket("", "Invoice charged twice", "Charged twice.")), timeout=10)
    error = raised.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay_s(error) is None
    assert not is_retryable(error, Idempotency.NO_SIDE_EFFECTS)
