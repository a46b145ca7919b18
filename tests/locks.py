"""What the tests see of PostgreSQL's locks: wait until some session of a database waits for one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg


async def until_a_session_waits(
    dsn: str,
    locktype: str,
    *,
    still_running: Callable[[], bool] = lambda: True,
    within: float = 60.0,
    sessions: int = 1,
) -> None:
    """Until a session (``sessions`` of them) of this database waits for a lock of this type
    (``advisory``, ``relation``); fails when ``still_running`` turns false first or the deadline passes."""
    deadline = time.monotonic() + within
    with psycopg.connect(dsn, autocommit=True) as observer:
        while True:
            row = observer.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = %s AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (locktype,),
            ).fetchone()
            if row and row[0] >= sessions:
                return
            assert still_running(), f"it ended instead of waiting for a {locktype} lock"
            waiting = f"{sessions} session(s) waiting for a {locktype} lock"
            assert time.monotonic() < deadline, f"not {waiting} within {within:.0f}s"
            await asyncio.sleep(0.05)
