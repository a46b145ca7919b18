"""Each service's SQL against a real PostgreSQL: migrations, idempotent writes, subtree reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from starlette.requests import Request

from wellpulse.alerts import store as alerts_store
from wellpulse.alerts.app import MIGRATIONS as ALERTS_MIGRATIONS
from wellpulse.alerts.lifecycle import Status
from wellpulse.alerts.rules import Finding
from wellpulse.common.auth import Principal, Role
from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.migrations import apply_migrations
from wellpulse.common.orgtree import OrgTreeProjection, UnitState, apply_units, refresh_subtree_headcounts
from wellpulse.common.rollups import Contribution, SubtreeRollups, affected_by_moves
from wellpulse.intake import store as intake_store
from wellpulse.intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from wellpulse.reporting import store as reporting_store
from wellpulse.reporting.app import MIGRATIONS as REPORTING_MIGRATIONS
from wellpulse.reporting.dashboard.sessions import Cookies, PendingSignIn, PostgresSessions
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
        "0003.dashboard-sessions",
        "0004.subtree-headcounts",
        "0005.alerts",
        "0006.team-benchmarks",
    ]
    assert apply_migrations(fresh_database, "alerts", ALERTS_MIGRATIONS) == [
        "0001.initial",
        "0002.rules-lifecycle-delivery",
        "0003.subtree-headcounts",
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
    """org > dir > t1 (10 people), t2 (8), through the projection's own write path."""
    units = [("org", None, 0), ("dir", "org", 0), ("t1", "dir", 10), ("t2", "dir", 8)]
    async with pool.acquire() as conn, conn.transaction():
        await apply_units(
            conn,
            schema,
            {u: UnitState(OrgUnit(unit_id=u, parent_id=p, name=u.title(), headcount=h), False) for u, p, h in units},
        )


