"""The shared Kafka helpers against a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import date

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from faststream.params import NoCast

from wellpulse.common.events import Envelope, PulseResponseSubmitted, start_of_day
from wellpulse.common.kafka import (
    DLQ_ORIGIN,
    DLQ_REASON,
    DeadLetters,
    batch_subscriber,
    build_broker,
    ensure_topics,
    publish_events,
    start_broker,
)
from wellpulse.common.settings import ServiceSettings
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_RESPONSES, dead_letter
from wellpulse.devstack.stack import Infrastructure

pytestmark = pytest.mark.integration


def _settings(infrastructure: Infrastructure) -> ServiceSettings:
    return ServiceSettings(
        environment="development",
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap,
        kafka_enable_idempotence=infrastructure.kafka_idempotence,
    )


async def _read_until(bootstrap: str, topic: str, wanted: int, within: float = 30.0) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + within
    try:
        while len(records) < wanted and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_topics_exist_and_org_units_is_compacted(infrastructure: Infrastructure) -> None:
    await ensure_topics(_settings(infrastructure))
    await ensure_topics(_settings(infrastructure))  # again, as every replica does at start
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
        configs = await admin.describe_configs([_config_resource(ORG_UNITS)])
    finally:
        await admin.close()
    assert {ORG_UNITS, PULSE_RESPONSES, dead_letter(PULSE_RESPONSES)} <= topics
    entries = {entry[0]: entry[1] for entry in configs[0].resources[0][4]}
    assert entries.get("cleanup.policy") == "compact"


def _config_resource(topic: str) -> ConfigResource:
    return ConfigResource(ConfigResourceType.TOPIC, topic)


async def test_published_response_carries_no_time_finer_than_the_day(infrastructure: Infrastructure) -> None:
    settings = _settings(infrastructure)
    topic = f"test.responses.{uuid.uuid4().hex[:8]}"
    broker = build_broker(settings, setup_telemetry("test", settings), "test")
    publisher = broker.publisher(topic)
    day = date(2026, 11, 18)
    event = Envelope.wrap(
        PulseResponseSubmitted(pulse_id="p", unit_id="t1", iso_week="2026-W47", bank_version="x", answers={}),
        source="/test",
        subject="t1",
        at=start_of_day(day),
    )
    await broker.start()
    try:
        await publish_events(publisher, [("t1", event)])
    finally:
        await broker.stop()
    [record] = await _read_until(infrastructure.kafka_bootstrap, topic, 1)
    assert record.key == b"t1"
    assert record.timestamp == int(start_of_day(day).timestamp() * 1000)
    assert b'"time":"2026-11-18T00:00:00Z"' in record.value


async def test_poison_record_goes_to_its_dead_letter_topic_with_the_reason(
    infrastructure: Infrastructure,
) -> None:
    settings = _settings(infrastructure)
    topic = f"test.poison.{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{not json", key=b"t9", headers=[("x-origin-note", b"kept")])
    finally:
        await producer.stop()
    [poison] = await _read_until(infrastructure.kafka_bootstrap, topic, 1)

    telemetry = setup_telemetry("test", settings)
    broker = build_broker(settings, telemetry, "test")
    dead_letters = DeadLetters(broker, "test-group", telemetry)
    await broker.start()
    try:
        assert await dead_letters.decode_batch([poison], PulseResponseSubmitted) == []
        await asyncio.wait_for(dead_letters.flush(), 30)
    finally:
        await broker.stop()

    [letter] = await _read_until(infrastructure.kafka_bootstrap, dead_letter(topic), 1)
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == b"{not json"
    assert letter.key == b"t9"
    assert "Invalid JSON" in headers[DLQ_REASON]
    assert headers[DLQ_ORIGIN] == f"{topic}/{poison.partition}/{poison.offset}"
    assert headers["x-origin-note"] == "kept"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]", headers["traceparent"])
    assert telemetry.dead_letters.labels(topic=topic)._value.get() == 1


async def test_the_broker_starts_once_every_consumer_group_has_been_joined(infrastructure: Infrastructure) -> None:
    settings = _settings(infrastructure)
    topic = f"test.groups.{uuid.uuid4().hex[:8]}"
    await _create(infrastructure.kafka_bootstrap, topic, partitions=3)
    broker = build_broker(settings, setup_telemetry("test", settings), "test")
    for group in ("first", "second"):

        @batch_subscriber(broker, topic, group_id=f"test-{group}-{uuid.uuid4().hex[:6]}", settings=settings)
        async def handle(records: NoCast[list[ConsumerRecord]]) -> None:
            pass

    try:
        await start_broker(broker)
        # Both groups joined together, and each member already holds its partitions.
        assignments = [sorted(p.partition for p in sub.consumer.assignment()) for sub in broker.subscribers]
        assert assignments == [[0, 1, 2], [0, 1, 2]]
        assert broker.running
    finally:
        await broker.stop()


async def _create(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
