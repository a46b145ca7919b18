"""Reporting's SQL: idempotent rollup writes and subtree reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from wellpulse.common.orgtree import SUBTREE_CTE
from wellpulse.reporting.measures import Rollup

SCHEMA = "reporting"


@dataclass(frozen=True)
class Contribution:
    event_id: str
    unit_id: str
    week_start: date
    measure: str
    value: float


async def apply_contributions(conn: asyncpg.Connection, event_ids: Sequence[str], rows: Sequence[Contribution]) -> int:
    """Add the contributions of events never applied before; returns how many events were new.

    ``event_ids`` must be distinct: the caller removes a batch's own duplicates.
    """
    fresh = await conn.fetch(
        """
        INSERT INTO reporting.applied_events (event_id) SELECT unnest($1::uuid[])
        ON CONFLICT DO NOTHING RETURNING event_id
        """,
        event_ids,
    )
    if not fresh:
        return 0
    await conn.execute(
        """
        INSERT INTO reporting.rollups AS r (unit_id, week_start, measure, n, total, total_sq)
        SELECT c.unit_id, c.week_start, c.measure, count(*), sum(c.value), sum(c.value * c.value)
        FROM unnest($1::uuid[], $2::text[], $3::date[], $4::text[], $5::float8[])
             AS c(event_id, unit_id, week_start, measure, value)
        WHERE c.event_id = ANY($6::uuid[])
        GROUP BY c.unit_id, c.week_start, c.measure
        ON CONFLICT (unit_id, week_start, measure) DO UPDATE SET
            n = r.n + excluded.n,
            total = r.total + excluded.total,
            total_sq = r.total_sq + excluded.total_sq
        """,
        [c.event_id for c in rows],
        [c.unit_id for c in rows],
        [c.week_start for c in rows],
        [c.measure for c in rows],
        [c.value for c in rows],
        [r["event_id"] for r in fresh],
    )
    return len(fresh)


@dataclass(frozen=True)
class UnitSummary:
    unit_id: str
    name: str
    headcount: int


async def unit_summary(pool: asyncpg.Pool, unit_id: str) -> UnitSummary | None:
    """The unit and its subtree's headcount; None when the unit is unknown or removed."""
    row = await pool.fetchrow(
        SUBTREE_CTE.format(schema=SCHEMA)
        + """
        SELECT u.name,
               (SELECT coalesce(sum(d.headcount), 0) FROM reporting.org_units d
                JOIN subtree USING (unit_id)) AS headcount
        FROM reporting.org_units u WHERE u.unit_id = $1 AND NOT u.removed
        """,
        unit_id,
    )
    return UnitSummary(unit_id, row["name"], row["headcount"]) if row else None


async def subtree_rollups(
    pool: asyncpg.Pool, unit_id: str, first_week: date, last_week: date
) -> dict[date, list[Rollup]]:
    rows = await pool.fetch(
        SUBTREE_CTE.format(schema=SCHEMA)
        + """
        SELECT week_start, measure, sum(n)::bigint AS n, sum(total) AS total,
               sum(total_sq) AS total_sq
        FROM reporting.rollups JOIN subtree USING (unit_id)
        WHERE week_start BETWEEN $2 AND $3
        GROUP BY week_start, measure
        """,
        unit_id,
        first_week,
        last_week,
    )
    weeks: dict[date, list[Rollup]] = {}
    for r in rows:
        weeks.setdefault(r["week_start"], []).append(Rollup(r["measure"], r["n"], r["total"], r["total_sq"]))
    return weeks
