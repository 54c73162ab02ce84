"""The history recorder: submissions written in the background, none lost at stop."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from router.history.models import Ticket, TicketCreate, table_of
from router.history_recorder import BATCH, HistoryRecorder


def row(index: int) -> TicketCreate:
    return TicketCreate(id=f"t-{index}", subject="s", queue="support",
                        submitted_at=datetime.now(UTC))


async def test_stop_writes_every_pending_submission(history: Engine) -> None:
    recorder = HistoryRecorder(history)
    count = 2 * BATCH + 37  # more than one batch waits when the recorder stops
    for index in range(count):
        recorder.submitted(row(index))

    await recorder.stop()  # never started: everything is still pending

    with history.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(table_of(Ticket)))
        assert stored.scalar_one() == count


async def test_rows_written_in_the_background_are_stored_once(history: Engine) -> None:
    recorder = HistoryRecorder(history)
    recorder.start()
    for index in range(10):
        recorder.submitted(row(index))
    recorder.submitted(row(3))  # a repeat is ignored

    await recorder.stop()

    with history.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(table_of(Ticket)))
        assert stored.scalar_one() == 10
