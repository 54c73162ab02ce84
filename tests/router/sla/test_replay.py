"""Incident-log replay on small synthetic logs: windows, timer flags, lead-time arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from router.cli import app
from router.errors import InvalidArgument, NotFound
from router.sla.escalation import DEFAULT_ESCALATION_POLICY
from router.sla.replay import (
    REQUIRED_COLUMNS,
    TIMER_ROW,
    SubmissionRisk,
    combined_row,
    escalation_thresholds,
    first_flags,
    flag_figures,
    incident_outcomes,
    model_row,
    moment_features,
    read_incident_log,
    replay_events,
    replay_incident_log,
    scoring_moments,
    service_live_risk,
    service_row,
    state_intervals,
    submission_row,
)

T0 = datetime(2016, 3, 1, tzinfo=UTC)


def at(hours: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(hours=hours))


def stamp(hours: float | None, start: datetime = T0) -> str:
    return "?" if hours is None else (start + timedelta(hours=hours)).strftime("%d/%m/%Y %H:%M")


def incident(
    number: str,
    updates: list[tuple[float, str, int]],
    *,
    resolved_h: float | None,
    made_sla: bool,
    group: str = "g1",
    category: str = "c1",
    opened: datetime = T0,
) -> list[dict[str, str]]:
    """Rows of one incident: (hours after opening, state, priority) per update, in order;
    `made_sla` on the last row (true before it, as the log has it)."""
    rows = []
    for n, (hours, state, priority) in enumerate(updates):
        last = n == len(updates) - 1
        row = dict.fromkeys(REQUIRED_COLUMNS, "?")
        row.update(
            number=number,
            incident_state=state,
            sys_mod_count=str(n),
            made_sla="true" if made_sla or not last else "false",
            opened_at=stamp(0, opened),
            sys_updated_at=stamp(hours, opened),
            resolved_at=stamp(resolved_h, opened),
            closed_at=stamp((resolved_h or hours) + 24, opened),
            priority=str(priority),
            impact="2",
            urgency="2",
            assignment_group=group,
            category=category,
            contact_type="Phone",
            opened_by="8",  # read by the scoring package's adapter
            reassignment_count="0",
            reopen_count="0",
            assigned_to="7" if n else "?",
        )
        rows.append(row)
    return rows


def write_log(path: Path, *incidents: list[dict[str, str]]) -> Path:
    frame = pd.DataFrame([row for rows in incidents for row in rows])
    frame.to_csv(path, index=False, compression="gzip")
    return path


def five_incidents(tmp_path: Path) -> Path:
    """Default policy, calendar time: P1 8 h (timer 6.4 h), P2 24 h (19.2 h), P3 72 h (57.6 h).

    A  P1, resolved at 10 h, breached: deadline 8 h, timer 6.4 h (lead 1.6 h).
    B  P3, resolved at 2 h, met: window ends at 2 h, no timer flag.
    C  P3, resolved at 60 h, met: timer flags at 57.6 h, a false flag.
    D  P3, resolved at 10 h, breached before the 72 h deadline: breach moment 10 h, timer none.
    E  P2 raised to P1 at 2 h, resolved at 20 h, breached: deadline 8 h (P1 from the original
       open time), timer 6.4 h.
    """
    return write_log(
        tmp_path / "log.csv.gz",
        incident("A", [(0, "New", 1), (1, "Active", 1), (30, "Closed", 1)], resolved_h=10,
                 made_sla=False),
        incident("B", [(0, "New", 3), (2, "Resolved", 3), (30, "Closed", 3)], resolved_h=2,
                 made_sla=True),
        incident("C", [(0, "New", 3), (60, "Resolved", 3), (90, "Closed", 3)], resolved_h=60,
                 made_sla=True, group="g2"),
        incident("D", [(0.5, "New", 3), (10, "Resolved", 3), (40, "Closed", 3)], resolved_h=10,
                 made_sla=False, group="g2"),
        incident("E", [(0, "New", 2), (2, "Active", 1), (44, "Closed", 1)], resolved_h=20,
                 made_sla=False, group="g2"),
    )  # fmt: skip


def test_reading_the_log_types_the_columns(tmp_path: Path) -> None:
    events = read_incident_log(five_incidents(tmp_path))
    assert len(events) == 15
    assert list(events["number"].unique()) == ["A", "B", "C", "D", "E"]
    assert events.loc[events["number"] == "E", "priority"].tolist() == ["P2", "P1", "P1"]
    assert events["opened_at"].iloc[0] == at(0)
    assert events["assigned_to"].isna().sum() == 5  # "?" is missing
    with pytest.raises(NotFound, match="does not exist"):
        read_incident_log(tmp_path / "missing.csv.gz")
    broken = tmp_path / "broken.csv"
    broken.write_text("number,made_sla\n1,true\n")
    with pytest.raises(InvalidArgument, match="lacks the columns"):
        read_incident_log(broken)


def test_breach_moments_windows_and_timer_flags(tmp_path: Path) -> None:
    outcomes = incident_outcomes(read_incident_log(five_incidents(tmp_path)))
    assert outcomes["breached"].to_dict() == dict(A=True, B=False, C=False, D=True, E=True)
    assert outcomes["deadline_at"].to_dict() == dict(A=at(8), B=pd.NaT, C=pd.NaT, D=pd.NaT, E=at(8))
    assert outcomes["window_end"].to_dict() == dict(A=at(8), B=at(2), C=at(60), D=at(10), E=at(8))
    assert outcomes["breach_at"].dropna().to_dict() == dict(A=at(8), D=at(10), E=at(8))
    assert outcomes["timer_flag_at"].dropna().to_dict() == dict(A=at(6.4), C=at(57.6), E=at(6.4))


def test_timer_figures_match_the_hand_computed_ones(tmp_path: Path) -> None:
    outcomes = incident_outcomes(read_incident_log(five_incidents(tmp_path)))
    timer = flag_figures(TIMER_ROW, outcomes, outcomes["timer_flag_at"].dropna())
    # Breaches A, D, E; met B, C. Flags: A and E 1.6 h before, C falsely; D never.
    assert (timer.breaches, timer.met) == (3, 2)
    assert (timer.flagged_breaches, timer.flagged_at_lead, timer.false_flags) == (2, 2, 1)
    assert timer.recall == pytest.approx(2 / 3)
    assert timer.recall_at_lead == pytest.approx(2 / 3)
    assert timer.median_lead == timedelta(hours=1, minutes=36)
    assert timer.precision == pytest.approx(2 / 3)
    assert timer.false_flag_rate == pytest.approx(1 / 2)


def test_flags_count_only_inside_the_window(tmp_path: Path) -> None:
    outcomes = incident_outcomes(read_incident_log(five_incidents(tmp_path)))
    flags = pd.Series({"A": at(0), "B": at(1), "C": at(61), "D": at(9.5), "E": at(9)})
    figures = flag_figures("model", outcomes, flags)
    # A 8 h ahead; D 0.5 h ahead (under 1 h); E after its breach (no warning); B falsely;
    # C after its window closed (resolved at 60 h): not a flag.
    assert (figures.flagged_breaches, figures.flagged_at_lead, figures.false_flags) == (2, 1, 1)
    assert figures.recall == pytest.approx(2 / 3)
    assert figures.recall_at_lead == pytest.approx(1 / 3)
    assert figures.median_lead == timedelta(hours=4, minutes=15)
    assert figures.precision == pytest.approx(2 / 3)
    assert figures.false_flag_rate == pytest.approx(1 / 2)
    nothing = flag_figures("none", outcomes, pd.Series(dtype="datetime64[ns, UTC]"))
    assert (nothing.recall, nothing.median_lead) == (0.0, None)
    assert np.isnan(nothing.precision)


def test_scoring_moments_are_events_and_sweeps_within_the_window(tmp_path: Path) -> None:
    events = read_incident_log(five_incidents(tmp_path))
    outcomes = incident_outcomes(events)
    intervals = state_intervals(events)
    moments = scoring_moments(outcomes, intervals, timedelta(hours=1))
    a = moments[moments["number"] == "A"]
    # Window 0..8 h: events at 0 and 1 h, sweeps at 1..7 h (the event at 1 h wins).
    assert a["time"].tolist() == [at(h) for h in range(8)]
    assert a["at_event"].tolist() == [True, True] + [False] * 6
    d = moments[moments["number"] == "D"]  # first update at 0.5 h: scored from opening
    assert d["time"].tolist()[:3] == [at(0), at(1), at(2)]
    only_events = scoring_moments(outcomes, intervals, None)
    assert only_events.groupby("number").size().to_dict() == dict(A=2, B=1, C=1, D=1, E=2)


def test_features_see_the_state_and_queue_at_each_moment(tmp_path: Path) -> None:
    events = read_incident_log(five_incidents(tmp_path))
    outcomes = incident_outcomes(events)
    intervals = state_intervals(events)
    moments = scoring_moments(outcomes, intervals, timedelta(hours=1))
    features = moment_features(moments, intervals)
    e = features[(moments["number"] == "E").to_numpy()]
    e_at = dict(
        zip(moments.loc[moments["number"] == "E", "time"], e.to_dict("records"), strict=True)
    )
    assert e_at[at(1)]["priority"] == "P2"
    assert e_at[at(1)]["time_left_h"] == pytest.approx(23)
    assert e_at[at(3)]["priority"] == "P1"  # raised at 2 h: 8 h from opening
    assert e_at[at(3)]["time_left_h"] == pytest.approx(5)
    assert e_at[at(3)]["incident_state"] == "Active"
    assert e_at[at(3)]["since_event_h"] == pytest.approx(1)
    # At 5 h: A open in g1 (B resolved at 2 h); C, D, E open in g2.
    assert (e_at[at(5)]["open_in_group"], e_at[at(5)]["open_total"]) == (3, 4)
    a5 = features[((moments["number"] == "A") & (moments["time"] == at(5))).to_numpy()]
    assert a5["open_in_group"].item() == 1


def test_service_live_risk_ages_the_submission_risk_by_the_time_left() -> None:
    moments = pd.DataFrame({"number": ["A", "A", "A", "B"]})
    features = pd.DataFrame({"elapsed_h": [0, 36, 72, 10], "time_left_h": [72, 36, 0, 62]})
    risk = service_live_risk(pd.Series({"A": 0.25}), moments, features)
    # 0.25 ** 1 at opening, 0.25 ** 0.5 halfway, 1 at the deadline; B has no risk.
    assert risk[:3] == pytest.approx([0.25, 0.5, 1.0])
    assert np.isnan(risk[3])


def test_first_flags_take_the_first_moment_at_or_above_the_threshold() -> None:
    moments = pd.DataFrame(
        {"number": ["A", "A", "A", "B", "B"], "time": [at(0), at(1), at(2), at(0), at(1)]}
    )
    risk = np.array([0.2, 0.6, 0.9, 0.59, 0.1])
    assert first_flags(moments, risk, 0.6).to_dict() == {"A": at(1)}
    assert first_flags(moments, risk, 0.5).to_dict() == {"A": at(1), "B": at(0)}


def learnable_log(tmp_path: Path, incidents: int = 120) -> Path:
    """P3 incidents opened 6 h apart: category `slow` is resolved at 100 h (breached), `fast`
    at 1 h (met). The model can tell at opening; the timer only at 57.6 h. Written where the
    scoring package's adapter finds it under the data root `tmp_path`."""
    rows = []
    for n in range(incidents):
        slow = n % 3 == 0
        resolved = 100.0 if slow else 1.0
        rows.append(
            incident(
                f"{n:04d}",
                [(0, "New", 3), (resolved, "Resolved", 3), (resolved + 24, "Closed", 3)],
                resolved_h=resolved,
                made_sla=not slow,
                category="slow" if slow else "fast",
                opened=T0 + timedelta(hours=6 * n),
            )
        )
    folder = tmp_path / "uci-incident-eventlog"
    folder.mkdir(exist_ok=True)
    return write_log(folder / "incident_event_log.csv.gz", *rows)


