"""Unit tests for item rotation: short rounds, family items every week, every item asked regularly."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wellpulse.common.bank import QuestionBank, load_bank
from wellpulse.common.events import iso_week_of
from wellpulse.intake.rotation import MAX_ITEMS, RotationImpossible, check_rotation, items_for_week

ROUNDS_TO_ASK_EVERY_ITEM = 6


@cache
def bank() -> QuestionBank:
    return load_bank()


def family_codes() -> set[str]:
    return {item.code for item in bank().family_items()}


def all_codes() -> set[str]:
    return {item.code for item in bank().items}


_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31))
_year_ends = [date(2024, 12, 30), date(2026, 12, 28), date(2027, 1, 4), date(2032, 12, 27)]


def test_the_default_bank_needs_rotation() -> None:
    """The properties below are only interesting if the bank does not fit in one round."""
    assert len(bank().items) > MAX_ITEMS
    assert family_codes() == {"CASE-COUNT", "CASE-MANAGE", "BHD-4W", "LEAVE-JOB", "LEAVE-PROF"}


@given(_days)
@example(date(2026, 12, 28))  # 2026-W53
@example(date(2024, 1, 1))  # the rotation's first Monday
def test_a_round_is_short_has_every_family_item_and_no_repeats(day: date) -> None:
    asked = items_for_week(bank(), iso_week_of(day))

    assert len(asked) <= MAX_ITEMS
    assert len(asked) == MAX_ITEMS  # the bank has enough items to fill every round
    assert len(set(asked)) == len(asked)
    assert family_codes() <= set(asked)
    assert set(asked) <= all_codes()


@given(_days)
def test_the_same_week_always_asks_the_same_items(day: date) -> None:
    monday = day - timedelta(days=day.weekday())
    week = iso_week_of(day)

    assert items_for_week(bank(), week) == items_for_week(bank(), week)
    assert items_for_week(bank(), week) == items_for_week(bank(), iso_week_of(monday + timedelta(days=6)))


def test_consecutive_weeks_ask_different_rotating_items() -> None:
    first = set(items_for_week(bank(), "2026-W10")) - family_codes()
    second = set(items_for_week(bank(), "2026-W11")) - family_codes()

    assert first
    assert first != second


@given(_days)
@example(_year_ends[0])
@example(_year_ends[1])
@example(_year_ends[2])
@example(_year_ends[3])
def test_every_item_is_asked_within_six_consecutive_rounds(start: date) -> None:
    weeks = [iso_week_of(start + timedelta(weeks=i)) for i in range(ROUNDS_TO_ASK_EVERY_ITEM)]
    assert len(set(weeks)) == ROUNDS_TO_ASK_EVERY_ITEM

    asked: set[str] = set()
    for week in weeks:
        asked.update(items_for_week(bank(), week))

    assert asked == all_codes()


@given(_days, st.integers(min_value=3, max_value=20))
def test_a_smaller_or_larger_round_still_keeps_every_family_item(day: date, max_items: int) -> None:
    asked = items_for_week(bank(), iso_week_of(day), max_items)

    assert family_codes() <= set(asked)
    assert len(set(asked)) == len(asked)
    assert len(asked) == max(min(max_items, len(bank().items)), len(family_codes()))


def test_a_pulse_too_short_to_cover_the_bank_in_six_rounds_is_refused() -> None:
    bank = load_bank()
    family, rotating = len(bank.family_items()), len(bank.rotating_items())
    enough = family + -(-rotating // 6)
    check_rotation(bank, enough)
    with pytest.raises(RotationImpossible, match=f"at least {enough} items"):
        check_rotation(bank, enough - 1)
    with pytest.raises(RotationImpossible):
        check_rotation(bank, family - 1)
