"""With AOF on, a Redis crash (kill -9) and restart loses no ticket, offer, assignment or event."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import redis

from queues import EventReader, QueueStore, TicketStatus
from router.embedded_redis import EmbeddedRedis


def _snapshot(store: QueueStore, reader: EventReader) -> dict[str, object]:
    tickets = {f"t{n}": store.get_ticket(f"t{n}") for n in range(6)}
    return {
        "tickets": {k: dataclasses.replace(v, created=False) for k, v in tickets.items() if v},
        "agents": {a: store.get_agent(a) for a in ("ann", "bob")},
        "offers": {a: store.pending_offers(a) for a in ("ann", "bob")},
        # The oldest wait grows while the server is down; the rest must be identical.
        "stats": dataclasses.replace(store.queue_stats("support"), oldest_wait_s=0.0),
        "queues": store.list_queues(),
        "events": reader.read(count=10_000),
    }


def test_everything_survives_a_redis_crash_and_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url)
    store, reader = QueueStore(client), EventReader(client)
    store.set_queue_policy("support", offer_timeout_s=60)
    store.upsert_agent("ann", ["support"], {"french": 2}, {"email": 2})
    store.upsert_agent("bob", ["support"], {}, {"email": 1, "chat": 1})
    for n in range(6):
        store.enqueue(f"t{n}", "support", 1 + n % 3, "email" if n % 2 else "chat",
                      skills={"french": 1} if n == 3 else {}, data={"n": n})
    store.assign("support")
    store.assign("support")
    store.assign("support")
    accepted = store.pending_offers("ann")[0]
    store.accept(accepted.ticket_id, "ann")
    store.cancel("t5")
    before = _snapshot(store, reader)
    statuses = {t.status for t in before["tickets"].values()}  # type: ignore[attr-defined]
    assert statuses == {TicketStatus.WAITING, TicketStatus.OFFERED, TicketStatus.ASSIGNED,
                        TicketStatus.CANCELLED}

    assert server.process is not None
    server.process.kill()  # SIGKILL: no shutdown, no final AOF rewrite
    server.process.wait()
    server.stop()  # the owner lets go of the directory of its dead server
    client.close()
    restarted = EmbeddedRedis(tmp_path, port=server.port)
    restarted.start()
    try:
        client = redis.Redis.from_url(restarted.url)
        store, reader = QueueStore(client), EventReader(client)

        assert _snapshot(store, reader) == before
        # ...and it keeps working: the live offer can be accepted, the rest assigned.
        offer = store.pending_offers("bob")[0]
        assert store.accept(offer.ticket_id, "bob").agent_id == "bob"
        store.complete(accepted.ticket_id, "ann")
        store.enqueue("after", "support", 1, "email")
        assert store.assign_for_agent("ann").ticket_id == "after"  # type: ignore[union-attr]
        client.close()
    finally:
        restarted.stop()
