"""Which plans PostgreSQL gives the statements behind an endpoint: each statement the service's own
code runs for a unit, recorded, then EXPLAIN ANALYZE'd as a generic plan (what a prepared
statement may switch to after five executions) and as a custom plan (planned for the unit asked
about), and once more after six executions with the server's own choice (``plan_cache_mode``)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg

from wellpulse.common.bank import load_bank
from wellpulse.common.db import Database
from wellpulse.common.events import monday_of
from wellpulse.common.measures import scale_measure
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import alerts_store, store
from wellpulse.reporting import changes as changes_view
from wellpulse.reporting import heatmap as heatmap_view
from wellpulse.reporting import items as items_view
from wellpulse.reporting.around import around, window
from wellpulse.reporting.benchmarks import Benchmarks
from wellpulse.reporting.trends import unit_trend

# A statement's generic plan is "bad" when it runs this many times slower than the custom one.
MUCH_SLOWER = 3.0


class Recorder:
    """Stands in for the pool: runs each statement on one connection and keeps it with its
    arguments and the function of the service's code that ran it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[str, str, tuple[Any, ...]]] = []

    def _keep(self, query: str, args: tuple[Any, ...]) -> None:
        caller = sys._getframe(2).f_code.co_name
        self.statements.append((caller, query, args))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self._keep(query, args)
        return await self.conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self._keep(query, args)
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self._keep(query, args)
        return await self.conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        self._keep(query, args)
        return await self.conn.execute(query, *args)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Recorder]:
        """As the pool's: the one connection (recording what runs on it)."""
        yield self

    def transaction(self) -> Any:
        return self.conn.transaction()


def literal(value: Any) -> str:
    """A SQL literal for an argument asyncpg would have bound."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        kind = "float8[]" if items and all(isinstance(v, float) for v in items) else "text[]"
        return f"ARRAY[{', '.join(literal(v) for v in items)}]::{kind}" if items else "'{}'::text[]"
    return "'" + str(value).replace("'", "''") + "'"


def _shape(plan: dict[str, Any]) -> str:
    """The plan's nodes, depth first: 'Nested Loop(Index Scan on subtree_rollups, ...)'."""
    name = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "")
    if "Index Name" in plan:
        name += f" using {plan['Index Name']}"
    children = [_shape(p) for p in plan.get("Plans", [])]
    return f"{name}({', '.join(children)})" if children else name


async def _explain(conn: asyncpg.Connection, mode: str, query: str, args: tuple[Any, ...], runs: int) -> dict[str, Any]:
    await conn.execute(f"SET plan_cache_mode = {mode}")
    await conn.execute(f"PREPARE bench_statement AS {query}")
    execute = f"EXECUTE bench_statement({', '.join(literal(a) for a in args)})" if args else "EXECUTE bench_statement"
    try:
        for _ in range(runs):
            await conn.execute(execute)
        raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {execute}")
    finally:
        await conn.execute("DEALLOCATE bench_statement")
        await conn.execute("RESET plan_cache_mode")
    top = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    text = json.dumps(top["Plan"])
    return {
        # A generic plan shows the parameters ($1) where a custom one has the values.
        "generic": "$1" in text or "$2" in text,
        "ms": round(top["Execution Time"] + top["Planning Time"], 3),
        "planning_ms": round(top["Planning Time"], 3),
        "shape": _shape(top["Plan"]),
    }


async def trends(database: Database, unit_id: str, last_week: str) -> None:
    unit = await store.unit_summary(database.pool, unit_id)
    assert unit is not None
    await unit_trend(database, SubtreeRollups(store.SCHEMA), unit, monday_of(last_week), 12, 5)


async def heatmap(database: Database, unit_id: str, last_week: str) -> None:
    unit = await store.unit_summary(database.pool, unit_id)
    assert unit is not None
    rollups, days = SubtreeRollups(store.SCHEMA), window(monday_of(last_week), 4)
    view = await around(database.pool, rollups, unit, days, {scale_measure(s) for s in heatmap_view.SCALES}, 5)
    # The benchmark: taken for the first unit's window (its cold read), then read back as kept.
    bench = await Benchmarks(rollups, 5, 5).for_window(database.pool, days[0], days[-1])
    heatmap_view.heatmap(view, bench, 5)


async def changes(database: Database, unit_id: str, last_week: str) -> None:
    unit = await store.unit_summary(database.pool, unit_id)
    assert unit is not None
    bank = load_bank()
    days = window(monday_of(last_week), 4)
    view = await around(database.pool, SubtreeRollups(store.SCHEMA), unit, days, changes_view.measures(bank), 5)
    changes_view.changes_view(view, bank, 5)


async def items(database: Database, unit_id: str, last_week: str) -> None:
    unit = await store.unit_summary(database.pool, unit_id)
    assert unit is not None
    bank, rollups, days = load_bank(), SubtreeRollups(store.SCHEMA), window(monday_of(last_week), 4)
    view = await around(database.pool, rollups, unit, days, items_view.measures(bank), 5)
    answers = await rollups.read(
        database.pool, [unit_id], days[0], days[-1], items_view.answer_measures(items_view.scored_items(bank))
    )
    items_view.items_view(view, answers, bank, 5)


async def alerts(database: Database, unit_id: str, last_week: str) -> None:
    days = window(monday_of(last_week), 12)
    raised = await alerts_store.alerts_live_or_within(database.pool, store.SCHEMA, days[0], days[-1])
    if raised:
        await SubtreeRollups(store.SCHEMA).chains(database.pool, {a.unit_id for a in raised})


# What each endpoint's handler runs, called as the service calls it (the auth seam's climb first).
# The CSV export runs what its JSON view runs.
RUNNERS: dict[str, Callable[[Database, str, str], Awaitable[None]]] = {
    "trends": trends,
    "heatmap": heatmap,
    "changes": changes,
    "items": items,
    "alerts": alerts,
}


async def explain_unit(conn: asyncpg.Connection, endpoint: str, unit_id: str, last_week: str) -> list[dict[str, Any]]:
    """Every statement the endpoint's code runs for ``unit_id``, explained three ways."""
    recorder = Recorder(conn)
    database = Database(store.SCHEMA, migrations=None)  # type: ignore[arg-type]
    database._pool = recorder  # type: ignore[assignment]
    await OrgTreeProjection(database).ancestors(unit_id)
    await RUNNERS[endpoint](database, unit_id, last_week)
    out = []
    for caller, query, args in recorder.statements:
        custom = await _explain(conn, "force_custom_plan", query, args, 0)
        generic = await _explain(conn, "force_generic_plan", query, args, 0)
        chosen = await _explain(conn, "auto", query, args, 6)
        out.append(
            {
                "function": caller,
                "statement": " ".join(query.split())[:160],
                "custom": custom,
                "generic": generic,
                "auto_after_6_runs": {"generic": chosen["generic"], "ms": chosen["ms"]},
                "generic_much_slower": generic["ms"] > MUCH_SLOWER * max(custom["ms"], 0.05),
            }
        )
    return out
