"""Disclosure control against the attacks it exists for: random trees and counts, and every
difference an onlooker can take between shown figures (parent − children, sibling against
sibling, any set of shown units below a shown one) never isolates fewer than k people."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellpulse.common.disclosure import ChildrenUnknown, CountUnknown, OrgTree, shown_units, window_shown


@st.composite
def organisations(draw: st.DrawFn, max_units: int = 12) -> tuple[OrgTree, dict[str, int]]:
    """A random tree and, per unit, the people in its whole subtree who answered this week."""
    size = draw(st.integers(min_value=1, max_value=max_units))
    parents: dict[str, str | None] = {"u0": None}
    for i in range(1, size):
        # Another root now and then: an organisation's tree may have loose ends.
        parent = draw(st.one_of(st.none(), st.sampled_from(sorted(parents)))) if i % 5 == 0 else None
        parents[f"u{i}"] = parent if i % 5 == 0 else draw(st.sampled_from(sorted(parents)))
    own = {unit: draw(st.integers(min_value=0, max_value=12)) for unit in parents}
    tree = OrgTree(parents)
    counts = {unit: _subtree(tree, unit, own) for unit in parents}
    return tree, counts


def _subtree(tree: OrgTree, unit: str, own: dict[str, int]) -> int:
    return own[unit] + sum(_subtree(tree, child, own) for child in tree.children(unit))


def _descendants(tree: OrgTree, unit: str) -> list[str]:
    found = []
    for child in tree.children(unit):
        found += [child, *_descendants(tree, child)]
    return found


def _antichains(tree: OrgTree, units: list[str]) -> list[tuple[str, ...]]:
    """Every set of the units in which none lies inside another: disjoint groups of people."""
    chains = {u: set(tree.chain(u)) for u in units}
    return [
        group
        for size in range(1, len(units) + 1)
        for group in combinations(units, size)
        if all(a not in chains[b] and b not in chains[a] for a, b in combinations(group, 2))
    ]


@settings(max_examples=300, deadline=None)
@given(organisations(), st.integers(min_value=2, max_value=8))
def test_no_difference_of_shown_figures_isolates_fewer_than_k(
    organisation: tuple[OrgTree, dict[str, int]], k: int
) -> None:
    tree, counts = organisation
    shown = shown_units(tree, counts.__getitem__, k)

    assert all(counts[u] >= k for u in shown), "a shown cell describes at least k people"
    for unit in shown:
        below = [d for d in _descendants(tree, unit) if d in shown]
        for group in _antichains(tree, below):
            rest = counts[unit] - sum(counts[d] for d in group)
            assert rest == 0 or rest >= k, f"{unit} minus {group} leaves {rest} people"


@settings(max_examples=200, deadline=None)
@given(organisations(), st.integers(min_value=3, max_value=8), st.data())
def test_deciding_for_a_few_units_gives_what_the_whole_tree_would(
    organisation: tuple[OrgTree, dict[str, int]], k: int, data: st.DataObject
) -> None:
    tree, counts = organisation
    focus = data.draw(st.sets(st.sampled_from(sorted(tree.parents)), min_size=1))

    assert shown_units(tree, counts.__getitem__, k, focus=focus) == shown_units(tree, counts.__getitem__, k) & focus


def test_deciding_for_one_team_reads_its_chain_and_the_units_beside_it_not_the_whole_tree() -> None:
    parents: dict[str, str | None] = {"org": None}
    for d in range(3):
        parents[f"d{d}"] = "org"
        for t in range(4):
            parents[f"d{d}t{t}"] = f"d{d}"
    tree = OrgTree(parents)
    counts = {u: 10 * (1 + len(tree.children(u)) * 4) if tree.children(u) else 10 for u in parents}
    counts["d0"] = 40
    counts["d1"], counts["d2"] = 40, 40
    counts["org"] = 120
    asked: set[str] = set()

    def count(unit: str) -> int:
        asked.add(unit)
        return counts[unit]

    assert shown_units(tree, count, 5, focus={"d1t2"}) == {"d1t2"}
    assert asked == {"org", "d0", "d1", "d2", "d1t0", "d1t1", "d1t2", "d1t3"}


@settings(max_examples=200, deadline=None)
@given(organisations(), st.integers(min_value=3, max_value=8))
def test_nothing_is_hidden_when_no_remainder_is_small(organisation: tuple[OrgTree, dict[str, int]], k: int) -> None:
    tree, counts = organisation
    big = {u for u in tree.parents if counts[u] >= k}

    def remainder(unit: str) -> int:
        return counts[unit] - sum(counts[c] for c in _topmost(tree, unit, big))

    if all(remainder(u) == 0 or remainder(u) >= k for u in big):
        assert shown_units(tree, counts.__getitem__, k) == big


def _topmost(tree: OrgTree, unit: str, big: set[str]) -> list[str]:
    return [c for c in tree.children(unit) if c in big]


def test_a_parent_and_all_but_one_child_never_give_the_last_child_away() -> None:
    # The directorate's 14 people: a team of 10 and a team of 4. Showing the directorate and the
    # team of 10 would give the team of 4 away; so the team of 10 is hidden too.
    tree = OrgTree({"dir": None, "big": "dir", "small": "dir"})
    counts = {"dir": 14, "big": 10, "small": 4}

    assert shown_units(tree, counts.__getitem__, 5) == {"dir"}


def test_the_next_smallest_sibling_is_hidden_not_the_biggest() -> None:
    tree = OrgTree({"dir": None, "a": "dir", "b": "dir", "c": "dir", "tiny": "dir"})
    counts = {"dir": 38, "a": 20, "b": 6, "c": 9, "tiny": 3}

    assert shown_units(tree, counts.__getitem__, 5) == {"dir", "a", "c"}


def test_direct_members_of_a_parent_count_as_its_remainder() -> None:
    # Two people attached to the directorate itself, beside two teams of 8: 2 < k, so one team goes.
    tree = OrgTree({"dir": None, "a": "dir", "b": "dir"})
    counts = {"dir": 18, "a": 8, "b": 8}

    assert shown_units(tree, counts.__getitem__, 5) == {"dir", "b"}


def test_hiding_a_unit_brings_its_shown_children_into_the_remainder() -> None:
    # root's 3 direct members are too few to stand alone: mid (the smaller of its two units) is
    # hidden; that exposes mid's two teams to root's remainder, which is still 3, so the smaller
    # team goes too, and root − other − team2 = 9 people.
    tree = OrgTree({"root": None, "mid": "root", "team1": "mid", "team2": "mid", "other": "root"})
    counts = {"root": 30, "mid": 12, "team1": 6, "team2": 6, "other": 15}

    assert shown_units(tree, counts.__getitem__, 5) == {"root", "other", "team2"}


def test_a_count_it_was_not_given_is_asked_for() -> None:
    tree = OrgTree({"dir": None, "a": "dir", "b": "dir"})
    counts = {"dir": 14, "a": 10}

    with pytest.raises(CountUnknown) as unknown:
        shown_units(tree, lambda u: counts[u] if u in counts else (_ for _ in ()).throw(CountUnknown(u)), 5)
    assert unknown.value.unit == "b"


def test_a_window_names_a_unit_only_if_every_contributing_week_shows_it() -> None:
    weeks = {"2026-W01": frozenset({"team"}), "2026-W02": frozenset(), "2026-W03": frozenset({"team"})}

    assert window_shown("team", weeks, {"2026-W01": 6, "2026-W02": 0, "2026-W03": 7})
    assert not window_shown("team", weeks, {"2026-W01": 6, "2026-W02": 2, "2026-W03": 7})
    assert not window_shown("team", weeks, {"2026-W01": 0, "2026-W02": 0, "2026-W03": 0})


def test_a_fragment_of_the_tree_asks_for_the_children_it_was_not_given() -> None:
    parents: dict[str, str | None] = {"org": None, "a": "org", "b": "org", "a1": "a", "a2": "a"}
    counts = {"org": 30, "a": 12, "b": 15, "a1": 6, "a2": 6}
    fragment = OrgTree(parents, complete=frozenset({"org"}))

    with pytest.raises(ChildrenUnknown) as unknown:
        shown_units(fragment, counts.__getitem__, 5, focus={"b"})
    assert unknown.value.unit == "a"  # org's remainder is 3: a is hidden, so its children matter
    whole = OrgTree(parents, complete=frozenset({"org", "a", "b", "a1", "a2"}))
    assert shown_units(whole, counts.__getitem__, 5, focus={"b"}) == shown_units(
        OrgTree(parents), counts.__getitem__, 5, focus={"b"}
    )


@st.composite
def weeks_of_answers(draw: st.DrawFn) -> tuple[OrgTree, list[dict[str, int]]]:
    """A random tree and, for three to five weeks, per unit the people in its subtree who answered."""
    tree, _ = draw(organisations(max_units=9))
    weeks = []
    for _ in range(draw(st.integers(min_value=3, max_value=5))):
        own = {unit: draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 11])) for unit in tree.parents}
        weeks.append({unit: _subtree(tree, unit, own) for unit in tree.parents})
    return tree, weeks


@settings(max_examples=300, deadline=None)
@given(weeks_of_answers(), st.integers(min_value=2, max_value=6), st.data())
def test_window_against_window_never_isolates_fewer_than_k(
    organisation: tuple[OrgTree, list[dict[str, int]]], k: int, data: st.DataObject
) -> None:
    """Figures over windows of weeks (a heatmap, an export, an alert) set against each other:
    overlapping windows of one unit, a unit's window against its shown units' windows, and any
    mix. Whatever is subtracted, week by week what is left is nobody or at least k people."""
    tree, weeks = organisation
    shown = [shown_units(tree, counts.__getitem__, k) for counts in weeks]
    span = range(len(weeks))
    windows = [tuple(span[a:b]) for a in span for b in range(a + 1, len(weeks) + 1)]

    def window_ok(unit: str, window: tuple[int, ...]) -> bool:
        by_week = {str(w): shown[w] for w in window}
        return window_shown(unit, by_week, {str(w): weeks[w][unit] for w in window})

    figures = [(u, w) for u in tree.parents for w in windows if window_ok(u, w)]
    for unit, window in figures:
        assert all(weeks[w][unit] == 0 or weeks[w][unit] >= k for w in window)
    if not figures:
        return
    # An onlooker takes one shown window figure and subtracts others it knows lie inside it.
    top_unit, top_window = data.draw(st.sampled_from(figures))
    inside = [
        (u, w)
        for u, w in figures
        if (u, w) != (top_unit, top_window) and top_unit in tree.chain(u) and set(w) <= set(top_window)
    ]
    subtracted = data.draw(st.lists(st.sampled_from(inside), unique=True, max_size=4)) if inside else []
    for week in top_window:
        taken = [u for u, w in subtracted if week in w]
        if any(a in tree.chain(b) or b in tree.chain(a) for a, b in combinations(taken, 2)):
            continue  # the same people subtracted twice: not a group an onlooker can isolate
        rest = weeks[week][top_unit] - sum(weeks[week][u] for u in taken)
        assert rest == 0 or rest >= k, f"week {week}: {top_unit} minus {taken} leaves {rest}"
