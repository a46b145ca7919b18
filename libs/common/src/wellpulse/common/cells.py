"""The cells disclosure control decides about, for a few units: the part of the tree around their
chains, those units' subtree rollups, and which of their cells may be shown.

Alerts and reporting both decide through here, so an alert and a leader's trend never disagree
about a cell. Deciding for a unit needs its ancestors, their children, and the children of any
of those that disclosure control hides; the loader starts with the first two and loads more when
``common.disclosure`` asks for a unit it was not given.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from wellpulse.common.disclosure import ChildrenUnknown, CountUnknown, OrgTree, shown_units
from wellpulse.common.rollups import SubtreeRollups, Sums

Cell = tuple[str, date, str]  # unit, week (its Monday), measure
ShownCells = Mapping[tuple[date, str], frozenset[str]]


@dataclass(frozen=True)
class Fragment:
    """The part of the tree and of its rollups that deciding for some chains needs."""

    tree: OrgTree
    sums: Mapping[Cell, Sums]
    # Units whose rows were read: a missing row of one of these is a count of 0.
    loaded: frozenset[str]
    headcounts: Mapping[str, int]
    names: Mapping[str, str] = field(default_factory=dict)

    def count(self, unit: str, week: date, measure: str) -> int:
        if unit not in self.loaded:
            raise CountUnknown(unit)
        sums = self.sums.get((unit, week, measure))
        return sums.n if sums else 0


def shown_cells(
    fragment: Fragment, k: int, weeks: Iterable[date], measures: Iterable[str], focus: Collection[str]
) -> dict[tuple[date, str], frozenset[str]]:
    """For each week and measure, the focus units whose cell may be shown. May raise
    ``CountUnknown`` or ``ChildrenUnknown`` for the caller to load more of the tree."""
    measures = list(measures)
    cells: dict[tuple[date, str], frozenset[str]] = {}
    for week in weeks:
        for measure in measures:

            def count(unit: str, week: date = week, measure: str = measure) -> int:
                return fragment.count(unit, week, measure)

            cells[(week, measure)] = shown_units(fragment.tree, count, k, focus=focus)
    return cells


async def decide(
    conn: asyncpg.Connection | asyncpg.Pool,
    rollups: SubtreeRollups,
    on_chains: Collection[str],
    weeks: Collection[date],
    measures: Collection[str],
    k: int,
) -> tuple[Fragment, dict[tuple[date, str], frozenset[str]]]:
    """Load what deciding for the units of ``on_chains`` (whole chains: each unit's ancestors are
    in it) needs, and decide: which of their cells, per week and measure, may be shown."""
    schema = rollups.schema
    complete = set(on_chains)
    first, last = min(weeks), max(weeks)
    while True:
        below = {
            r["unit_id"]: r["parent_id"]
            for r in await conn.fetch(
                f"SELECT unit_id, parent_id FROM {schema}.org_units WHERE parent_id = ANY($1::text[]) AND NOT removed",
                list(complete),
            )
        }
        loaded = set(on_chains) | set(below)
        known = await conn.fetch(
            f"SELECT unit_id, parent_id, name FROM {schema}.org_units WHERE unit_id = ANY($1::text[])", list(loaded)
        )
        parents = {r["unit_id"]: r["parent_id"] for r in known} | below
        for unit in on_chains:
            parents.setdefault(unit, None)  # a unit the tree does not know yet stands alone
        fragment = Fragment(
            OrgTree(parents, complete=frozenset(complete)),
            await rollups.read(conn, loaded, first, last, measures),
            frozenset(loaded),
            await subtree_headcounts(conn, schema, on_chains),
            {r["unit_id"]: r["name"] for r in known},
        )
        try:
            return fragment, shown_cells(fragment, k, sorted(weeks), measures, on_chains)
        except (ChildrenUnknown, CountUnknown) as missing:
            if missing.unit in complete:
                raise  # loaded already: a bug, not a gap
            complete.add(missing.unit)


async def subtree_headcounts(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, unit_ids: Collection[str]
) -> dict[str, int]:
    """Each unit's headcount with everything below it (the org file gives each unit's own)."""
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE below AS (
            SELECT u AS top, u AS unit_id FROM unnest($1::text[]) AS u
            UNION ALL
            SELECT b.top, o.unit_id FROM below b JOIN {schema}.org_units o ON o.parent_id = b.unit_id
            WHERE NOT o.removed
        )
        SELECT b.top, coalesce(sum(o.headcount), 0)::bigint AS headcount
        FROM below b JOIN {schema}.org_units o ON o.unit_id = b.unit_id AND NOT o.removed
        GROUP BY b.top
        """,
        list(unit_ids),
    )
    return {r["top"]: r["headcount"] for r in rows}
