"""The shared benchmark: percentiles of teams' scale means, which teams count, and the bands of
the HSE Analysis Tool convention."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.benchmark import Band, Lines, TeamWeek, band_lines, percentile, percentile_lines, team_means


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([1, 2, 3, 4], 20, 1.6),  # position 3 * 0.2 = 0.6: 1 + 0.6 * (2 - 1)
        ([1, 2, 3, 4], 50, 2.5),  # position 1.5
        ([10, 20, 30, 40, 50], 20, 18.0),  # position 0.8: 10 + 0.8 * 10
        ([50, 15, 40, 20, 35], 40, 29.0),  # sorted 15 20 35 40 50, position 1.6: 20 + 0.6 * 15
        ([3.1, 2.4, 2.9], 25, 2.65),  # sorted 2.4 2.9 3.1, position 0.5
        ([3.1, 2.4, 2.9], 0, 2.4),
        ([3.1, 2.4, 2.9], 100, 3.1),
        ([2.7], 20, 2.7),
        ([2.0, 2.0, 4.0], 75, 3.0),  # position 1.5: 2 + 0.5 * 2
    ],
)
def test_percentile_interpolates_linearly_between_closest_ranks(
    values: list[float], percent: float, expected: float
) -> None:
    assert percentile(values, percent) == pytest.approx(expected)


def test_percentile_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 20)


@given(
    values=st.lists(st.floats(min_value=1, max_value=5), min_size=1, max_size=30),
    low=st.floats(min_value=0, max_value=100),
    high=st.floats(min_value=0, max_value=100),
)
def test_percentile_is_within_the_values_and_grows_with_the_percent(
    values: list[float], low: float, high: float
) -> None:
    low, high = sorted((low, high))
    assert min(values) - 1e-9 <= percentile(values, low) <= percentile(values, high) + 1e-9
    assert percentile(values, high) <= max(values) + 1e-9


def test_a_percent_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="percent"):
        percentile([1.0, 2.0], 120)


@pytest.mark.parametrize(
    ("mean", "band"),
    [
        (1.0, Band.red),
        (2.99, Band.red),
        (3.0, Band.yellow),  # at the 20th percentile: no longer below it
        (3.49, Band.yellow),
        (3.5, Band.aqua),
        (3.99, Band.aqua),
        (4.0, Band.green),
        (5.0, Band.green),
    ],
)
def test_bands_follow_the_hse_analysis_tool_at_and_around_each_line(mean: float, band: Band) -> None:
    assert Lines(3.0, 3.5, 4.0).band(mean) is band


@given(st.lists(st.floats(min_value=1, max_value=5), min_size=5, max_size=40))
def test_about_a_fifth_of_the_teams_are_red_and_a_fifth_green(means: list[float]) -> None:
    [lines] = band_lines({"demands": means}, min_units=5).values()
    assert lines.units == len(means)
    assert lines.p20 <= lines.p50 <= lines.p80
    red = sum(lines.band(m) is Band.red for m in means)
    green = sum(lines.band(m) is Band.green for m in means)
    # Linear interpolation: at most the share below the 20th percentile's position, plus ties.
    assert red <= 0.2 * (len(means) - 1) + 1
    assert green >= 1  # the best team is always at or above the 80th percentile


def test_a_team_counts_only_if_every_week_it_answered_had_k_respondents() -> None:
    rows = [
        TeamWeek("steady", "demands", 6, 18.0),
        TeamWeek("steady", "demands", 5, 20.0),
        TeamWeek("one-thin-week", "demands", 9, 27.0),
        TeamWeek("one-thin-week", "demands", 4, 8.0),
        TeamWeek("quiet-week", "demands", 0, 0.0),  # a week with no row's worth of answers
        TeamWeek("quiet-week", "demands", 7, 21.0),
        TeamWeek("steady", "control", 3, 9.0),
    ]
    assert team_means(rows, k=5) == {"demands": [pytest.approx(3.0), pytest.approx(38 / 11)]}  # by team


def test_a_scale_with_fewer_teams_than_the_minimum_has_no_benchmark() -> None:
    means = {"demands": [3.0, 3.2, 3.4, 3.6, 3.8], "control": [3.0, 3.5, 4.0, 4.5]}
    assert set(percentile_lines(means, 20, min_units=5)) == {"demands"}
    assert set(band_lines(means, min_units=5)) == {"demands"}
    assert percentile_lines(means, 20, min_units=5)["demands"] == pytest.approx(3.16)
