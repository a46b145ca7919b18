"""Kafka wiring every service shares: the broker factory, topic creation, batch decoding, dead letters.

Delivery is at-least-once everywhere: producers wait for ``acks=all``; consumers commit offsets only
after their work is durable; every consumer write is idempotent on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol

from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.kafka.response import KafkaPublishCommand
from faststream.message import StreamMessage
from faststream.response.publish_type import PublishType
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from wellpulse.common.events import ContractViolation, Envelope, P, Payload, decode, decode_any, encode
from wellpulse.common.settings import ServiceSettings
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import TOPICS, dead_letter

log = logging.getLogger(__name__)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
DLQ_REASON = "x-wellpulse-dlq-reason"
DLQ_ORIGIN = "x-wellpulse-dlq-origin"
DLQ_GROUP = "x-wellpulse-dlq-consumer-group"
_TRACE_CONTEXT = TraceContextTextMapPropagator()


def build_broker(settings: ServiceSettings, telemetry: Telemetry, service: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=settings.kafka_client_id or f"wellpulse-{service}",
        request_timeout_ms=int(settings.kafka_publish_timeout_seconds * 1000),
        # Commit after the handler returned (its work is durable); on an exception, seek back so
        # the batch is delivered again. Never ACK_FIRST: that loses messages on a crash.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=telemetry.tracer_provider),
            KafkaPrometheusMiddleware(registry=telemetry.registry, app_name=service),
        ),
        logger=logging.getLogger(f"wellpulse.{service}.kafka"),
    )


async def ensure_topics(settings: ServiceSettings, names: Iterable[str] | None = None) -> None:
    """Create the topics that are missing. Safe to run from every replica at every start."""
    wanted = [spec for spec in TOPICS if names is None or spec.name in set(names)]
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=int(settings.kafka_publish_timeout_seconds * 1000),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(spec.name, settings.kafka_partitions, 1, topic_configs=spec.config)
            for spec in wanted
            if spec.name not in existing
        ]
        if missing:
            # Another replica may win the race; the topic is there, which is all we need.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


def batch_subscriber(
    broker: KafkaBroker, topic: str, *, group_id: str, settings: ServiceSettings
) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """Subscribe to raw record batches; handlers decode, dead-letter and write idempotently."""
    return broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=settings.consumer_batch_size,
        batch_timeout_ms=100,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        # Unique within each group: a service's groups are distinct, so one id serves them all.
        group_instance_id=settings.kafka_group_instance_id,
    )


async def start_broker(broker: KafkaBroker) -> None:
    """``broker.start()``, but every subscriber joins its consumer group at the same time.

    FastStream starts subscribers one after another, and each start waits until its group has been
    joined and partitions assigned: seconds per group, so a service with two groups took twice as
    long to come back. Returns once every group is joined (readiness waits on this).
    """
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


async def raw_records(message: StreamMessage[Any]) -> Any:
    """Hand the handler the records themselves: a poison record must not fail its whole batch."""
    raw = message.raw_message
    # aiokafka hands a batch over as a tuple; FastStream's in-memory test broker as a list.
    return list(raw) if isinstance(raw, tuple | list) else [raw]


@dataclass(frozen=True)
class Received(Generic[P]):
    record: ConsumerRecord[bytes, bytes]
    event: Envelope[P]


def decode_each(
    records: Sequence[ConsumerRecord[bytes, bytes]], payload: type[P]
) -> tuple[list[Received[P]], list[tuple[ConsumerRecord[bytes, bytes], str]]]:
    """The records that decode, and each one that does not with the reason."""
    return _decode_each(records, lambda raw: decode(raw, payload))


def decode_each_of(
    records: Sequence[ConsumerRecord[bytes, bytes]], payloads: Sequence[type[Payload]]
) -> tuple[list[Received[Any]], list[tuple[ConsumerRecord[bytes, bytes], str]]]:
    """As ``decode_each``, for a topic carrying several event types (each record by its type)."""
    return _decode_each(records, lambda raw: decode_any(raw, payloads))


def _decode_each(
    records: Sequence[ConsumerRecord[bytes, bytes]], decode_one: Callable[[bytes], Envelope[Any]]
) -> tuple[list[Received[Any]], list[tuple[ConsumerRecord[bytes, bytes], str]]]:
    good: list[Received[Any]] = []
    bad: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
    for record in records:
        try:
            good.append(Received(record, decode_one(record.value or b"")))
        except ContractViolation as exc:
            bad.append((record, str(exc)))
    return good, bad


class BatchDecoder(Protocol):
    """Decodes a batch and deals with what does not decode: a live consumer dead-letters it
    (``DeadLetters.decode_batch``); a replay, which reads records already dead-lettered, skips it."""

    async def __call__(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], payload: type[P]
    ) -> list[Received[P]]: ...


class DeadLetters:
    """Sends records that cannot be used to ``<topic>.dlq`` with the reason in headers.

    One per consumer. ``reject`` queues a record; ``flush`` waits until the broker has every queued
    dead letter, and must run before the batch's offsets are committed.
    """

    def __init__(self, broker: KafkaBroker, group_id: str, telemetry: Telemetry) -> None:
        self._broker = broker
        self._group_id = group_id
        self._counter = telemetry.dead_letters
        self._pending: list[Awaitable[Any]] = []

    async def decode_batch(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], payload: type[P]
    ) -> list[Received[P]]:
        good, bad = decode_each(records, payload)
        for record, reason in bad:
            await self.reject(record, reason)
        return good

    async def decode_mixed_batch(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], payloads: Sequence[type[Payload]]
    ) -> list[Received[Any]]:
        """As ``decode_batch``, for a topic carrying several event types (each record by its type)."""
        good, bad = decode_each_of(records, payloads)
        for record, reason in bad:
            await self.reject(record, reason)
        return good

    async def reject(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        origin = f"{record.topic}/{record.partition}/{record.offset}"
        log.warning("dead-lettering %s: %s", origin, reason)  # reasons never quote a value
        self._counter.labels(topic=record.topic).inc()
        headers = {k: v.decode(errors="replace") for k, v in record.headers}
        headers.update({DLQ_REASON: reason[:1000], DLQ_ORIGIN: origin, DLQ_GROUP: self._group_id})
        self._pending.append(
            await self._broker.publish(
                record.value,
                dead_letter(record.topic),
                key=record.key,
                headers=headers,
                no_confirm=True,
            )
        )

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        await _all_acknowledged(pending)


async def publish_events(
    publisher: DefaultPublisher,
    events: Iterable[tuple[str, Envelope[Any] | None]],
) -> None:
    """Publish keyed events (None: a tombstone for that key) and wait until the broker
    acknowledged every one.

    Sends are queued together and awaited once: aiokafka batches them per partition, which costs
    one round trip per batch rather than one per event. The record timestamp is the event's own
    time, so a response (whose time is the start of its day) carries no finer time on Kafka either.
    """
    futures = [
        await publisher.publish(
            encode(envelope) if envelope else None,
            key=key.encode(),
            headers={"content-type": CLOUDEVENTS_CONTENT_TYPE} if envelope else None,
            timestamp_ms=int(envelope.time.timestamp() * 1000) if envelope else None,
            # FastStream stamps every record with a correlation id; make it the event's own id
            # rather than one more identifier a response carries.
            correlation_id=str(envelope.id) if envelope else None,
            no_confirm=True,
        )
        for key, envelope in events
    ]
    await _all_acknowledged(futures)


async def publish_batch(
    broker: KafkaBroker, topic: str, events: Sequence[tuple[str, Envelope[Any]]], telemetry: Telemetry
) -> None:
    """Publish a consumer's output batch, keyed, and wait until the broker acknowledged every record.

    ``publish_events`` runs FastStream's publish middlewares for each record (a span, a metrics
    observation, a trace context injected): most of scoring's time on a backlog, and downstream
    consumers then extract and link one trace per record. Here the batch gets one producer span
    whose trace context every record carries (consumers link to it as to any other), and the records
    go straight to the broker's producer; aiokafka still batches them per partition.
    """
    if not events:
        return
    producer = broker.config.producer  # looked up now: FastStream's test broker swaps it in
    tracer = telemetry.tracer_provider.get_tracer(__name__)
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.batch.message_count": len(events),
    }
    with tracer.start_as_current_span(f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes):
        trace_context: dict[str, str] = {}
        _TRACE_CONTEXT.inject(trace_context)
        headers = {"content-type": CLOUDEVENTS_CONTENT_TYPE, **trace_context}
        futures = [
            await producer.publish(
                KafkaPublishCommand(
                    encode(envelope),
                    topic=topic,
                    _publish_type=PublishType.PUBLISH,
                    key=key.encode(),
                    headers=headers,
                    timestamp_ms=int(envelope.time.timestamp() * 1000),
                    correlation_id=str(envelope.id),
                    no_confirm=True,
                )
            )
            for key, envelope in events
        ]
        await _all_acknowledged(futures)


async def _all_acknowledged(futures: Sequence[Awaitable[Any] | None]) -> None:
    # FastStream's in-memory test broker delivers at once and hands back no future to wait on.
    await asyncio.gather(*(f for f in futures if f is not None))
