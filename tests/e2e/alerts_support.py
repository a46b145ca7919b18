"""Helpers the alert e2e tests share: scored responses straight onto ``pulse.scored`` and waiting
for the alerts service to have the tree and to have read everything."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from tests.e2e.support import drained, poll
from wellpulse.common.events import AlertFamilies, Envelope, ResponseScored, encode, iso_week_of, start_of_day
from wellpulse.common.topics import PULSE_SCORED

ALERTS_GROUP = "wellpulse-alerts.scored"


def scored(unit: str, week: date, **families: Any) -> bytes:
    """One scored response, as scoring would publish it (no scales: only the families matter here)."""
    return encode(
        Envelope.wrap(
            ResponseScored(
                response_id=uuid.uuid4(),
                pulse_id=f"p-{iso_week_of(week)}-test",
                unit_id=unit,
                iso_week=iso_week_of(week),
                scoring_version="2026.2",
                scales={},
                items={},
                families=AlertFamilies(**families),
            ),
            source="/tests",
            subject=unit,
            at=start_of_day(week),
        )
    )


async def produce(bootstrap: str, batches: list[tuple[str, list[bytes]]]) -> None:
    """Each unit's records as one record batch on its key's partition, so its week arrives (and is
    evaluated) whole: records sent one by one may leave in two batches when the machine is busy
    (the linger runs out between two sends), and half a team's week would be evaluated first."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(PULSE_SCORED))
        for key, values in batches:
            batch = producer.create_batch()
            for value in values:
                if batch.append(key=key.encode(), value=value, timestamp=None) is None:
                    raise AssertionError(f"{len(values)} records for {key} do not fit one record batch")
            partition = DefaultPartitioner()(key.encode(), partitions, partitions)
            await (await producer.send_batch(batch, PULSE_SCORED, partition=partition))
    finally:
        await producer.stop()


async def read_everything(bootstrap: str) -> None:
    await drained(bootstrap, ALERTS_GROUP, PULSE_SCORED)


def wait_for_tree(database_url: str, units: list[str]) -> None:
    """The alerts service has every unit of the test's tree (org.units is consumed on its own)."""

    def known() -> int:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT count(*) FROM alerts.org_units WHERE unit_id = ANY(%s)", (units,)).fetchone()
        return int(row[0]) if row else 0

    poll(known, lambda n: n == len(units), "the alerts service knows the test's tree")


def alerts_in(database_url: str, prefix: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT alert_id::text, rule, unit_id, window_start, window_end, people, findings "
            "FROM alerts.alerts WHERE unit_id LIKE %s ORDER BY rule, unit_id",
            (f"{prefix}%",),
        ).fetchall()
    keys = ("alert_id", "rule", "unit_id", "window_start", "window_end", "people", "findings")
    return [dict(zip(keys, row, strict=True)) for row in rows]
