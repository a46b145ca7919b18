"""A service killed at any point of its start (before, while and after migrating) comes back within
its normal start time with its schema whole; two replicas started together on an empty database
both come up and apply the schema once. Each on a broker and databases of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import psycopg
import pytest
from yoyo import read_migrations

from tests.e2e.support import Auth, lone_service, own_broker
from tests.locks import until_a_session_waits
from wellpulse.common.migrations import apply_migrations, lock_name, migration_table
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.settings import ServiceSettings
from wellpulse.devstack.embedded import EmbeddedTansu
from wellpulse.devstack.processes import ServiceProcess
from wellpulse.devstack.stack import Infrastructure
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.handlers import GROUP
from wellpulse.reporting.store import SCHEMA

SERVICE = "reporting"
GROUPS = (f"{GROUP}.scored", f"{GROUP}.org-units")
MIGRATION_IDS = sorted(m.id for m in read_migrations(str(MIGRATIONS)))
SESSION_TIMEOUT_S = ServiceSettings.model_fields["kafka_session_timeout_ms"].default / 1000
# Kills spread over a normal start, as fractions of it: Python starting, migrating, topics, joins.
SWEEP = (0.1, 0.3, 0.5, 0.7, 0.9)

NewDatabase = Callable[[], Awaitable[str]]
# Sets up the database, then (given the started process) waits for the moment to kill it.
KillPoint = Callable[[str], AbstractAsyncContextManager[Callable[[ServiceProcess], Awaitable[None]]]]


@pytest.fixture
async def new_database(infrastructure: Infrastructure) -> AsyncIterator[NewDatabase]:
    """Empty databases on demand, each dropped afterwards."""
    admin = await asyncpg.connect(infrastructure.database_url)
    base, _, _ = infrastructure.database_url.rpartition("/")
    created: list[str] = []

    async def create() -> str:
        created.append(f"t_{uuid.uuid4().hex[:12]}")
        await admin.execute(f'CREATE DATABASE "{created[-1]}"')
        return f"{base}/{created[-1]}"

    try:
        yield create
    finally:
        for name in created:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_killed_at_any_point_of_its_start_it_comes_back_within_its_normal_start_time(
    new_database: NewDatabase, auth: Auth
) -> None:
    async with own_broker() as tansu:
        # Like a pod whose container is restarted: the same group instance id every time.
        env = {"REPORTING_KAFKA_GROUP_INSTANCE_ID": f"reporting-{uuid.uuid4().hex[:6]}"}

        def replica(database_url: str) -> ServiceProcess:
            return lone_service(SERVICE, database_url, tansu.bootstrap, auth.issuer_url, _logs(tansu), env)

        reference = await new_database()
        first = replica(reference)
        normal = await _timed_start(first)
        first.stop()
        tables = _tables(reference)
        assert {"own_rollups", "subtree_rollups", "org_units", "applied_events"} <= tables
        # Generous, for a shared two-core machine: twice a normal start, plus the session timeout
        # the broker may wait before it hands the killed member's partitions on.
        bound = 2 * normal + SESSION_TIMEOUT_S

        points: list[tuple[str, KillPoint]] = [(f"{f:.0%} into its start", _after(f * normal)) for f in SWEEP]
        points += [
            ("while it waits for another replica's migration", _waiting_for_the_migration_lock),
            ("inside its migration: tables created, not yet recorded", _inside_the_migration),
            ("once ready", _once_ready),
        ]
        for where, kill_point in points:
            database_url = await new_database()
            async with kill_point(database_url) as moment:
                victim = replica(database_url)
                victim.start()
                await moment(victim)
                victim.kill()
            again = replica(database_url)
            try:
                took = await _timed_start(again, within=bound + 30)
                assert took <= bound, f"killed {where}, it was ready again after {took:.1f}s (normal: {normal:.1f}s)"
                assert _tables(database_url) == tables, f"killed {where}"
                assert _recorded(database_url) == dict.fromkeys(MIGRATION_IDS, 1), f"killed {where}"
                assert _leftover_locks(database_url) == (0, 0), f"killed {where}"
            finally:
                again.stop()


@pytest.mark.parametrize("service", ["pulse-intake", "reporting"])
async def test_two_replicas_started_together_on_an_empty_database_both_become_ready(
    service: str, fresh_database: str, auth: Auth
) -> None:
    async with own_broker() as tansu:
        prefix = "INTAKE_" if service == "pulse-intake" else "REPORTING_"
        replicas = [
            lone_service(
                service,
                fresh_database,
                tansu.bootstrap,
                auth.issuer_url,
                _logs(tansu),
                {f"{prefix}KAFKA_GROUP_INSTANCE_ID": f"{service}-{name}"},
            )
            for name in ("a", "b")
        ]
        for process in replicas:
            process.start()
        try:
            await asyncio.gather(*(asyncio.to_thread(process.wait_ready) for process in replicas))
            schema = "intake" if service == "pulse-intake" else SCHEMA
            with psycopg.connect(fresh_database) as conn:
                rows = conn.execute(
                    f'SELECT migration_id, count(*) FROM {schema}."{migration_table(schema)}" GROUP BY 1'
                ).fetchall()
            wanted = sorted(m.id for m in read_migrations(str(_migrations_of(service))))
            assert dict(rows) == dict.fromkeys(wanted, 1)
            assert [process.process.poll() for process in replicas if process.process] == [None, None]
        finally:
            for process in replicas:
                process.stop()


def _migrations_of(service: str) -> Path:
    if service == "pulse-intake":
        from wellpulse.intake.app import MIGRATIONS as INTAKE_MIGRATIONS

        return INTAKE_MIGRATIONS
    return MIGRATIONS


def _logs(tansu: EmbeddedTansu) -> Path:
    return tansu.root.parent / "logs"


async def _timed_start(process: ServiceProcess, within: float = 60.0) -> float:
    """Start; seconds until /readyz answered 200, which it must not do before every group is joined."""
    log = process.log_dir / f"{process.spec.name}.log"
    seen = log.stat().st_size if log.exists() else 0
    started = time.monotonic()
    process.start()
    await asyncio.to_thread(process.wait_ready, within)
    took = time.monotonic() - started
    with log.open("rb") as text:
        text.seek(seen)
        written = text.read().decode(errors="replace")
    for group in GROUPS:
        assert f"Joined group '{group}'" in written, f"ready before joining {group}"
    return took


def _after(seconds: float) -> KillPoint:
    @asynccontextmanager
    async def point(_: str) -> AsyncIterator[Callable[[ServiceProcess], Awaitable[None]]]:
        async def moment(_: ServiceProcess) -> None:
            await asyncio.sleep(seconds)  # the kill delay itself, not a wait for something to happen

        yield moment

    return point


@asynccontextmanager
async def _waiting_for_the_migration_lock(
    database_url: str,
) -> AsyncIterator[Callable[[ServiceProcess], Awaitable[None]]]:
    """Another replica (this test) holds the schema's migration lock until the victim is killed."""
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock_name(SCHEMA),))

        async def moment(victim: ServiceProcess) -> None:
            await until_a_session_waits(database_url, "advisory", still_running=_alive(victim))

        yield moment


