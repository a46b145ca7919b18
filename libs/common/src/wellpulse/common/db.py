"""PostgreSQL access: the asyncpg pool factory and the migration runner (yoyo, one schema a service)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from wellpulse.common.settings import ServiceSettings

log = logging.getLogger(__name__)


async def create_pool(settings: ServiceSettings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(settings.database_dsn, min_size=1, max_size=settings.database_pool_size)
    assert pool is not None
    return pool


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
