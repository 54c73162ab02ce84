"""A worker process for the concurrency test: hammers the queues until killed or time is up.

Run as `python -m tests.queues.chaos_worker ROLE WORKER REDIS_URL UNTIL LOG SEED`.
Roles: `submitter` (enqueue, assign, transfer, cancel, reprioritize), `desk` (plays agents:
accepts, rejects or ignores offers, completes work, flaps status), `sweeper` (expire_due +
assign). Each successful call worth checking is appended to LOG, flushed, so that what a
killed worker claims is a subset of what happened.
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import TextIO

import redis

from queues import QueueStore
from router.errors import FailedPrecondition, NotFound, NotOfferHolder, OfferExpired

QUEUES = ("q1", "q2", "q3")
CHANNELS = ("email", "chat", "phone")
SKILLS = ("french", "billing")
AGENTS = 12
DESKS = 3

REFUSALS = (FailedPrecondition, NotFound, NotOfferHolder, OfferExpired)
"""Expected under concurrency: another process got there first (OfferExpired and
NotOfferHolder are FailedPrecondition subclasses; listed for the reader)."""


def agent_ids(desk: int) -> list[str]:
    """The agents one desk worker plays."""
    return [f"a{n}" for n in range(AGENTS) if n % DESKS == desk]


def log(out: TextIO, *words: str) -> None:
    out.write(" ".join(words) + "\n")
    out.flush()


def submitter(store: QueueStore, rng: random.Random, worker: str, until: float,
              out: TextIO) -> None:
    mine: list[str] = []
    n = 0
    while time.time() < until:
        n += 1
        ticket_id = f"{worker}-{os.getpid()}-{n}"
        skills = {rng.choice(SKILLS): rng.randint(1, 2)} if rng.random() < 0.3 else {}
        queue = rng.choice(QUEUES)
        store.enqueue(ticket_id, queue, rng.randint(1, 4), rng.choice(CHANNELS), skills=skills)
        log(out, "enq", ticket_id)
        mine.append(ticket_id)
        store.assign(queue)
        roll = rng.random()
        try:
            if roll < 0.04 and mine:
                store.cancel(rng.choice(mine))
            elif roll < 0.10 and mine:
                store.transfer(rng.choice(mine), rng.choice(QUEUES))
            elif roll < 0.15 and mine:
                store.reprioritize(rng.choice(mine), rng.randint(1, 4))
        except REFUSALS:
            pass
        time.sleep(rng.uniform(0.005, 0.02))


def desk(store: QueueStore, rng: random.Random, worker: str, until: float,
         out: TextIO) -> None:
    agents = agent_ids(int(worker.removeprefix("desk")))
    while time.time() < until:
        agent_id = rng.choice(agents)
        roll = rng.random()
        if roll < 0.04:
            store.set_agent_status(agent_id, rng.choice(("away", "offline")))
            continue
        if roll < 0.20:
            store.set_agent_status(agent_id, "available")
        for offer in store.pending_offers(agent_id):
            choice = rng.random()
            try:
                if choice < 0.6:
                    store.accept(offer.ticket_id, agent_id)
                    log(out, "acc", offer.ticket_id, agent_id)
                elif choice < 0.8:
                    store.reject(offer.ticket_id, agent_id)
                # else: ignore it and let it expire
            except REFUSALS:
                pass
        agent = store.get_agent(agent_id)
        for ticket_id in agent.assigned if agent else []:
            if rng.random() < 0.3:
                try:
                    store.complete(ticket_id, agent_id)
                    log(out, "done", ticket_id, agent_id)
                except REFUSALS:
                    pass
        store.assign_for_agent(agent_id)
        time.sleep(rng.uniform(0.005, 0.02))


def sweeper(store: QueueStore, rng: random.Random, worker: str, until: float,
            out: TextIO) -> None:
    while time.time() < until:
        store.expire_due(limit=50)
        for queue in QUEUES:
            while store.assign(queue):
                pass
        time.sleep(rng.uniform(0.005, 0.02))


ROLES = {"submitter": submitter, "desk": desk, "sweeper": sweeper}


def main(argv: list[str]) -> None:
    role, worker, url, until, log_path, seed = argv
    store = QueueStore(redis.Redis.from_url(url))
    rng = random.Random(f"{seed}-{worker}-{os.getpid()}")
    with open(log_path, "a", encoding="utf-8") as out:
        ROLES[role](store, rng, worker, float(until), out)


if __name__ == "__main__":
    main(sys.argv[1:])
