"""The what-if of a draft rule set as an HTML page with plots (`ticket-router rules what-if
--out DIR`): per queue, tickets and predicted SLA breaches as routed and with the draft."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from router.api.ticket_router.v1 import rule_service_pb2 as rules_pb
from router.report import new_figure, png_base64

REPORT_FILE = "what-if.html"
MAX_PLOTTED_QUEUES = 12
"""Queues in a plot, those with the most tickets after the change first."""


def write_what_if_html(reply: rules_pb.SimulateRulesResponse, title: str, out_dir: Path) -> Path:
    """Write the page for a SimulateRules reply into `out_dir` (created); its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in (
            q.queue, str(q.tickets_before), str(q.tickets_after),
            f"{q.tickets_after - q.tickets_before:+d}", str(q.agents_available),
            f"{q.predicted_breaches_before:.1f}", f"{q.predicted_breaches_after:.1f}",
        )) + "</tr>"
        for q in reply.queues
    )
    moves = "".join(f"<li>{m.tickets} from {html.escape(m.from_queue)} to "
                    f"{html.escape(m.to_queue)}</li>" for m in reply.moves)
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in reply.warnings)
    plots = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, png in _plots(reply)
    )
    page = _PAGE.format(
        title=html.escape(title), tickets=reply.tickets, moved=reply.queue_changed,
        reprioritized=reply.priority_changed, before=reply.predicted_breaches_before,
        after=reply.predicted_breaches_after, rows=rows, moves=moves or "<li>none</li>",
        warnings=warnings or "<li>none</li>", plots=plots,
    )
    path = out_dir / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path


def _plots(reply: rules_pb.SimulateRulesResponse) -> list[tuple[str, str]]:
    queues = list(reply.queues)[:MAX_PLOTTED_QUEUES]
    if not queues:
        return []
    return [
        ("Tickets per queue, as routed and with the draft",
         _paired_bars(queues, "tickets", "tickets_before", "tickets_after")),
        ("Predicted SLA breaches per queue (sum of risks)",
         _paired_bars(queues, "expected breaches", "predicted_breaches_before",
                      "predicted_breaches_after")),
    ]


def _paired_bars(queues: list[rules_pb.QueueImpact], label: str, before: str, after: str) -> str:
    figure = new_figure()
    axes = figure.add_subplot()
    x = np.arange(len(queues))
    axes.bar(x - 0.2, [getattr(q, before) for q in queues], 0.4, label="as routed")
    axes.bar(x + 0.2, [getattr(q, after) for q in queues], 0.4, label="with the draft")
    axes.set_xticks(x, [q.queue for q in queues], rotation=30, ha="right")
    axes.set_ylabel(label)
    axes.legend()
    return png_base64(figure)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ticket-router what-if</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 1em; }}
</style></head><body>
<h1>What-if: {title}</h1>
<p>{tickets} past tickets replayed: {moved} to another queue, {reprioritized} at another
priority. Predicted SLA breaches {before:.1f} as routed, {after:.1f} with the draft (each
ticket's SLA risk in the queue it joins, at the priority it joins with, in that queue's state
when it arrived, replayed from the history with every ticket waiting as long as it did).</p>
<table><thead><tr><th>queue</th><th>tickets before</th><th>after</th><th>change</th>
<th>agents available</th><th>predicted breaches before</th><th>after</th></tr></thead>
<tbody>{rows}</tbody></table>
<h2>Moves</h2><ul>{moves}</ul>
<h2>Warnings</h2><ul>{warnings}</ul>
{plots}
</body></html>
"""
