"""The cells disclosure control decides about, for a few units: the part of the tree around their
chains, those units' subtree rollups, and which of their cells may be shown.

Alerts and reporting both decide through here, so an alert and a leader's trend never disagree
about a cell. Deciding for a unit needs its ancestors, their children, and the children of any
of those that disclosure control hides; the loader starts with the first two and loads more when
``common.disclosure`` asks for a unit it was not given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import asyncpg
import numpy as np

from wellpulse.common import disclosure_many
from wellpulse.common.disclosure import ChildrenUnknown, CountUnknown, OrgTree, shown_units
from wellpulse.common.rollups import SubtreeRollups, Sums

Cell = tuple[str, date, str]  # unit, week (its Monday), measure
Slot = tuple[date, str]  # week, measure: one cell of every unit
ShownCells = Mapping[Slot, frozenset[str]]


class CellCounts(dict[str, int]):
    """One week and measure's counts by unit: a loaded unit without one counts 0, any other is
    unknown. Disclosure control reads a cell's counts many times: ``[]`` is a plain dict lookup."""

    def __init__(self, counts: Mapping[str, int], loaded: frozenset[str]) -> None:
        super().__init__(counts)
        self.loaded = loaded

    def __missing__(self, unit: str) -> int:
        if unit in self.loaded:
            return 0
        raise CountUnknown(unit)


@dataclass(frozen=True)
class Fragment:
    """The part of the tree and of its rollups that deciding for some chains needs."""

    tree: OrgTree
    # The sums of the units whose figures may be shown (the chains'), and more if given.
    sums: Mapping[Cell, Sums]
    # Units whose rows were read: a missing row of one of these is a count of 0.
    loaded: frozenset[str]
    headcounts: Mapping[str, int]
    names: Mapping[str, str] = field(default_factory=dict)
    # Every loaded unit's count, by week and measure, then unit (only loaded units'); from
    # ``sums`` when not given.
    counts: Mapping[Slot, Mapping[str, int]] | None = None
    _cells: dict[Slot, CellCounts] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.counts is None:
            counts: dict[Slot, dict[str, int]] = defaultdict(dict)
            for (unit, week, measure), sums in self.sums.items():
                if unit in self.loaded:
                    counts[(week, measure)][unit] = sums.n
            object.__setattr__(self, "counts", dict(counts))

    def count(self, unit: str, week: date, measure: str) -> int:
        return self.cell(week, measure)[unit]

    def cell(self, week: date, measure: str) -> CellCounts:
        """The cell's counts by unit, made once per fragment and cell."""
        if (known := self._cells.get((week, measure))) is not None:
            return known
        assert self.counts is not None
        made = self._cells[(week, measure)] = CellCounts(self.counts.get((week, measure), {}), self.loaded)
        return made


def shown_cells(
    fragment: Fragment, k: int, weeks: Iterable[date], measures: Iterable[str], focus: Collection[str]
) -> dict[Slot, frozenset[str]]:
    """For each week and measure, the focus units whose cell may be shown. May raise
    ``CountUnknown`` or ``ChildrenUnknown`` for the caller to load more of the tree."""
    measures = list(measures)
    slots = [(week, measure) for week in weeks for measure in measures]
    decided = shown_many_cells(fragment, k, slots, focus).decided
    return {slot: decided[slot] if slot in decided else shown_cell(fragment, k, *slot, focus) for slot in slots}


def shown_cell(fragment: Fragment, k: int, week: date, measure: str, focus: Collection[str]) -> frozenset[str]:
    """The focus units whose cell for this week and measure may be shown."""
    count = fragment.cell(week, measure).__getitem__
    if all(count(unit) < k for unit in focus):
        return frozenset()  # nothing to decide: none of them could be shown whatever the rest
    return shown_units(fragment.tree, count, k, focus=focus)


@dataclass(frozen=True)
class ManyCells:
    """What ``common.disclosure_many`` decided of some cells at once (exactly as ``shown_cell``
    would), and, of the others, which need children loaded (``wanting``, with the units in
    ``wanted``); a cell in neither it could not take on (``shown_cell`` decides it)."""

    decided: dict[Slot, frozenset[str]]
    wanting: frozenset[Slot] = frozenset()
    wanted: frozenset[str] = frozenset()


