"""Each service's SQL against a real PostgreSQL: migrations, idempotent writes, subtree reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from wellpulse.alerts import store as alerts_store
from wellpulse.alerts.app import MIGRATIONS as ALERTS_MIGRATIONS
from wellpulse.alerts.rules import Decision
from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.migrations import apply_migrations
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.intake import store as intake_store
from wellpulse.intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from wellpulse.reporting import store as reporting_store
from wellpulse.reporting.app import MIGRATIONS as REPORTING_MIGRATIONS
from wellpulse.reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration

WEEK = date(2026, 11, 16)


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    for schema, migrations in (
        ("intake", INTAKE_MIGRATIONS),
        ("alerts", ALERTS_MIGRATIONS),
        ("reporting", REPORTING_MIGRATIONS),
    ):
        apply_migrations(fresh_database, schema, migrations)
    async with asyncpg.create_pool(fresh_database, min_size=1, max_size=4) as pool:
        yield pool


async def test_migrations_apply_once_per_service_schema(fresh_database: str) -> None:
    assert apply_migrations(fresh_database, "reporting", REPORTING_MIGRATIONS) == ["0001.initial"]
    assert apply_migrations(fresh_database, "alerts", ALERTS_MIGRATIONS) == ["0001.initial"]
    # Again: nothing left to do, and the same migration id in two schemas did not collide.
    assert apply_migrations(fresh_database, "reporting", REPORTING_MIGRATIONS) == []
    conn = await asyncpg.connect(fresh_database)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('reporting', 'alerts') AND table_name = 'org_units'"
        )
    finally:
        await conn.close()
    assert {r["table_schema"] for r in tables} == {"reporting", "alerts"}


async def _tree(pool: asyncpg.Pool, schema: str) -> None:
    await pool.executemany(
        f"INSERT INTO {schema}.org_units (unit_id, parent_id, name, headcount) VALUES ($1, $2, $3, $4)",
        [("org", None, "Org", 0), ("dir", "org", "Dir", 0), ("t1", "dir", "T1", 10), ("t2", "dir", "T2", 8)],
    )


def _contributions(event_id: str, unit: str, demands: float) -> list[reporting_store.Contribution]:
    return [
        reporting_store.Contribution(event_id, unit, WEEK, "responses", 1.0),
        reporting_store.Contribution(event_id, unit, WEEK, "scale:demands", demands),
    ]


async def test_reporting_counts_each_event_once_however_often_it_arrives(pool: asyncpg.Pool) -> None:
    await _tree(pool, "reporting")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    rows = _contributions(first, "t1", 2.0) + _contributions(second, "t2", 4.0)
    async with pool.acquire() as conn:
        assert await reporting_store.apply_contributions(conn, [first, second], rows) == 2
        assert await reporting_store.apply_contributions(conn, [first, second], rows) == 0
        # A batch holding one old and one new event applies only the new one.
        third = str(uuid.uuid4())
        again = rows + _contributions(third, "t1", 3.0)
        assert await reporting_store.apply_contributions(conn, [first, second, third], again) == 1

    weeks = await reporting_store.subtree_rollups(pool, "dir", WEEK, WEEK)
    by_measure = {r.measure: r for r in weeks[WEEK]}
    assert by_measure["responses"].n == 3
    assert by_measure["scale:demands"].total == pytest.approx(9.0)
    assert by_measure["scale:demands"].total_sq == pytest.approx(4 + 16 + 9)
    only_t2 = await reporting_store.subtree_rollups(pool, "t2", WEEK, WEEK)
    assert {r.measure: r.n for r in only_t2[WEEK]}["responses"] == 1


async def test_reporting_subtree_leaves_out_removed_units(pool: asyncpg.Pool) -> None:
    await _tree(pool, "reporting")
    event = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await reporting_store.apply_contributions(conn, [event], _contributions(event, "t2", 4.0))
    await pool.execute("UPDATE reporting.org_units SET removed = true WHERE unit_id = 't2'")
    assert await reporting_store.subtree_rollups(pool, "dir", WEEK, WEEK) == {}
    summary = await reporting_store.unit_summary(pool, "dir")
    assert summary is not None
    assert summary.headcount == 10
    assert await reporting_store.unit_summary(pool, "t2") is None


async def test_alert_counts_are_idempotent_and_one_alert_stays_live(pool: asyncpg.Pool) -> None:
    await _tree(pool, "alerts")
    deltas = [alerts_store.CountDelta(str(uuid.uuid4()), "t1", WEEK, leave_answered=1, leavers=1) for _ in range(3)]
    async with pool.acquire() as conn:
        assert await alerts_store.apply_counts(conn, deltas) == {("t1", WEEK)}
        assert await alerts_store.apply_counts(conn, deltas) == set()
        counts = await alerts_store.window_counts(conn, "dir", WEEK, WEEK)
        assert (counts.respondents, counts.leave_answered, counts.leavers) == (3, 3, 3)
        assert await alerts_store.ancestry(conn, "t1") == ["t1", "dir", "org"]
        assert await alerts_store.ancestry(conn, "not-in-tree") == ["not-in-tree"]

        decision = Decision("dir", 6, 0.8)
        window = (WEEK, WEEK)
        assert await alerts_store.raise_alert(conn, str(uuid.uuid4()), "r", decision, window, 0.5)
        assert not await alerts_store.raise_alert(conn, str(uuid.uuid4()), "r", decision, window, 0.5)
        await conn.execute("UPDATE alerts.alerts SET status = 'resolved'")
        assert await alerts_store.raise_alert(conn, str(uuid.uuid4()), "r", decision, window, 0.5)


async def test_org_import_reports_only_what_changed(pool: asyncpg.Pool) -> None:
    units = [
        OrgUnit(unit_id="org", parent_id=None, name="Org", headcount=0),
        OrgUnit(unit_id="t1", parent_id="org", name="T1", headcount=5),
    ]
    async with pool.acquire() as conn, conn.transaction():
        first = await intake_store.replace_org_tree(conn, units)
    async with pool.acquire() as conn, conn.transaction():
        same = await intake_store.replace_org_tree(conn, units)
    renamed = [units[0], OrgUnit(unit_id="t2", parent_id="org", name="T2", headcount=7)]
    async with pool.acquire() as conn, conn.transaction():
        moved = await intake_store.replace_org_tree(conn, renamed)
    assert (len(first.upserted), first.removed) == (2, [])
    assert (same.upserted, same.removed, same.unchanged) == ([], [], 2)
    assert ([u.unit_id for u in moved.upserted], moved.removed) == (["t2"], ["t1"])


async def test_the_org_tree_projection_climbs_from_a_unit_to_the_root(fresh_database: str) -> None:
    database = Database("reporting", REPORTING_MIGRATIONS)
    await database.open(ReportingSettings(environment="development", database_url=fresh_database))
    try:
        await _tree(database.pool, "reporting")
        tree = OrgTreeProjection(database)
        assert await tree.ancestors("t1") == ["t1", "dir", "org"]
        assert await tree.ancestors("org") == ["org"]
        assert await tree.ancestors("not-in-tree") == []
        await database.pool.execute("UPDATE reporting.org_units SET removed = true WHERE unit_id = 't2'")
        assert await tree.ancestors("t2") == [], "a removed unit is no one's to see"
    finally:
        await database.close()


async def test_alerts_are_listed_for_the_subtrees_in_scope_only(pool: asyncpg.Pool) -> None:
    await _tree(pool, "alerts")
    await pool.execute(
        "INSERT INTO alerts.org_units (unit_id, parent_id, name, headcount) VALUES ('t3', 'org', 'T3', 9)"
    )
    async with pool.acquire() as conn:
        for unit in ("t1", "t2", "t3"):
            await alerts_store.raise_alert(conn, str(uuid.uuid4()), "r", Decision(unit, 6, 0.8), (WEEK, WEEK), 0.5)
    await pool.execute("UPDATE alerts.org_units SET removed = true WHERE unit_id = 't2'")

    async def units(scope: list[str]) -> list[str]:
        return sorted(a.unit_id for a in await alerts_store.list_alerts(pool, scope, None))

    assert await units(["org"]) == ["t1", "t2", "t3"]
    assert await units(["dir"]) == ["t1", "t2"], "a removed unit's alerts stay with its old parent"
    assert await units(["t3", "t1"]) == ["t1", "t3"]
    assert await units(["nowhere"]) == []
    assert await units([]) == []
    [one] = await alerts_store.list_alerts(pool, ["t3"], "open")
    assert await alerts_store.get_alert(pool, one.alert_id) == one
    assert await alerts_store.list_alerts(pool, ["t3"], "resolved") == []
