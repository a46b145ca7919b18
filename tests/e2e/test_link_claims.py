"""A submission never holds a database connection or a row lock while Kafka answers: a paused broker
does not stop anyone opening a form, every waiting submission ends in a 202 or a 503 with its link
intact, and intake killed between publish and spend has its retry counted once downstream."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.e2e.support import Auth, answers_for, drained, lone_service, own_broker, rollup_count, true_ends
from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED
from wellpulse.devstack.embedded import EmbeddedTansu
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.tokens import token_hash

# The services here run in development, with the development token-hash key.
KEY = IntakeSettings.model_fields["token_hash_key"].default.get_secret_value().encode()
FORM_DEADLINE_S = 0.2
SPEND = "UPDATE intake.links SET spent_on"
T = TypeVar("T")


async def until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, within: float = 60.0) -> T:
    deadline = time.monotonic() + within
    while not done(value := await read()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still {value!r} after {within:.0f}s")
        await asyncio.sleep(0.05)
    return value


@asynccontextmanager
async def paused(tansu: EmbeddedTansu) -> AsyncIterator[None]:
    """The broker frozen (SIGSTOP): connections stay open, nothing is answered, until the block ends."""
    assert tansu.process is not None
    os.kill(tansu.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(tansu.process.pid, signal.SIGCONT)


async def _set_up(client: httpx.AsyncClient, units: dict[str, int]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Units with this many people each, this week's round, and each unit's tokens."""
    tree = {"units": [{"unit_id": u, "parent_id": None, "name": u.title(), "headcount": 60} for u in units]}
    people = [{"email": f"{u}-{i}@example.org", "unit_id": u} for u, n in units.items() for i in range(n)]
    assert (await client.put("/v1/admin/org-units", json=tree)).status_code == 200
    assert (await client.put("/v1/admin/roster", json={"roster": people})).status_code == 200
    pulse = (await client.post("/v1/admin/rounds", json={})).json()
    links = await client.post(f"/v1/admin/rounds/{pulse['pulse_id']}/links", json={"delivery": "csv"})
    tokens: dict[str, list[str]] = {u: [] for u in units}
    for row in links.text.splitlines()[1:]:
        email, link = row.split(",")
        tokens[email.rsplit("-", 1)[0]].append(link.rsplit("/", 1)[1])
    return pulse, tokens


async def _link_states(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE spent_on IS NOT NULL) AS spent,"
            " count(*) FILTER (WHERE spent_on IS NULL AND claimed_at IS NOT NULL) AS claimed,"
            " count(*) FILTER (WHERE spent_on IS NULL AND claimed_at IS NULL) AS open FROM intake.links"
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


