"""Migrations against a real PostgreSQL: replicas take turns on an advisory lock that dies with its
session, so neither a crash nor a stale lock of an older version keeps a service from starting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from tests.locks import until_a_session_waits
from wellpulse.common.migrations import apply_migrations, lock_name, migration_table, yoyo_uri
from wellpulse.reporting.app import MIGRATIONS as REPORTING_MIGRATIONS

pytestmark = pytest.mark.integration
# Every migration of reporting's schema, in the order they apply.
ALL_REPORTING = sorted(p.stem for p in REPORTING_MIGRATIONS.glob("*.sql") if not p.stem.endswith(".rollback"))


def recorded(dsn: str, schema: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f'SELECT migration_id FROM {schema}."{migration_table(schema)}"').fetchall()
    return sorted(row[0] for row in rows)


async def test_replicas_starting_together_apply_each_migration_once(fresh_database: str) -> None:
    start = threading.Barrier(4)

    def replica() -> list[str]:
        start.wait()
        return apply_migrations(fresh_database, "reporting", REPORTING_MIGRATIONS)

    results = await asyncio.gather(*(asyncio.to_thread(replica) for _ in range(4)))

    assert sorted(results) == [[], [], [], ALL_REPORTING]
    assert recorded(fresh_database, "reporting") == ALL_REPORTING


async def test_a_replica_waits_for_the_migrating_one_and_goes_on_when_its_session_dies(fresh_database: str) -> None:
    holder = psycopg.connect(fresh_database, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock_name("reporting"),))
    waiting = asyncio.create_task(
        asyncio.to_thread(apply_migrations, fresh_database, "reporting", REPORTING_MIGRATIONS)
    )
    try:
        # The replica is blocked on the lock: PostgreSQL shows its session waiting for it.
        await until_a_session_waits(fresh_database, "advisory", still_running=lambda: not waiting.done())
        # The holder dies without unlocking, as a SIGKILLed process's session ends.
        with psycopg.connect(fresh_database, autocommit=True) as observer:
            observer.execute("SELECT pg_terminate_backend(%s)", (holder.info.backend_pid,))
        assert await asyncio.wait_for(waiting, 30) == ALL_REPORTING
    finally:
        holder.close()
    assert recorded(fresh_database, "reporting") == ALL_REPORTING


# What versions before the advisory lock ran: yoyo's own lock, a row in a table, around the migration.
OLD_MIGRATE = """
import sys, time
from yoyo import get_backend
backend = get_backend(sys.argv[1], migration_table=sys.argv[2])
with backend.lock():
    print("locked", flush=True)
    time.sleep(600)
"""


def crash_inside_yoyo_lock(dsn: str, schema: str) -> None:
    old = subprocess.Popen(
        [sys.executable, "-c", OLD_MIGRATE, yoyo_uri(dsn, schema), migration_table(schema)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert old.stdout is not None
        assert old.stdout.readline().strip() == "locked"
    finally:
        old.kill()  # killed mid-migration, as a replica that a node took down
        old.wait()


async def test_a_stale_yoyo_lock_left_by_an_older_version_is_removed(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA reporting")
    await asyncio.to_thread(crash_inside_yoyo_lock, fresh_database, "reporting")
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.yoyo_lock").fetchone() == (1,)

    # yoyo would wait 10 s for that row and give up; the runner removes it and migrates.
    applied = await asyncio.to_thread(apply_migrations, fresh_database, "reporting", REPORTING_MIGRATIONS)

    assert applied == ALL_REPORTING
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.yoyo_lock").fetchone() == (0,)


MIGRATE = """
import sys
from pathlib import Path
from wellpulse.common.migrations import apply_migrations
apply_migrations(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
"""


async def test_a_replica_killed_between_creating_the_tables_and_recording_them_leaves_nothing_half_done(
    fresh_database: str, tmp_path: Path
) -> None:
    # yoyo's bookkeeping first (no migrations yet), so the test can hold its log table: the runner
    # then blocks right after the migration's tables were created, before the migration is recorded.
    assert apply_migrations(fresh_database, "reporting", tmp_path) == []
    with psycopg.connect(fresh_database) as blocker:
        blocker.execute("LOCK TABLE reporting._yoyo_log IN ACCESS EXCLUSIVE MODE")
        replica = await asyncio.to_thread(
            subprocess.Popen, [sys.executable, "-c", MIGRATE, fresh_database, "reporting", str(REPORTING_MIGRATIONS)]
        )
        try:
            await until_a_session_waits(fresh_database, "relation", still_running=lambda: replica.poll() is None)
            with psycopg.connect(fresh_database) as observer:  # its tables exist, for its own session only
                assert observer.execute("SELECT to_regclass('reporting.rollups')").fetchone() == (None,)
        finally:
            replica.kill()
            await asyncio.to_thread(replica.wait)
        blocker.rollback()

    applied = await asyncio.to_thread(apply_migrations, fresh_database, "reporting", REPORTING_MIGRATIONS)

    assert applied == ALL_REPORTING
    assert recorded(fresh_database, "reporting") == ALL_REPORTING
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT to_regclass('reporting.own_rollups')::text").fetchone() == (
            "reporting.own_rollups",
        )
