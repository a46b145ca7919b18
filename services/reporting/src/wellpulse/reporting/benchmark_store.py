"""The organisation's benchmarks kept per window (migration 0006): read back only while their
fingerprint holds, taken under the tree lock, forgotten when the tree changes."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date

import asyncpg

from wellpulse.common.benchmark import Lines


def _lines_json(lines: Mapping[str, Lines]) -> str:
    return json.dumps({s: {"p20": v.p20, "p50": v.p50, "p80": v.p80, "units": v.units} for s, v in lines.items()})


def _lines_of(raw: str) -> dict[str, Lines]:
    return {s: Lines(v["p20"], v["p50"], v["p80"], v["units"]) for s, v in json.loads(raw).items()}


async def kept(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, first: date, last: date, measures: Collection[str]
) -> dict[str, Lines] | None:
    """The lines kept for the window, if no response to ``measures`` has been counted into it
    since they were taken (one statement: the fingerprint is re-read from the roots' rows, a few
    dozen index reads)."""
    raw = await conn.fetchval(
        f"""
        SELECT b.lines::text FROM {schema}.team_benchmarks b
        WHERE b.first_week = $1 AND b.last_week = $2
          AND b.responses = (
              SELECT coalesce(sum(r.n), 0) FROM {schema}.subtree_rollups r
              WHERE r.unit_id = ANY(b.roots) AND r.week_start BETWEEN $1 AND $2 AND r.measure = ANY($3::text[])
          )
        """,
        first,
        last,
        sorted(measures),
    )
    return _lines_of(raw) if raw is not None else None


async def roots(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Every unit at the top of the tree (no parent, or one the tree does not hold): each counted
    response reaches the subtree rows of one of them."""
    rows = await conn.fetch(
        f"""
        SELECT u.unit_id FROM {schema}.org_units u
        WHERE u.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM {schema}.org_units p WHERE p.unit_id = u.parent_id)
        """
    )
    return sorted(r["unit_id"] for r in rows)


async def fingerprint(
    conn: asyncpg.Connection, schema: str, roots: Collection[str], first: date, last: date, measures: Collection[str]
) -> int:
    """The roots' subtree counts of ``measures`` over the window, summed: it grows with every
    response counted into the window."""
    total = await conn.fetchval(
        f"""
        SELECT coalesce(sum(n), 0) FROM {schema}.subtree_rollups
        WHERE unit_id = ANY($1::text[]) AND week_start BETWEEN $2 AND $3 AND measure = ANY($4::text[])
        """,
        list(roots),
        first,
        last,
        sorted(measures),
    )
    return int(total)


async def keep(
    conn: asyncpg.Connection,
    schema: str,
    first: date,
    last: date,
    roots: Collection[str],
    responses: int,
    lines: Mapping[str, Lines],
) -> None:
    await conn.execute(
        f"""
        INSERT INTO {schema}.team_benchmarks (first_week, last_week, roots, responses, lines)
        VALUES ($1, $2, $3, $4, $5::jsonb)
        ON CONFLICT (first_week, last_week) DO UPDATE SET roots = excluded.roots, responses = excluded.responses,
            lines = excluded.lines, taken_at = now()
        """,
        first,
        last,
        list(roots),
        responses,
        _lines_json(lines),
    )


async def forget_all(conn: asyncpg.Connection, schema: str) -> None:
    """Every kept benchmark, inside the caller's transaction (the tree changed under them)."""
    await conn.execute(f"DELETE FROM {schema}.team_benchmarks")
