"""The ceiling: a bare aiokafka consume -> produce -> commit loop over pre-produced records on the
same broker, to set the pipeline's rates against."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from load import Round, random_answers
from measure import rate
from runtime import Deadline, bounded, say

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import Envelope, PulseResponseSubmitted, start_of_day
from wellpulse.devstack.stack import Infrastructure

RAW_IN = "bench.raw.in"
RAW_OUT = "bench.raw.out"
# The services' consumers read batches of up to 500 records, waiting at most 100 ms for one.
BATCH_RECORDS = 500
BATCH_TIMEOUT_MS = 100


def sample_records(bench_round: Round, bank: QuestionBank, count: int = 50) -> tuple[list[bytes], list[bytes]]:
    """(values, keys): real ``pulse.responses`` envelopes with random answers, and the team keys."""
    rng = random.Random(50)
    values = []
    for _ in range(count):
        answers = random_answers(bench_round.items, bank, rng)
        unit = rng.choice(bench_round.teams)
        event = Envelope.wrap(
            PulseResponseSubmitted(
                pulse_id=bench_round.pulse_id,
                unit_id=unit,
                iso_week=bench_round.iso_week,
                bank_version=bench_round.bank_version,
                answers=answers,
            ),
            source="/wellpulse/pulse-intake",
            subject=unit,
            at=start_of_day(date.today()),
        )
        values.append(event.model_dump_json().encode())
    return values, [team.encode() for team in bench_round.teams]


async def raw_passthrough(
    infra: Infrastructure,
    n: int,
    partitions: int,
    values: Sequence[bytes],
    keys: Sequence[bytes],
    deadline: Deadline,
) -> dict[str, Any]:
    """Pre-produce ``n`` records to a fresh topic, then time consume -> produce -> commit over them."""
    raw_in, raw_out = await fresh_topics(infra.kafka_bootstrap, partitions)

    def producer() -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=infra.kafka_idempotence
        )

    say(f"ceiling: pre-producing {n} records to {raw_in}")
    loader = producer()
    await loader.start()
    try:
        produce_started = time.monotonic()
        for start in range(0, n, BATCH_RECORDS):
            deadline.check("pre-producing the passthrough input")
            futures = [
                await loader.send(raw_in, values[i % len(values)], key=keys[i % len(keys)])
                for i in range(start, min(start + BATCH_RECORDS, n))
            ]
            await asyncio.gather(*futures)
        produce_s = time.monotonic() - produce_started
    finally:
        await bounded("stopping the loading producer", loader.stop())

    say(f"ceiling: consume {raw_in} -> produce {raw_out} -> commit")
    out = producer()
    consumer = AIOKafkaConsumer(
        raw_in,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"bench-raw-{os.getpid()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await out.start()
    try:
        await consumer.start()
        try:
            started_at = time.monotonic()
            first_batch_at = None
            moved = batches = 0
            while moved < n:
                deadline.check(f"passing records through ({moved}/{n} so far)")
                batch = await consumer.getmany(timeout_ms=BATCH_TIMEOUT_MS, max_records=BATCH_RECORDS)
                records = [r for rs in batch.values() for r in rs]
                if not records:
                    continue
                if first_batch_at is None:
                    first_batch_at = time.monotonic()
                futures = [await out.send(raw_out, r.value, key=r.key) for r in records]
                await asyncio.gather(*futures)
                await consumer.commit()
                moved += len(records)
                batches += 1
            done_at = time.monotonic()
        finally:
            await bounded("stopping the passthrough consumer", consumer.stop())
    finally:
        await bounded("stopping the passthrough producer", out.stop())
    assert first_batch_at is not None
    return {
        "raw_passthrough_per_s": rate(moved, done_at - first_batch_at),
        "raw_produce_per_s": rate(n, produce_s),
        "start_to_first_batch_s": round(first_batch_at - started_at, 2),
        "batches": batches,
        "topics": [raw_in, raw_out],
    }


async def fresh_topics(bootstrap: str, partitions: int) -> tuple[str, str]:
    """Create the passthrough's input and output topics, with this process's id when the names are taken."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        suffix = "" if not ({RAW_IN, RAW_OUT} & existing) else f".{os.getpid()}"
        raw_in, raw_out = RAW_IN + suffix, RAW_OUT + suffix
        await admin.create_topics([NewTopic(raw_in, partitions, 1), NewTopic(raw_out, partitions, 1)])
    finally:
        await bounded("closing the admin client", admin.close())
    return raw_in, raw_out
