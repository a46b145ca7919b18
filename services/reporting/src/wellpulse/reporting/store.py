"""Reporting's SQL: the events applied, and the units trends are asked about (the rollups
themselves are ``common.rollups``; the dashboard's sessions are ``dashboard.sessions``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

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
    """The unit and its subtree's headcount (kept by ``common.orgtree``); None when the unit is
    unknown or removed."""
    row = await pool.fetchrow(
        "SELECT name, subtree_headcount FROM reporting.org_units WHERE unit_id = $1 AND NOT removed", unit_id
    )
    return UnitSummary(unit_id, row["name"], row["subtree_headcount"]) if row else None


async def children(conn: asyncpg.Connection | asyncpg.Pool, unit_id: str) -> list[str]:
    """The unit's live children, by name."""
    rows = await conn.fetch(
        "SELECT unit_id FROM reporting.org_units WHERE parent_id = $1 AND NOT removed ORDER BY name, unit_id",
        unit_id,
    )
    return [r["unit_id"] for r in rows]


@dataclass(frozen=True)
class ScopeUnit:
    unit_id: str
    name: str
    depth: int  # below the nearest of the units asked about


async def units_below(pool: asyncpg.Pool, roots: Sequence[str], limit: int) -> list[ScopeUnit]:
    """Every live unit under ``roots``, the roots included, in the tree's order (each unit before
    its children, siblings by name): what a unit picker offers. A root under another root is
    listed once, in its place under the other."""
    rows = await pool.fetch(
        """
        WITH RECURSIVE tree AS (
            SELECT u.unit_id, u.name, 0 AS depth, ARRAY[lower(u.name), u.unit_id] AS path
            FROM reporting.org_units u WHERE u.unit_id = ANY($1::text[]) AND NOT u.removed
            UNION ALL
            SELECT c.unit_id, c.name, t.depth + 1, t.path || ARRAY[lower(c.name), c.unit_id]
            FROM reporting.org_units c JOIN tree t ON c.parent_id = t.unit_id
            WHERE NOT c.removed AND t.depth < 64
        )
        SELECT unit_id, name, depth FROM (
            SELECT DISTINCT ON (unit_id) unit_id, name, depth, path FROM tree ORDER BY unit_id, depth DESC
        ) deepest
        ORDER BY path LIMIT $2
        """,
        list(roots),
        limit,
    )
    return [ScopeUnit(r["unit_id"], r["name"], r["depth"]) for r in rows]