@asynccontextmanager
async def _inside_the_migration(database_url: str) -> AsyncIterator[Callable[[ServiceProcess], Awaitable[None]]]:
    """yoyo's log table held, so the victim stops after creating its tables, before recording them."""
    with tempfile.TemporaryDirectory() as no_migrations:  # yoyo's bookkeeping tables, nothing else
        assert apply_migrations(database_url, SCHEMA, Path(no_migrations)) == []
    with psycopg.connect(database_url) as holder:
        holder.execute(f"LOCK TABLE {SCHEMA}._yoyo_log IN ACCESS EXCLUSIVE MODE")

        async def moment(victim: ServiceProcess) -> None:
            await until_a_session_waits(database_url, "relation", still_running=_alive(victim))

        yield moment
        holder.rollback()


@asynccontextmanager
async def _once_ready(_: str) -> AsyncIterator[Callable[[ServiceProcess], Awaitable[None]]]:
    async def moment(victim: ServiceProcess) -> None:
        await asyncio.to_thread(victim.wait_ready)

    yield moment


def _alive(victim: ServiceProcess) -> Callable[[], bool]:
    return lambda: victim.process is not None and victim.process.poll() is None


def _tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (SCHEMA,))
        return {row[0] for row in rows}


def _recorded(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f'SELECT migration_id, count(*) FROM {SCHEMA}."{migration_table(SCHEMA)}" GROUP BY 1')
        return {row[0]: row[1] for row in rows}


def _leftover_locks(database_url: str) -> tuple[int, int]:
    """(yoyo lock rows, advisory locks held in this database) once the service is up again: none
    but the tree lock, which the running service takes as it works (e.g. taking a benchmark)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {SCHEMA}.yoyo_lock").fetchone()
        held = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND NOT (classid = 0 AND objid::bigint = %s AND objsubid = 1)",
            (SubtreeRollups(SCHEMA).lock_key,),
        ).fetchone()
    return (rows[0] if rows else -1, held[0] if held else -1)


async def test_the_migrate_command_applies_the_schema_once_and_exits(fresh_database: str, auth: Auth) -> None:
    script = Path(sys.executable).parent / "wellpulse-reporting"
    env = {
        **os.environ,
        "REPORTING_ENVIRONMENT": "development",
        "REPORTING_DATABASE_URL": fresh_database,
        "REPORTING_OIDC_ISSUER": auth.issuer_url,
    }

    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    first = await asyncio.to_thread(migrate)
    again = await asyncio.to_thread(migrate)

    assert (first.returncode, again.returncode) == (0, 0), (first.stderr, again.stderr)
    assert f"reporting: {len(MIGRATION_IDS)} migration(s) applied" in first.stderr
    assert "reporting: 0 migration(s) applied" in again.stderr
    assert _recorded(fresh_database) == dict.fromkeys(MIGRATION_IDS, 1)
