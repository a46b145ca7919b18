"""Each service's SQL against a real PostgreSQL: migrations, idempotent writes, subtree reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from wellpulse.alerts import store as alerts_store
from wellpulse.alerts.app import MIGRATIONS as ALERTS_MIGRATIONS
from wellpulse.alerts.lifecycle import Status
from wellpulse.alerts.rules import Finding
from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.migrations import apply_migrations
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.rollups import Contribution, SubtreeRollups, affected_by_moves
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
    assert apply_migrations(fresh_database, "reporting", REPORTING_MIGRATIONS) == [
        "0001.initial",
        "0002.subtree-rollups",
        "0005.alerts",
    ]
    assert apply_migrations(fresh_database, "alerts", ALERTS_MIGRATIONS) == [
        "0001.initial",
        "0002.rules-lifecycle-delivery",
        "0004.status-events",
    ]
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


def _contributions(unit: str, demands: float) -> list[Contribution]:
    return [Contribution(unit, WEEK, "responses", 1.0), Contribution(unit, WEEK, "scale:demands", demands)]


async def test_reporting_counts_each_event_once_however_often_it_arrives(pool: asyncpg.Pool) -> None:
    await _tree(pool, "reporting")
    rollups = SubtreeRollups("reporting")
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    events = {first: _contributions("t1", 2.0), second: _contributions("t2", 4.0), third: _contributions("t1", 3.0)}

    async def apply(ids: list[str]) -> set[str]:
        async with pool.acquire() as conn, conn.transaction():
            fresh = await reporting_store.fresh_events(conn, "reporting", ids)
            await rollups.add(conn, [c for event in ids if event in fresh for c in events[event]])
        return fresh

    assert await apply([first, second]) == {first, second}
    assert await apply([first, second]) == set()
    # A batch holding old events and one new one applies only the new one.
    assert await apply([first, second, third]) == {third}

    cells = await rollups.read(pool, ["dir", "t2"], WEEK, WEEK)
    assert cells[("dir", WEEK, "responses")].n == 3
    assert cells[("dir", WEEK, "scale:demands")].total == pytest.approx(9.0)
    assert cells[("dir", WEEK, "scale:demands")].total_sq == pytest.approx(4 + 16 + 9)
    assert cells[("t2", WEEK, "responses")].n == 1


async def test_a_removed_unit_is_no_longer_asked_about_but_its_past_still_counts_above_it(pool: asyncpg.Pool) -> None:
    await _tree(pool, "reporting")
    rollups = SubtreeRollups("reporting")
    async with pool.acquire() as conn, conn.transaction():
        await rollups.add(conn, _contributions("t2", 4.0))
    await pool.execute("UPDATE reporting.org_units SET removed = true WHERE unit_id = 't2'")
    # The team was disbanded; what its people said while it existed is still the directorate's.
    assert (await rollups.read(pool, ["dir"], WEEK, WEEK))[("dir", WEEK, "responses")].n == 1
    summary = await reporting_store.unit_summary(pool, "dir")
    assert summary is not None
    assert summary.headcount == 10, "a removed unit's headcount is no longer the directorate's"
    assert await reporting_store.unit_summary(pool, "t2") is None


def _alert(unit: str, rule: str = "intent_to_leave", week: date = WEEK) -> alerts_store.NewAlert:
    return alerts_store.NewAlert(
        alert_id=str(uuid.uuid4()),
        rule=rule,
        family=rule,
        unit_id=unit,
        unit_name=unit.title(),
        title=f"Intent to leave is high in {unit}",
        window_start=week,
        window_end=week,
        people=6,
        findings=(Finding("share_at_least", 0.8, 0.5, "80% of 6 responses ..."),),
        disclosed={"responses": {"2026-W47": 6}},
        first_step="Hold stay conversations.",
        changes=("career",),
        follows=None,
    )


async def test_subtree_rollups_fan_out_to_every_ancestor_and_follow_a_move(pool: asyncpg.Pool) -> None:
    await _tree(pool, "alerts")
    rollups = SubtreeRollups("alerts")
    async with pool.acquire() as conn, conn.transaction():
        await rollups.add(
            conn,
            [Contribution("t1", WEEK, "responses", 1.0)] * 3
            + [Contribution("t2", WEEK, "responses", 1.0)] * 2
            + [Contribution("ghost", WEEK, "responses", 1.0)],
        )

    async def responses(*units: str) -> dict[str, int]:
        read = await rollups.read(pool, units, WEEK, WEEK, ["responses"])
        return {u: read[(u, WEEK, "responses")].n for u in units if (u, WEEK, "responses") in read}

    assert await responses("t1", "t2", "dir", "org", "ghost") == {"t1": 3, "t2": 2, "dir": 5, "org": 5, "ghost": 1}
    # t2 moves from dir to the root, and the ghost unit appears under dir: both chains are rebuilt.
    async with pool.acquire() as conn, conn.transaction():
        await rollups.lock_exclusive(conn)
        before = await rollups.chains(conn, ["t2", "ghost"])
        await conn.execute("UPDATE alerts.org_units SET parent_id = 'org' WHERE unit_id = 't2'")
        await conn.execute("INSERT INTO alerts.org_units VALUES ('ghost', 'dir', 'Ghost', 1, false)")
        after = await rollups.chains(conn, ["t2", "ghost"])
        await rollups.rebuild(conn, affected_by_moves(["t2", "ghost"], before, after))
    assert await responses("t1", "t2", "dir", "org", "ghost") == {"t1": 3, "t2": 2, "dir": 4, "org": 6, "ghost": 1}


async def test_one_live_alert_per_unit_and_rule_and_its_history(pool: asyncpg.Pool) -> None:
    await _tree(pool, "alerts")
    async with pool.acquire() as conn:
        first = _alert("dir")
        assert await alerts_store.insert_alert(conn, first)
        assert not await alerts_store.insert_alert(conn, first), "the same alert again is a replay"
        # A second live alert for the unit and rule (two consumers raced to it) is absorbed too.
        assert not await alerts_store.insert_alert(conn, _alert("dir"))
        assert (await alerts_store.latest_alert(conn, "dir", "intent_to_leave")).status is Status.open  # type: ignore[union-attr]
        await alerts_store.set_status(conn, first.alert_id, Status.resolved, "Stay conversations held")
        await alerts_store.add_event(conn, first.alert_id, "hr-1", "resolved", "Stay conversations held")
        assert await alerts_store.insert_alert(conn, _alert("dir"))
    history = await alerts_store.history(pool, first.alert_id)
    assert [(e.actor, e.action, e.note) for e in history] == [
        ("system", "raised", None),
        ("hr-1", "resolved", "Stay conversations held"),
    ]


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
            assert await alerts_store.insert_alert(conn, _alert(unit))
    await pool.execute("UPDATE alerts.org_units SET removed = true WHERE unit_id = 't2'")

    async def units(scope: list[str]) -> list[str]:
        return sorted(a.unit_id for a in await alerts_store.list_alerts(pool, scope))

    assert await units(["org"]) == ["t1", "t2", "t3"]
    assert await units(["dir"]) == ["t1", "t2"], "a removed unit's alerts stay with its old parent"
    assert await units(["t3", "t1"]) == ["t1", "t3"]
    assert await units(["nowhere"]) == []
    assert await units([]) == []
    [one] = await alerts_store.list_alerts(pool, ["t3"], status=Status.open)
    assert await alerts_store.get_alert(pool, one.alert_id) == one
    assert await alerts_store.list_alerts(pool, ["t3"], status=Status.resolved) == []