def test_a_live_risk_model_warns_earlier_than_the_timer(tmp_path: Path) -> None:
    events = read_incident_log(learnable_log(tmp_path))
    result = replay_events(events, thresholds=[0.5], rescore_every=timedelta(hours=4))
    assert (result.train_incidents, result.replayed_incidents) == (96, 24)
    assert result.replay_from == T0 + timedelta(hours=6 * 96)
    assert result.breaches == 8
    timer = result.row(TIMER_ROW)
    assert (timer.recall_at_lead, timer.false_flags) == (1.0, 0)
    assert timer.median_lead == timedelta(hours=14.4)
    model = result.row(model_row(0.5, timedelta(hours=4)))
    assert (model.recall_at_lead, model.false_flags) == (1.0, 0)
    assert model.median_lead == timedelta(hours=72)  # flagged at opening
    assert result.row(model_row(0.5, None)).median_lead == timedelta(hours=72)
    either = result.row(combined_row(0.5))  # the earlier of the two flags: the model's
    assert (either.recall_at_lead, either.median_lead) == (1.0, timedelta(hours=72))


def test_the_scoring_packages_model_is_replayed_at_submission(tmp_path: Path) -> None:
    path = learnable_log(tmp_path)
    result = replay_incident_log(path, thresholds=[0.5], rescore_every=None)
    at_submission = result.row(submission_row(0.5))
    assert (at_submission.recall_at_lead, at_submission.false_flags) == (1.0, 0)
    assert at_submission.median_lead == timedelta(hours=72)  # flagged at opening
    ageing = result.row(service_row(0.5))
    assert (ageing.recall_at_lead, ageing.false_flags) == (1.0, 0)
    assert result.notes == ()
    elsewhere = tmp_path / "elsewhere.csv.gz"
    elsewhere.write_bytes(path.read_bytes())
    without = replay_incident_log(elsewhere, thresholds=[0.5], rescore_every=None)
    assert [row.name for row in without.rows] == [
        TIMER_ROW,
        model_row(0.5, None),
        combined_row(0.5),
    ]
    assert "no scoring-model rows" in without.notes[0]


