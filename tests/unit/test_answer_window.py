"""Until when a link takes answers: a week's answers are in before reporting shows the week, so no
late answer moves a figure leaders have already read; and a round is opened only for a week whose
links would take answers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.events import iso_week_of, monday_of
from wellpulse.common.settings import ConfigurationError
from wellpulse.intake.answer_window import first_week_taking_answers, last_answer_day, refuse_opening, takes_answers
from wellpulse.intake.settings import IntakeSettings
from wellpulse.reporting.publication import last_shown_week

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))


def test_a_link_takes_answers_through_its_sunday_and_then_is_closed() -> None:
    # 2026-W48 runs Monday 23 to Sunday 29 November.
    assert takes_answers("2026-W48", date(2026, 11, 23), 0)
    assert takes_answers("2026-W48", date(2026, 11, 29), 0)
    assert not takes_answers("2026-W48", date(2026, 11, 30), 0)
    assert takes_answers("2026-W48", date(2026, 11, 30), 1)
    assert not takes_answers("2026-W48", date(2026, 12, 1), 1)
    assert takes_answers("2026-W48", date(2027, 5, 1), 0, past_weeks=True)


@given(today=days, late=st.integers(min_value=0, max_value=10), extra=st.integers(min_value=1, max_value=10))
def test_no_week_takes_an_answer_once_reporting_shows_it(today: date, late: int, extra: int) -> None:
    """With reporting's delay above intake's, the week reporting shows last took its last answer
    at least a day before: nothing it shows can move."""
    shown = last_shown_week(today, publish_after_days=late + extra)
    assert not takes_answers(iso_week_of(shown), today, late)
    assert (today - last_answer_day(iso_week_of(shown), late)).days >= extra


@given(day=days)
def test_the_last_answer_day_is_the_weeks_sunday_plus_the_late_days(day: date) -> None:
    week = iso_week_of(day)
    assert last_answer_day(week, 0) == monday_of(week) + timedelta(days=6)
    assert last_answer_day(week, 0).weekday() == 6


def test_answering_weeks_gone_by_is_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="INTAKE_ANSWER_PAST_WEEKS is for development only"):
        IntakeSettings(answer_past_weeks=True, token_hash_key="a-real-secret", oidc_issuer="https://login.example.org")
    assert IntakeSettings(environment="development", answer_past_weeks=True).answer_past_weeks


def test_a_round_for_a_week_gone_by_is_refused_saying_which_weeks_can_be_opened() -> None:
    wednesday = date(2026, 12, 2)  # in 2026-W49
    refusal = refuse_opening("2026-W48", wednesday, 0)
    assert refusal is not None
    assert refusal.startswith("2026-W48 is over")
    assert "until 2026-11-29" in refusal
    assert refusal.endswith("A round can be opened for 2026-W49 or any later week.")
    assert refuse_opening("2026-W49", wednesday, 0) is None
    assert refuse_opening("2027-W02", wednesday, 0) is None
    # Three late days: last week's links take answers until Wednesday, so it can still be opened.
    assert refuse_opening("2026-W48", wednesday, 3) is None
    assert first_week_taking_answers(wednesday, 3) == "2026-W48"
    assert "2026-W47 is over" in (refuse_opening("2026-W47", wednesday, 3) or "")
    # Development's history: any week.
    assert refuse_opening("2021-W07", wednesday, 0, past_weeks=True) is None


@given(today=days, late=st.integers(min_value=0, max_value=27), offset=st.integers(min_value=-8, max_value=8))
def test_exactly_the_weeks_from_the_first_taking_answers_on_can_be_opened(today: date, late: int, offset: int) -> None:
    first = first_week_taking_answers(today, late)
    week = iso_week_of(monday_of(first) + timedelta(weeks=offset))
    assert (refuse_opening(week, today, late) is None) == (offset >= 0)
    assert (refuse_opening(week, today, late) is None) == takes_answers(week, today, late)
    assert monday_of(first) <= monday_of(iso_week_of(today))
