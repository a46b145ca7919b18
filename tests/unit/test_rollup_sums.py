"""A batch's rollup increments: summed per own row, then fanned out to every ancestor, they are
what adding each contribution to its unit and every ancestor one at a time gives."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.rollups import Contribution, Key, Sums, own_sums, subtree_sums

UNITS = ("root", "dir", "team-a", "team-b", "ghost")
# team-a and team-b under dir under root; "ghost" is a unit the tree does not know (no chain).
CHAINS = {
    "root": ["root"],
    "dir": ["dir", "root"],
    "team-a": ["team-a", "dir", "root"],
    "team-b": ["team-b", "dir", "root"],
}
MONDAY = date(2026, 11, 23)

contributions = st.lists(
    st.builds(
        Contribution,
        st.sampled_from(UNITS),
        st.integers(0, 2).map(lambda i: MONDAY - timedelta(weeks=i)),
        st.sampled_from(("responses", "scale:demands", "item:D1")),
        st.floats(1, 5, allow_nan=False),
    ),
    max_size=60,
)


def one_at_a_time(batch: list[Contribution], fan_out: bool) -> dict[Key, Sums]:
    sums: dict[Key, Sums] = defaultdict(Sums)
    for c in batch:
        for unit in CHAINS.get(c.unit_id, [c.unit_id]) if fan_out else [c.unit_id]:
            sums[(unit, c.week_start, c.measure)] += Sums(1, c.value, c.value * c.value)
    return dict(sums)


def same(got: dict[Key, Sums], expected: dict[Key, Sums]) -> None:
    assert got.keys() == expected.keys()
    for key, sums in expected.items():
        assert got[key].n == sums.n, key
        assert math.isclose(got[key].total, sums.total, rel_tol=1e-9), key
        assert math.isclose(got[key].total_sq, sums.total_sq, rel_tol=1e-9), key


@given(contributions)
def test_own_rows_are_the_contributions_summed_per_unit_week_and_measure(batch: list[Contribution]) -> None:
    same(own_sums(batch), one_at_a_time(batch, fan_out=False))


@given(contributions)
def test_subtree_rows_are_every_contribution_added_to_its_unit_and_each_ancestor(batch: list[Contribution]) -> None:
    same(subtree_sums(own_sums(batch), CHAINS), one_at_a_time(batch, fan_out=True))


@given(contributions, contributions)
def test_two_batches_add_up_to_the_one_batch_of_both(first: list[Contribution], second: list[Contribution]) -> None:
    # A consumer's batches are cut wherever the broker cuts them: the rows must not depend on it.
    apart: dict[Key, Sums] = defaultdict(Sums)
    for batch in (first, second):
        for key, sums in subtree_sums(own_sums(batch), CHAINS).items():
            apart[key] += sums
    same(dict(apart), subtree_sums(own_sums(first + second), CHAINS))


def test_a_unit_outside_the_tree_keeps_its_own_subtree_row_only() -> None:
    rows = subtree_sums(own_sums([Contribution("ghost", MONDAY, "responses", 1.0)] * 3), CHAINS)
    assert rows == {("ghost", MONDAY, "responses"): Sums(3, 3.0, 3.0)}
