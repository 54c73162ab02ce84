"""Replay the UCI incident event log: early breach warnings of a live risk model vs a timer.

The log (`../shared/data/uci-incident-eventlog`, see its README) has one row per update of an
incident. The replay:

* **Outcome**: an incident breached when `made_sla` is false on its last event (the dataset's
  own SLA signal). The log does not say *when* it breached (`made_sla` turns false at closure),
  so the breach moment is taken from the SLA policy: the moment the incident, still unresolved,
  passes its resolution deadline (opened_at + the target of its current priority; the
  assignment group is the queue). A breached incident resolved before that deadline has
  breached by its resolution at the latest; its resolution time is taken as the breach moment
  (an upper bound, counted apart in `ReplayResult.breaches_before_deadline`).
* **Window**: warnings count from opening until the breach moment, or until resolution or the
  policy deadline (whichever is first) for incidents that met their SLA. A flag after the
  breach is no warning.
* **Timer baseline**: flag when 80 % of the resolution target has elapsed (as escalation timers
  do).
* **Risk model**: trained on the first 80 % of incidents by open time, replayed on the rest.
  Each open incident is re-scored at each of its events and, like the service's periodic sweep,
  every `rescore_every` in between: the state as of its last event (state, priority, group,
  reassignments, ...), the time elapsed and left, and the queue state (incidents open in its
  assignment group and overall, rebuilt from every incident's timeline up to that moment).
  Flag at the first score at or above the threshold. The model is scikit-learn's
  `HistGradientBoostingClassifier`, fitted here: the `scoring` package's SLA-risk model sees a
  ticket at submission (its fields and the queue state then), not how long it has been open,
  its state or the time left, so it cannot re-score an ageing incident.
* **Risk or timer**: the earlier of the two flags, as escalation levels that fire on risk or
  on time left do.
* **Submission model**: that `scoring` model (LightGBM, trained by the package on the same
  time split), scored once per incident at opening; a flag is raised at opening or never.
* **Service live risk**: what the service's SLA sweep does with it (`router.sla.sweep`):
  the submission risk r aged as r ** (time left / target), re-evaluated at every scoring moment.
* **Figures** per method: breaches flagged before they happened (recall), flagged at least
  `min_lead` (1 h) before (recall at lead time), median lead time, incidents that met their SLA
  but were flagged (false flags; false-flag rate over all of them) and precision.

Times in the log have no zone; they are taken as UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from router.errors import FailedPrecondition, InvalidArgument, NotFound
from router.sla.durations import format_duration
from router.sla.escalation import EscalationPolicy
from router.sla.policy import DEFAULT_POLICY, PRIORITIES, SlaPolicy, Target

if TYPE_CHECKING:
    from rich.table import Table
    from sklearn.ensemble import HistGradientBoostingClassifier

_STANDARD_LOG = "uci-incident-eventlog/incident_event_log.csv.gz"

DEFAULT_INCIDENT_LOG = Path(__file__).resolve().parents[3] / "shared" / "data" / _STANDARD_LOG
"""`../shared/data/uci-incident-eventlog/incident_event_log.csv.gz` next to the repository."""

TIME_FORMAT = "%d/%m/%Y %H:%M"
"""Timestamps of the log: day first, minute resolution."""

TIMER_FRACTION = 0.8
"""The timer baseline flags an incident once this share of its resolution target elapsed."""

MIN_LEAD = timedelta(hours=1)
"""A warning is useful when it comes at least this long before the breach."""

TRAIN_SHARE = 0.8
"""Share of incidents, the earliest opened, that trains the risk model; the rest is replayed."""

DEFAULT_RESCORE_EVERY = timedelta(hours=1)
"""Re-scoring interval between an incident's own events, as the service's periodic sweep."""

MAX_TRAIN_MOMENTS = 100_000
"""Scoring moments sampled to fit the model: more add fitting time, not accuracy, here."""

MAX_CATEGORIES = 250
"""Most frequent values kept per categorical feature (the classifier takes at most 255)."""

CATEGORICAL_FEATURES = (
    "incident_state",
    "priority",
    "impact",
    "urgency",
    "contact_type",
    "location",
    "category",
    "subcategory",
    "u_symptom",
    "assignment_group",
    "knowledge",
    "u_priority_confirmation",
    "notify",
)
"""Event fields used as they stand at the scoring moment."""

COUNTER_FEATURES = ("reassignment_count", "reopen_count", "sys_mod_count")
"""Counters 'so far' at the scoring moment."""

TIME_COLUMNS = ("opened_at", "sys_updated_at", "resolved_at", "closed_at")
REQUIRED_COLUMNS = (
    "number",
    "made_sla",
    "assigned_to",
    *TIME_COLUMNS,
    *CATEGORICAL_FEATURES,
    *COUNTER_FEATURES,
)
"""Columns the replay reads. `resolved_at` and `closed_at` only end an incident's window;
like `made_sla` they are never features (they are known only afterwards)."""

_NO_GROUP = "(none)"
_HOUR = pd.Timedelta(hours=1)


# --- reading the log ------------------------------------------------------------------------


def read_incident_log(path: Path) -> pd.DataFrame:
    """Read the event log (CSV, optionally gzip) into typed events, ordered per incident.

    Args:
        path: the CSV file, with the UCI column names; `?` means missing.

    Returns:
        The `REQUIRED_COLUMNS`, with UTC timestamps, `priority` as `P1`..`P4` and numeric
        counters, sorted by incident and `sys_mod_count`; rows without an incident, open time,
        update time or valid priority are dropped.

    Raises:
        NotFound: the file does not exist.
        InvalidArgument: it is not a readable CSV or lacks columns.
    """
    if not path.is_file():
        raise NotFound(
            f"incident log {path} does not exist; pass its path with --incident-log-path",
            field="incident_log",
        )
    try:
        raw = pd.read_csv(path, dtype=str, na_values=["?"], keep_default_na=False)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        raise InvalidArgument(
            f"cannot read {path} as CSV: {error}", field="incident_log"
        ) from error
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if missing:
        raise InvalidArgument(
            f"{path} lacks the columns {', '.join(missing)} of the UCI incident event log",
            field="incident_log",
        )
    events = raw.loc[:, list(REQUIRED_COLUMNS)].copy()
    for name in TIME_COLUMNS:
        parsed = pd.to_datetime(events[name], format=TIME_FORMAT, errors="coerce")
        events[name] = parsed.dt.tz_localize(UTC)
    for name in COUNTER_FEATURES:
        events[name] = pd.to_numeric(events[name], errors="coerce")
    events["priority"] = "P" + events["priority"].str.strip()
    events = events.dropna(subset=["number", "opened_at", "sys_updated_at", "sys_mod_count"])
    events = events[events["priority"].isin(PRIORITIES)]
    events = events.sort_values(["number", "sys_mod_count", "sys_updated_at"], kind="stable")
    return events.reset_index(drop=True)


# --- incidents, their windows and deadlines -------------------------------------------------


def incident_outcomes(events: pd.DataFrame, policy: SlaPolicy = DEFAULT_POLICY) -> pd.DataFrame:
    """One row per incident (index `number`): when it opened and ended, whether and when it
    breached, its warning window and the timer baseline's flag.

    Columns: `opened_at`, `end` (resolution, else closure, else last update), `breached`,
    `deadline_at` (when it passed its resolution deadline unresolved; NaT if never),
    `window_end` (`deadline_at`, else `end`), `breach_at` (`window_end` of breached incidents),
    `timer_flag_at` (80 % of the target elapsed while unresolved; NaT if never).
    """
    intervals = state_intervals(events)
    outcomes = _incident_times(events)
    outcomes["deadline_at"] = _first_crossing(intervals, policy, 1.0).reindex(outcomes.index)
    outcomes["window_end"] = outcomes["deadline_at"].fillna(outcomes["end"])
    outcomes["breach_at"] = outcomes["window_end"].where(outcomes["breached"])
    timer = _first_crossing(intervals, policy, TIMER_FRACTION).reindex(outcomes.index)
    outcomes["timer_flag_at"] = timer.where(timer < outcomes["window_end"])
    return outcomes


def _incident_times(events: pd.DataFrame) -> pd.DataFrame:
    by_incident = events.groupby("number", sort=False)
    first = by_incident.head(1).set_index("number")
    last = by_incident.tail(1).set_index("number")
    end = last["resolved_at"].fillna(last["closed_at"]).fillna(last["sys_updated_at"])
    return pd.DataFrame(
        {
            "opened_at": first["opened_at"],
            "end": end.where(end > first["opened_at"], first["opened_at"]),
            "breached": last["made_sla"].str.strip().str.lower().eq("false"),
        }
    )


def state_intervals(events: pd.DataFrame) -> pd.DataFrame:
    """Each event's state with the interval it held while the incident was unresolved.

    An event holds from its update time (never before the incident opened; the first from the
    open time) to the next event, cut at the incident's end. Events after the end and
    superseded events of the same minute hold no time and are left out.

    Returns:
        The events' columns plus `start`, `stop`, `opened_at` and `end`.
    """
    times = _incident_times(events)
    frame = events.join(times[["opened_at", "end"]].add_prefix("incident_"), on="number")
    start = frame["sys_updated_at"].where(
        frame["sys_updated_at"] > frame["incident_opened_at"], frame["incident_opened_at"]
    )
    is_first = ~frame["number"].duplicated()
    start = start.where(~is_first, frame["incident_opened_at"])
    following = start.groupby(frame["number"], sort=False).shift(-1)
    stop = following.fillna(frame["incident_end"])
    stop = stop.where(stop < frame["incident_end"], frame["incident_end"])
    frame = frame.drop(columns=["opened_at"]).rename(
        columns={"incident_opened_at": "opened_at", "incident_end": "end"}
    )
    frame["start"], frame["stop"] = start, stop
    return frame[frame["start"] < frame["stop"]].reset_index(drop=True)


def _targets(frame: pd.DataFrame, policy: SlaPolicy) -> pd.Series:
    """The resolution target of each row's priority and queue (its assignment group)."""
    keys = list(zip(frame["priority"], frame["assignment_group"].fillna(""), strict=True))
    found = {key: policy.target("resolution", key[0], key[1] or None, None)[0] for key in set(keys)}
    return pd.Series([found[key] for key in keys], index=frame.index, dtype=object)


