"""Sustained decline compares like with like: rotation alone never raises it, a real fall does.

A synthetic HSE scale of three items with very different levels is asked in a rotation, so the
scale's raw weekly mean swings with which items were asked. A stable population answering it must
raise nothing; a naive CUSUM on the raw scale mean (written below) is fooled by the same data; and
a real fall on every item is found within a few weeks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.alerts.decline import MIN_SD, combined_z, decline, weekly_z
from wellpulse.common.rollups import Sums

K, H = 0.5, 4.0  # the packaged defaults (rules_default.yaml)
FIRST = date(2026, 1, 5)  # a Monday
WEEKS = [FIRST + timedelta(weeks=i) for i in range(20)]
# Each item's true mean answer on a 1-5 scale: very different levels, as real items have.
LEVELS = {"DEM-01": 1.8, "DEM-02": 3.2, "DEM-03": 4.4}
# Which items are asked each week, cycling: one or two, never the same mix two weeks running.
ROTATION: list[tuple[str, ...]] = [("DEM-01",), ("DEM-02", "DEM-03"), ("DEM-01", "DEM-02"), ("DEM-03",)]
RESPONSES_PER_ITEM = 30
SPREAD = 0.8
DROP_WEEK = 12
SEED = 2026

Items = dict[str, dict[date, Sums]]


def sums_of(answers: Sequence[int]) -> Sums:
    return Sums(len(answers), float(sum(answers)), float(sum(a * a for a in answers)))


def pulse(seed: int, drop: float = 0.0, drop_week: int = DROP_WEEK) -> tuple[Items, list[Sums]]:
    """Per item, each week's sums; and the scale's raw weekly sums (all its answers that week).

    Every week draws the same number of answers in the same order, so the weeks before a drop are
    the same answers whatever the drop."""
    rng = random.Random(seed)
    items: Items = {code: {} for code in LEVELS}
    scale: list[Sums] = []
    for i, week in enumerate(WEEKS):
        answered: list[int] = []
        for code in ROTATION[i % len(ROTATION)]:
            level = LEVELS[code] - (drop if i >= drop_week else 0.0)
            answers = [min(5, max(1, round(rng.gauss(level, SPREAD)))) for _ in range(RESPONSES_PER_ITEM)]
            items[code][week] = sums_of(answers)
            answered += answers
        scale.append(sums_of(answered))
    return items, scale


def naive_cusum(weekly: Sequence[Sums], k: float, h: float) -> list[bool]:
    """The same lower CUSUM, but on the scale's raw weekly mean against all its earlier answers:
    unlike compared with unlike whenever the rotation changes the items. Whether it signals, per week."""
    statistic, history, signals = 0.0, Sums(), []
    for now in weekly:
        if history.n >= 2:
            before = history.total / history.n
            sd = max(math.sqrt(max(history.total_sq - history.n * before**2, 0.0) / (history.n - 1)), MIN_SD)
            z = (now.total / now.n - before) / (sd * math.sqrt(1 / now.n + 1 / history.n))
            statistic = max(0.0, statistic - z - k)
        history += now
        signals.append(statistic > h)
    return signals


def signals_by_week(items: Mapping[str, Mapping[date, Sums]]) -> list[bool]:
    """Whether decline() signals at the end of each week, given only the weeks so far."""
    return [decline(items, WEEKS[: i + 1], K, H) is not None for i in range(len(WEEKS))]


def test_rotation_moves_the_raw_scale_mean() -> None:
    """The premise: the raw weekly mean swings by more than a point with the rotation alone."""
    _, scale = pulse(SEED)
    means = [s.total / s.n for s in scale]
    assert max(means) - min(means) > 1.5


def test_a_stable_population_answering_rotating_items_raises_nothing() -> None:
    items, _ = pulse(SEED)
    assert signals_by_week(items) == [False] * len(WEEKS)


def test_a_naive_cusum_on_the_raw_scale_mean_is_fooled_by_the_rotation() -> None:
    """The same data, the same k and h: only comparing like with like keeps it quiet."""
    _, scale = pulse(SEED)
    assert any(naive_cusum(scale, K, H))


def test_a_real_drop_is_found_within_four_weeks_and_not_before() -> None:
    items, _ = pulse(SEED, drop=0.8)
    signals = signals_by_week(items)
    assert signals[:DROP_WEEK] == [False] * DROP_WEEK
    first = signals.index(True)
    assert DROP_WEEK <= first < DROP_WEEK + 4
    # Sustained: it keeps signalling while the fall lasts.
    assert all(signals[first:])
    signal = decline(items, WEEKS[: first + 1], K, H)
    assert signal is not None
    assert signal.statistic > H
    assert signal.since <= WEEKS[first]
    assert signal.weeks >= 1


def test_no_drop_no_signal_but_the_same_drop_signals() -> None:
    """The drop, not the seed, is what the previous test detects."""
    stable, _ = pulse(SEED)
    dropped, _ = pulse(SEED, drop=0.8)
    week = WEEKS[DROP_WEEK + 3]
    assert decline(stable, [w for w in WEEKS if w <= week], K, H) is None
    assert decline(dropped, [w for w in WEEKS if w <= week], K, H) is not None


def regap(items: Items, empty_sums: bool) -> tuple[Items, list[date], dict[date, date]]:
    """The same answers with an unasked week after each week (with Sums() rows when ``empty_sums``)."""
    moved = {week: FIRST + timedelta(weeks=2 * i) for i, week in enumerate(WEEKS)}
    gaps = [FIRST + timedelta(weeks=2 * i + 1) for i in range(len(WEEKS))]
    spaced: Items = {code: {moved[w]: s for w, s in history.items()} for code, history in items.items()}
    if empty_sums:
        for history in spaced.values():
            history.update(dict.fromkeys(gaps, Sums()))
    return spaced, sorted([*moved.values(), *gaps]), moved


@pytest.mark.parametrize("empty_sums", [False, True])
def test_weeks_where_no_item_is_asked_leave_the_statistic_unchanged(empty_sums: bool) -> None:
    items, _ = pulse(SEED, drop=0.8)
    spaced, weeks, moved = regap(items, empty_sums)
    for end in (DROP_WEEK + 1, DROP_WEEK + 4, len(WEEKS) - 1):
        plain = decline(items, WEEKS[: end + 1], K, H)
        # Up to and including the unasked week that follows week ``end``.
        gapped = decline(spaced, [w for w in weeks if w <= moved[WEEKS[end]] + timedelta(weeks=1)], K, H)
        assert plain is not None
        assert gapped is not None
        assert gapped.statistic == plain.statistic
        assert gapped.weeks == plain.weeks
        assert gapped.since == moved[plain.since]
    assert combined_z(spaced, weeks[1]) is None


def test_an_unasked_week_cannot_start_or_end_a_signal() -> None:
    assert decline({"DEM-01": {}}, WEEKS, K, H) is None
    assert decline({}, WEEKS, K, H) is None


def test_the_spread_floor_keeps_a_zero_variance_history_from_exploding() -> None:
    """Every earlier answer was 3: the sample spread is 0, so MIN_SD stands in for it."""
    history = {WEEKS[i]: Sums(30, 90.0, 270.0) for i in range(5)}
    history[WEEKS[5]] = Sums(30, 87.0, 255.0)  # mean 2.9
    z = weekly_z(history, WEEKS[5])
    assert MIN_SD == 0.5
    # By hand: (2.9 - 3) / (0.5 * sqrt(1/30 + 1/150)) = -0.1 / (0.5 * 0.2) = -1.
    assert z == pytest.approx(-1.0)
    assert decline({"DEM-01": history}, WEEKS[:6], K, H) is None


def test_a_real_spread_above_the_floor_is_used() -> None:
    # Earlier: 40 answers, half 2 and half 4: mean 3, sample variance 40/39.
    history = {WEEKS[0]: Sums(40, 120.0, 20 * 4 + 20 * 16.0), WEEKS[1]: Sums(10, 20.0, 40.0)}
    expected = (2.0 - 3.0) / (math.sqrt(40 / 39) * math.sqrt(1 / 10 + 1 / 40))
    assert weekly_z(history, WEEKS[1]) == pytest.approx(expected)


def test_an_item_needs_a_week_and_two_earlier_answers() -> None:
    assert weekly_z({WEEKS[0]: Sums(1, 3.0, 9.0), WEEKS[1]: Sums(30, 60.0, 120.0)}, WEEKS[1]) is None
    assert weekly_z({WEEKS[0]: Sums(30, 90.0, 270.0)}, WEEKS[1]) is None
    assert weekly_z({WEEKS[0]: Sums(30, 90.0, 270.0)}, WEEKS[0]) is None  # nothing earlier


def test_combined_z_is_stouffer_over_the_items_asked() -> None:
    flat = Sums(30, 90.0, 270.0)
    items = {
        "DEM-01": {WEEKS[0]: flat, WEEKS[1]: Sums(30, 87.0, 255.0)},  # mean 2.9
        "DEM-02": {WEEKS[0]: flat, WEEKS[1]: Sums(30, 84.0, 240.0)},  # mean 2.8
        "DEM-03": {WEEKS[0]: flat},  # not asked this week
    }
    z1 = -0.1 / (0.5 * math.sqrt(2 / 30))
    z2 = -0.2 / (0.5 * math.sqrt(2 / 30))
    assert combined_z(items, WEEKS[1]) == pytest.approx((z1 + z2) / math.sqrt(2))


@st.composite
def stable_rotations(draw: st.DrawFn) -> tuple[Items, list[date]]:
    """Items at any levels and spreads whose answers never change, asked in any rotation with any
    numbers of responses: only which items are asked, and how often, varies."""
    count = draw(st.integers(min_value=1, max_value=4))
    levels = [draw(st.floats(min_value=1, max_value=5)) for _ in range(count)]
    spreads = [draw(st.floats(min_value=0, max_value=2)) for _ in range(count)]
    weeks = WEEKS[: draw(st.integers(min_value=1, max_value=len(WEEKS)))]
    items: Items = {f"ITEM-{i}": {} for i in range(count)}
    for week in weeks:
        for i in draw(st.sets(st.integers(min_value=0, max_value=count - 1))):
            n = draw(st.integers(min_value=5, max_value=60))
            items[f"ITEM-{i}"][week] = Sums(n, n * levels[i], n * (levels[i] ** 2 + spreads[i] ** 2))
    return items, weeks


@given(stable_rotations(), st.floats(min_value=0, max_value=1.5), st.floats(min_value=0.5, max_value=10))
def test_rotation_alone_never_raises_a_decline(case: tuple[Items, list[date]], k: float, h: float) -> None:
    items, weeks = case
    for end in range(1, len(weeks) + 1):
        assert decline(items, weeks[:end], k, h) is None
