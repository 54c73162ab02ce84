"""Adapters that turn a data source into labelled tickets: the demo set, the shared data, any CSV.

Each adapter returns `LabeledTickets` plus a `source` spec (plain JSON) that `load_source` turns
back into the same data, so `evaluate` can rebuild a model's held-out split.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from router.errors import InvalidArgument, NotFound
from scoring.features import TICKET_CATEGORICALS, QueueState, Ticket

DEFAULT_DATA_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
"""`../shared/data` next to the repository; override with --data-root."""

SHARED_DATASETS = ("gl-ticket-assignment", "gitbugs-hadoop", "incident-log")
GITBUGS_PRIORITIES = ["Blocker", "Critical", "Major", "Minor", "Trivial"]
_QUEUE_COLUMNS = ("queue_depth", "agents_available", "oldest_wait_s")


@dataclass
class LabeledTickets:
    """Tickets with their queue states and labels per task ('' where a row has no label)."""

    name: str
    tickets: list[Ticket]
    queues: list[QueueState | None]
    labels: dict[str, list[str]]
    source: dict[str, Any]
    categorical_fields: list[str] = field(default_factory=list)
    numeric_fields: list[str] = field(default_factory=list)
    label_order: dict[str, list[str]] = field(default_factory=dict)
    has_queue_state: bool = False
    positive: dict[str, str] = field(default_factory=dict)  # binary tasks: the positive class

    def __len__(self) -> int:
        return len(self.tickets)

    def subset(self, index: Sequence[int]) -> LabeledTickets:
        """The rows at `index`, in that order."""
        return LabeledTickets(
            name=self.name,
            tickets=[self.tickets[i] for i in index],
            queues=[self.queues[i] for i in index],
            labels={t: [v[i] for i in index] for t, v in self.labels.items()},
            source=self.source,
            categorical_fields=self.categorical_fields,
            numeric_fields=self.numeric_fields,
            label_order=self.label_order,
            has_queue_state=self.has_queue_state,
            positive=self.positive,
        )

    def has_time(self) -> bool:
        """Whether at least 90 % of the tickets have a creation time (then splits are by time)."""
        dated = sum(isinstance(t.created_at, datetime) for t in self.tickets)
        return bool(self.tickets) and dated >= 0.9 * len(self.tickets)


def _str(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise NotFound(f"{path} does not exist: check the path or --data-root", field="csv")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InvalidArgument(f"cannot read {path} as CSV: {error}", field="csv") from error


def demo_dataset(n: int = 3000, seed: int = 7) -> LabeledTickets:
    """The generated demo set with all three tasks (see `scoring.demo_data`)."""
    from scoring.demo_data import PRIORITIES, generate_demo_tickets

    frame = generate_demo_tickets(n=n, seed=seed)
    tickets = [
        Ticket(
            subject=r.subject, body=r.body, channel=r.channel, customer_id=r.customer_id,
            customer_tier=r.customer_tier, product=r.product, language=r.language,
            created_at=r.created_at.to_pydatetime(),
        )
        for r in frame.itertuples()
    ]
    queues: list[QueueState | None] = [
        QueueState(int(r.queue_depth), int(r.agents_available), float(r.oldest_wait_s), r.priority)
        for r in frame.itertuples()
    ]
    return LabeledTickets(
        name="demo",
        tickets=tickets,
        queues=queues,
        labels={
            "category": frame["category"].tolist(),
            "priority": frame["priority"].tolist(),
            "sla_risk": ["breach" if v else "met" for v in frame["sla_breached"]],
        },
        source={"kind": "demo", "n": n, "seed": seed},
        categorical_fields=list(TICKET_CATEGORICALS),
        label_order={"priority": list(PRIORITIES)},
        has_queue_state=True,
        positive={"sla_risk": "breach"},
    )


def gl_ticket_assignment(data_root: Path) -> LabeledTickets:
    """`gl-ticket-assignment`: text -> assignment group (category). The caller is the customer."""
    frame = _read_csv(data_root / "gl-ticket-assignment" / "gl_ticket_assignment.csv.gz")
    tickets = [
        Ticket(subject=_str(s), body=_str(d), customer_id=_str(c))
        for s, d, c in zip(frame["Short description"], frame["Description"], frame["Caller"],
                           strict=True)
    ]
    return LabeledTickets(
        name="gl-ticket-assignment",
        tickets=tickets,
        queues=[None] * len(tickets),
        labels={"category": [_str(v) for v in frame["Assignment group"]]},
        source={"kind": "shared", "name": "gl-ticket-assignment", "data_root": str(data_root)},
        categorical_fields=["customer_id"],
    )


def gitbugs_hadoop(data_root: Path) -> LabeledTickets:
    """`gitbugs-hadoop`: Jira summary + description -> priority (Blocker most urgent)."""
    frame = _read_csv(data_root / "gitbugs-hadoop" / "hadoop_bugs.csv.gz")
    created = pd.to_datetime(frame["Created"], format="%d/%b/%y %H:%M", errors="coerce")
    tickets = [
        Ticket(
            subject=_str(s), body=_str(d),
            created_at=None if pd.isna(c) else c.to_pydatetime(),
            attributes={"affects_version": _str(v)},
        )
        for s, d, c, v in zip(frame["Summary"], frame["Description"], created,
                              frame["Affects Version/s"], strict=True)
    ]
    return LabeledTickets(
        name="gitbugs-hadoop",
        tickets=tickets,
        queues=[None] * len(tickets),
        labels={"priority": [_str(v) for v in frame["Priority"]]},
        source={"kind": "shared", "name": "gitbugs-hadoop", "data_root": str(data_root)},
        categorical_fields=["affects_version"],
        label_order={"priority": GITBUGS_PRIORITIES},
    )


_INCIDENT_FIELDS = (
    "location", "category", "subcategory", "u_symptom", "impact", "urgency", "assignment_group",
    "opened_by", "knowledge", "u_priority_confirmation", "notify",
)


def incident_log(data_root: Path, queue_state: bool = True) -> LabeledTickets:
    """The UCI incident log: one ticket per incident at open, label = breached SLA at the end.

    Fields come from the incident's first event; the label from its last. The queue state at
    open is rebuilt from the timeline of the incident's assignment group: incidents open in it
    (depth), the age of the oldest of them, and the distinct resolvers assigned in it during the
    previous 7 days (agents).
    """
    frame = _read_csv(data_root / "uci-incident-eventlog" / "incident_event_log.csv.gz")
    frame = frame.replace("?", np.nan)
    frame["sys_mod_count"] = pd.to_numeric(frame["sys_mod_count"], errors="coerce")
    frame = frame.sort_values(["number", "sys_mod_count"], kind="stable")
    first = frame.groupby("number", sort=False).head(1).set_index("number")
    last = frame.groupby("number", sort=False).tail(1).set_index("number").loc[first.index]
    fmt = "%d/%m/%Y %H:%M"
    opened = pd.to_datetime(first["opened_at"], format=fmt, errors="coerce")
    end = pd.to_datetime(last["resolved_at"], format=fmt, errors="coerce")
    end = end.fillna(pd.to_datetime(last["closed_at"], format=fmt, errors="coerce"))
    end = end.fillna(pd.to_datetime(last["sys_updated_at"], format=fmt, errors="coerce"))
    group = first["assignment_group"].fillna("")
    keep = opened.notna().to_numpy()
    first, last, opened, end, group = first[keep], last[keep], opened[keep], end[keep], group[keep]

    depth, oldest, agents = _incident_queue_state(frame, opened, end, group)
    tickets = []
    queues: list[QueueState | None] = []
    for i, (number, row) in enumerate(first.iterrows()):
        attributes = {name: _str(row[name]) for name in _INCIDENT_FIELDS}
        attributes["incident"] = str(number)
        tickets.append(Ticket(
            subject="", body="", channel=_str(row["contact_type"]),
            created_at=opened.iloc[i].to_pydatetime(), attributes=attributes,
        ))
        priority = _str(row["priority"])
        queues.append(
            QueueState(int(depth[i]), int(agents[i]), float(oldest[i]), priority)
            if queue_state else QueueState(priority=priority)
        )
    made_sla = last["made_sla"].str.lower().eq("true").to_numpy()
    return LabeledTickets(
        name="incident-log",
        tickets=tickets,
        queues=queues,
        labels={"sla_risk": ["met" if m else "breach" for m in made_sla]},
        source={"kind": "shared", "name": "incident-log", "data_root": str(data_root),
                "queue_state": queue_state},
        categorical_fields=["channel", *_INCIDENT_FIELDS],
        has_queue_state=queue_state,
        positive={"sla_risk": "breach"},
    )


def _incident_queue_state(
    events: pd.DataFrame, opened: pd.Series, end: pd.Series, group: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth, oldest wait (s) and recently active resolvers of each incident's group at open."""
    n = len(opened)
    depth = np.zeros(n)
    oldest = np.zeros(n)
    agents = np.zeros(n)
    open_s = opened.astype("int64").to_numpy() // 10**9
    end_s = end.astype("int64").to_numpy() // 10**9
    end_s = np.where(end.isna().to_numpy(), np.iinfo(np.int64).max, end_s)
    assigned = events.dropna(subset=["assigned_to", "assignment_group"]).copy()
    assigned["t"] = pd.to_datetime(assigned["sys_updated_at"], format="%d/%m/%Y %H:%M",
                                   errors="coerce")
    assigned = assigned.dropna(subset=["t"])
    by_group: dict[str, list[tuple[int, str]]] = {}
    for g, t, who in zip(assigned["assignment_group"], assigned["t"].astype("int64") // 10**9,
                         assigned["assigned_to"], strict=True):
        by_group.setdefault(g, []).append((int(t), who))
    week = 7 * 24 * 3600
    groups = group.to_numpy()
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        rows = rows[np.argsort(open_s[rows], kind="stable")]
        open_heap: list[tuple[int, int]] = []  # (end, open) of incidents open so far
        assignments = sorted(by_group.get(g, []))
        window: deque[tuple[int, str]] = deque()
        active: dict[str, int] = {}
        pos = 0
        for r in rows:
            t = open_s[r]
            while open_heap and open_heap[0][0] <= t:
                heapq.heappop(open_heap)
            if g:
                depth[r] = len(open_heap)
                oldest[r] = t - min(o for _, o in open_heap) if open_heap else 0.0
            while pos < len(assignments) and assignments[pos][0] < t:
                window.append(assignments[pos])
                active[assignments[pos][1]] = active.get(assignments[pos][1], 0) + 1
                pos += 1
            while window and window[0][0] < t - week:
                _, who = window.popleft()
                active[who] -= 1
                if not active[who]:
                    del active[who]
            agents[r] = len(active) if g else 0
            heapq.heappush(open_heap, (int(end_s[r]), int(t)))
    return depth, oldest, agents


