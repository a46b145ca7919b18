"""The rebuild's topic replay against a real broker: every record of multi-record batches is read
(Tansu's ListOffsets answers short of them), from offset 0 or from where a replay ended, in a
consumer of no group; and the rebuild command says what to fix when something is missing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.e2e.support import own_broker
from wellpulse.common.migrations import apply_migrations
from wellpulse.devstack.embedded import free_port
from wellpulse.devstack.stack import Infrastructure
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.rebuild.replay import TopicReplay
from wellpulse.reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration


async def _topic(bootstrap: str, partitions: int) -> str:
    name = f"replay-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _batches(bootstrap: str, topic: str, sizes: Mapping[int, list[int]], tag: str) -> dict[int, list[bytes]]:
    """Record batches of the given sizes on each partition, each sent as one batch."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent: dict[int, list[bytes]] = {}
    try:
        for partition, batch_sizes in sizes.items():
            for b, size in enumerate(batch_sizes):
                batch = producer.create_batch()
                values = [f"{tag}-{partition}-{b}-{i}".encode() for i in range(size)]
                for value in values:
                    assert batch.append(key=b"k", value=value, timestamp=None) is not None
                batch.close()
                await (await producer.send_batch(batch, topic, partition=partition))
                sent.setdefault(partition, []).extend(values)
    finally:
        await producer.stop()
    return sent


async def _replay(bootstrap: str, topic: str, start: Mapping[int, int]) -> tuple[dict[int, list[bytes]], TopicReplay]:
    replay = TopicReplay(ReportingSettings(kafka_bootstrap_servers=bootstrap), topic, start, batch_size=4)
    read: dict[int, list[bytes]] = {}
    async for batch in replay.batches():
        for record in batch:
            read.setdefault(record.partition, []).append(record.value)
    return read, replay


async def test_every_record_of_multi_record_batches_is_read_and_the_next_replay_goes_on_from_there(
    infrastructure: Infrastructure,
) -> None:
    bootstrap = infrastructure.kafka_bootstrap
    topic = await _topic(bootstrap, 3)
    # The last batch on partition 0 holds five records: its end is five past that batch's base.
    first = await _batches(bootstrap, topic, {0: [3, 1, 5], 1: [1, 6]}, "a")

    read, replay = await _replay(bootstrap, topic, {})

    assert read == first, "each partition's records, all of them, in order"
    assert replay.positions == {0: 9, 1: 7, 2: 0}, "partition 2 is empty, and read to its end at once"
    assert replay.total() == 16

    more = await _batches(bootstrap, topic, {1: [4], 2: [2, 3]}, "b")
    again, replay = await _replay(bootstrap, topic, replay.positions)

    assert again == more, "only what came after the last replay's ends"
    assert replay.positions == {0: 9, 1: 11, 2: 5}

    nothing, replay = await _replay(bootstrap, topic, replay.positions)
    assert nothing == {}
    assert replay.positions == {0: 9, 1: 11, 2: 5}


def _rebuild(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "wellpulse-reporting"
    return subprocess.run(
        [str(script), "rebuild", *args],
        env={**os.environ, "REPORTING_ENVIRONMENT": "development", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_rebuild_says_what_to_fix_and_changes_nothing_when_it_cannot_run(
    fresh_database: str, infrastructure: Infrastructure
) -> None:
    unreachable = f"127.0.0.1:{free_port()}"
    base, _, _ = fresh_database.rpartition("/")

    no_database = await asyncio.to_thread(_rebuild, {"REPORTING_DATABASE_URL": f"{base}/no_such_database"})
    assert no_database.returncode == 2
    assert "cannot connect to PostgreSQL" in no_database.stderr
    assert "REPORTING_DATABASE_URL" in no_database.stderr

    no_schema = await asyncio.to_thread(
        _rebuild,
        {"REPORTING_DATABASE_URL": fresh_database, "REPORTING_KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap},
    )
    assert no_schema.returncode == 2
    assert "schema reporting or its tables are missing" in no_schema.stderr
    assert "wellpulse-reporting migrate" in no_schema.stderr

    apply_migrations(fresh_database, "reporting", MIGRATIONS)
    no_broker = await asyncio.to_thread(
        _rebuild, {"REPORTING_DATABASE_URL": fresh_database, "REPORTING_KAFKA_BOOTSTRAP_SERVERS": unreachable}, "--swap"
    )
    assert no_broker.returncode == 2
    assert f"the Kafka broker at {unreachable} cannot be read" in no_broker.stderr
    assert "REPORTING_KAFKA_BOOTSTRAP_SERVERS" in no_broker.stderr

    async with own_broker() as empty:  # a broker the services never ran against: no topics
        no_topics = await asyncio.to_thread(
            _rebuild, {"REPORTING_DATABASE_URL": fresh_database, "REPORTING_KAFKA_BOOTSTRAP_SERVERS": empty.bootstrap}
        )
    assert no_topics.returncode == 2
    assert "topic org.units does not exist" in no_topics.stderr

    for failed in (no_database, no_schema, no_broker, no_topics):
        assert failed.stdout == "", "no report when nothing was compared"
        assert "Traceback" not in failed.stderr
    # Checked before anything was built: no schema was created, the live one is as it was.
    assert await asyncio.to_thread(_schemas, fresh_database) == ["reporting"]


def _schemas(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%' ORDER BY 1")
        return [row[0] for row in rows]


def test_the_help_names_both_modes_and_the_exit_statuses() -> None:
    script = Path(sys.executable).parent / "wellpulse-reporting"
    shown = subprocess.run([str(script), "rebuild", "--help"], capture_output=True, text=True, timeout=60, check=True)
    for phrase in ("--compare", "--swap", "offset 0", "reporting_rebuild", "reporting_previous", "Exit status"):
        assert phrase in shown.stdout
    listed = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "rebuild" in listed.stdout
    both = subprocess.run([str(script), "rebuild", "--compare", "--swap"], capture_output=True, text=True, timeout=60)
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
