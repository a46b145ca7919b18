"""``common.disclosure_many`` decides many cells at once exactly as ``disclosure.shown_units``
decides each: random trees, random counts per cell, random focus, fragments of trees whose
children are only partly known. Where it cannot be exact it must say so (undecided), never guess."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellpulse.common import disclosure_many
from wellpulse.common.disclosure import ChildrenUnknown, OrgTree, shown_units


@st.composite
def trees(draw: st.DrawFn, max_units: int = 30) -> OrgTree:
    """Deep and wide enough to hide teams, services and directorates: each unit's parent is
    drawn among the earlier ones, favouring recent ones so that chains grow."""
    size = draw(st.integers(min_value=1, max_value=max_units))
    parents: dict[str, str | None] = {"u00": None}
    for i in range(1, size):
        earlier = sorted(parents)
        if i % 11 == 0 and draw(st.booleans()):
            parents[f"u{i:02d}"] = None  # another root now and then
        else:
            parents[f"u{i:02d}"] = earlier[draw(st.integers(min_value=max(0, i - 6), max_value=i - 1))]
    return OrgTree(parents)


def subtree_counts(tree: OrgTree, own: dict[str, int]) -> dict[str, int]:
    counts: dict[str, int] = {}

    def count(unit: str) -> int:
        if unit not in counts:
            counts[unit] = own[unit] + sum(count(c) for c in tree.children(unit))
        return counts[unit]

    for unit in tree.parents:
        count(unit)
    return counts


@st.composite
def cells_of(draw: st.DrawFn, tree: OrgTree, cells: int) -> list[dict[str, int]]:
    """Per cell, each unit's whole-subtree count; many units with no direct members, small teams."""
    made = []
    for _ in range(cells):
        own = {u: draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 8, 12])) for u in sorted(tree.parents)}
        made.append(subtree_counts(tree, own))
    return made


def reference(tree: OrgTree, counts: dict[str, int], k: int, focus: frozenset[str]) -> frozenset[str]:
    return shown_units(tree, counts.__getitem__, k, focus=focus)


def decide_many(
    tree: OrgTree, cells: list[dict[str, int]], k: int, focus: frozenset[str]
) -> list[frozenset[str] | None]:
    plan = disclosure_many.plan(tree, focus)
    if plan is None:
        return [None] * len(cells)
    made = disclosure_many.shown_many(plan, disclosure_many.counts_matrix(plan, cells), k)
    return [
        frozenset(plan.focus_units[i] for i in np.flatnonzero(made.shown[row])) if made.decided[row] else None
        for row in range(len(cells))
    ]


@settings(max_examples=400, deadline=None)
@given(trees(), st.integers(min_value=2, max_value=8), st.data())
def test_every_cell_decided_at_once_is_what_shown_units_decides(tree: OrgTree, k: int, data: st.DataObject) -> None:
    cells = data.draw(cells_of(tree, data.draw(st.integers(min_value=1, max_value=6))))
    focus = frozenset(data.draw(st.sets(st.sampled_from(sorted(tree.parents)), min_size=1, max_size=6)))
    for counts, decided in zip(cells, decide_many(tree, cells, k, focus), strict=True):
        if decided is not None:
            assert decided == reference(tree, counts, k, focus), counts


@settings(max_examples=300, deadline=None)
@given(trees(), st.integers(min_value=2, max_value=8), st.data())
def test_a_unit_and_its_children_as_the_views_ask_for_them(tree: OrgTree, k: int, data: st.DataObject) -> None:
    """The focus every window view decides for: a unit's chain and its children."""
    unit = data.draw(st.sampled_from(sorted(tree.parents)))
    focus = frozenset([*tree.chain(unit), *tree.children(unit)])
    cells = data.draw(cells_of(tree, 4))
    for counts, decided in zip(cells, decide_many(tree, cells, k, focus), strict=True):
        if decided is not None:
            assert decided == reference(tree, counts, k, focus)


