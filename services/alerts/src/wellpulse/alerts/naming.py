"""Pure: which unit an alert may name, with k counted in people.

A rule looks at the smallest unit on the chain from the submitting team to the root whose subtree
has a headcount of at least k, and whose cells for the rule's measures (and its response counts)
are shown by disclosure control (``common.disclosure``) in every week that contributes to the
window: the same cells a leader's trend would show, so no alert can be differenced against a trend
or another alert to reveal a smaller group. Below that, the rule climbs to the parent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from wellpulse.common.disclosure import CountUnknown, OrgTree, shown_units, window_shown
from wellpulse.common.measures import RESPONSES
from wellpulse.common.rollups import Sums

Cell = tuple[str, date, str]  # unit, week, measure


@dataclass(frozen=True)
class Fragment:
    """The part of the tree and of its rollups that deciding for some chains needs."""

    tree: OrgTree
    sums: Mapping[Cell, Sums]
    # Units whose rows were read: a missing row of one of these is a count of 0.
    loaded: frozenset[str]
    headcounts: Mapping[str, int]

    def count(self, unit: str, week: date, measure: str) -> int:
        if unit not in self.loaded:
            raise CountUnknown(unit)
        sums = self.sums.get((unit, week, measure))
        return sums.n if sums else 0


ShownCells = Mapping[tuple[date, str], frozenset[str]]


def shown_cells(
    fragment: Fragment, k: int, weeks: Iterable[date], measures: Iterable[str], focus: Collection[str]
) -> dict[tuple[date, str], frozenset[str]]:
    """For each week and measure, the focus units whose cell may be shown. May raise
    ``CountUnknown`` or ``ChildrenUnknown`` for the caller to load more of the tree."""
    cells: dict[tuple[date, str], frozenset[str]] = {}
    for week in weeks:
        for measure in measures:

            def count(unit: str, week: date = week, measure: str = measure) -> int:
                return fragment.count(unit, week, measure)

            cells[(week, measure)] = shown_units(fragment.tree, count, k, focus=focus)
    return cells


def nameable(
    fragment: Fragment, shown: ShownCells, k: int, unit: str, weeks: Sequence[date], measures: Collection[str]
) -> bool:
    """Whether a figure over ``weeks`` from ``measures`` may name ``unit``."""
    if fragment.headcounts.get(unit, 0) < k:
        return False
    contributing = [m for m in measures if any(fragment.count(unit, w, m) for w in weeks)]
    if not contributing:
        return False  # nothing to say about this unit for this rule
    for measure in (*contributing, RESPONSES):
        by_week = {str(w): shown.get((w, measure), frozenset()) for w in weeks}
        counts = {str(w): fragment.count(unit, w, measure) for w in weeks}
        if not window_shown(unit, by_week, counts):
            return False
    return True


def smallest_nameable(
    fragment: Fragment,
    shown: ShownCells,
    k: int,
    chain: Sequence[str],
    weeks: Sequence[date],
    measures: Collection[str],
) -> str | None:
    return next((unit for unit in chain if nameable(fragment, shown, k, unit, weeks, measures)), None)


def people(fragment: Fragment, unit: str, weeks: Sequence[date]) -> int:
    """The fewest respondents in any contributing week: the most the window can say it describes."""
    counts = [n for w in weeks if (n := fragment.count(unit, w, RESPONSES)) > 0]
    return min(counts) if counts else 0
