"""PostgreSQL access: the asyncpg pool factory and the migration runner (yoyo, one schema a service)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from wellpulse.common.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Database:
    """One service's schema and connection pool; the pool is opened by the service's lifespan."""

    schema: str
    migrations: Path
    _pool: asyncpg.Pool | None = field(default=None, repr=False)

    async def open(self, settings: ServiceSettings) -> None:
        if settings.migrate_on_start:
            await apply_migrations_async(settings.database_dsn, self.schema, self.migrations)
        self._pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=settings.database_pool_size)

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


def apply_migrations(dsn: str, schema: str, migrations: Path) -> list[str]:
    """Apply the pending migrations of one service's schema; returns the ids applied.

    Each service keeps its own yoyo bookkeeping inside its own schema, so services migrate
    independently and a migration id only has to be unique within its service.
    """
    # A sibling replica may create it at the same moment; either way it exists afterwards.
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.UniqueViolation),
    ):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    backend = get_backend(_yoyo_uri(dsn, schema), migration_table=f"_yoyo_{schema}_migration")
    with backend.lock():
        pending = backend.to_apply(read_migrations(str(migrations)))
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    if applied:
        log.info("applied migrations to schema %s: %s", schema, ", ".join(applied))
    return applied


async def apply_migrations_async(dsn: str, schema: str, migrations: Path) -> list[str]:
    return await asyncio.to_thread(apply_migrations, dsn, schema, migrations)


def _yoyo_uri(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = "&".join(q for q in (parts.query, f"schema={schema}") if q)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, query, parts.fragment))