def csv_dataset(
    path: Path,
    *,
    label_col: str,
    text_cols: Sequence[str] = (),
    time_col: str | None = None,
    cat_cols: Sequence[str] = (),
    num_cols: Sequence[str] = (),
    task: str | None = None,
) -> LabeledTickets:
    """A user's own export (.csv or .csv.gz) with columns named on the command line.

    The task is inferred from the label unless given: two values -> sla_risk (a calibrated
    probability of the positive class: 1/true/yes, else the rarer value), more -> category.
    Categorical columns named like Ticket fields (channel, customer_tier, product, language,
    customer_id) fill those fields; numeric columns named queue_depth, agents_available or
    oldest_wait_s fill the queue state.

    Raises:
        NotFound: the file is missing.
        InvalidArgument: a named column is missing, the label has fewer than two values or
            the task is unknown.
    """
    frame = _read_csv(path)
    missing = [c for c in (label_col, *text_cols, *cat_cols, *num_cols, *([time_col]))
               if c and c not in frame.columns]
    if missing:
        raise InvalidArgument(
            f"{path} has no column(s) {missing}; it has {list(frame.columns)}", field="csv"
        )
    frame = frame[frame[label_col].notna() & (frame[label_col].str.strip() != "")]
    labels = frame[label_col].str.strip().tolist()
    values = sorted(set(labels))
    if len(values) < 2:
        raise InvalidArgument(
            f"label column {label_col!r} needs at least two values", field="label"
        )
    if task is None:
        task = "sla_risk" if len(values) == 2 else "category"
    if task not in ("category", "priority", "sla_risk"):
        raise InvalidArgument(f"unknown task {task!r}: use category, priority or sla_risk",
                              field="task")
    positive: dict[str, str] = {}
    if task == "sla_risk":
        if len(values) != 2:
            raise InvalidArgument(f"sla_risk needs a two-valued label, {label_col!r} has "
                                  f"{len(values)} values", field="label")
        truthy = [v for v in values if v.lower() in ("1", "true", "yes", "y", "breach", "breached")]
        positive[task] = truthy[0] if truthy else min(values, key=labels.count)
    created: list[datetime | None] = [None] * len(frame)
    if time_col:
        parsed = pd.to_datetime(frame[time_col], errors="coerce", format="mixed", dayfirst=True)
        created = [None if pd.isna(t) else t.to_pydatetime() for t in parsed]
    ticket_fields = {"channel", "customer_tier", "product", "language", "customer_id"}
    tickets = []
    queues: list[QueueState | None] = []
    queue_cols = [c for c in num_cols if c in _QUEUE_COLUMNS]
    for i, row in enumerate(frame.itertuples(index=False)):
        record = dict(zip(frame.columns, row, strict=True))
        texts = [_str(record[c]) for c in text_cols]
        subject, body = (texts[0], "\n".join(texts[1:])) if len(texts) > 1 else ("", "".join(texts))
        known = {c: _str(record[c]) for c in cat_cols if c in ticket_fields}
        attributes = {c: _str(record[c]) for c in (*cat_cols, *num_cols) if c not in ticket_fields}
        tickets.append(Ticket(subject=subject, body=body, created_at=created[i],
                              attributes=attributes, **known))
        queues.append(
            QueueState(**{c: float(_str(record[c]) or "nan") for c in queue_cols})
            if queue_cols else None
        )
    order = {}
    if task == "priority":
        order[task] = sorted(values)
    return LabeledTickets(
        name=path.name,
        tickets=tickets,
        queues=queues,
        labels={task: labels},
        source={
            "kind": "csv", "path": str(path.resolve()), "label_col": label_col,
            "text_cols": list(text_cols), "time_col": time_col, "cat_cols": list(cat_cols),
            "num_cols": list(num_cols), "task": task,
        },
        categorical_fields=list(cat_cols),
        numeric_fields=[c for c in num_cols if c not in _QUEUE_COLUMNS],
        label_order=order,
        has_queue_state=bool(queue_cols),
        positive=positive,
    )