def _due(opened: pd.Series, targets: pd.Series, fraction: float) -> pd.Series:
    """When `fraction` of each target has elapsed since `opened`, on the target's clock."""
    within = pd.to_timedelta([t.within.total_seconds() * fraction for t in targets], unit="s")
    due = opened + pd.Series(within, index=opened.index)
    business = np.array([t.calendar is not None for t in targets], dtype=bool)
    if business.any():
        due[business] = [
            Target(t.within * fraction, t.calendar).due(o.to_pydatetime())
            for o, t in zip(opened[business], targets[business], strict=True)
        ]
    return due


def _first_crossing(intervals: pd.DataFrame, policy: SlaPolicy, fraction: float) -> pd.Series:
    """Per incident, the first moment it is unresolved with `fraction` of the target of its
    priority at that moment elapsed (NaT if it never is)."""
    due = _due(intervals["opened_at"], _targets(intervals, policy), fraction)
    moment = due.where(due > intervals["start"], intervals["start"])
    crossed = moment < intervals["stop"]
    return moment[crossed].groupby(intervals["number"][crossed]).min()


# --- scoring moments and their features ---------------------------------------------------


def scoring_moments(
    outcomes: pd.DataFrame, intervals: pd.DataFrame, rescore_every: timedelta | None
) -> pd.DataFrame:
    """When each incident is scored: at each of its events, and every `rescore_every` from
    opening, within its window.

    Returns:
        Columns `number`, `time` and `at_event` (True for an event, False for a sweep),
        sorted by time; one row per incident and instant (an event wins over a sweep).
    """
    window_end = intervals["number"].map(outcomes["window_end"])
    at_events = intervals.loc[intervals["start"] < window_end, ["number", "start"]]
    moments = [at_events.rename(columns={"start": "time"}).assign(at_event=True)]
    if rescore_every is not None and rescore_every > timedelta():
        step = pd.Timedelta(rescore_every)
        span = outcomes["window_end"] - outcomes["opened_at"]
        ticks = np.maximum(np.ceil(span / step).to_numpy().astype(int) - 1, 0)
        starts = outcomes["opened_at"].repeat(ticks)
        k = np.arange(ticks.sum()) - np.repeat(np.cumsum(ticks) - ticks, ticks) + 1
        times = starts.reset_index(drop=True) + pd.Series(k * step)
        moments.append(
            pd.DataFrame({"number": starts.index.to_numpy(), "time": times, "at_event": False})
        )
    frame = pd.concat(moments, ignore_index=True)
    frame = frame.sort_values(["number", "time", "at_event"]).drop_duplicates(
        ["number", "time"], keep="last"
    )
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def open_incidents(
    intervals: pd.DataFrame, moments: pd.DataFrame, groups: pd.Series
) -> pd.DataFrame:
    """Incidents unresolved at each moment: in the given assignment group and overall.

    Args:
        intervals: from `state_intervals`, of every incident (the queue state is shared).
        moments: sorted by `time`.
        groups: the group to count in, per moment (aligned with `moments`).

    Returns:
        Columns `open_in_group` and `open_total`, aligned with `moments`.
    """
    group = intervals["assignment_group"].fillna(_NO_GROUP)
    deltas = pd.concat(
        [
            pd.DataFrame({"group": group, "time": intervals["start"], "delta": 1}),
            pd.DataFrame({"group": group, "time": intervals["stop"], "delta": -1}),
        ]
    )
    per_group = deltas.groupby(["group", "time"])["delta"].sum().groupby(level=0).cumsum()
    per_group = per_group.rename("open_in_group").reset_index().sort_values("time")
    total = deltas.groupby("time")["delta"].sum().cumsum().rename("open_total").reset_index()
    left = pd.DataFrame(
        {"time": moments["time"].to_numpy(), "group": groups.fillna(_NO_GROUP).to_numpy()}
    )
    left["row"] = np.arange(len(left))
    in_group = pd.merge_asof(left, per_group, on="time", by="group", direction="backward")
    overall = pd.merge_asof(left[["time"]], total, on="time", direction="backward")
    counts = pd.DataFrame(
        {
            "open_in_group": in_group.sort_values("row")["open_in_group"].to_numpy(),
            "open_total": overall["open_total"].to_numpy(),
        },
        index=moments.index,
    )
    return counts.fillna(0)