def shown_many_cells(fragment: Fragment, k: int, slots: Sequence[Slot], focus: Collection[str]) -> ManyCells:
    if not slots:
        return ManyCells({})
    plan = disclosure_many.plan(fragment.tree, focus)
    if plan is None:
        return ManyCells({})
    assert fragment.counts is not None
    try:
        counts = disclosure_many.counts_matrix(plan, [fragment.counts.get(slot, {}) for slot in slots], fragment.loaded)
    except CountUnknown:
        return ManyCells({})
    made = disclosure_many.shown_many(plan, counts, k)
    units = plan.focus_units
    sets: dict[bytes, frozenset[str]] = {}  # most cells show the same units: one set each
    decided = {}
    for row, slot in enumerate(slots):
        if made.decided[row]:
            pattern = made.shown[row]
            key = pattern.tobytes()
            if (shown := sets.get(key)) is None:
                shown = sets[key] = frozenset(units[i] for i in np.flatnonzero(pattern))
            decided[slot] = shown
    wanting = frozenset(slot for row, slot in enumerate(slots) if not made.decided[row])
    return ManyCells(decided, wanting, made.wanted)


async def decide(
    conn: asyncpg.Connection | asyncpg.Pool,
    rollups: SubtreeRollups,
    on_chains: Collection[str],
    weeks: Collection[date],
    measures: Collection[str],
    k: int,
    focus: Collection[str] | None = None,
) -> tuple[Fragment, dict[Slot, frozenset[str]]]:
    """Load what deciding for the units of ``on_chains`` (whole chains: each unit's ancestors are
    in it) needs, and decide: which of their cells, per week and measure, may be shown. With
    ``focus`` (units of the chains), only those units' cells are decided.

    First the chains' units with their sums, and the counts of the children of every unit above
    a focus unit; then, in rounds, the children of every unit disclosure control asked about and
    was not given, all at once, for the cells still undecided. Each round reads only what is new.
    """
    schema = rollups.schema
    first, last = min(weeks), max(weeks)
    measures = sorted(measures)
    focus = on_chains if focus is None else focus
    rows = await conn.fetch(
        f"SELECT unit_id, parent_id, name, subtree_headcount, removed FROM {schema}.org_units "
        "WHERE unit_id = ANY($1::text[])",
        list(on_chains),
    )
    parents: dict[str, str | None] = {r["unit_id"]: r["parent_id"] for r in rows}
    for unit in on_chains:
        parents.setdefault(unit, None)  # a unit the tree does not know yet stands alone
    names = {r["unit_id"]: r["name"] for r in rows}
    headcounts = {r["unit_id"]: r["subtree_headcount"] for r in rows if not r["removed"]}
    sums = await rollups.read(conn, on_chains, first, last, measures)
    counts: dict[Slot, dict[str, int]] = defaultdict(dict)
    for (unit, week, measure), cell in sums.items():
        counts[(week, measure)][unit] = cell.n
    loaded, complete = set(on_chains), set[str]()
    # Disclosure control settles only the units above a focus unit: their children first.
    chains = OrgTree(parents)
    to_complete = {ancestor for unit in focus for ancestor in chains.chain(unit)[1:]}
    undecided = [(week, measure) for week in sorted(weeks) for measure in measures]
    cells: dict[Slot, frozenset[str]] = {}
    while True:
        below = await conn.fetch(
            f"""
            SELECT unit_id, parent_id, name,
                   EXISTS (SELECT FROM {schema}.org_units c WHERE c.parent_id = o.unit_id AND NOT c.removed) AS parent
            FROM {schema}.org_units o WHERE parent_id = ANY($1::text[]) AND NOT removed
            """,
            list(to_complete),
        )
        # A unit with no children is complete as soon as it is known: hiding it needs no more.
        complete |= to_complete | {r["unit_id"] for r in below if not r["parent"]}
        fresh = {r["unit_id"] for r in below} - loaded
        parents.update((r["unit_id"], r["parent_id"]) for r in below)
        names.update((r["unit_id"], r["name"]) for r in below)
        for slot, by_unit in (await rollups.counts(conn, fresh, first, last, measures)).items():
            counts[slot].update(by_unit)
        loaded |= fresh
        fragment = Fragment(
            OrgTree(parents, complete=frozenset(complete)), sums, frozenset(loaded), headcounts, names, counts
        )
        to_complete = set()
        still: list[Slot] = []
        many = shown_many_cells(fragment, k, undecided, focus)
        cells.update(many.decided)
        if many.wanted & complete:
            raise AssertionError(f"children loaded already asked for again: {sorted(many.wanted & complete)}")
        to_complete |= many.wanted
        still.extend(slot for slot in undecided if slot in many.wanting)
        for week, measure in undecided:
            if (week, measure) in many.decided or (week, measure) in many.wanting:
                continue
            try:
                cells[(week, measure)] = shown_cell(fragment, k, week, measure, focus)
            except (ChildrenUnknown, CountUnknown) as missing:
                if missing.unit in complete:
                    raise  # loaded already: a bug, not a gap
                to_complete.add(missing.unit)
                still.append((week, measure))
        if not still:
            return fragment, cells
        undecided = still