async def _remove(pool: asyncpg.Pool, schema: str, unit: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await apply_units(conn, schema, {unit: UnitState(None, removed=True)})


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
    await _remove(pool, "reporting", "t2")
    # The team was disbanded; what its people said while it existed is still the directorate's.
    assert (await rollups.read(pool, ["dir"], WEEK, WEEK))[("dir", WEEK, "responses")].n == 1
    summary = await reporting_store.unit_summary(pool, "dir")
    assert summary is not None
    assert summary.headcount == 10, "a removed unit's headcount is no longer the directorate's"
    assert await reporting_store.unit_summary(pool, "t2") is None


async def test_subtree_headcounts_follow_imports_moves_removals_and_returns(pool: asyncpg.Pool) -> None:
    await _tree(pool, "reporting")

    async def heads() -> dict[str, int]:
        rows = await pool.fetch("SELECT unit_id, subtree_headcount FROM reporting.org_units WHERE NOT removed")
        return {r["unit_id"]: r["subtree_headcount"] for r in rows}

    async def apply(units: dict[str, OrgUnit | None]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            latest = {
                u: UnitState(state, removed=False) if state else UnitState(None, True) for u, state in units.items()
            }
            await apply_units(conn, "reporting", latest)

    def unit(unit_id: str, parent: str | None, headcount: int) -> OrgUnit:
        return OrgUnit(unit_id=unit_id, parent_id=parent, name=unit_id.title(), headcount=headcount)

    assert await heads() == {"org": 18, "dir": 18, "t1": 10, "t2": 8}
    # A team arrives before its parent: it stands alone until the parent comes, then counts above it.
    await apply({"t3": unit("t3", "dir2", 4)})
    assert (await heads())["t3"] == 4
    await apply({"dir2": unit("dir2", "org", 1)})
    assert await heads() == {"org": 23, "dir": 18, "dir2": 5, "t1": 10, "t2": 8, "t3": 4}
    # t1 moves to dir2 with a new headcount; both directorates and the root follow.
    await apply({"t1": unit("t1", "dir2", 12)})
    assert await heads() == {"org": 25, "dir": 8, "dir2": 17, "t1": 12, "t2": 8, "t3": 4}
    # dir2 is removed: nothing under it counts above it any more; it comes back whole.
    await apply({"dir2": None})
    assert await heads() == {"org": 8, "dir": 8, "t1": 12, "t2": 8, "t3": 4}
    await apply({"dir2": unit("dir2", "org", 1)})
    assert await heads() == {"org": 25, "dir": 8, "dir2": 17, "t1": 12, "t2": 8, "t3": 4}
    # A rebuilt projection (rows written without them) gets them all back in one call.
    await pool.execute("UPDATE reporting.org_units SET subtree_headcount = 0")
    async with pool.acquire() as conn:
        await refresh_subtree_headcounts(conn, "reporting")
    assert await heads() == {"org": 25, "dir": 8, "dir2": 17, "t1": 12, "t2": 8, "t3": 4}


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


@pytest.fixture
async def reporting_database(fresh_database: str) -> AsyncIterator[Database]:
    database = Database("reporting", REPORTING_MIGRATIONS)
    await database.open(ReportingSettings(environment="development", database_url=fresh_database))
    try:
        yield database
    finally:
        await database.close()


async def test_the_unit_picker_lists_each_unit_in_scope_once_in_tree_order(reporting_database: Database) -> None:
    pool = reporting_database.pool
    await _tree(pool, "reporting")
    await pool.executemany(
        "INSERT INTO reporting.org_units (unit_id, parent_id, name, headcount, removed) VALUES ($1, $2, $3, $4, $5)",
        [("a0", "dir", "Aardvarks", 3, False), ("gone", "dir", "Gone", 3, True), ("east", "org", "East", 0, False)],
    )

    def listed(units: list[reporting_store.ScopeUnit]) -> list[tuple[str, int]]:
        return [(u.unit_id, u.depth) for u in units]

    everything = await reporting_store.units_below(pool, ["org"], 100)
    assert listed(everything) == [("org", 0), ("dir", 1), ("a0", 2), ("t1", 2), ("t2", 2), ("east", 1)]
    # A unit in scope twice (itself and under another) is listed once, in its place in the tree.
    assert listed(await reporting_store.units_below(pool, ["t2", "dir"], 100)) == [
        ("dir", 0),
        ("a0", 1),
        ("t1", 1),
        ("t2", 1),
    ]
    assert listed(await reporting_store.units_below(pool, ["gone", "nowhere"], 100)) == []
    assert listed(await reporting_store.units_below(pool, ["org"], 2)) == [("org", 0), ("dir", 1)]


async def test_a_dashboard_session_lasts_until_it_is_closed_or_expires(reporting_database: Database) -> None:
    sessions = PostgresSessions(reporting_database, Cookies(secure=True))
    leader = Principal("pat", frozenset({Role.leader, Role.hr}), ("north", "south"))
    soon = datetime.now(UTC) + timedelta(minutes=5)
    session_id = await sessions.open(leader, soon)

    def browser(cookie: str | None) -> Request:
        headers = [(b"cookie", f"{sessions.cookies.session}={cookie}".encode())] if cookie else []
        return Request({"type": "http", "method": "GET", "path": "/dashboard/", "headers": headers})

    assert await sessions.principal(browser(session_id)) == leader
    assert await sessions.principal(browser(None)) is None
    assert await sessions.principal(browser(session_id[:-1] + "x")) is None
    stored = await reporting_database.pool.fetch("SELECT * FROM reporting.dashboard_sessions")
    assert len(stored) == 1
    assert session_id.encode() not in repr(dict(stored[0])).encode(), "only a hash of the id is kept"

    await sessions.close(session_id)
    assert await sessions.principal(browser(session_id)) is None, "signing out ends the session for good"

    expired = await sessions.open(leader, datetime.now(UTC) - timedelta(seconds=1))
    assert await sessions.principal(browser(expired)) is None
    await sessions.open(leader, soon)  # opening a session sweeps the expired ones away
    assert await reporting_database.pool.fetchval("SELECT count(*) FROM reporting.dashboard_sessions") == 1


async def test_a_sign_in_in_progress_is_taken_once_and_only_while_fresh(reporting_database: Database) -> None:
    sessions = PostgresSessions(reporting_database, Cookies(secure=False))
    pending = PendingSignIn(state="s1", nonce="n1", code_verifier="v" * 48, return_to="/dashboard/units/t1")
    binding = await sessions.begin_sign_in(pending)
    assert await sessions.finish_sign_in("not-the-binding") is None
    assert await sessions.finish_sign_in(binding) == pending
    assert await sessions.finish_sign_in(binding) is None, "a sign-in's answer is accepted once"

    stale = await sessions.begin_sign_in(pending)
    await reporting_database.pool.execute(
        "UPDATE reporting.dashboard_sign_ins SET expires_at = now() - interval '1 second'"
    )
    assert await sessions.finish_sign_in(stale) is None
