"""The weekly schedule's plan: open this week's round once, send its links once, close the past."""

from __future__ import annotations

from datetime import date

from wellpulse.intake.schedule import Plan, plan
from wellpulse.intake.store import Round

TODAY = date(2026, 11, 25)  # a Wednesday in 2026-W48


def _round(pulse_id: str, week: str, status: str = "open", links: int = 0) -> Round:
    return Round(pulse_id, week, ("X",), "2026.1", status, links)


def test_a_new_week_opens_its_round_and_closes_the_last() -> None:
    rounds = [_round("p47", "2026-W47", links=30), _round("p46", "2026-W46", status="closed")]
    assert plan(TODAY, rounds, send_links=True) == Plan("2026-W48", ("p47",), None)


def test_this_weeks_round_gets_its_links_once() -> None:
    assert plan(TODAY, [_round("p48", "2026-W48")], send_links=True) == Plan(None, (), "p48")
    assert plan(TODAY, [_round("p48", "2026-W48", links=30)], send_links=True) == Plan(None, (), None)
    assert plan(TODAY, [_round("p48", "2026-W48")], send_links=False) == Plan(None, (), None)


def test_a_closed_current_round_is_left_alone() -> None:
    assert plan(TODAY, [_round("p48", "2026-W48", status="closed")], send_links=True) == Plan(None, (), None)


def test_weeks_compare_across_a_year_boundary() -> None:
    january = date(2027, 1, 6)  # 2027-W01
    rounds = [_round("p53", "2026-W53"), _round("p01", "2027-W01", links=5)]
    assert plan(january, rounds, send_links=True) == Plan(None, ("p53",), None)