def shared_dataset(name: str, data_root: Path, queue_state: bool = True) -> LabeledTickets:
    """One of the shared datasets by name.

    Raises:
        InvalidArgument: unknown name.
        NotFound: the data is not under `data_root`.
    """
    if name == "gl-ticket-assignment":
        return gl_ticket_assignment(data_root)
    if name == "gitbugs-hadoop":
        return gitbugs_hadoop(data_root)
    if name == "incident-log":
        return incident_log(data_root, queue_state=queue_state)
    raise InvalidArgument(f"unknown dataset {name!r}: use one of {', '.join(SHARED_DATASETS)}",
                          field="dataset")


def load_source(source: dict[str, Any]) -> LabeledTickets:
    """Rebuild a dataset from the `source` spec stored in a model's metadata."""
    kind = source.get("kind")
    if kind == "demo":
        return demo_dataset(n=int(source["n"]), seed=int(source["seed"]))
    if kind == "shared":
        return shared_dataset(source["name"], Path(source["data_root"]),
                              queue_state=bool(source.get("queue_state", True)))
    if kind == "csv":
        return csv_dataset(
            Path(source["path"]), label_col=source["label_col"], text_cols=source["text_cols"],
            time_col=source["time_col"], cat_cols=source["cat_cols"],
            num_cols=source["num_cols"], task=source["task"],
        )
    raise InvalidArgument(f"unknown data source {source!r}", field="model")
