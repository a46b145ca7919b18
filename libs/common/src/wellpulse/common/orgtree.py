"""The org-tree projection consumers keep from ``org.units``: one row a unit, removed on a tombstone.

Alerts and reporting each keep their own copy in their own schema (``<schema>.org_units``, created
by their migrations); this module is the one piece of SQL that maintains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from wellpulse.common.events import OrgUnit
from wellpulse.common.kafka import DeadLetters

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


async def apply_org_records(
    pool: asyncpg.Pool,
    schema: str,
    records: Sequence[ConsumerRecord[Any, Any]],
    dead_letters: DeadLetters,
) -> None:
    """Upsert units and mark tombstoned ones removed, in record order, in one transaction."""
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
    async with pool.acquire() as conn, conn.transaction():
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
