"""Delivery guarantees across real processes: redelivery, poison records and crashes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.e2e.support import Org, answers_for, drained, poll, rollup_count
from wellpulse.common.events import (
    AlertFamilies,
    Envelope,
    PulseResponseSubmitted,
    ResponseScored,
    encode,
    start_of_day,
)
from wellpulse.common.kafka import DLQ_REASON
from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED, dead_letter
from wellpulse.devstack.stack import Infrastructure, Services

SCORING = "wellpulse-scoring"
REPORTING = "wellpulse-reporting.scored"


def _response(pulse: dict[str, Any], unit: str, answers: dict[str, int | str]) -> Envelope[PulseResponseSubmitted]:
    return Envelope.wrap(
        PulseResponseSubmitted(
            pulse_id=pulse["pulse_id"],
            unit_id=unit,
            iso_week=pulse["iso_week"],
            bank_version=pulse["bank_version"],
            answers=answers,
        ),
        source="/tests",
        subject=unit,
        at=start_of_day(date.today()),
    )


async def _produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key.encode()) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _dead_letters(bootstrap: str, topic: str, keys: set[str], within: float = 60.0) -> dict[str, str]:
    """Reason header of each dead letter on ``<topic>.dlq`` whose key is one of ``keys``."""
    consumer = AIOKafkaConsumer(dead_letter(topic), bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: dict[str, str] = {}
    deadline = time.monotonic() + within
    try:
        while set(found) != keys and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    key = (record.key or b"").decode()
                    if key in keys:
                        found[key] = dict(record.headers)[DLQ_REASON].decode()
    finally:
        await consumer.stop()
    return found


async def _wait_count(database_url: str, unit: str, expected: int, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while (count := await asyncio.to_thread(rollup_count, database_url, unit)) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"reporting counted {count} responses for {unit}, expected {expected}")
        await asyncio.sleep(0.2)


async def test_a_redelivered_event_is_counted_once(
    stack: Services, infrastructure: Infrastructure, org: Org, pulse: dict[str, Any], uid: str
) -> None:
    via_responses, via_scored = f"{uid}-r", f"{uid}-s"
    org.add((via_responses, None, 5), (via_scored, None, 5))
    response = encode(_response(pulse, via_responses, answers_for(pulse, leaving=False)))
    scored = encode(
        Envelope.wrap(
            ResponseScored(
                response_id=uuid.uuid4(),
                pulse_id=pulse["pulse_id"],
                unit_id=via_scored,
                iso_week=pulse["iso_week"],
                scoring_version="test",
                scales={"demands": 3.0},
                items={},
                families=AlertFamilies(),
            ),
            source="/tests",
            subject=via_scored,
            at=start_of_day(date.today()),
        )
    )
    bootstrap, database_url = infrastructure.kafka_bootstrap, infrastructure.database_url
    await _produce(bootstrap, PULSE_RESPONSES, [(via_responses, response)])
    await _produce(bootstrap, PULSE_SCORED, [(via_scored, scored)])
    await _wait_count(database_url, via_responses, 1)
    await _wait_count(database_url, via_scored, 1)
    # The same events again, long after the first copies were applied and committed: what a
    # consumer sees when a crash struck between its database commit and its offset commit.
    await _produce(bootstrap, PULSE_RESPONSES, [(via_responses, response)])
    await _produce(bootstrap, PULSE_SCORED, [(via_scored, scored)])

    await drained(bootstrap, SCORING, PULSE_RESPONSES)
    await drained(bootstrap, REPORTING, PULSE_SCORED)
    assert await asyncio.to_thread(rollup_count, database_url, via_responses) == 1
    assert await asyncio.to_thread(rollup_count, database_url, via_scored) == 1


async def test_poison_records_are_dead_lettered_and_the_stream_goes_on(
    stack: Services, infrastructure: Infrastructure, org: Org, pulse: dict[str, Any], uid: str
) -> None:
    healthy = f"{uid}-ok"
    org.add((healthy, None, 5))
    bootstrap = infrastructure.kafka_bootstrap
    unknown_item = encode(_response(pulse, f"{uid}-bad-item", {"NOT-AN-ITEM": 3}))
    await _produce(
        bootstrap,
        PULSE_RESPONSES,
        [
            (f"{uid}-garbage", b"\x00 not an event"),
            (f"{uid}-bad-item", unknown_item),
            (healthy, encode(_response(pulse, healthy, answers_for(pulse, leaving=False)))),
        ],
    )
    await _produce(bootstrap, PULSE_SCORED, [(f"{uid}-scored-garbage", b'{"specversion": "1.0"}')])

    await _wait_count(infrastructure.database_url, healthy, 1)
    responses_dlq = await _dead_letters(bootstrap, PULSE_RESPONSES, {f"{uid}-garbage", f"{uid}-bad-item"})
    assert "Invalid JSON" in responses_dlq[f"{uid}-garbage"]
    assert "NOT-AN-ITEM" in responses_dlq[f"{uid}-bad-item"]
    scored_dlq = await _dead_letters(bootstrap, PULSE_SCORED, {f"{uid}-scored-garbage"})
    assert "Field required" in scored_dlq[f"{uid}-scored-garbage"]


async def test_killing_consumers_mid_stream_loses_and_double_counts_nothing(
    stack: Services, infrastructure: Infrastructure, org: Org, pulse: dict[str, Any], uid: str
) -> None:
    unit = f"{uid}-crash"
    org.add((unit, None, 5000))
    bootstrap, database_url = infrastructure.kafka_bootstrap, infrastructure.database_url
    per_phase = 600
    answers = answers_for(pulse, leaving=False)

    def phase() -> list[tuple[str, bytes]]:
        return [(unit, encode(_response(pulse, unit, answers))) for _ in range(per_phase)]

    scoring, reporting = stack.processes["scoring"], stack.processes["reporting"]
    await _produce(bootstrap, PULSE_RESPONSES, phase())
    await asyncio.to_thread(
        poll, lambda: rollup_count(database_url, unit), lambda n: n > 0, "the first responses counted"
    )
    scoring.kill()  # SIGKILL: whatever batch it held is neither published in full nor committed

    await _produce(bootstrap, PULSE_RESPONSES, phase())  # arrives while scoring is down
    await asyncio.to_thread(scoring.start)
    await asyncio.to_thread(scoring.wait_ready)
    await asyncio.to_thread(
        poll, lambda: rollup_count(database_url, unit), lambda n: n > per_phase, "the second phase flowing"
    )
    reporting.kill()

    await _produce(bootstrap, PULSE_RESPONSES, phase())
    await asyncio.to_thread(reporting.start)
    await asyncio.to_thread(reporting.wait_ready)

    await _wait_count(database_url, unit, 3 * per_phase)
    # Every group has committed everything: any redelivery has happened, and was absorbed.
    await drained(bootstrap, SCORING, PULSE_RESPONSES)
    await drained(bootstrap, REPORTING, PULSE_SCORED)
    assert await asyncio.to_thread(rollup_count, database_url, unit) == 3 * per_phase
