"""Unit tests for the intent-to-leave alert rule: who is named, when, and over which weeks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.alerts.rules import Decision, IntentToLeaveRule, WindowCounts
from wellpulse.common.events import iso_week_of

RULE = IntentToLeaveRule(threshold=0.5, min_group=5)


def counts(unit_id: str, leave_answered: int, leavers: int, respondents: int | None = None) -> WindowCounts:
    return WindowCounts(
        unit_id=unit_id,
        respondents=leave_answered if respondents is None else respondents,
        leave_answered=leave_answered,
        leavers=leavers,
    )


def test_names_the_submitting_unit_when_it_is_big_enough() -> None:
    chain = [counts("team-a", 6, 4), counts("service", 40, 30), counts("org", 400, 300)]

    assert RULE.evaluate(chain) == Decision("team-a", 6, 4 / 6)


def test_climbs_to_the_first_unit_with_at_least_k_answers() -> None:
    chain = [
        counts("team-a", 4, 4),
        counts("service", 3, 3),
        counts("directorate", 8, 6),
        counts("org", 90, 9),
    ]

    assert RULE.evaluate(chain) == Decision("directorate", 8, 0.75)


def test_counts_the_people_who_answered_the_leaving_items_not_all_respondents() -> None:
    # Twelve responded, but only four answered the leaving items: too few to name the team.
    chain = [counts("team-a", 4, 4, respondents=12), counts("service", 10, 6, respondents=30)]

    decision = RULE.evaluate(chain)

    assert decision == Decision("service", 10, 0.6)


def test_nobody_is_named_when_no_unit_in_the_chain_reaches_k() -> None:
    chain = [counts("team-a", 4, 4), counts("service", 4, 4), counts("org", 4, 4)]

    assert RULE.evaluate(chain) is None


def test_nobody_is_named_for_an_empty_chain() -> None:
    assert RULE.evaluate([]) is None


def test_below_the_threshold_nothing_is_raised() -> None:
    assert RULE.evaluate([counts("team-a", 10, 4)]) is None


def test_the_smallest_nameable_unit_decides_even_if_its_parent_is_above_threshold() -> None:
    # The parent is evaluated on its own when its other teams submit; naming it here would blame
    # a healthy team's submission on someone else's unit.
    chain = [counts("team-a", 5, 0), counts("service", 20, 18)]

    assert RULE.evaluate(chain) is None


def test_a_share_equal_to_the_threshold_raises() -> None:
    rule = IntentToLeaveRule(threshold=0.25, min_group=4)

    assert rule.evaluate([counts("team-a", 8, 2)]) == Decision("team-a", 8, 0.25)
    assert rule.evaluate([counts("team-a", 9, 2)]) is None


def test_exactly_k_answers_is_enough_to_be_named() -> None:
    assert RULE.evaluate([counts("team-a", 5, 3)]) == Decision("team-a", 5, 0.6)
    assert RULE.evaluate([counts("team-a", 4, 3), counts("org", 5, 3)]) == Decision("org", 5, 0.6)


def test_window_spans_the_rules_weeks_and_ends_at_the_given_monday() -> None:
    start, end = RULE.window(date(2026, 3, 30))

    assert (start, end) == (date(2026, 3, 9), date(2026, 3, 30))


def test_window_crosses_the_year_boundary() -> None:
    start, end = IntentToLeaveRule(threshold=0.5, min_group=5, window_weeks=3).window(date(2027, 1, 11))

    assert iso_week_of(start) == "2026-W53"
    assert iso_week_of(end) == "2027-W02"


_mondays = st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)).map(
    lambda d: d - timedelta(days=d.weekday())
)


@given(_mondays, st.integers(min_value=1, max_value=26))
def test_window_holds_exactly_window_weeks_mondays(monday: date, weeks: int) -> None:
    start, end = IntentToLeaveRule(threshold=0.5, min_group=5, window_weeks=weeks).window(monday)

    mondays = [start + timedelta(weeks=i) for i in range((end - start).days // 7 + 1)]
    assert end == monday
    assert start.weekday() == 0
    assert len(mondays) == weeks
    assert len({iso_week_of(m) for m in mondays}) == weeks


@st.composite
def chains(draw: st.DrawFn) -> list[WindowCounts]:
    size = draw(st.integers(min_value=0, max_value=6))
    chain = []
    for i in range(size):
        answered = draw(st.integers(min_value=0, max_value=40))
        leavers = draw(st.integers(min_value=0, max_value=answered))
        chain.append(counts(f"unit-{i}", answered, leavers))
    return chain


@given(
    chains(),
    st.integers(min_value=3, max_value=20),
    st.floats(min_value=0.01, max_value=1.0, allow_nan=False),
)
def test_the_named_unit_always_has_at_least_k_answers(
    chain: list[WindowCounts], min_group: int, threshold: float
) -> None:
    rule = IntentToLeaveRule(threshold=threshold, min_group=min_group)

    decision = rule.evaluate(chain)

    nameable = [c for c in chain if c.leave_answered >= min_group]
    if decision is None:
        assert not nameable or nameable[0].leavers / nameable[0].leave_answered < threshold
        return
    named = next(c for c in chain if c.unit_id == decision.unit_id)
    assert named.leave_answered >= min_group
    assert named is nameable[0]  # the smallest nameable unit, never one further up
    assert decision.respondents == named.leave_answered
    assert decision.value == pytest.approx(named.leavers / named.leave_answered)
    assert decision.value >= threshold
