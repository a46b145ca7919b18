"""Pure: which unit an alert may name, with k counted in people.

A rule looks at the smallest unit on the chain from the submitting team to the root whose subtree
has a headcount of at least k, and whose cells for the rule's measures (and its response counts)
are shown by disclosure control (``common.disclosure``) in every week that contributes to the
window: the same cells a leader's trend would show, so no alert can be differenced against a trend
or another alert to reveal a smaller group. Below that, the rule climbs to the parent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from wellpulse.common.cells import Fragment, ShownCells, shown_cells
from wellpulse.common.disclosure import window_shown
from wellpulse.common.measures import RESPONSES

__all__ = ["Fragment", "ShownCells", "nameable", "people", "shown_cells", "smallest_nameable"]


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
