"""Trace context crosses services in Kafka headers: scoring reads each record's W3C traceparent and
exports (over OTLP) a span linked to it, as OpenTelemetry's messaging conventions have batch
consumers do; what it publishes carries that span's trace onwards."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.e2e.support import Org, TraceCollector, answers_for, poll
from wellpulse.common.events import Envelope, PulseResponseSubmitted, encode, start_of_day
from wellpulse.common.topics import PULSE_RESPONSES
from wellpulse.devstack.stack import Infrastructure, Services

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_scoring_links_its_span_to_the_trace_in_the_record_headers(
    stack: Services, infrastructure: Infrastructure, traces: TraceCollector, org: Org, pulse: dict[str, Any], uid: str
) -> None:
    team = f"{uid}-traced"
    org.add((team, None, 5))
    response = Envelope.wrap(
        PulseResponseSubmitted(
            pulse_id=pulse["pulse_id"],
            unit_id=team,
            iso_week=pulse["iso_week"],
            bank_version=pulse["bank_version"],
            answers=answers_for(pulse, leaving=False),
        ),
        source="/tests",
        subject=team,
        at=start_of_day(date.today()),
    )
    asyncio.run(_produce(infrastructure.kafka_bootstrap, team, encode(response)))

    def linked() -> list[Any]:
        return [s for s in list(traces.spans) if any(link.trace_id.hex() == TRACE for link in s.links)]

    spans = poll(
        linked,
        lambda found: len(found) > 0,
        f"a scoring span linked to the record's trace (of {len(traces.spans)} exported)",
    )
    assert any(link.span_id.hex() == PARENT for span in spans for link in span.links)


async def _produce(bootstrap: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        # As intake's records carry them: FastStream links a batch only to records with a correlation id.
        headers = [("traceparent", f"00-{TRACE}-{PARENT}-01".encode()), ("correlation_id", key.encode())]
        await producer.send_and_wait(PULSE_RESPONSES, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()
