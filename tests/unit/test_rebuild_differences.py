"""Unit tests for the rebuild's diff of two read models: a merge of two key-ordered row streams
that counts rows only in one model and rows whose values differ, floats to within rounding."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellpulse.reporting.rebuild.differences import (
    Columns,
    Difference,
    Report,
    Row,
    TableComparison,
    compare_rows,
    same,
)

ROLLUP = Columns(("unit_id", "week_start", "measure"), ("n", "total", "total_sq"))
Model = dict[tuple[str, str, str], tuple[int, float, float]]


async def stream(model: Mapping[tuple[str, str, str], tuple[int, float, float]]) -> AsyncIterator[Row]:
    for key in sorted(model):
        yield Row(key, model[key])


async def rows(items: Iterable[Row]) -> AsyncIterator[Row]:
    for row in items:
        yield row


async def compare(live: Model, rebuilt: Model, examples: int = 10) -> TableComparison:
    return await compare_rows("own_rollups", ROLLUP, stream(live), stream(rebuilt), examples)


keys = st.tuples(
    st.sampled_from(["org", "dir-a", "dir-b", "team-1", "team-2", "Team-3", "équipe"]),
    st.sampled_from(["2026-11-02", "2026-11-09", "2026-11-16"]),
    st.sampled_from(["responses", "scale:demands", "item:C1", "family:intends_to_leave"]),
)
values = st.tuples(
    st.integers(min_value=1, max_value=10_000),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
models = st.dictionaries(keys, values, max_size=40)


@given(models)
async def test_a_model_equals_itself(model: Model) -> None:
    result = await compare(model, dict(model))
    assert (result.live_rows, result.rebuilt_rows) == (len(model), len(model))
    assert (result.differences, result.examples) == (0, [])


@given(models, st.randoms(use_true_random=False))
@settings(max_examples=200)
async def test_every_row_dropped_added_or_changed_is_counted_once(model: Model, rng: random.Random) -> None:
    rebuilt = dict(model)
    dropped, changed, rounded = set(), set(), set()
    for key in sorted(model):
        roll = rng.random()
        n, total, total_sq = model[key]
        if roll < 0.2:
            del rebuilt[key]
            dropped.add(key)
        elif roll < 0.4:
            rebuilt[key] = (n + 1, total, total_sq)  # one response more: never rounding
            changed.add(key)
        elif roll < 0.55:
            rebuilt[key] = (n, total + 0.5, total_sq)  # half a point on a 1-5 scale
            changed.add(key)
        elif roll < 0.7:
            # The same sums added in another order: the last bits differ, nothing else.
            rebuilt[key] = (n, total * (1 + 1e-14), total_sq * (1 - 1e-14))
            rounded.add(key)
    added = {("zz-new", "2026-11-02", "responses"), ("aa-new", "2026-11-09", "item:C1")} - model.keys()
    for key in added:
        rebuilt[key] = (1, 3.0, 9.0)

    result = await compare(model, rebuilt, examples=1000)

    assert result.only_live == len(dropped)
    assert result.only_rebuilt == len(added)
    assert result.differing == len(changed)
    assert (result.live_rows, result.rebuilt_rows) == (len(model), len(rebuilt))
    assert {d.key for d in result.examples} == dropped | added | changed
    assert not rounded & {d.key for d in result.examples}
    for d in result.examples:
        assert d.live == model.get(d.key)
        assert d.rebuilt == rebuilt.get(d.key)


@given(st.lists(st.floats(min_value=1, max_value=5, allow_nan=False), min_size=1, max_size=2000), st.randoms())
def test_the_same_answers_summed_in_another_order_are_the_same(answers: list[float], rng: random.Random) -> None:
    shuffled = list(answers)
    rng.shuffle(shuffled)
    live = (len(answers), sum(answers), sum(a * a for a in answers))
    # In batches, as a consumer with another batch size adds them.
    total = total_sq = 0.0
    for start in range(0, len(shuffled), 7):
        batch = shuffled[start : start + 7]
        total += sum(batch)
        total_sq += sum(a * a for a in batch)
    assert same(live, (len(shuffled), total, total_sq))


@pytest.mark.parametrize(
    ("live", "rebuilt", "equal"),
    [
        ((5, 15.0, 45.0), (5, 15.0, 45.0), True),
        ((5, 15.0, 45.0), (6, 15.0, 45.0), False),  # a count is exact
        ((5, 15.0, 45.0), (5, 15.000001, 45.0), False),  # a millionth of a point is not rounding
        ((5, 15.0, 45.0), (5, 15.0 + 1e-12, 45.0), True),
        (("dir", "Team", 10, False), ("dir", "Team", 10, False), True),
        (("dir", "Team", 10, False), ("org", "Team", 10, False), False),  # a moved unit
        ((None, "Org", 0, False), (None, "Org", 0, False), True),
        (("dir", "Team", 10, False), ("dir", "Team", 10, True), False),  # removed
        ((5, None, 1.0), (5, 0.0, 1.0), False),
        ((), (), True),
    ],
)
def test_values_are_equal_exactly_and_floats_to_within_rounding(
    live: tuple[object, ...], rebuilt: tuple[object, ...], equal: bool
) -> None:
    assert same(live, rebuilt) is equal


async def test_examples_are_the_first_differences_in_key_order_and_the_counts_cover_them_all() -> None:
    live: Model = {(f"team-{i:02}", "2026-11-02", "responses"): (5, 5.0, 5.0) for i in range(30)}
    rebuilt = {key: (6, 6.0, 6.0) for key in live}
    result = await compare(live, rebuilt, examples=3)
    assert result.differing == 30
    assert [d.key[0] for d in result.examples] == ["team-00", "team-01", "team-02"]


async def test_rows_out_of_key_order_are_refused_not_misreported() -> None:
    unordered = [Row(("b",), ()), Row(("a",), ())]
    with pytest.raises(ValueError, match="not in key order"):
        await compare_rows("applied_events", Columns(("event_id",), ()), rows(unordered), rows([]))
    duplicated = [Row(("a",), ()), Row(("a",), ())]
    with pytest.raises(ValueError, match="not in key order"):
        await compare_rows("applied_events", Columns(("event_id",), ()), rows([]), rows(duplicated))


async def test_the_report_names_each_column_and_says_which_side_a_row_is_missing_from() -> None:
    week = date(2026, 11, 2)
    comparison = await compare_rows(
        "subtree_rollups",
        ROLLUP,
        rows([Row(("dir", week, "responses"), (5, 5.0, 5.0)), Row(("org", week, "responses"), (9, 9.0, 9.0))]),
        rows([Row(("dir", week, "responses"), (6, 6.0, 6.0)), Row(("team", week, "responses"), (1, 1.0, 1.0))]),
    )
    report = Report([comparison, TableComparison("org_units", Columns(("unit_id",), ("parent_id",)))])
    assert not report.equal
    document = report.as_json()
    assert document["equal"] is False
    assert document["tables"]["org_units"]["examples"] == []
    table = document["tables"]["subtree_rollups"]
    assert (table["only_live"], table["only_rebuilt"], table["differing"]) == (1, 1, 1)
    assert table["examples"] == [
        {
            "key": {"unit_id": "dir", "week_start": "2026-11-02", "measure": "responses"},
            "live": {"n": 5, "total": 5.0, "total_sq": 5.0},
            "rebuilt": {"n": 6, "total": 6.0, "total_sq": 6.0},
        },
        {
            "key": {"unit_id": "org", "week_start": "2026-11-02", "measure": "responses"},
            "live": {"n": 9, "total": 9.0, "total_sq": 9.0},
            "rebuilt": None,
        },
        {
            "key": {"unit_id": "team", "week_start": "2026-11-02", "measure": "responses"},
            "live": None,
            "rebuilt": {"n": 1, "total": 1.0, "total_sq": 1.0},
        },
    ]


def test_a_report_with_no_differences_is_equal() -> None:
    assert Report([TableComparison("org_units", Columns(("unit_id",), ()), live_rows=3, rebuilt_rows=3)]).equal
    assert not Report([TableComparison("org_units", Columns(("unit_id",), ()), only_live=1)]).equal
    assert Difference(("a",), None, ()).live is None
