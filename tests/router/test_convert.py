"""Packing messages into queue records: both forms read back, old records included."""

from __future__ import annotations

import base64
import zlib

from router import convert
from router.api.ticket_router.v1 import ticket_pb2 as pb


def _ticket(body: str) -> pb.Ticket:
    return pb.Ticket(id="t-1", subject="Printer on fire", body=body, customer_tier="gold")


def test_a_short_message_round_trips_stored_as_it_is() -> None:
    ticket = _ticket("It smokes.")
    packed = convert.pack(ticket)
    assert packed.startswith("~")  # not deflated: small
    assert convert.unpack(packed, pb.Ticket()) == ticket


def test_a_long_message_round_trips_deflated_and_shorter() -> None:
    ticket = _ticket("The printer smokes whenever I print. " * 200)
    raw = ticket.SerializeToString()
    assert len(raw) >= convert.PACK_COMPRESS_BYTES
    packed = convert.pack(ticket)
    assert not packed.startswith("~")
    assert len(packed) < len(raw) / 4  # repetitive text deflates well
    assert convert.unpack(packed, pb.Ticket()) == ticket


def test_a_record_packed_before_small_messages_were_stored_plain_still_reads() -> None:
    scores = pb.Scores(category="billing", category_confidence=0.8, sla_risk=0.25)
    old_form = base64.b64encode(zlib.compress(scores.SerializeToString(), 6)).decode()
    assert convert.unpack(old_form, pb.Scores()) == scores
