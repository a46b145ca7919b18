"""One-time links: one response per link however hard it is pushed, and closed rounds close links."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.e2e.support import Auth, Org, Roster, answers_for, true_ends
from wellpulse.common.topics import PULSE_RESPONSES
from wellpulse.devstack.stack import Infrastructure, Services


async def _records_for(bootstrap: str, key: str, settle_after: int, within: float = 30.0) -> int:
    """How many records on pulse.responses carry ``key``, read until ``settle_after`` were seen
    and the topic's end has been reached."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + within
    try:
        await consumer.topics()
        partitions = [TopicPartition(PULSE_RESPONSES, p) for p in consumer.partitions_for_topic(PULSE_RESPONSES) or ()]
        ends = await true_ends(consumer, partitions)
        await consumer.seek_to_beginning(*partitions)
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                seen += sum(1 for r in batch if r.key == key.encode())
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if seen >= settle_after and all(positions[tp] >= ends[tp] for tp in partitions):
                break
    finally:
        await consumer.stop()
    return seen


async def test_one_token_fired_at_once_is_accepted_exactly_once(
    stack: Services, infrastructure: Infrastructure, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    team = f"{uid}-race"
    org.add((team, None, 5))
    [token] = roster.tokens(pulse["pulse_id"], team, 1)
    body = {"token": token, "answers": answers_for(pulse, leaving=False)}
    async with httpx.AsyncClient(base_url=stack.url("pulse-intake"), timeout=30) as client:
        answers = await asyncio.gather(*(client.post("/v1/responses", json=body) for _ in range(25)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] + [409] * 24
    assert all(a.json()["title"] == "Already answered" for a in answers if a.status_code == 409)
    assert await _records_for(infrastructure.kafka_bootstrap, team, settle_after=1) == 1


def test_closing_a_round_closes_its_links(stack: Services, auth: Auth, org: Org, roster: Roster, uid: str) -> None:
    team = f"{uid}-closing"
    org.add((team, None, 5))
    intake = stack.url("pulse-intake")
    past = httpx.post(f"{intake}/v1/admin/rounds", json={"iso_week": "2021-W07"}, headers=auth.admin).json()
    [token] = roster.tokens(past["pulse_id"], team, 1)
    assert httpx.get(f"{intake}/p/{token}").status_code == 200

    closed = httpx.post(f"{intake}/v1/admin/rounds/{past['pulse_id']}/close", headers=auth.admin)
    assert closed.json()["status"] == "closed"
    page = httpx.get(f"{intake}/p/{token}")
    assert page.status_code == 410
    answer = httpx.post(f"{intake}/v1/responses", json={"token": token, "answers": {}})
    assert answer.status_code == 410
    more = httpx.post(
        f"{intake}/v1/admin/rounds/{past['pulse_id']}/links", json={"delivery": "csv"}, headers=auth.admin
    )
    assert more.status_code == 410


def test_a_roster_with_bad_rows_is_refused_whole(
    stack: Services, auth: Auth, org: Org, roster: Roster, uid: str
) -> None:
    team = f"{uid}-roster"
    org.add((team, None, 5))
    roster.add(team, 1)  # what is there before must still be there after
    bad = "\n".join(
        [
            "email,unit_id",
            f"fine@example.org,{team}",
            f"not-an-address,{team}",  # line 3
            "someone@example.org,no-such-unit",  # line 4
            f"fine@example.org,{team}",  # line 5: duplicate
            f",{team}",  # line 6: no address
            "nobody-home@example.org,",  # line 7: no unit
        ]
    )
    intake = stack.url("pulse-intake")
    refused = httpx.put(f"{intake}/v1/admin/roster", content=bad, headers={"Content-Type": "text/csv", **auth.admin})
    assert refused.status_code == 422
    problems = [(e["line"], e["column"]) for e in refused.json()["errors"]]
    assert problems == [(3, "email"), (4, "unit_id"), (5, "email"), (6, "email"), (7, "unit_id")]
    # Nothing was imported: an address only the refused file had is not on the roster.
    past = httpx.post(f"{intake}/v1/admin/rounds", json={"iso_week": "2021-W08"}, headers=auth.admin).json()
    minted = httpx.post(
        f"{intake}/v1/admin/rounds/{past['pulse_id']}/links",
        json={"delivery": "csv", "emails": ["fine@example.org"]},
        headers=auth.admin,
    )
    assert minted.status_code == 422
    assert minted.json()["unknown"] == ["fine@example.org"]