async def _response_ids(bootstrap: str, key: str | None = None) -> list[str]:
    """The event id of every record on pulse.responses (with ``key``, only that unit's), to its end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    ids: list[str] = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(PULSE_RESPONSES, p) for p in consumer.partitions_for_topic(PULSE_RESPONSES) or ()]
        ends = await true_ends(consumer, partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "pulse.responses not read to its end in 30 s"
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                ids += [json.loads(r.value)["id"] for r in batch if key is None or r.key == key.encode()]
    finally:
        await consumer.stop()
    return ids


async def test_a_paused_broker_stops_no_form_and_loses_no_link(fresh_database: str, auth: Auth) -> None:
    async with own_broker() as tansu:
        intake = lone_service(
            "pulse-intake",
            fresh_database,
            tansu.bootstrap,
            auth.issuer_url,
            tansu.root.parent / "logs",
            {"INTAKE_KAFKA_PUBLISH_TIMEOUT_SECONDS": "15", "INTAKE_RETRY_AFTER_SECONDS": "7"},
        )
        intake.start()
        try:
            await asyncio.to_thread(intake.wait_ready)
            async with httpx.AsyncClient(base_url=intake.url, timeout=60, headers=auth.admin) as admin:
                pulse, tokens = await _set_up(admin, {"waiting": 51, "browsing": 1})
            answers = answers_for(pulse, leaving=False)
            warm, *waiting = tokens["waiting"]
            [other] = tokens["browsing"]
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            async with httpx.AsyncClient(base_url=intake.url, timeout=60, limits=limits) as client:
                # The producer knows the topic's partitions, and the form's connection is open.
                assert (await client.post("/v1/responses", json={"token": warm, "answers": answers})).status_code == 202
                assert (await client.get(f"/p/{other}")).status_code == 200

                async with paused(tansu):
                    sends = [
                        asyncio.create_task(client.post("/v1/responses", json={"token": t, "answers": answers}))
                        for t in waiting
                    ]
                    # Every one has claimed its link and now waits on Kafka alone.
                    await until(
                        lambda: _link_states(fresh_database), lambda s: s["claimed"] == 50, "the 50 links claimed"
                    )
                    took = []
                    for _ in range(3):
                        started = time.monotonic()
                        page = await client.get(f"/p/{other}")
                        took.append(time.monotonic() - started)
                        assert page.status_code == 200
                        assert 'method="post"' in page.text
                    assert not any(send.done() for send in sends), "a submission finished while the broker was paused"
                    assert max(took) < FORM_DEADLINE_S, f"opening a form took {max(took) * 1000:.0f} ms"
                replies = await asyncio.gather(*sends)

                statuses = [reply.status_code for reply in replies]
                sys.stdout.write(f"form opened in {[round(t * 1000) for t in took]} ms; statuses {sorted(statuses)}\n")
                assert set(statuses) <= {202, 503}, statuses
                assert all(r.headers["retry-after"] == "7" for r in replies if r.status_code == 503)
                # No link lost: each is spent (202) or back to open (503), none left claimed.
                assert await _link_states(fresh_database) == {
                    "spent": 1 + statuses.count(202),
                    "claimed": 0,
                    "open": 1 + statuses.count(503),
                }
                refused = [t for t, r in zip(waiting, replies, strict=True) if r.status_code == 503]
                again = await asyncio.gather(
                    *(client.post("/v1/responses", json={"token": t, "answers": answers}) for t in refused)
                )
                assert [r.status_code for r in again] == [202] * len(refused)
            assert await _link_states(fresh_database) == {"spent": 51, "claimed": 0, "open": 1}
            # One response per link on the topic, whatever was sent twice (a late copy shares its id).
            assert len(set(await _response_ids(tansu.bootstrap))) == 51
        finally:
            intake.stop()


async def test_intake_killed_between_publish_and_spend_has_its_retry_counted_once(
    fresh_database: str, auth: Auth
) -> None:
    async with own_broker() as tansu:
        logs = tansu.root.parent / "logs"
        # Short, so the dead process's claim goes stale within seconds.
        intake_env = {"INTAKE_KAFKA_PUBLISH_TIMEOUT_SECONDS": "3", "INTAKE_RETRY_AFTER_SECONDS": "1"}
        intake = lone_service("pulse-intake", fresh_database, tansu.bootstrap, auth.issuer_url, logs, intake_env)
        downstream = [
            lone_service(n, fresh_database, tansu.bootstrap, auth.issuer_url, logs) for n in ("scoring", "reporting")
        ]
        processes = [intake, *downstream]
        for process in processes:
            process.start()
        try:
            await asyncio.gather(*(asyncio.to_thread(p.wait_ready) for p in processes))
            async with httpx.AsyncClient(base_url=intake.url, timeout=60, headers=auth.admin) as admin:
                pulse, tokens = await _set_up(admin, {"warm": 1, "crashed": 1})
            answers = answers_for(pulse, leaving=False)
            [token] = tokens["crashed"]
            body = {"token": token, "answers": answers}
            async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
                warm = {"token": tokens["warm"][0], "answers": answers}
                assert (await client.post("/v1/responses", json=warm)).status_code == 202

                # One session holds the row; another watches (pg_stat_activity is frozen inside a transaction).
                holder, observer = await asyncpg.connect(fresh_database), await asyncpg.connect(fresh_database)
                try:
                    async with paused(tansu):
                        send = asyncio.create_task(client.post("/v1/responses", json=body))
                        await until(lambda: _link_states(fresh_database), lambda s: s["claimed"] == 1, "the claim")
                        # Claimed and published, waiting on Kafka: hold the row so the spend must wait.
                        lock = holder.transaction()
                        await lock.start()
                        await holder.execute(
                            "SELECT 1 FROM intake.links WHERE token_hash = $1 FOR UPDATE", token_hash(KEY, token)
                        )
                    # Kafka acknowledges; the spend (which follows only an acknowledgement) now waits.
                    [spender] = await until(
                        lambda: observer.fetch(
                            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
                            SPEND + "%",
                        ),
                        lambda rows: len(rows) == 1,
                        "the spend waiting on the row",
                    )
                    await asyncio.to_thread(intake.kill)
                    # PostgreSQL would run the dead process's queued statement once the row is free; end
                    # its session first, so the kill lands before the spend, not after it.
                    assert await observer.fetchval("SELECT pg_terminate_backend($1)", spender["pid"])
                    await until(
                        lambda: observer.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", spender["pid"]
                        ),
                        lambda n: n == 0,
                        "the dead process's session gone",
                    )
                    await lock.rollback()
                finally:
                    await holder.close()
                    await observer.close()
                with pytest.raises(httpx.HTTPError):
                    await send
            assert await _link_states(fresh_database) == {"spent": 1, "claimed": 1, "open": 0}

            await asyncio.to_thread(intake.start)
            await asyncio.to_thread(intake.wait_ready)
            async with httpx.AsyncClient(base_url=intake.url, timeout=60) as client:
                # The dead process's claim is fresh at first (503, try again); once stale, it is taken.
                seen = await until(
                    lambda: client.post("/v1/responses", json=body), lambda r: r.status_code != 503, "the retry"
                )
                assert seen.status_code == 202
                assert (await client.post("/v1/responses", json=body)).status_code == 409
            assert await _link_states(fresh_database) == {"spent": 2, "claimed": 0, "open": 0}

            copies = await _response_ids(tansu.bootstrap, key="crashed")
            assert len(copies) == 2, copies  # published twice...
            assert len(set(copies)) == 1, copies  # ...as one event
            await until(lambda: asyncio.to_thread(rollup_count, fresh_database, "crashed"), lambda n: n >= 1, "counted")
            await drained(tansu.bootstrap, "wellpulse-scoring", PULSE_RESPONSES)
            await drained(tansu.bootstrap, "wellpulse-reporting.scored", PULSE_SCORED)
            assert await asyncio.to_thread(rollup_count, fresh_database, "crashed") == 1
        finally:
            for process in processes:
                process.stop()