def moment_features(
    moments: pd.DataFrame, intervals: pd.DataFrame, policy: SlaPolicy = DEFAULT_POLICY
) -> pd.DataFrame:
    """What is known about each incident at each scoring moment (aligned with `moments`).

    The incident's fields as of its last event (categorical, as strings), whether it has an
    assignee, its counters so far, hours elapsed since opening, left to the resolution deadline
    of its current priority and since its last event, the share of the target used, the hour and
    weekday, and the incidents open in its group and overall.
    """
    state = pd.merge_asof(
        moments.reset_index(names="row"),
        intervals.sort_values("start"),
        left_on="time",
        right_on="start",
        by="number",
        direction="backward",
    ).set_index("row")
    state.index = moments.index
    time = state["time"]
    target = _targets(state, policy)
    due = _due(state["opened_at"], target, 1.0)
    target_h = pd.Series([t.within / timedelta(hours=1) for t in target], index=state.index)
    features = state.loc[:, list(CATEGORICAL_FEATURES)].astype(object)
    features["assigned"] = state["assigned_to"].notna().astype(float)
    for name in COUNTER_FEATURES:
        features[name] = state[name].astype(float)
    elapsed_h = (time - state["opened_at"]) / _HOUR
    features["elapsed_h"] = elapsed_h
    features["time_left_h"] = (due - time) / _HOUR
    features["target_used"] = elapsed_h / target_h
    features["since_event_h"] = (time - state["start"]) / _HOUR
    features["hour"] = time.dt.hour.astype(float)
    features["weekday"] = time.dt.day_of_week.astype(float)
    features["opened_hour"] = state["opened_at"].dt.hour.astype(float)
    counts = open_incidents(intervals, moments, state["assignment_group"])
    return pd.concat([features, counts], axis=1)


