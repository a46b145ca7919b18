"""Until when a link takes answers: a week's answers are in before reporting shows the week, so no
late answer moves a figure leaders have already read."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.events import iso_week_of, monday_of
from wellpulse.common.settings import ConfigurationError
from wellpulse.intake.answer_window import last_answer_day, takes_answers
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
