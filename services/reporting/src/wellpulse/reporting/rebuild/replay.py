"""One topic read from given offsets to its ends, by a consumer of its own in no consumer group:
partitions are assigned, not subscribed, so the service's groups and their commits are untouched."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from wellpulse.common.settings import ServiceSettings
from wellpulse.reporting.rebuild.ends import Ends, missing_records
from wellpulse.reporting.rebuild.errors import RebuildError

Record: TypeAlias = ConsumerRecord[bytes, bytes]


class TopicReplay:
    """Reads ``topic`` from ``start`` (partition -> offset; 0 where not given) to where each
    partition ends once the replay has begun (``Ends``). Afterwards ``positions`` is where the
    next replay starts."""

    def __init__(
        self,
        settings: ServiceSettings,
        topic: str,
        start: Mapping[int, int],
        batch_size: int,
        stall_seconds: float = 30.0,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.start = dict(start)
        self.batch_size = batch_size
        self.stall_seconds = stall_seconds
        self.ends = Ends.of(())
        self.positions: dict[int, int] = dict(start)
        self._first: dict[int, int] = {}  # the offset of the first record read, per partition

    @property
    def read(self) -> int:
        return sum(self.positions.get(p, 0) - self.start.get(p, 0) for p in self.positions)

    def missing(self) -> dict[int, int]:
        """Records asked for that the topic no longer holds (retention), per partition."""
        return missing_records(self.start, self._first, self.positions)

    def total(self) -> int | None:
        """Records this replay reads in all, once every partition's end is known."""
        return None if self.ends.unknown() else self.read + self.ends.remaining(self.positions)

    async def batches(self) -> AsyncGenerator[list[Record], None]:
        """Batches of records, each partition's in order, until every partition is read to its end."""
        async with _consumer(self.settings) as consumer:
            partitions = await _partitions(self.settings, consumer, self.topic)
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            for tp in assigned:
                consumer.seek(tp, self.start.get(tp.partition, 0))
            self.ends = Ends.of(partitions)
            self.positions = {p: self.start.get(p, 0) for p in partitions}
            moved = time.monotonic()
            while not self.ends.reached(self.positions):
                fetched = await consumer.getmany(*assigned, timeout_ms=50, max_records=self.batch_size)
                learnt = [self.ends.observe(tp.partition, consumer.highwater(tp)) for tp in assigned]
                self.positions = {tp.partition: await consumer.position(tp) for tp in assigned}
                for tp, some in fetched.items():
                    if some:
                        self._first.setdefault(tp.partition, some[0].offset)
                records = [record for tp in assigned for record in fetched.get(tp, [])]
                if records or any(learnt):
                    moved = time.monotonic()
                elif time.monotonic() - moved > self.stall_seconds:
                    raise RebuildError(self._stalled())
                if records:
                    yield records

    def _stalled(self) -> str:
        behind = {
            p: f"{self.positions.get(p, 0)} of {end}"
            for p, end in sorted(self.ends.targets.items())
            if self.positions.get(p, 0) < end
        }
        unknown = sorted(self.ends.unknown())
        return (
            f"the Kafka broker at {self.settings.kafka_bootstrap_servers} sent nothing for {self.stall_seconds:.0f} s "
            f"while {self.topic} was still to read (partitions behind: {behind or 'none'}; never answered: "
            f"{unknown or 'none'}); check the broker, then run the rebuild again"
        )


async def check_topics(settings: ServiceSettings, topics: Collection[str]) -> None:
    """Fail fast, before anything is built, when the broker or a topic is not there."""
    async with _consumer(settings) as consumer:
        for topic in topics:
            await _partitions(settings, consumer, topic)


@asynccontextmanager
async def _consumer(settings: ServiceSettings) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="wellpulse-reporting-rebuild",
        group_id=None,
        enable_auto_commit=False,
        # Where retention has deleted the oldest records, start at the oldest left.
        auto_offset_reset="earliest",
        request_timeout_ms=int(settings.kafka_publish_timeout_seconds * 1000),
        # A fetch at a partition's end comes back at once, not after the broker's 500 ms wait for
        # more: the swap holds the live consumers' lock while it fetches its ends.
        fetch_max_wait_ms=20,
    )
    try:
        await consumer.start()
        yield consumer
    except KafkaError as exc:
        raise RebuildError(
            f"the Kafka broker at {settings.kafka_bootstrap_servers} cannot be read ({type(exc).__name__}: {exc}); "
            f"check that it runs and that {_prefix(settings)}KAFKA_BOOTSTRAP_SERVERS names it"
        ) from exc
    finally:
        await consumer.stop()


async def _partitions(settings: ServiceSettings, consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer.topics()  # a fresh metadata request
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise RebuildError(
            f"topic {topic} does not exist on the Kafka broker at {settings.kafka_bootstrap_servers}: the services "
            f"have never run against it, or {_prefix(settings)}KAFKA_BOOTSTRAP_SERVERS does not name the broker "
            "they use"
        )
    return set(partitions)


def _prefix(settings: ServiceSettings) -> str:
    prefix: Any = settings.model_config.get("env_prefix", "")
    return str(prefix)