# --- the risk model -------------------------------------------------------------------------


@dataclass
class IncidentRiskModel:
    """Breach probability of an open incident from `moment_features`."""

    categories: dict[str, list[str]]
    classifier: HistGradientBoostingClassifier

    @classmethod
    def fit(
        cls, features: pd.DataFrame, breached: np.ndarray, *, seed: int = 0
    ) -> IncidentRiskModel:
        """Train on scoring moments labelled with their incident's outcome.

        Raises:
            FailedPrecondition: the labels do not hold both breached and met incidents.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        if len(np.unique(breached)) < 2:
            raise FailedPrecondition(
                "the training incidents must include both breached and met ones; "
                "replay a longer log or move the split"
            )
        categories = {
            name: features[name].value_counts().index[:MAX_CATEGORIES].astype(str).tolist()
            for name in CATEGORICAL_FEATURES
        }
        model = cls(
            categories,
            HistGradientBoostingClassifier(
                max_iter=300,
                learning_rate=0.1,
                categorical_features="from_dtype",
                random_state=seed,
            ),
        )
        model.classifier.fit(model._encode(features), breached)
        return model

    def risk(self, features: pd.DataFrame) -> np.ndarray:
        """Breach probability per row."""
        return self.classifier.predict_proba(self._encode(features))[:, 1]

    def _encode(self, features: pd.DataFrame) -> pd.DataFrame:
        encoded = features.copy()
        for name, kept in self.categories.items():
            # Values unseen or rare in training become missing, which the trees handle.
            encoded[name] = pd.Categorical(features[name].astype("string"), categories=kept)
        return encoded


# --- flags and their figures ----------------------------------------------------------------


def first_flags(moments: pd.DataFrame, risk: np.ndarray, threshold: float) -> pd.Series:
    """Per incident, the first scoring moment with risk at or above `threshold`."""
    flagged = moments.loc[risk >= threshold]
    return flagged.groupby("number")["time"].min()


@dataclass(frozen=True, slots=True)
class FlagFigures:
    """How one way of flagging incidents warned of breaches."""

    name: str
    breaches: int
    met: int
    """Incidents that met their SLA."""
    flagged_breaches: int
    """Breaches flagged before they happened."""
    flagged_at_lead: int
    """Breaches flagged at least `min_lead` before they happened."""
    false_flags: int
    """Incidents flagged that met their SLA."""
    median_lead: timedelta | None
    """Median time from flag to breach over the flagged breaches."""
    min_lead: timedelta = MIN_LEAD

    @property
    def recall(self) -> float:
        """Share of breaches flagged before they happened."""
        return self.flagged_breaches / self.breaches if self.breaches else math.nan

    @property
    def recall_at_lead(self) -> float:
        """Share of breaches flagged at least `min_lead` before they happened."""
        return self.flagged_at_lead / self.breaches if self.breaches else math.nan

    @property
    def precision(self) -> float:
        """Share of flagged incidents that breached."""
        flagged = self.flagged_breaches + self.false_flags
        return self.flagged_breaches / flagged if flagged else math.nan

    @property
    def false_flag_rate(self) -> float:
        """Share of incidents that met their SLA but were flagged."""
        return self.false_flags / self.met if self.met else math.nan


def flag_figures(
    name: str, outcomes: pd.DataFrame, flag_at: pd.Series, *, min_lead: timedelta = MIN_LEAD
) -> FlagFigures:
    """Score flags against outcomes: a flag counts only inside the incident's window.

    Args:
        name: the method, for the table.
        outcomes: from `incident_outcomes` (`breached`, `window_end`).
        flag_at: flag time per incident (index `number`); incidents absent were not flagged.
        min_lead: the lead time `recall_at_lead` asks for.
    """
    flag = flag_at.reindex(outcomes.index)
    flagged = flag.notna() & (flag < outcomes["window_end"])
    breached = outcomes["breached"].astype(bool)
    lead = (outcomes["window_end"] - flag)[flagged & breached]
    median = lead.median() if len(lead) else None
    return FlagFigures(
        name=name,
        breaches=int(breached.sum()),
        met=int((~breached).sum()),
        flagged_breaches=int((flagged & breached).sum()),
        flagged_at_lead=int((lead >= pd.Timedelta(min_lead)).sum()),
        false_flags=int((flagged & ~breached).sum()),
        median_lead=None if median is None else median.to_pytimedelta(),
        min_lead=min_lead,
    )


# --- the replay -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayResult:
    """The comparison and what it was computed on."""

    source: str
    incidents: int
    train_incidents: int
    replayed_incidents: int
    replay_from: datetime
    """Open time of the first replayed incident (all training incidents opened before)."""
    breaches: int
    breaches_before_deadline: int
    """Replayed breaches resolved before the policy deadline (breach moment = resolution)."""
    thresholds: tuple[float, ...]
    rescore_every: timedelta | None
    train_moments: int
    """Scoring moments the model was fitted on (a sample of the training incidents')."""
    replay_moments: int
    rows: tuple[FlagFigures, ...]
    notes: tuple[str, ...] = ()
    """What else the reader should know, e.g. why a row is missing."""

    def row(self, name: str) -> FlagFigures:
        """The figures of one method (`TIMER_ROW` or a `model_row` name).

        Raises:
            NotFound: no such row.
        """
        for row in self.rows:
            if row.name == name:
                return row
        raise NotFound(f"no replay row {name!r}; rows: {[r.name for r in self.rows]}")


TIMER_ROW = f"timer: {TIMER_FRACTION:.0%} of target elapsed"
"""Name of the timer baseline's row."""


def model_row(threshold: float, rescore_every: timedelta | None) -> str:
    """Name of the risk model's row at `threshold`, re-scored at events (and sweeps)."""
    when = "events"
    if rescore_every:
        when += f" + every {format_duration(rescore_every)}"
    return f"risk >= {threshold:g} at {when}"


def combined_row(threshold: float) -> str:
    """Name of the row flagging at the live risk model's or the timer's flag, the earlier."""
    return f"risk >= {threshold:g} or timer"


def submission_row(threshold: float) -> str:
    """Name of the row of the scoring package's SLA-risk model, scored once at submission."""
    return f"scoring sla_risk >= {threshold:g} at submission"


@dataclass(frozen=True)
class SubmissionRisk:
    """Breach probabilities at submission from a model trained elsewhere (e.g. `scoring`)."""

    risk: pd.Series
    """Per incident number."""
    trained_on: frozenset[str]
    """The incidents the model was trained on (none may be replayed)."""


def service_row(threshold: float) -> str:
    """Name of the row of the service's live risk: the submission risk aged by the time left."""
    return f"service live risk >= {threshold:g}"


def service_live_risk(
    submission_risk: pd.Series, moments: pd.DataFrame, features: pd.DataFrame
) -> np.ndarray:
    """The live risk the service's sweep computes (`router.sla.sweep.live_risk`) at each
    scoring moment: the incident's risk at submission raised to the power time left / target.

    Args:
        submission_risk: per incident number.
        moments: the scoring moments (`number`).
        features: their `moment_features` (`elapsed_h`, `time_left_h`); the target is their
            sum, exact for calendar-time targets.
    """
    from router.sla.sweep import live_risk

    risk = moments["number"].map(submission_risk).to_numpy(dtype=float)
    left = features["time_left_h"].to_numpy(dtype=float)
    target = left + features["elapsed_h"].to_numpy(dtype=float)
    return np.array(
        [
            np.nan if value is None else value
            for value in (
                live_risk(r, timedelta(hours=t_left), timedelta(hours=t))
                for r, t_left, t in zip(risk, left, target, strict=True)
            )
        ]
    )


def escalation_thresholds(policy: EscalationPolicy) -> tuple[float, ...]:
    """The risk thresholds an escalation policy acts on: its at-risk flag and every level's
    `sla_risk_at_least`, ascending (the default policy gives 0.6 and 0.8)."""
    risks = {policy.at_risk.enter}
    for level in policy.levels:
        if level.trigger.sla_risk_at_least is not None:
            risks.add(level.trigger.sla_risk_at_least)
    return tuple(sorted(risks))


def replay_events(
    events: pd.DataFrame,
    policy: SlaPolicy = DEFAULT_POLICY,
    *,
    thresholds: Sequence[float] = (0.6, 0.8),
    rescore_every: timedelta | None = DEFAULT_RESCORE_EVERY,
    train_share: float = TRAIN_SHARE,
    max_train_moments: int = MAX_TRAIN_MOMENTS,
    min_lead: timedelta = MIN_LEAD,
    seed: int = 0,
    source: str = "events",
    submission: SubmissionRisk | None = None,
) -> ReplayResult:
    """Train on the earliest incidents, replay the rest, compare the model with the timer.

    Args:
        events: from `read_incident_log`.
        policy: the SLA policy that sets targets and deadlines.
        thresholds: risks at or above which the model flags (see `escalation_thresholds`).
        rescore_every: sweep interval between events (None: at events only).
        train_share: share of incidents, by open time, that trains the model.
        max_train_moments: the model is fitted on a random sample of at most this many of
            the training incidents' scoring moments.
        min_lead: lead time of `recall_at_lead`.
        seed: random state of the sample and the classifier.
        source: where the events came from, for the report.
        submission: risks at submission of another model, flagged at opening per threshold;
            left out (with a note) when it was trained on replayed incidents.

    Returns:
        The timer's row, then per threshold the model re-scored at events and sweeps, that or
        the timer (the earlier flag), (with a sweep) the model at events only, the
        `submission` model at opening and aged as the service's sweep does.

    Raises:
        InvalidArgument: a share or threshold out of range, or too few incidents to split.
        FailedPrecondition: the training incidents are all breached or all met.
    """
    if not 0 < train_share < 1:
        raise InvalidArgument(
            f"train_share {train_share} must be between 0 and 1", field="train_share"
        )
    if not thresholds or not all(0 <= t <= 1 for t in thresholds):
        raise InvalidArgument(
            f"risk thresholds {list(thresholds)} must be one or more values within 0..1",
            field="risk_threshold",
        )
    outcomes = incident_outcomes(events, policy)
    order = outcomes.sort_values("opened_at", kind="stable").index
    cut = round(len(order) * train_share)
    if cut == 0 or cut == len(order):
        raise InvalidArgument(
            f"{len(order)} incidents cannot be split {train_share:.0%} / "
            f"{1 - train_share:.0%}; the replay needs more incidents",
            field="incident_log",
        )
    train, replayed = order[:cut], order[cut:]
    intervals = state_intervals(events)
    moments = scoring_moments(outcomes, intervals, rescore_every)
    features = moment_features(moments, intervals, policy)
    labels = moments["number"].map(outcomes["breached"]).to_numpy(dtype=bool)
    is_train = moments["number"].isin(train).to_numpy()
    rng = np.random.default_rng(seed)
    fit_rows = np.flatnonzero(is_train)
    if len(fit_rows) > max_train_moments:
        fit_rows = np.sort(rng.choice(fit_rows, max_train_moments, replace=False))
    model = IncidentRiskModel.fit(features.iloc[fit_rows], labels[fit_rows], seed=seed)
    replay_moments = moments[~is_train]
    risk = model.risk(features[~is_train])
    test = outcomes.loc[replayed]
    at_event = replay_moments["at_event"].to_numpy()
    rows = [flag_figures(TIMER_ROW, test, test["timer_flag_at"].dropna(), min_lead=min_lead)]
    timer_flags = test["timer_flag_at"].dropna()
    for threshold in sorted(thresholds):
        flags = first_flags(replay_moments, risk, threshold)
        rows.append(
            flag_figures(model_row(threshold, rescore_every), test, flags, min_lead=min_lead)
        )
        # Escalation levels may fire on risk or on time left: whichever flags first.
        either = pd.concat([flags, timer_flags]).groupby(level=0).min()
        rows.append(flag_figures(combined_row(threshold), test, either, min_lead=min_lead))
        if rescore_every:
            flags = first_flags(replay_moments[at_event], risk[at_event], threshold)
            rows.append(flag_figures(model_row(threshold, None), test, flags, min_lead=min_lead))
    notes = []
    if submission is not None:
        leaked = submission.trained_on & set(replayed)
        if leaked:
            notes.append(
                f"the submission model was trained on {len(leaked)} replayed incidents: "
                "its rows are left out"
            )
        else:
            scored = submission.risk.reindex(replayed)
            ageing = service_live_risk(submission.risk, replay_moments, features[~is_train])
            for threshold in sorted(thresholds):
                flagged = scored.index[scored.to_numpy() >= threshold]
                flags = test.loc[flagged, "opened_at"]
                rows.append(flag_figures(submission_row(threshold), test, flags, min_lead=min_lead))
                flags = first_flags(replay_moments, ageing, threshold)
                rows.append(flag_figures(service_row(threshold), test, flags, min_lead=min_lead))
    return ReplayResult(
        source=source,
        incidents=len(outcomes),
        train_incidents=len(train),
        replayed_incidents=len(replayed),
        replay_from=test["opened_at"].min().to_pydatetime(),
        breaches=int(test["breached"].sum()),
        breaches_before_deadline=int((test["breached"] & test["deadline_at"].isna()).sum()),
        thresholds=tuple(sorted(thresholds)),
        rescore_every=rescore_every,
        train_moments=len(fit_rows),
        replay_moments=len(replay_moments),
        rows=tuple(rows),
        notes=tuple(notes),
    )


def replay_incident_log(
    path: Path = DEFAULT_INCIDENT_LOG,
    policy: SlaPolicy = DEFAULT_POLICY,
    *,
    with_scoring_model: bool = True,
    **options: Any,
) -> ReplayResult:
    """`replay_events` on the log at `path` (options as there), with the scoring package's
    SLA-risk model as the submission model when `with_scoring_model`.

    Raises:
        NotFound, InvalidArgument, FailedPrecondition: as `read_incident_log` and
            `replay_events`.
    """
    events = read_incident_log(path)
    submission = None
    if with_scoring_model:
        submission = scoring_submission_risk(path, seed=int(options.get("seed", 0)))
    result = replay_events(events, policy, source=str(path), submission=submission, **options)
    if with_scoring_model and submission is None:
        note = "no scoring-model rows: its adapter reads only <data root>/" + _STANDARD_LOG
        result = replace(result, notes=(*result.notes, note))
    return result


def scoring_submission_risk(path: Path, *, seed: int = 0) -> SubmissionRisk | None:
    """Train the `scoring` package's SLA-risk model (LightGBM, one row per incident at
    opening, with the queue state then) on its own time split of the log and score every
    incident at submission.

    Its adapter reads `<data root>/uci-incident-eventlog/incident_event_log.csv.gz`: a log
    elsewhere gives None. Its split is the same as the replay's (the earliest 80 % by open time,
    after dropping duplicates); `replay_events` checks that it trained on no replayed incident.
    """
    from scoring.datasets import incident_log
    from scoring.training import train_scorer

    data_root = path.parent.parent
    if data_root / _STANDARD_LOG != path:
        return None
    data = incident_log(data_root)
    scorer, split = train_scorer(data, ["sla_risk"], seed=seed)
    trained = split["data"].subset(split["train"])
    risk = scorer.probabilities_batch(data.tickets, data.queues)["sla_risk"]
    return SubmissionRisk(
        risk=pd.Series(risk, index=[t.attributes["incident"] for t in data.tickets]),
        trained_on=frozenset(t.attributes["incident"] for t in trained.tickets),
    )


# --- output ---------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f} %"


def _hours(value: timedelta | None) -> str:
    return "-" if value is None else f"{value / timedelta(hours=1):.1f} h"


def replay_table(result: ReplayResult) -> Table:
    """The comparison as a rich table."""
    from rich.table import Table

    lead = format_duration(result.rows[0].min_lead)
    table = Table(
        title=(
            f"Early breach warnings on {result.replayed_incidents} replayed incidents "
            f"(opened from {result.replay_from:%Y-%m-%d}; model trained on the "
            f"{result.train_incidents} opened before): {result.breaches} breaches"
        ),
        caption=(
            f"Breach moment: the policy's resolution deadline ({result.breaches_before_deadline}"
            " breaches resolved before it: their resolution). Model: scikit-learn "
            f"HistGradientBoostingClassifier fitted on {result.train_moments} scoring moments "
            f"of the training incidents; {result.replay_moments} replayed."
            + "".join(f" Note: {note}." for note in result.notes)
        ),
    )
    for name in (
        "method",
        "breaches flagged before (recall)",
        f"recall at lead >= {lead}",
        "median lead",
        "false flags (rate)",
        "precision",
    ):
        table.add_column(name, justify="left" if name == "method" else "right")
    for row in result.rows:
        table.add_row(
            row.name,
            f"{row.flagged_breaches} ({_percent(row.recall)})",
            _percent(row.recall_at_lead),
            _hours(row.median_lead),
            f"{row.false_flags} ({_percent(row.false_flag_rate)})",
            _percent(row.precision),
        )
    return table
