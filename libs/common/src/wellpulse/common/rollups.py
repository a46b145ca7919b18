"""Rollups per unit subtree × ISO week × measure, kept at write time, so any unit's figure is one
indexed read whatever the size of the organisation.

Each contribution is added to the unit that submitted it (``own_rollups``) and to that unit and
every ancestor (``subtree_rollups``), aggregated per batch first so that one batch writes each row
once, in key order (concurrent batches then never deadlock). When the tree moves a unit, the
subtree rows of its old and new ancestors are rebuilt from the own rows. A shared advisory lock
lets batches write side by side; a move takes it exclusively, so no batch fans out along a chain
that is being rebuilt.

The service's migrations create ``<schema>.own_rollups`` and ``<schema>.subtree_rollups`` with
(unit_id, week_start, measure) keys and n, total, total_sq columns.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import asyncpg


class Contribution(NamedTuple):
    """One value a response adds to one measure of its unit's week. A tuple, not a dataclass: a
    batch makes tens of thousands of them, and a tuple is several times cheaper to build."""

    unit_id: str
    week_start: date
    measure: str
    value: float


@dataclass(frozen=True)
class Sums:
    n: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.n + other.n, self.total + other.total, self.total_sq + other.total_sq)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


Key = tuple[str, date, str]


class SubtreeRollups:
    def __init__(self, schema: str) -> None:
        self.schema = schema
        # One lock per schema's tree: shared by writers, exclusive while the tree moves (and while
        # reporting's rebuild swaps a whole read model in).
        self.lock_key = zlib.crc32(f"wellpulse:{schema}:tree".encode())

    async def lock_shared(self, conn: asyncpg.Connection) -> None:
        """Hold the tree lock as a writer, until the caller's transaction ends."""
        await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", self.lock_key)

    async def lock_exclusive(self, conn: asyncpg.Connection) -> None:
        """Hold the tree lock alone, until the caller's transaction ends: every writer waits."""
        await conn.execute("SELECT pg_advisory_xact_lock($1)", self.lock_key)

    async def add(self, conn: asyncpg.Connection, contributions: Sequence[Contribution]) -> None:
        """Add contributions (already deduplicated by event) inside the caller's transaction."""
        if not contributions:
            return
        await self.lock_shared(conn)
        own = own_sums(contributions)
        chains = await self.chains(conn, {unit for unit, _, _ in own})
        await self._upsert(conn, "own_rollups", own)
        await self._upsert(conn, "subtree_rollups", subtree_sums(own, chains))

    async def chains(self, conn: asyncpg.Connection, units: Collection[str]) -> dict[str, list[str]]:
        """Each unit with its ancestors, nearest first; a unit the tree does not know stands alone."""
        rows = await conn.fetch(
            f"""
            WITH RECURSIVE chain AS (
                SELECT u AS start, u AS unit_id, 0 AS depth FROM unnest($1::text[]) AS u
                UNION ALL
                SELECT c.start, o.parent_id, c.depth + 1
                FROM chain c JOIN {self.schema}.org_units o ON o.unit_id = c.unit_id
                WHERE o.parent_id IS NOT NULL AND c.depth < 64
            )
            SELECT start, unit_id FROM chain ORDER BY start, depth
            """,
            list(units),
        )
        chains: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            chains[row["start"]].append(row["unit_id"])
        return chains

    async def rebuild(self, conn: asyncpg.Connection, units: Collection[str]) -> None:
        """Recompute the subtree rows of ``units`` from the own rows of their current subtrees.
        Takes the tree lock exclusively: call it in the transaction that changed the tree."""
        if not units:
            return
        await self.lock_exclusive(conn)
        await conn.execute(f"DELETE FROM {self.schema}.subtree_rollups WHERE unit_id = ANY($1::text[])", list(units))
        await conn.execute(
            f"""
            WITH RECURSIVE below AS (
                SELECT u AS top, u AS unit_id FROM unnest($1::text[]) AS u
                UNION ALL
                SELECT b.top, o.unit_id FROM below b JOIN {self.schema}.org_units o ON o.parent_id = b.unit_id
            )
            INSERT INTO {self.schema}.subtree_rollups (unit_id, week_start, measure, n, total, total_sq)
            SELECT b.top, r.week_start, r.measure, sum(r.n), sum(r.total), sum(r.total_sq)
            FROM below b JOIN {self.schema}.own_rollups r USING (unit_id)
            GROUP BY b.top, r.week_start, r.measure
            """,
            list(units),
        )

    async def read(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        units: Collection[str],
        first_week: date,
        last_week: date,
        measures: Collection[str] | None = None,
        measure_prefixes: Collection[str] = (),
        except_prefix: str | None = None,
    ) -> dict[Key, Sums]:
        """Subtree sums for these units and weeks; with ``measures``/``measure_prefixes``, only
        those; with ``except_prefix``, none of the measures starting with it."""
        rows = await conn.fetch(
            f"""
            SELECT unit_id, week_start, measure, n, total, total_sq FROM {self.schema}.subtree_rollups
            WHERE unit_id = ANY($1::text[]) AND week_start BETWEEN $2 AND $3
              AND ($4::text[] IS NULL OR measure = ANY($4::text[])
                   OR measure LIKE ANY (SELECT p || '%' FROM unnest($5::text[]) AS p))
              AND ($6::text IS NULL OR measure NOT LIKE $6 || '%')
            """,
            list(units),
            first_week,
            last_week,
            list(measures) if measures is not None else None,
            list(measure_prefixes),
            except_prefix,
        )
        return {(r["unit_id"], r["week_start"], r["measure"]): Sums(r["n"], r["total"], r["total_sq"]) for r in rows}

    async def team_percentiles(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        first_week: date,
        last_week: date,
        measure_prefix: str,
        k: int,
        percents: Sequence[float],
        min_units: int,
    ) -> dict[str, tuple[int, tuple[float, ...]]]:
        """Per measure starting with ``measure_prefix``, the ``percents`` (0–100) of the teams'
        window means and how many teams they were taken over: ``common.benchmark.team_means`` and
        ``percentile`` worked out in the database (a team counts where every week it answered had
        at least ``k``; a measure needs ``min_units`` teams), so that the rows of every team in
        the organisation are never carried into Python."""
        rows = await conn.fetch(
            f"""
            WITH team_means AS (
                SELECT r.measure, sum(r.total) / sum(r.n) AS mean
                FROM {self.schema}.subtree_rollups r JOIN {self.schema}.org_units u USING (unit_id)
                WHERE NOT u.removed AND r.week_start BETWEEN $1 AND $2 AND r.measure LIKE $3 || '%' AND r.n > 0
                  AND NOT EXISTS (
                      SELECT 1 FROM {self.schema}.org_units c WHERE c.parent_id = u.unit_id AND NOT c.removed
                  )
                GROUP BY r.unit_id, r.measure
                HAVING min(r.n) >= $4
            )
            SELECT measure, count(*) AS units,
                   percentile_cont($5::float8[]) WITHIN GROUP (ORDER BY mean) AS cuts
            FROM team_means GROUP BY measure HAVING count(*) >= $6
            """,
            first_week,
            last_week,
            measure_prefix,
            k,
            [p / 100 for p in percents],
            min_units,
        )
        return {r["measure"]: (r["units"], tuple(r["cuts"])) for r in rows}

    async def counts(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        units: Collection[str],
        first_week: date,
        last_week: date,
        measures: Collection[str],
    ) -> dict[tuple[date, str], dict[str, int]]:
        """Only the subtree counts (n) of these units, by week and measure: all disclosure control
        reads of the units it compares a figure with. One row a week and measure, with arrays, so
        that the many cells of a unit's children cost little to fetch."""
        if not units:
            return {}
        rows = await conn.fetch(
            f"""
            SELECT week_start, measure, array_agg(unit_id) AS units, array_agg(n) AS counts
            FROM {self.schema}.subtree_rollups
            WHERE unit_id = ANY($1::text[]) AND week_start BETWEEN $2 AND $3 AND measure = ANY($4::text[])
            GROUP BY week_start, measure
            """,
            list(units),
            first_week,
            last_week,
            list(measures),
        )
        return {(r["week_start"], r["measure"]): dict(zip(r["units"], r["counts"], strict=True)) for r in rows}

    async def _upsert(self, conn: asyncpg.Connection, table: str, sums: Mapping[Key, Sums]) -> None:
        keys = sorted(sums)  # one order for every writer: no two batches wait on each other in a cycle
        await conn.execute(
            f"""
            INSERT INTO {self.schema}.{table} AS r (unit_id, week_start, measure, n, total, total_sq)
            SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::float8[], $6::float8[])
            ON CONFLICT (unit_id, week_start, measure) DO UPDATE SET
                n = r.n + excluded.n, total = r.total + excluded.total, total_sq = r.total_sq + excluded.total_sq
            """,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [sums[k].n for k in keys],
            [sums[k].total for k in keys],
            [sums[k].total_sq for k in keys],
        )