def test_a_submission_model_trained_on_replayed_incidents_is_left_out(tmp_path: Path) -> None:
    events = read_incident_log(learnable_log(tmp_path))
    numbers = events["number"].unique()
    leaky = SubmissionRisk(pd.Series(0.9, index=numbers), trained_on=frozenset(numbers))
    result = replay_events(events, thresholds=[0.5], rescore_every=None, submission=leaky)
    assert submission_row(0.5) not in [row.name for row in result.rows]
    assert "trained on 24 replayed incidents" in result.notes[0]


def test_replay_refuses_bad_settings(tmp_path: Path) -> None:
    events = read_incident_log(five_incidents(tmp_path))
    with pytest.raises(InvalidArgument, match="thresholds"):
        replay_events(events, thresholds=[1.5])
    with pytest.raises(InvalidArgument, match="between 0 and 1"):
        replay_events(events, train_share=1.0)
    assert escalation_thresholds(DEFAULT_ESCALATION_POLICY) == (0.6, 0.8)


def test_report_command_replays_a_log(tmp_path: Path) -> None:
    log = learnable_log(tmp_path)
    result = CliRunner().invoke(
        app,
        ["report", "--incident-log", "--incident-log-path", str(log), "--rescore-every", "4h"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    timer = next(line for line in lines if TIMER_ROW in line)
    assert "14.4 h" in timer
    assert any("risk >= 0.6 at events + every 4h" in line and "72.0 h" in line for line in lines)
    assert any("risk >= 0.8 at events " in line for line in lines)
    missing = CliRunner().invoke(
        app, ["report", "--incident-log", "--incident-log-path", str(tmp_path / "no.csv")]
    )
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
