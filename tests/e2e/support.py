"""Helpers the e2e tests share: polling with a deadline, the org under test, valid answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

T = TypeVar("T")


def poll(read: Callable[[], T], until: Callable[[T], bool], what: str, within: float = 60.0) -> T:
    """Read until the condition holds; fail with the last value seen when the deadline passes."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still {value!r} after {within:.0f}s")
        time.sleep(0.1)


@dataclass
class Org:
    """Units the tests have added. Import replaces the whole tree, so each PUT sends them all."""

    intake: str
    units: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, *units: tuple[str, str | None, int]) -> None:
        for unit_id, parent, headcount in units:
            self.units[unit_id] = {
                "unit_id": unit_id,
                "parent_id": parent,
                "name": unit_id.title(),
                "headcount": headcount,
            }
        answer = httpx.put(f"{self.intake}/v1/admin/org-units", json={"units": list(self.units.values())})
        assert answer.status_code == 200, answer.text


def answers_for(pulse: dict[str, Any], *, leaving: bool) -> dict[str, int | str]:
    """A complete, valid set of answers for the round's items."""
    values: dict[str, int | str] = {}
    for item in pulse["items"]:
        code, scale = item["code"], item["response"]
        if code in ("LEAVE-JOB", "LEAVE-PROF"):
            values[code] = 5 if leaving else 1
        elif scale == "yes_no_pns":
            values[code] = "no"
        elif scale == "cases_held":
            values[code] = 20
        else:
            values[code] = 3
    return values


def rollup_count(database_url: str, unit_id: str) -> int:
    """How many responses reporting has counted for one unit (all weeks)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM reporting.rollups WHERE unit_id = %s AND measure = 'responses'",
            (unit_id,),
        ).fetchone()
    return int(row[0]) if row else 0


async def drained(bootstrap: str, group: str, topic: str, within: float = 90.0) -> None:
    """Wait until ``group`` has committed every record on ``topic``: nothing left to redeliver."""
    # A consumer in the group that never subscribes reads the group's commits without joining it
    # (Tansu does not answer the admin client's offset fetch).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while True:
            await consumer.topics()  # refreshes metadata
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = await consumer.end_offsets(partitions)
            behind = {}
            for tp in partitions:
                committed = await consumer.committed(tp) or 0
                if ends[tp] > committed:
                    behind[tp.partition] = ends[tp] - committed
            if partitions and not behind:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{group} still behind on {topic}: {behind}")
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
