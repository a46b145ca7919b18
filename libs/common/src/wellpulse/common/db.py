"""PostgreSQL access: one service's schema and asyncpg pool, migrated (``migrations``) before it opens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from wellpulse.common.migrations import apply_migrations
from wellpulse.common.settings import ServiceSettings

# Plan every execution of a prepared statement for its own parameters. asyncpg prepares (and
# caches) each statement; after five executions PostgreSQL may switch it to one generic plan made
# without the parameters, chosen for an "average" unit: the plan that reads a whole organisation's
# rows for the root then serves a team too (and the reverse). The read model's statements are
# small, so planning each one (well under a millisecond) costs less than one wrong plan.
# ``bench/reporting.py`` explains each statement both ways (its "plans" figures).
CUSTOM_PLANS: Mapping[str, str] = {"plan_cache_mode": "force_custom_plan"}


@dataclass
class Database:
    """One service's schema and connection pool; the pool is opened by the service's lifespan.
    ``server_settings`` are set on every connection of the pool (e.g. ``CUSTOM_PLANS``): they are
    the session's defaults, so the pool's ``RESET ALL`` keeps them."""

    schema: str
    migrations: Path
    # asyncpg resets a connection's session as it goes back to the pool (advisory unlock all, CLOSE
    # ALL, UNLISTEN *, RESET ALL): one more round trip per acquire. A service that keeps no session
    # state (no SET, LISTEN, cursors or session advisory locks) may skip it; an open transaction is
    # rolled back all the same.
    reset_sessions: bool = True
    server_settings: Mapping[str, str] = field(default_factory=dict)
    _pool: asyncpg.Pool | None = field(default=None, repr=False)

    async def open(self, settings: ServiceSettings) -> None:
        if settings.migrate_on_start:
            await apply_migrations_async(settings.database_dsn, self.schema, self.migrations)
        self._pool = await asyncpg.create_pool(
            settings.database_dsn,
            min_size=1,
            max_size=settings.database_pool_size,
            reset=None if self.reset_sessions else _keep_session,
            server_settings=dict(self.server_settings),
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet (the app has not started)")
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A unit of work: commits when the block ends, rolls back when anything escapes it."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")


async def _keep_session(_: asyncpg.Connection) -> None:
    """A pool reset that sends nothing: the session has no state worth a round trip to clear."""


async def apply_migrations_async(dsn: str, schema: str, migrations: Path) -> list[str]:
    return await asyncio.to_thread(apply_migrations, dsn, schema, migrations)
