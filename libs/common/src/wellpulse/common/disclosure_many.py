"""Disclosure control for many cells of one tree at once: ``disclosure.shown_units`` with focus,
worked out with numpy across cells, so that a trend's or a heatmap's hundreds of cells do not each
walk the tree in Python.

Every cell goes through the same steps as in ``shown_units``, in the same order: the focus units'
ancestors top down, each shown one whose remainder (its count minus its children of at least
``k``) is between 0 and ``k`` hiding the smallest unit on its heap (by count, then unit id), whose
own children of at least ``k`` then join the heap, until the remainder is 0 or ``k`` or more. The
cells move through those steps together, one array operation per step. A cell whose settling
reaches a unit the tree does not hold the children of is left undecided here, for ``shown_units``
to decide alone (and ask for them): the answer is always exactly the reference's, which the
property tests in tests/unit/test_disclosure_many.py check.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from wellpulse.common.disclosure import ChildrenUnknown, CountUnknown, OrgTree, ancestors_first


@dataclass(frozen=True)
class Plan:
    """What deciding for some focus units reads of the tree: the same for every cell."""

    units: tuple[str, ...]  # the columns: every unit whose count a decision may read
    focus: np.ndarray  # the focus units' columns
    # Per ancestor to settle, top down: its column and its children's columns.
    settles: tuple[tuple[int, np.ndarray], ...]
    # Per column, its children's columns; None where the tree does not hold them.
    children: tuple[np.ndarray | None, ...]
    # Per column, the rank of its unit id: ties between equal counts go to the lowest id first.
    ranks: np.ndarray

    @property
    def focus_units(self) -> tuple[str, ...]:
        return tuple(self.units[c] for c in self.focus)


def plan(tree: OrgTree, focus: Collection[str]) -> Plan | None:
    """The plan for ``focus``, or None when the tree lacks the children of a unit to settle.

    Its columns are the focus units, their ancestors, the ancestors' children and, below those,
    every unit whose children the tree holds: all that settling can hide or count."""
    columns: dict[str, int] = {}
    below: list[np.ndarray | None] = []

    def column(unit: str) -> int:
        if unit not in columns:
            columns[unit] = len(columns)
            below.append(None)
        return columns[unit]

    settles = []
    try:
        examined = ancestors_first(tree, frozenset(focus))
        for ancestor in examined:
            settles.append((column(ancestor), np.array([column(c) for c in tree.children(ancestor)], dtype=np.intp)))
    except ChildrenUnknown:
        return None
    queue = list(columns)
    while queue:
        unit = queue.pop()
        try:
            children = tree.children(unit)
        except ChildrenUnknown:
            continue  # may hold anything: a cell whose settling reaches below it is left undecided
        fresh = [c for c in children if c not in columns]
        below[column(unit)] = np.array([column(c) for c in children], dtype=np.intp)
        queue.extend(fresh)
    for unit in focus:
        column(unit)
    units = tuple(columns)
    ranks = np.empty(len(units), dtype=np.int64)
    ranks[np.argsort(np.array(units, dtype=object), kind="stable")] = np.arange(len(units))
    return Plan(units, np.array([columns[u] for u in focus], dtype=np.intp), tuple(settles), tuple(below), ranks)


@dataclass(frozen=True)
class Decisions:
    shown: np.ndarray  # cells × focus: may the focus unit (``plan.focus_units`` order) be shown
    decided: np.ndarray  # cells: False where ``shown`` means nothing, for want of children
    wanted: frozenset[str]  # the units whose children the undecided cells need


def shown_many(plan: Plan, counts: np.ndarray, k: int) -> Decisions:
    """For each cell (a row of ``counts``, one column per ``plan.units``): which focus units may
    be shown; and where a cell's settling reached a unit whose children the tree does not hold,
    that the cell is undecided and which units' children would decide it."""
    if k < 1:
        raise ValueError("k must be at least 1")
    cells, width = counts.shape
    hidden = np.zeros(counts.shape, dtype=bool)
    decided = np.ones(cells, dtype=bool)
    wanted: set[str] = set()
    # The heap's order in ``shown_units``: by count, then unit id.
    order = counts * width + plan.ranks
    last = np.iinfo(np.int64).max
    for ancestor, children in plan.settles:
        if children.size == 0:
            continue
        child_counts = counts[:, children]
        big = child_counts >= k
        remainder = counts[:, ancestor] - np.where(big, child_counts, 0).sum(axis=1)
        # Nothing below a shown ancestor has been hidden yet (``shown_units`` settles top down).
        settling = ~hidden[:, ancestor] & (counts[:, ancestor] >= k) & decided
        if not (settling & (remainder > 0) & (remainder < k)).any():
            continue
        frontier = np.zeros(counts.shape, dtype=bool)  # the heap: shown units, topmost below the ancestor
        frontier[:, children] = big
        while (rows := np.flatnonzero(settling & decided & (remainder > 0) & (remainder < k))).size:
            smallest = np.argmin(np.where(frontier[rows], order[rows], last), axis=1)
            hidden[rows, smallest] = True
            frontier[rows, smallest] = False
            remainder[rows] += counts[rows, smallest]
            for unit in np.unique(smallest):
                picked = rows[smallest == unit]
                grandchildren = plan.children[unit]
                if grandchildren is None:
                    decided[picked] = False  # what is below it is not known here
                    wanted.add(plan.units[unit])
                    continue
                if grandchildren.size == 0:
                    continue
                # Its shown children go on the heap, and their people out of the remainder.
                pushed = counts[np.ix_(picked, grandchildren)] >= k
                frontier[np.ix_(picked, grandchildren)] |= pushed
                remainder[picked] -= np.where(pushed, counts[np.ix_(picked, grandchildren)], 0).sum(axis=1)
    return Decisions(~hidden[:, plan.focus] & (counts[:, plan.focus] >= k), decided, frozenset(wanted))


def counts_matrix(plan: Plan, cells: Sequence[Mapping[str, int]], given: Collection[str] | None = None) -> np.ndarray:
    """Rows of counts, one per cell, from each cell's counts by unit. ``given``: the units whose
    counts were loaded (one without an entry counts 0); ``CountUnknown`` names one the plan needs
    that is not among them. Without it, every unit the plan needs must have an entry."""
    units = plan.units
    if given is not None:
        known = given if isinstance(given, (set, frozenset)) else set(given)
        for unit in units:
            if unit not in known:
                raise CountUnknown(unit)
        zeros = [0] * len(units)
        values = chain.from_iterable(map(cell.get, units, zeros) for cell in cells)
    else:
        values = chain.from_iterable(map(cell.__getitem__, units) for cell in cells)
    return np.fromiter(values, dtype=np.int64, count=len(cells) * len(units)).reshape(len(cells), len(units))
