"""The org-tree projection consumers keep from ``org.units``: one row a unit, removed on a tombstone.

Alerts and reporting each keep their own copy in their own schema (``<schema>.org_units``, created
by their migrations); this module is the one piece of SQL that maintains and climbs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord

from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.kafka import DeadLetters
from wellpulse.common.rollups import SubtreeRollups, affected_by_moves, moved_units

# A unit's subtree: itself and every live descendant. ``{schema}`` is a service's own schema name,
# never user input.
SUBTREE_CTE = """
WITH RECURSIVE subtree AS (
    SELECT $1::text AS unit_id
    UNION ALL
    SELECT u.unit_id FROM {schema}.org_units u JOIN subtree s ON u.parent_id = s.unit_id
    WHERE NOT u.removed
)
"""

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


async def apply_org_records(
    database: Database,
    records: Sequence[ConsumerRecord[Any, Any]],
    dead_letters: DeadLetters,
    rollups: SubtreeRollups | None = None,
) -> None:
    """Upsert units and mark tombstoned ones removed, in record order, in one transaction.

    With ``rollups``, a unit that moved (or appeared under a parent) has the subtree rollups of
    its old and new ancestors rebuilt in the same transaction.
    """
    live = [r for r in records if r.value is not None]
    decoded = {
        (r.record.partition, r.record.offset): r.event.data for r in await dead_letters.decode_batch(live, OrgUnit)
    }
    await dead_letters.flush()
    # Record order matters: a unit removed and then created again in one batch is live.
    latest: dict[str, OrgUnit | None] = {}
    for record in records:
        if record.value is None:
            if record.key:
                latest[record.key.decode()] = None  # compaction's tombstone: the unit was removed
        elif (unit := decoded.get((record.partition, record.offset))) is not None:
            latest[unit.unit_id] = unit
    if not latest:
        return
    upserts = [u for u in latest.values() if u is not None]
    removed = [unit_id for unit_id, u in latest.items() if u is None]
    schema = database.schema
    async with database.transaction() as conn:
        if rollups is not None:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", rollups.lock_key)
            before = {
                r["unit_id"]: r["parent_id"]
                for r in await conn.fetch(
                    f"SELECT unit_id, parent_id FROM {schema}.org_units WHERE unit_id = ANY($1::text[])",
                    [u.unit_id for u in upserts],
                )
            }
            moved = moved_units(before, {u.unit_id: u.parent_id for u in upserts})
            old_chains = await rollups.chains(conn, moved)
        await conn.executemany(
            f"""
            INSERT INTO {schema}.org_units (unit_id, parent_id, name, headcount, removed)
            VALUES ($1, $2, $3, $4, false)
            ON CONFLICT (unit_id) DO UPDATE SET parent_id = excluded.parent_id,
                name = excluded.name, headcount = excluded.headcount, removed = false
            """,
            [(u.unit_id, u.parent_id, u.name, u.headcount) for u in upserts],
        )
        await conn.execute(
            f"UPDATE {schema}.org_units SET removed = true WHERE unit_id = ANY($1::text[])",
            removed,
        )
        if rollups is not None and moved:
            await rollups.rebuild(conn, affected_by_moves(moved, old_chains, await rollups.chains(conn, moved)))