def own_sums(contributions: Iterable[Contribution]) -> dict[Key, Sums]:
    """The batch's contributions summed per unit, week and measure: each own row written once."""
    sums: dict[Key, list[float]] = {}
    for unit, week, measure, value in contributions:
        key = (unit, week, measure)
        cell = sums.get(key)
        if cell is None:
            sums[key] = [1, value, value * value]
        else:
            cell[0] += 1
            cell[1] += value
            cell[2] += value * value
    return {key: Sums(int(n), total, total_sq) for key, (n, total, total_sq) in sums.items()}


def subtree_sums(own: Mapping[Key, Sums], chains: Mapping[str, Sequence[str]]) -> dict[Key, Sums]:
    """Own sums fanned out to each unit and its ancestors (``chains``: a unit with its ancestors;
    a unit missing from it stands alone). Fanning out the batch's sums, not each contribution,
    costs one addition per own row and ancestor however many responses the row holds."""
    sums: dict[Key, list[float]] = {}
    for (unit, week, measure), cell in own.items():
        for ancestor in chains.get(unit) or (unit,):
            key = (ancestor, week, measure)
            into = sums.get(key)
            if into is None:
                sums[key] = [cell.n, cell.total, cell.total_sq]
            else:
                into[0] += cell.n
                into[1] += cell.total
                into[2] += cell.total_sq
    return {key: Sums(int(n), total, total_sq) for key, (n, total, total_sq) in sums.items()}


def moved_units(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> set[str]:
    """Units whose parent changed (a unit seen for the first time counts as moved from nowhere)."""
    return {unit for unit, parent in after.items() if unit not in before or before[unit] != parent}


def affected_by_moves(
    moved: Iterable[str], old_chains: Mapping[str, Sequence[str]], new_chains: Mapping[str, Sequence[str]]
) -> set[str]:
    """Every unit whose subtree gained or lost a moved unit: the moved units' old and new
    ancestors (the moved units' own subtrees did not change)."""
    affected: set[str] = set()
    for unit in moved:
        affected.update(old_chains.get(unit, [unit])[1:])
        affected.update(new_chains.get(unit, [unit])[1:])
    return affected
