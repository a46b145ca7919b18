"""Unit tests for reporting's pure core: what a response contributes, and the figures of a week
whose cells disclosure control has decided (here for a unit alone in its tree, where that is k)."""

from __future__ import annotations

import statistics
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.disclosure import OrgTree, shown_units
from wellpulse.common.events import AlertFamilies, ResponseScored
from wellpulse.common.measures import RESPONSES, measures_of
from wellpulse.common.rollups import Sums
from wellpulse.reporting.measures import Figure, week_figures

K = 5


def rollup(measure: str, values: list[float]) -> tuple[str, Sums]:
    return measure, Sums(len(values), sum(values), sum(v * v for v in values))


def responses(n: int) -> tuple[str, Sums]:
    return rollup(RESPONSES, [1.0] * n)


def figures(rows: list[tuple[str, Sums]], k: int) -> tuple[int | None, dict[str, Figure | None]]:
    """One week of a team alone in its tree: disclosure control decides each cell, then the figures."""
    cells = dict(rows)
    team = OrgTree({"team": None})
    shown = {m for m, cell in cells.items() if "team" in shown_units(team, lambda _u, c=cell: c.n, k)}
    return week_figures(cells, shown)


def scored(**changes: Any) -> ResponseScored:
    fields: dict[str, Any] = {
        "response_id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
        "pulse_id": "p-2026-W10-abcd1234",
        "unit_id": "team-a",
        "iso_week": "2026-W10",
        "scoring_version": "2026.1",
        "scales": {},
        "items": {},
        "families": AlertFamilies(),
    }
    fields.update(changes)
    return ResponseScored(**fields)


# --- suppression ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, K - 1])
def test_a_week_below_k_shows_nothing_at_all(n: int) -> None:
    rows = [responses(n), rollup("scale:demands", [3.0] * n), rollup("family:intends_to_leave", [1.0] * n)]

    assert figures(rows, K) == (None, {})


def test_a_week_with_no_responses_rollup_shows_nothing() -> None:
    # Measures without a respondent count cannot be shown: nobody knows how many people they cover.
    assert figures([rollup("scale:demands", [3.0] * 50)], K) == (None, {})


def test_a_week_of_exactly_k_is_shown() -> None:
    respondents, shown = figures([responses(K), rollup("scale:control", [2.0, 3.0, 4.0, 3.0, 3.0])], K)

    assert respondents == K
    assert shown == {"scale:control": Figure(K, 3.0, 0.7071)}


def test_a_measure_answered_by_fewer_than_k_is_hidden_while_others_show() -> None:
    rows = [
        responses(12),
        rollup("scale:demands", [2.0] * 12),
        rollup("item:DEM-01", [1.0, 2.0, 3.0, 4.0]),  # rotated in for only four people
        rollup("family:bullying_reported", [0.0] * 10 + [1.0] * 2),
    ]

    respondents, shown = figures(rows, K)

    assert respondents == 12
    assert shown["item:DEM-01"] is None
    assert shown["scale:demands"] == Figure(12, 2.0, 0.0)
    assert shown["family:bullying_reported"] == Figure(12, 0.1667, 0.3892)
    assert RESPONSES not in shown


def test_figures_are_listed_by_measure_name() -> None:
    rows = [responses(6), rollup("scale:role", [3.0] * 6), rollup("item:CON-01", [4.0] * 6)]

    _, shown = figures(rows, K)

    assert list(shown) == ["item:CON-01", "scale:role"]


def test_a_single_answer_has_no_spread() -> None:
    _, shown = figures([responses(1), rollup("scale:role", [4.0])], 1)

    assert shown == {"scale:role": Figure(1, 4.0, None)}


