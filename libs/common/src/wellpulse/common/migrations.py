"""Applying one service's schema migrations (yoyo), one replica at a time.

Replicas take turns on a PostgreSQL advisory lock, one per schema, held by the migrating session.
PostgreSQL releases it when that session ends, however the process ends, so a replica killed in
the middle of a migration never leaves a lock behind for the next one to wait on. yoyo's own lock,
a row in a table, would stay until someone deleted it; it is never taken here, and a row that an
older version left behind is removed. Each migration commits together with its record, so a crash
never leaves one applied but unrecorded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri

log = logging.getLogger(__name__)


def lock_name(schema: str) -> str:
    """What the advisory lock of a schema's migrations is keyed on (``hashtext`` of it)."""
    return f"wellpulse.migrate.{schema}"


def migration_table(schema: str) -> str:
    return f"_yoyo_{schema}_migration"


def apply_migrations(dsn: str, schema: str, migrations: Path) -> list[str]:
    """Apply the pending migrations of one service's schema; returns the ids applied.

    Each service keeps its own yoyo bookkeeping inside its own schema, so services migrate
    independently and a migration id only has to be unique within its service. Replicas that
    start together wait for each other here; the first applies, the others find nothing to do.
    """
    with psycopg.connect(dsn, autocommit=True) as session, _migration_lock(session, schema):
        session.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        backend = _AdvisoryLockedBackend(parse_uri(yoyo_uri(dsn, schema)), migration_table(schema))
        try:
            backend.init_database()
            _remove_stale_yoyo_lock(session, schema)
            pending = backend.to_apply(read_migrations(str(migrations)))
            backend.apply_migrations(pending)
        finally:
            backend.connection.close()
    applied = [m.id for m in pending]
    if applied:
        log.info("applied migrations to schema %s: %s", schema, ", ".join(applied))
    return applied


@contextlib.contextmanager
def _migration_lock(session: psycopg.Connection[TupleRow], schema: str) -> Iterator[None]:
    # A session-level lock: it outlives every transaction yoyo commits or rolls back in the
    # meantime, and ends with the session if the process dies.
    name = lock_name(schema)
    row = session.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()
    if not (row and row[0]):
        log.info("schema %s: another replica is migrating it; waiting for it to finish", schema)
        session.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
    try:
        yield
    finally:
        session.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))


def _remove_stale_yoyo_lock(session: psycopg.Connection[TupleRow], schema: str) -> None:
    """Delete the row yoyo's own lock writes: only versions before the advisory lock wrote one, and
    a replica of theirs killed while migrating left it there for every later start to wait on."""
    table = sql.Identifier(schema, _AdvisoryLockedBackend.lock_table)
    for pid, since in session.execute(sql.SQL("DELETE FROM {} RETURNING pid, ctime").format(table)):
        log.warning("schema %s: removed a stale migration lock left by process %s at %s", schema, pid, since)


class _AdvisoryLockedBackend(PostgresqlPsycopgBackend):  # type: ignore[misc] # yoyo ships no types
    """yoyo's PostgreSQL backend, with its table-row lock replaced by the advisory lock that
    ``apply_migrations`` holds for as long as this backend is in use."""

    @contextlib.contextmanager
    def lock(self, timeout: int = 10) -> Iterator[None]:
        yield

    def apply_one(self, migration: Any, force: bool = False, mark: bool = True) -> None:
        """Apply a migration and record it in one transaction.

        yoyo applies a migration on a second connection, commits, and only then records it: a crash
        in between leaves tables that no record explains, and every later start fails creating
        them again. A migration declared non-transactional is left to yoyo as it is.
        """
        migration.load()
        if not migration.use_transactions:
            super().apply_one(migration, force=force, mark=mark)
            return
        log.info("applying %s", migration.id)
        self.ensure_internal_schema_updated()
        with self.transaction():  # the migration's own transaction becomes a savepoint inside it
            migration.process_steps(self, "apply", force=force)
            self.log_migration(migration, "apply")
            if mark:
                self.mark_one(migration, log=False)


def yoyo_uri(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = "&".join(q for q in (parts.query, f"schema={schema}") if q)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, query, parts.fragment))
