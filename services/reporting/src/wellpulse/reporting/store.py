"""Reporting's SQL: the events applied, and the units trends are asked about (the rollups
themselves are ``common.rollups``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from wellpulse.common.orgtree import SUBTREE_CTE

SCHEMA = "reporting"


async def fresh_events(conn: asyncpg.Connection, schema: str, event_ids: Sequence[str]) -> set[str]:
    """Record the events; returns those never applied before (a redelivery is absorbed here)."""
    rows = await conn.fetch(
        f"INSERT INTO {schema}.applied_events (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING "
        "RETURNING event_id::text",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


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


async def children(conn: asyncpg.Connection | asyncpg.Pool, unit_id: str) -> list[str]:
    """The unit's live children, by name."""
    rows = await conn.fetch(
        "SELECT unit_id FROM reporting.org_units WHERE parent_id = $1 AND NOT removed ORDER BY name, unit_id",
        unit_id,
    )
    return [r["unit_id"] for r in rows]