@given(
    st.integers(min_value=3, max_value=20).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.floats(min_value=1.0, max_value=5.0, allow_nan=False), min_size=k, max_size=200),
        )
    )
)
def test_mean_and_sd_from_the_sums_match_the_raw_values(case: tuple[int, list[float]]) -> None:
    k, values = case

    respondents, shown = figures([responses(len(values)), rollup("scale:demands", values)], k)

    assert respondents == len(values)
    figure = shown["scale:demands"]
    assert figure is not None
    assert figure.n == len(values)
    assert figure.mean == pytest.approx(statistics.mean(values), abs=1e-4)
    assert figure.sd is not None
    assert figure.sd == pytest.approx(statistics.stdev(values), abs=1e-4)


@given(st.integers(min_value=3, max_value=20), st.integers(min_value=0, max_value=40))
def test_nothing_is_shown_for_fewer_than_k(k: int, n: int) -> None:
    respondents, shown = figures([responses(n), rollup("scale:change", [3.0] * n)], k)

    if n < k:
        assert (respondents, shown) == (None, {})
    else:
        assert respondents == n
        assert shown["scale:change"] == Figure(n, 3.0, 0.0)


# --- what one response contributes ------------------------------------------------------------


def test_a_response_contributes_one_respondent_and_each_of_its_scores() -> None:
    event = scored(
        scales={"demands": 2.5, "control": 4.0},
        items={"DEM-01": 2.0, "DEM-02": 3.0, "CON-01": 4.0},
        families=AlertFamilies(cases_held=27, caseload_manageable=2, bullying="yes", intends_to_leave=True),
    )

    assert dict(measures_of(event)) == {
        "responses": 1.0,
        "scale:demands": 2.5,
        "scale:control": 4.0,
        "item:DEM-01": 2.0,
        "item:DEM-02": 3.0,
        "item:CON-01": 4.0,
        "family:intends_to_leave": 1.0,
        "family:bullying_reported": 1.0,
        "family:caseload_manageable": 2.0,
        "family:caseload_unmanageable": 1.0,
        "family:cases_held": 27.0,
    }


def test_each_measure_is_contributed_once() -> None:
    event = scored(scales={"role": 3.0}, items={"ROLE-01": 3.0}, families=AlertFamilies(bullying="no"))

    measures = [name for name, _ in measures_of(event)]

    assert len(measures) == len(set(measures))


def test_an_empty_response_still_counts_as_a_respondent() -> None:
    assert list(measures_of(scored())) == [("responses", 1.0)]


@pytest.mark.parametrize(("answer", "reported"), [("yes", 1.0), ("no", 0.0)])
def test_bullying_yes_and_no_make_the_reported_rate(answer: str, reported: float) -> None:
    measures = dict(measures_of(scored(families=AlertFamilies(bullying=answer))))

    assert measures["family:bullying_reported"] == reported


def test_prefer_not_to_say_contributes_no_bullying_measure() -> None:
    measures = dict(measures_of(scored(families=AlertFamilies(bullying="prefer_not_to_say"))))

    assert measures == {"responses": 1.0}


@pytest.mark.parametrize(("intends", "expected"), [(False, 0.0), (True, 1.0)])
def test_intent_to_leave_contributes_one_or_zero(intends: bool, expected: float) -> None:
    families = AlertFamilies(intends_to_leave=intends)

    assert dict(measures_of(scored(families=families)))["family:intends_to_leave"] == expected


@pytest.mark.parametrize(("score", "unmanageable"), [(1.0, 1.0), (2.0, 1.0), (2.5, 0.0), (5.0, 0.0)])
def test_a_caseload_scored_two_or_less_counts_as_unmanageable(score: float, unmanageable: float) -> None:
    measures = dict(measures_of(scored(families=AlertFamilies(caseload_manageable=score))))

    assert measures["family:caseload_manageable"] == score
    assert measures["family:caseload_unmanageable"] == unmanageable


def test_unanswered_leaving_items_contribute_no_intent_measure() -> None:
    assert "family:intends_to_leave" not in dict(measures_of(scored(families=AlertFamilies(cases_held=0))))


def test_zero_cases_held_is_still_a_value() -> None:
    assert dict(measures_of(scored(families=AlertFamilies(cases_held=0))))["family:cases_held"] == 0.0
