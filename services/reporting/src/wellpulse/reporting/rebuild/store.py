"""The rebuild's SQL: the schemas it works in, the read model's tables (``TABLES``, the one list),
their rows in key order, and the swap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from wellpulse.common.migrations import lock_name, migration_table
from wellpulse.reporting.rebuild.differences import Columns, Row
from wellpulse.reporting.store import SCHEMA

# The fresh read model is built here, beside the live one; a swap moves the live model's tables
# to PREVIOUS and the rebuilt ones into their place.
REBUILT = f"{SCHEMA}_rebuild"
PREVIOUS = f"{SCHEMA}_previous"
# Two rebuilds at once would build into the same schema.
REBUILD_LOCK = f"wellpulse.rebuild.{SCHEMA}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: Columns

    def query(self, schema: str) -> str:
        # Keys as text, ordered by code point ("C"): the order Python compares str in, whatever
        # the database's collation. (An ISO date as text sorts as the date does.)
        keys = ", ".join(f"{c}::text AS {c}" for c in self.columns.key)
        order = ", ".join(f'{c}::text COLLATE "C"' for c in self.columns.key)
        values = "".join(f", {c}" for c in self.columns.values)
        return f"SELECT {keys}{values} FROM {schema}.{self.name} ORDER BY {order}"


ROLLUP = Columns(("unit_id", "week_start", "measure"), ("n", "total", "total_sq"))
# The read model: every table the topics determine, the one list of them. A rebuild compares
# exactly these and a swap replaces exactly these; every other table of the schema (yoyo's
# bookkeeping, signed-in sessions, anything not derived from the topics) stays as it is. A new
# table derived from org.units, pulse.scored or pulse.alerts is one more line here, or a swap
# leaves it stale. (applied_events' applied_on is when, not what: left out of the comparison,
# moved with its table.)
# Not in it: `team_benchmarks`, taken from these tables rather than the topics; a swap empties it.
TABLES = (
    Table("org_units", Columns(("unit_id",), ("parent_id", "name", "headcount", "removed", "subtree_headcount"))),
    Table("applied_events", Columns(("event_id",), ())),
    Table("own_rollups", ROLLUP),
    Table("subtree_rollups", ROLLUP),
    Table("alerts", Columns(("alert_id",), ("unit_id", "rule", "family", "window_end", "status", "status_seq"))),
)
NAMES = tuple(t.name for t in TABLES)


async def rows(conn: asyncpg.Connection, schema: str, table: Table) -> AsyncIterator[Row]:
    """A table's rows in key order, fetched a few thousand at a time (inside a transaction)."""
    key, values = table.columns.key, table.columns.values
    async for record in conn.cursor(table.query(schema), prefetch=5000):
        yield Row(tuple(record[c] for c in key), tuple(record[c] for c in values))


async def hold_rebuild_lock(conn: asyncpg.Connection) -> bool:
    """This session's, until it ends; False when another rebuild holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", REBUILD_LOCK))


async def hold_migration_lock(conn: asyncpg.Connection, schema: str) -> None:
    """The lock a replica migrating ``schema`` holds (``common.migrations``), until this transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock_name(schema))


async def has_read_model(conn: asyncpg.Connection, schema: str) -> bool:
    found = await conn.fetchval(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2::text[])",
        schema,
        [t.name for t in TABLES],
    )
    return bool(found == len(TABLES))


async def migrations_recorded(conn: asyncpg.Connection, schema: str) -> set[str]:
    """The migrations yoyo recorded as applied to ``schema`` (its bookkeeping lives in it)."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'{schema}."{migration_table(schema)}"'):
        return set()
    rows = await conn.fetch(f'SELECT migration_id FROM {schema}."{migration_table(schema)}"')
    return {r["migration_id"] for r in rows}


async def units_only_in(conn: asyncpg.Connection, schema: str, other: str) -> list[str]:
    """Units the tree in ``schema`` has and the one in ``other`` does not (a few, by id)."""
    rows = await conn.fetch(
        f"SELECT unit_id FROM {schema}.org_units s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {other}.org_units o WHERE o.unit_id = s.unit_id) ORDER BY unit_id LIMIT 20"
    )
    return [r["unit_id"] for r in rows]


async def keys_only_in(conn: asyncpg.Connection, schema: str, other: str, table: str, key: str) -> int:
    """Rows of ``table`` in ``schema`` whose ``key`` the same table in ``other`` lacks: responses
    counted (``applied_events``), alerts known (``alerts``)."""
    count = await conn.fetchval(
        f"SELECT count(*) FROM {schema}.{table} s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {other}.{table} o WHERE o.{key} = s.{key})"
    )
    return int(count)


async def dependents(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Objects outside the read model that hang on its tables by reference (a view over one, a
    foreign key to one): moving the tables would leave them on the replaced ones."""
    rows = await conn.fetch(
        """
        WITH model AS (
            SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
        )
        SELECT DISTINCT v.relname AS name FROM pg_depend d
        JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN (SELECT oid FROM model)
          AND v.oid NOT IN (SELECT oid FROM model)
        UNION
        SELECT DISTINCT t.relname || ' (foreign key ' || k.conname || ')' FROM pg_constraint k
        JOIN pg_class t ON t.oid = k.conrelid
        WHERE k.contype = 'f' AND k.confrelid IN (SELECT oid FROM model) AND k.conrelid NOT IN (SELECT oid FROM model)
        ORDER BY 1
        """,
        schema,
        list(NAMES),
    )
    return [r["name"] for r in rows]


async def drop_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def move_tables(conn: asyncpg.Connection, source: str, target: str) -> None:
    """The read model's tables, with their indexes and constraints, from one schema to another
    (inside the caller's transaction; ``target`` must not have them)."""
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {target}")
    for name in NAMES:
        await conn.execute(f"ALTER TABLE {source}.{name} SET SCHEMA {target}")
