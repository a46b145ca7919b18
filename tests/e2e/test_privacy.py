"""Links arrive by real SMTP; afterwards nothing the platform keeps links an address to a link or a
response: not PostgreSQL, not any Kafka topic, not the services' logs."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.support import Mailbox, Org, Roster, answers_for, poll, rollup_count, true_ends
from wellpulse.common.topics import PULSE_RESPONSES
from wellpulse.devstack.stack import Infrastructure, Services

LINK = re.compile(r"(https?://\S+/p/([A-Za-z0-9_-]{43}))(?:\?lang=cy)?")


async def _everything_in_postgres(database_url: str) -> dict[str, str]:
    """Every row of every table, as text, by table."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        dump = {}
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            rows = await conn.fetch(f"SELECT row_to_json(x)::text AS row FROM {name} x")
            dump[name] = "\n".join(r["row"] for r in rows)
        return dump
    finally:
        await conn.close()


async def _everything_on_kafka(bootstrap: str, within: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    topics = [t for t in await admin.list_topics() if not t.startswith("__")]
    await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        ends = await true_ends(consumer, partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            if all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                break
        else:
            pytest.fail("could not read every topic to its end in time")
    finally:
        await consumer.stop()
    return records


def test_nothing_kept_links_an_address_to_a_link_or_a_response(
    stack: Services,
    infrastructure: Infrastructure,
    mailbox: Mailbox,
    org: Org,
    roster: Roster,
    pulse: dict[str, Any],
    uid: str,
) -> None:
    team = f"{uid}-mail"
    org.add((team, None, 10))
    people = roster.add(team, 10)
    intake = stack.url("pulse-intake")
    issued = httpx.post(
        f"{intake}/v1/admin/rounds/{pulse['pulse_id']}/links",
        json={"delivery": "email", "emails": people},
        headers=org.admin,
    )
    assert issued.status_code == 200, issued.text
    assert issued.json() == {"minted": 10, "sent": 10, "failed": []}

    received = poll(
        lambda: {p: mailbox.messages.get(p, []) for p in people},
        lambda got: all(len(m) == 1 for m in got.values()),
        "one invitation per person through the SMTP server",
    )
    tokens: dict[str, str] = {}
    for person, [message] in received.items():
        body = message.get_content()
        [link, token] = LINK.search(body).groups()  # type: ignore[union-attr]
        assert link.startswith(intake)
        tokens[person] = token
    assert len(set(tokens.values())) == 10

    answered = people[:5]
    for person in answered:
        form = {"lang": "en", **{k: str(v) for k, v in answers_for(pulse, leaving=False).items()}}
        page = httpx.post(f"{intake}/p/{tokens[person]}", data=form)
        assert page.status_code == 200
    poll(lambda: rollup_count(infrastructure.database_url, team), lambda n: n == 5, "the five responses counted")

    database = asyncio.run(_everything_in_postgres(infrastructure.database_url))
    records = asyncio.run(_everything_on_kafka(infrastructure.kafka_bootstrap))
    kafka = "\n".join(repr((r.topic, r.key, r.value, r.headers)) for r in records)
    logs = "\n".join(p.read_text(errors="replace") for p in Path(stack.log_dir).glob("*.log"))

    for person, token in tokens.items():
        assert token not in kafka, "a link token reached Kafka"
        assert token not in logs, "a link token reached the logs"
        assert not [t for t, rows in database.items() if token in rows], "a link token reached PostgreSQL"
        assert person not in kafka, "an address reached Kafka"
        assert person not in logs, "an address reached the logs"
        holding = [t for t, rows in database.items() if person in rows]
        assert holding == ['"intake"."roster"'], f"{person} is kept outside the roster: {holding}"

    # The responses themselves: the day only, and nothing about the sender's network or device.
    ours = [r for r in records if r.topic == PULSE_RESPONSES and r.key == team.encode()]
    assert len(ours) == 5
    for record in ours:
        assert record.timestamp % 86_400_000 == 0, "a record timestamp finer than the day"
        headers = dict(record.headers)
        assert set(headers) <= {"content-type", "correlation_id", "traceparent", "tracestate"}
        event = json.loads(record.value)
        assert headers["correlation_id"].decode() == event["id"]
        assert event["time"].endswith("T00:00:00Z")
        assert set(event["data"]) == {"pulse_id", "unit_id", "iso_week", "bank_version", "answers"}

    columns, claimed = asyncio.run(_link_columns(infrastructure.database_url, team))
    # Nothing a link row holds could name its person: the hash, the round, the unit and the day;
    # and the time of a claim only while a submission is being sent: none is left once it is over.
    assert columns == ["token_hash", "pulse_id", "unit_id", "spent_on", "claimed_at"]
    assert claimed == 0, "a claim's time outlived its submission"


async def _link_columns(database_url: str, unit_id: str) -> tuple[list[str], int]:
    """The links table's columns, and how many of this unit's links still carry a claim's time."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'intake' "
            "AND table_name = 'links' ORDER BY ordinal_position"
        )
        claimed = await conn.fetchval(
            "SELECT count(*) FROM intake.links WHERE unit_id = $1 AND claimed_at IS NOT NULL", unit_id
        )
    finally:
        await conn.close()
    return [r["column_name"] for r in rows], claimed
