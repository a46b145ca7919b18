"""The swap's one race, made to happen: a live batch in flight when the swap asks for the tree
lock, and another that arrives while the swap waits for it. The first commits in the model being
replaced, the second goes on in the rebuilt one; every response is counted exactly once. The
alerts projection is swapped with the rest; tables of the schema that are not the read model stay
as they are; and a swap that would lose what the topics no longer hold is refused."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from tests.e2e.alerts_support import scored
from tests.e2e.support import own_broker
from tests.integration.test_reporting_alerts import handled, raised
from tests.locks import until_a_session_waits
from wellpulse.common.events import ResponseScored, decode, decode_any
from wellpulse.common.kafka import Received, ensure_topics
from wellpulse.common.migrations import apply_migrations
from wellpulse.common.topics import PULSE_ALERTS, PULSE_SCORED
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.read_model import ALERT_EVENTS, ReadModel, apply_alerts, apply_scored
from wellpulse.reporting.rebuild.workflow import Mode, rebuild
from wellpulse.reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration

WEEK = date(2026, 11, 16)
LIVE = ReadModel.in_schema("reporting")


async def _ready(database_url: str, bootstrap: str) -> ReportingSettings:
    """Reporting's settings for the test's database and broker, its topics made, its schema migrated."""
    settings = ReportingSettings(
        environment="development",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_enable_idempotence=False,
        kafka_partitions=2,
    )
    await ensure_topics(settings)
    apply_migrations(database_url, "reporting", MIGRATIONS)
    return settings


async def _publish(bootstrap: str, records: list[bytes], topic: str = PULSE_SCORED) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, value, key=b"team") for value in records])
    finally:
        await producer.stop()


def _alert_events(record: bytes) -> list[Received[Any]]:
    return [Received(None, decode_any(record, ALERT_EVENTS))]  # type: ignore[arg-type]


def _received(record: bytes) -> list[Received[ResponseScored]]:
    event = decode(record, ResponseScored)
    return [Received(None, event)]  # type: ignore[arg-type] # the record itself is not looked at


async def _apply(pool: asyncpg.Pool, record: bytes) -> int:
    """What the live subscriber does with a batch of one: its own transaction, the shared code."""
    async with pool.acquire() as conn, conn.transaction():
        return await apply_scored(conn, LIVE, _received(record))


async def _responses(pool: asyncpg.Pool, schema: str) -> Any:
    return await pool.fetchval(
        f"SELECT coalesce(sum(n), 0) FROM {schema}.own_rollups WHERE unit_id = 'team' AND measure = 'responses'"
    )


async def test_batches_in_flight_across_the_swap_are_counted_once(fresh_database: str) -> None:
    async with own_broker() as tansu:
        settings = await _ready(fresh_database, tansu.bootstrap)
        applied, in_flight, arriving, after = (scored("team", WEEK) for _ in range(4))
        await _publish(tansu.bootstrap, [applied, in_flight, arriving])
        async with asyncpg.create_pool(fresh_database, min_size=3, max_size=3) as pool:
            # A table of the schema that the topics do not determine (as signed-in sessions are).
            await pool.execute(
                "CREATE TABLE reporting.kept_by_swap (note text); INSERT INTO reporting.kept_by_swap VALUES ('x')"
            )
            # An alert raised and acknowledged, applied live: the rebuilt projection has it from the topic.
            alert = uuid.uuid4()
            await _publish(tansu.bootstrap, [raised(alert, "team", "bullying")], PULSE_ALERTS)
            await _publish(tansu.bootstrap, [handled(alert, "team", "bullying", "acknowledged", 2)], PULSE_ALERTS)
            async with pool.acquire() as conn, conn.transaction():
                await apply_alerts(conn, LIVE, _alert_events(raised(alert, "team", "bullying")))
            assert await _apply(pool, applied) == 1
            # A live batch in the middle of its transaction: it holds the tree lock (shared).
            batch = await pool.acquire()
            transaction = batch.transaction()
            await transaction.start()
            assert await apply_scored(batch, LIVE, _received(in_flight)) == 1
            out, err = io.StringIO(), io.StringIO()
            swap = asyncio.create_task(rebuild(settings, Mode.swap, 100, out, err))
            await until_a_session_waits(fresh_database, "advisory", still_running=lambda: not swap.done())
            # The next live batch comes while the swap waits for the lock: it waits behind it.
            arrived = asyncio.create_task(_apply(pool, arriving))
            await until_a_session_waits(
                fresh_database, "advisory", sessions=2, still_running=lambda: not arrived.done()
            )
            await transaction.commit()
            await pool.release(batch)

            assert await swap == 0, err.getvalue()
            assert await arrived == 0, "the rebuilt model had it from the topic: absorbed, not counted again"
            await _publish(tansu.bootstrap, [after])
            assert await _apply(pool, after) == 1, "a response after the swap counts, in the swapped-in model"
            assert await _apply(pool, in_flight) == 0, "a redelivery after the swap is absorbed"

            assert await _responses(pool, "reporting") == 4
            assert await _responses(pool, "reporting_previous") == 2, "the replaced model: what it had committed"
            assert "tree lock held" in err.getvalue()
            assert await pool.fetchval("SELECT note FROM reporting.kept_by_swap") == "x", "not the read model: kept"
            assert await pool.fetchval("SELECT to_regclass('reporting_previous.kept_by_swap')") is None
            # Live, only the raising had been applied; the swapped-in projection has HR's handling too.
            assert await pool.fetchval("SELECT status FROM reporting_previous.alerts") == "open"
            assert await pool.fetch("SELECT alert_id, status FROM reporting.alerts") == [(alert, "acknowledged")]
            # yoyo's records stayed with the live schema: the service finds nothing to migrate.
            assert apply_migrations(fresh_database, "reporting", MIGRATIONS) == []
            assert await _schemas(pool) == ["reporting", "reporting_previous"], "the rebuilt schema's husk is gone"


async def test_a_swap_that_would_lose_what_the_topics_no_longer_hold_is_refused(fresh_database: str) -> None:
    async with own_broker() as tansu:
        settings = await _ready(fresh_database, tansu.bootstrap)
        # A team removed long ago: compaction has dropped its last state from org.units, the live
        # tree still knows where it sat.
        async with asyncpg.create_pool(fresh_database, min_size=1, max_size=1) as pool:
            await pool.execute(
                "INSERT INTO reporting.org_units VALUES ('dir', NULL, 'Dir', 0, false), "
                "('gone-team', 'dir', 'Gone', 5, true)"
            )
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.swap, 100, out, err) == 2
            assert "gone-team" in err.getvalue()
            assert "nothing was swapped" in err.getvalue()
            assert out.getvalue() == ""
            assert await _schemas(pool) == ["reporting", "reporting_rebuild"], "the live model stays"
            assert await pool.fetchval("SELECT count(*) FROM reporting.org_units") == 2


async def test_a_swap_that_would_drop_responses_retention_has_deleted_is_refused(fresh_database: str) -> None:
    async with own_broker() as tansu:
        settings = await _ready(fresh_database, tansu.bootstrap)
        kept, deleted = scored("team", WEEK), scored("team", WEEK)
        await _publish(tansu.bootstrap, [kept])  # the other one counted live, then deleted from the topic
        async with asyncpg.create_pool(fresh_database, min_size=1, max_size=1) as pool:
            assert await _apply(pool, kept) == 1
            assert await _apply(pool, deleted) == 1
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.swap, 100, out, err) == 2
            assert "counted 1 response(s) that pulse.scored no longer holds" in err.getvalue()
            assert "nothing was swapped" in err.getvalue()
            assert out.getvalue() == ""
            assert await _schemas(pool) == ["reporting", "reporting_rebuild"], "the live model stays"
            assert await _responses(pool, "reporting") == 2
            # The comparison names what the rebuilt model lacks.
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.compare, 100, out, err) == 1
            assert '"only_live": 1' in out.getvalue()


async def test_a_swap_that_would_drop_alerts_retention_has_deleted_is_refused(fresh_database: str) -> None:
    async with own_broker() as tansu:
        settings = await _ready(fresh_database, tansu.bootstrap)
        kept, deleted = raised(uuid.uuid4(), "team", "bullying"), raised(uuid.uuid4(), "team", "caseload")
        await _publish(tansu.bootstrap, [kept], PULSE_ALERTS)  # the other one applied live, then deleted
        async with asyncpg.create_pool(fresh_database, min_size=1, max_size=1) as pool:
            async with pool.acquire() as conn, conn.transaction():
                assert await apply_alerts(conn, LIVE, _alert_events(kept) + _alert_events(deleted)) == 2
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.swap, 100, out, err) == 2
            assert "the live model knows 1 alert(s) that pulse.alerts no longer holds" in err.getvalue()
            assert "nothing was swapped" in err.getvalue()
            assert await _schemas(pool) == ["reporting", "reporting_rebuild"], "the live model stays"
            assert await pool.fetchval("SELECT count(*) FROM reporting.alerts") == 2
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.compare, 100, out, err) == 1
            assert json.loads(out.getvalue())["tables"]["alerts"]["only_live"] == 1


async def _schemas(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%' ORDER BY 1")
    return [r["nspname"] for r in rows]


async def test_a_swap_that_would_leave_a_view_on_the_replaced_tables_is_refused(fresh_database: str) -> None:
    async with own_broker() as tansu:
        settings = await _ready(fresh_database, tansu.bootstrap)
        async with asyncpg.create_pool(fresh_database, min_size=1, max_size=1) as pool:
            await pool.execute(
                "CREATE VIEW reporting.weekly AS SELECT week_start, sum(n) FROM reporting.own_rollups GROUP BY 1"
            )
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(settings, Mode.swap, 100, out, err) == 2
            assert "weekly in schema reporting refer(s) to the read model's tables" in err.getvalue()
            assert "TABLES" in err.getvalue()
            assert await _schemas(pool) == ["reporting", "reporting_rebuild"]
