"""Migrations against a real PostgreSQL: replicas take turns on an advisory lock that dies with its
session, so neither a crash nor a stale lock of an older version keeps a service from starting."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import psycopg
import pytest

from wellpulse.common.migrations import apply_migrations, lock_name, migration_table, yoyo_uri
from wellpulse.reporting.app import MIGRATIONS as REPORTING_MIGRATIONS

pytestmark = pytest.mark.integration


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

    assert sorted(results) == [[], [], [], ["0001.initial"]]
    assert recorded(fresh_database, "reporting") == ["0001.initial"]


async def test_a_replica_waits_for_the_migrating_one_and_goes_on_when_its_session_dies(fresh_database: str) -> None:
    holder = psycopg.connect(fresh_database, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock_name("reporting"),))
    waiting = asyncio.create_task(
        asyncio.to_thread(apply_migrations, fresh_database, "reporting", REPORTING_MIGRATIONS)
    )
    try:
        with psycopg.connect(fresh_database, autocommit=True) as observer:
            # The replica is blocked on the lock: PostgreSQL shows its session waiting for it.
            deadline = asyncio.get_running_loop().time() + 30
            while not observer.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0]:  # type: ignore[index]
                assert asyncio.get_running_loop().time() < deadline, "the replica never waited for the lock"
                assert not waiting.done(), "the replica migrated while another session held the lock"
                await asyncio.sleep(0.05)
            assert not waiting.done()
            # The holder dies without unlocking (as a SIGKILLed process's session ends).
            pid = holder.info.backend_pid
            observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert await asyncio.wait_for(waiting, 30) == ["0001.initial"]
    finally:
        holder.close()
    assert recorded(fresh_database, "reporting") == ["0001.initial"]


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

    assert applied == ["0001.initial"]
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.yoyo_lock").fetchone() == (0,)
