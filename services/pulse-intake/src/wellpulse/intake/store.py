"""Intake's SQL: the org tree as imported, and the weekly rounds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from wellpulse.common.events import OrgUnit

SCHEMA = "intake"


@dataclass(frozen=True)
class OrgChanges:
    upserted: list[OrgUnit]
    removed: list[str]
    unchanged: int


async def replace_org_tree(conn: asyncpg.Connection, units: Sequence[OrgUnit]) -> OrgChanges:
    """Make the stored tree equal ``units``; returns what changed. Runs inside the caller's
    transaction, which holds the table lock so two imports never interleave."""
    await conn.execute("LOCK TABLE intake.org_units IN EXCLUSIVE MODE")
    current = {
        r["unit_id"]: OrgUnit(
            unit_id=r["unit_id"], parent_id=r["parent_id"], name=r["name"], headcount=r["headcount"]
        )
        for r in await conn.fetch("SELECT unit_id, parent_id, name, headcount FROM intake.org_units")
    }
    wanted = {u.unit_id: u for u in units}
    upserted = [u for u in units if current.get(u.unit_id) != u]
    removed = sorted(set(current) - set(wanted))
    await conn.executemany(
        """
        INSERT INTO intake.org_units (unit_id, parent_id, name, headcount) VALUES ($1, $2, $3, $4)
        ON CONFLICT (unit_id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
            headcount = excluded.headcount
        """,
        [(u.unit_id, u.parent_id, u.name, u.headcount) for u in upserted],
    )
    await conn.execute("DELETE FROM intake.org_units WHERE unit_id = ANY($1::text[])", removed)
    return OrgChanges(upserted, removed, len(units) - len(upserted))


@dataclass(frozen=True)
class Round:
    pulse_id: str
    iso_week: str
    items: tuple[str, ...]
    bank_version: str
    status: str


async def open_round(
    pool: asyncpg.Pool, pulse_id: str, iso_week: str, items: Sequence[str], bank_version: str
) -> tuple[Round, bool]:
    """Open the week's round, or return the one already open; True when it is new."""
    row = await pool.fetchrow(
        """
        INSERT INTO intake.rounds (pulse_id, iso_week, items, bank_version) VALUES ($1, $2, $3, $4)
        ON CONFLICT (iso_week) DO NOTHING
        RETURNING pulse_id, iso_week, items, bank_version, status
        """,
        pulse_id,
        iso_week,
        list(items),
        bank_version,
    )
    if row is not None:
        return _round(row), True
    existing = await pool.fetchrow(
        "SELECT pulse_id, iso_week, items, bank_version, status FROM intake.rounds WHERE iso_week = $1",
        iso_week,
    )
    assert existing is not None
    return _round(existing), False


async def get_round(pool: asyncpg.Pool, pulse_id: str) -> Round | None:
    row = await pool.fetchrow(
        "SELECT pulse_id, iso_week, items, bank_version, status FROM intake.rounds WHERE pulse_id = $1",
        pulse_id,
    )
    return _round(row) if row else None


async def unit_exists(pool: asyncpg.Pool, unit_id: str) -> bool:
    return bool(await pool.fetchval("SELECT true FROM intake.org_units WHERE unit_id = $1", unit_id))


def _round(row: asyncpg.Record) -> Round:
    return Round(row["pulse_id"], row["iso_week"], tuple(row["items"]), row["bank_version"], row["status"])
