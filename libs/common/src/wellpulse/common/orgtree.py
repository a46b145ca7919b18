"""The org-tree projection consumers keep from ``org.units``: one row a unit, removed on a tombstone.

Alerts and reporting each keep their own copy in their own schema (``<schema>.org_units``, created
by their migrations); this module is the one piece of SQL that maintains and climbs it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.kafka import BatchDecoder, DeadLetters
from wellpulse.common.rollups import SubtreeRollups, affected_by_moves, moved_units

# Every unit under any of the units in $1 (a text[]), those units included; removed units too,
# so what was recorded about a unit before it was removed stays within its old parent's scope.
SCOPE_CTE = """
WITH RECURSIVE scope AS (
    SELECT unnest($1::text[]) AS unit_id
    UNION
    SELECT u.unit_id FROM {schema}.org_units u JOIN scope s ON u.parent_id = s.unit_id
)
"""


class OrgTreeProjection:
    """The tree as this service has it; what the auth seam climbs to decide scope."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._query = f"""
            WITH RECURSIVE chain AS (
                SELECT unit_id, parent_id, 0 AS depth FROM {database.schema}.org_units
                WHERE unit_id = $1 AND NOT removed
                UNION ALL
                SELECT u.unit_id, u.parent_id, c.depth + 1
                FROM {database.schema}.org_units u JOIN chain c ON u.unit_id = c.parent_id
                WHERE c.depth < 64
            )
            SELECT unit_id FROM chain ORDER BY depth
        """

    async def ancestors(self, unit_id: str) -> list[str]:
        """The unit and its ancestors, nearest first; empty when the unit is unknown or removed."""
        return [r["unit_id"] for r in await self._database.pool.fetch(self._query, unit_id)]


@dataclass(frozen=True)
class UnitState:
    """A unit's latest state in a batch of ``org.units``: its last record (None when the batch
    holds only its tombstone), and whether a tombstone came after it."""

    unit: OrgUnit | None
    removed: bool


async def latest_units(records: Sequence[ConsumerRecord[Any, Any]], decode: BatchDecoder) -> dict[str, UnitState]:
    """Each unit's latest state in a batch of ``org.units`` records.

    Record order matters: a unit removed and then created again in one batch is live; one created
    and then removed keeps the state it was created with, so that where it sat in the tree is
    known (a replay of the topic meets both in one batch; a live consumer met them in two). Records
    that do not decode are the decoder's to deal with (dead-lettered live, skipped in a replay).
    """
    live = [r for r in records if r.value is not None]
    decoded = {(r.record.partition, r.record.offset): r.event.data for r in await decode(live, OrgUnit)}
    latest: dict[str, UnitState] = {}
    for record in records:
        if record.value is None:
            if record.key:  # compaction's tombstone: the unit was removed
                unit_id = record.key.decode()
                latest[unit_id] = UnitState(latest[unit_id].unit if unit_id in latest else None, removed=True)
        elif (unit := decoded.get((record.partition, record.offset))) is not None:
            latest[unit.unit_id] = UnitState(unit, removed=False)
    return latest


async def apply_units(
    conn: asyncpg.Connection,
    schema: str,
    latest: Mapping[str, UnitState],
    rollups: SubtreeRollups | None = None,
) -> None:
    """Upsert units and mark removed ones, inside the caller's transaction, and keep the subtree
    headcounts of every unit whose subtree changed.

    With ``rollups``, the tree lock is taken exclusively first, and a unit that moved (or appeared
    under a parent) has the subtree rollups of its old and new ancestors rebuilt.
    """
    if not latest:
        return
    upserts = [(state.unit, state.removed) for state in latest.values() if state.unit is not None]
    removed = [unit_id for unit_id, state in latest.items() if state.unit is None]
    if rollups is not None:
        await rollups.lock_exclusive(conn)
        before = {
            r["unit_id"]: r["parent_id"]
            for r in await conn.fetch(
                f"SELECT unit_id, parent_id FROM {schema}.org_units WHERE unit_id = ANY($1::text[])",
                [u.unit_id for u, _ in upserts],
            )
        }
        moved = moved_units(before, {u.unit_id: u.parent_id for u, _ in upserts})
        old_chains = await rollups.chains(conn, moved)
    # A changed unit's old ancestors lose what it was; its new ones gain what it is.
    affected = await _with_ancestors(conn, schema, latest)
    await conn.executemany(
        f"""
        INSERT INTO {schema}.org_units (unit_id, parent_id, name, headcount, removed)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (unit_id) DO UPDATE SET parent_id = excluded.parent_id,
            name = excluded.name, headcount = excluded.headcount, removed = excluded.removed
        """,
        [(u.unit_id, u.parent_id, u.name, u.headcount, gone) for u, gone in upserts],
    )
    await conn.execute(
        f"UPDATE {schema}.org_units SET removed = true WHERE unit_id = ANY($1::text[])",
        removed,
    )
    await refresh_subtree_headcounts(conn, schema, affected | await _with_ancestors(conn, schema, latest))
    if rollups is not None and moved:
        await rollups.rebuild(conn, affected_by_moves(moved, old_chains, await rollups.chains(conn, moved)))


async def _with_ancestors(conn: asyncpg.Connection, schema: str, units: Collection[str]) -> set[str]:
    """The units and every ancestor the tree gives them now."""
    rows = await conn.fetch(
        f"""
        WITH RECURSIVE up AS (
            SELECT u AS unit_id, 0 AS depth FROM unnest($1::text[]) AS u
            UNION
            SELECT o.parent_id, up.depth + 1 FROM up JOIN {schema}.org_units o USING (unit_id)
            WHERE o.parent_id IS NOT NULL AND up.depth < 64
        )
        SELECT DISTINCT unit_id FROM up
        """,
        list(units),
    )
    return {r["unit_id"] for r in rows}


async def refresh_subtree_headcounts(
    conn: asyncpg.Connection, schema: str, units: Collection[str] | None = None
) -> None:
    """Recompute the subtree headcount of ``units`` (every unit when None, e.g. after a rebuild
    of the projection): each one's own headcount plus every live unit's below it (a removed unit,
    and what is below it, no longer counts). Write-time work, so that reading a unit's is one row
    however large its subtree."""
    await conn.execute(
        f"""
        WITH RECURSIVE below AS (
            SELECT u.unit_id AS top, u.unit_id, 0 AS depth FROM {schema}.org_units u
            WHERE $1::text[] IS NULL OR u.unit_id = ANY($1::text[])
            UNION ALL
            SELECT b.top, o.unit_id, b.depth + 1 FROM below b JOIN {schema}.org_units o ON o.parent_id = b.unit_id
            WHERE NOT o.removed AND b.depth < 64
        )
        UPDATE {schema}.org_units t SET subtree_headcount = s.headcount
        FROM (
            SELECT b.top, sum(o.headcount) AS headcount FROM below b JOIN {schema}.org_units o USING (unit_id)
            GROUP BY b.top
        ) s
        WHERE t.unit_id = s.top AND t.subtree_headcount IS DISTINCT FROM s.headcount
        """,
        None if units is None else list(units),
    )


async def apply_org_records(
    database: Database,
    records: Sequence[ConsumerRecord[Any, Any]],
    dead_letters: DeadLetters,
    rollups: SubtreeRollups | None = None,
) -> None:
    """A live consumer's batch of ``org.units``: decoded (poison dead-lettered), then applied in
    record order in one transaction (``apply_units``)."""
    latest = await latest_units(records, dead_letters.decode_batch)
    await dead_letters.flush()
    if latest:
        async with database.transaction() as conn:
            await apply_units(conn, database.schema, latest, rollups)