@settings(max_examples=300, deadline=None)
@given(trees(), st.integers(min_value=2, max_value=8), st.data())
def test_in_a_fragment_of_the_tree_what_it_cannot_know_it_leaves_undecided(
    tree: OrgTree, k: int, data: st.DataObject
) -> None:
    """As ``cells.decide`` first holds it: the focus's chains complete and only some units beyond."""
    focus = frozenset(data.draw(st.sets(st.sampled_from(sorted(tree.parents)), min_size=1, max_size=3)))
    ancestors = {a for u in focus for a in tree.chain(u)[1:]}
    extra = data.draw(st.sets(st.sampled_from(sorted(tree.parents))))
    fragment = OrgTree(tree.parents, complete=frozenset(ancestors | extra))
    cells = data.draw(cells_of(tree, 3))
    plan = disclosure_many.plan(fragment, focus)
    wanted = disclosure_many.shown_many(plan, disclosure_many.counts_matrix(plan, cells), k).wanted if plan else None
    for counts, decided in zip(cells, decide_many(fragment, cells, k, focus), strict=True):
        if decided is None:
            if wanted is not None:  # it names what the reference would have asked for
                with pytest.raises(ChildrenUnknown) as asked:
                    reference(fragment, counts, k, focus)
                assert asked.value.unit in wanted
            continue
        assert decided == reference(tree, counts, k, focus)
        try:  # and the fragment alone would have given the same, had it been asked
            assert decided == reference(fragment, counts, k, focus)
        except ChildrenUnknown:
            raise AssertionError("decided a cell the fragment could not decide") from None


def test_a_team_beside_small_teams_is_decided_at_once_and_hidden_as_the_reference_hides_it() -> None:
    """The common case the module exists for: a service of leaf teams, one of them below k."""
    parents: dict[str, str | None] = {"root": None, "dir": "root", "svc": "dir", "other": "dir"}
    parents |= {f"t{i}": "svc" for i in range(6)} | {f"o{i}": "other" for i in range(4)}
    tree = OrgTree(parents)
    own = dict.fromkeys(parents, 0) | {"t0": 2, "t1": 5, "t2": 7, "t3": 9, "t4": 6, "t5": 11} | {"o0": 8}
    own |= {"o1": 6, "o2": 5, "o3": 9}
    counts = subtree_counts(tree, own)
    focus = frozenset(["root", "dir", "svc", "t1"])
    [decided] = decide_many(tree, [counts], 5, focus)
    assert decided is not None, "a leaf team hidden beside a small one is decided at once"
    assert decided == reference(tree, counts, 5, focus)
    assert "t1" not in decided  # svc − its shown teams would leave t0's 2: t1 (5, the smallest) goes too
    assert {"root", "dir", "svc"} <= decided


def test_many_cells_are_decided_at_once_in_trees_like_an_organisations() -> None:
    """Most cells of a plausible organisation are decided here, not left to the slow path."""
    rng = np.random.default_rng(4)
    parents: dict[str, str | None] = {"root": None}
    for d in range(5):
        parents[f"d{d}"] = "root"
        for s in range(6):
            parents[f"d{d}s{s}"] = f"d{d}"
            for t in range(8):
                parents[f"d{d}s{s}t{t}"] = f"d{d}s{s}"
    tree = OrgTree(parents)
    cells = []
    for _ in range(200):
        own = {u: int(rng.integers(0, 12)) if "t" in u.removeprefix("root") else 0 for u in parents}
        cells.append(subtree_counts(tree, own))
    focus = frozenset(["root", "d0", "d0s0", "d0s0t3"])
    answers = decide_many(tree, cells, 5, focus)
    assert all(a is not None for a in answers), "every unit's children are known: nothing is left undecided"
    for counts, decided in zip(cells, answers, strict=True):
        if decided is not None:
            assert decided == reference(tree, counts, 5, focus)


def test_units_with_members_of_their_own_hide_whole_services_and_directorates_as_the_reference() -> None:
    """Managers counted in a directorate or service of their own: remainders there of 1-4 make
    settling hide a service (and take its teams onto the heap) — the cascade, decided at once."""
    rng = np.random.default_rng(9)
    parents: dict[str, str | None] = {"root": None}
    for d in range(4):
        parents[f"d{d}"] = "root"
        for s in range(5):
            parents[f"d{d}s{s}"] = f"d{d}"
            for t in range(6):
                parents[f"d{d}s{s}t{t}"] = f"d{d}s{s}"
    tree = OrgTree(parents)
    cells = []
    for _ in range(300):
        own = {
            u: int(rng.integers(0, 10)) if "t" in u.removeprefix("root") else int(rng.integers(0, 3)) for u in parents
        }
        cells.append(subtree_counts(tree, own))
    focus = frozenset(["root", "d1", "d1s2", *tree.children("d1s2"), *tree.children("d1")])
    answers = decide_many(tree, cells, 5, focus)
    assert all(a is not None for a in answers)
    hid_a_service = 0
    for counts, decided in zip(cells, answers, strict=True):
        assert decided == reference(tree, counts, 5, focus)
        hid_a_service += any(counts[s] >= 5 and s not in decided for s in tree.children("d1"))
    assert hid_a_service >= 10, "the cascade through a hidden service was exercised"
