"""Alerts reach HR whatever happens to the alerts service: SIGKILLed while scored responses flow
and again while its deliveries are in flight, then restarted, every alert arrives at a real
webhook receiver (signature checked) and a real SMTP server, none is lost, and a receiver that
de-duplicates by ``webhook-id`` (a mail system by ``Message-ID``) sees each exactly once."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.e2e.alerts_support import alerts_in, produce, read_everything, scored, wait_for_tree
from tests.e2e.support import Auth, Mailbox, Org
from wellpulse.common.events import monday_of
from wellpulse.devstack.receivers import WebhookReceiver
from wellpulse.devstack.stack import Infrastructure, Services

TEAMS = 12
WEEK = monday_of("2026-W20")


async def _until(what: str, ready: Any, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {within:.0f}s")
        await asyncio.sleep(0.1)


def _restart(stack: Services) -> None:
    alerts = stack.processes["alerts"]
    alerts.kill()  # SIGKILL: nothing flushed, nothing committed, leases left behind
    alerts.start()
    alerts.wait_ready()


async def test_killing_alerts_mid_stream_and_mid_delivery_loses_and_repeats_no_alert(
    stack: Services, infrastructure: Infrastructure, auth: Auth, org: Org, mailbox: Mailbox, uid: str
) -> None:
    root, teams = f"{uid}-root", [f"{uid}-t{i:02d}" for i in range(TEAMS)]
    org.add((root, None, 0), *((team, root, 6) for team in teams))
    wait_for_tree(infrastructure.database_url, [root, *teams])
    hr_email = f"hr-{uid}@example.org"
    with WebhookReceiver() as receiver:
        contacts = {
            "contacts": [
                {
                    "contact_id": f"{uid}-hr",
                    "name": "HR",
                    "email": hr_email,
                    "webhook": {"url": receiver.url, "secrets": [receiver.secret]},
                    "units": [root],
                }
            ]
        }
        async with httpx.AsyncClient() as client:
            saved = await client.put(f"{stack.url('alerts')}/v1/admin/contacts", json=contacts, headers=auth.admin)
        assert saved.status_code == 200, saved.text
        # Six in every team intend to leave: one alert per team (each team can be named).
        phases = [teams[0:4], teams[4:8], teams[8:12]]
        bootstrap = infrastructure.kafka_bootstrap

        def batches(group: list[str]) -> list[tuple[str, list[bytes]]]:
            return [(team, [scored(team, WEEK, intends_to_leave=True) for _ in range(6)]) for team in group]

        # Where exactly each kill lands is left to chance (seeded, so a failure can be replayed).
        chance = random.Random(int(uid[1:], 16))
        await produce(bootstrap, batches(phases[0]))
        await _until("a first alert", lambda: alerts_in(infrastructure.database_url, f"{uid}-"))
        await produce(bootstrap, batches(phases[1]))
        await asyncio.sleep(chance.uniform(0.0, 1.5))  # somewhere in the stream: reading, raising, sending
        await asyncio.to_thread(_restart, stack)

        await produce(bootstrap, batches(phases[2]))
        requests_before = receiver.requests
        await _until("deliveries in flight", lambda: receiver.requests > requests_before)
        await asyncio.sleep(chance.uniform(0.0, 0.3))  # some sent, some leased, some not yet claimed
        await asyncio.to_thread(_restart, stack)
        await read_everything(bootstrap)

        raised = alerts_in(infrastructure.database_url, f"{uid}-")
        expected = {a["alert_id"] for a in raised}
        episode = {a["alert_id"]: (a["unit_id"], a["rule"]) for a in raised}
        assert sorted(episode.values()) == [(team, "intent_to_leave") for team in teams], "one alert per team"

        def mail() -> list[Any]:
            return list(mailbox.messages.get(hr_email, []))

        await _until("every alert emailed", lambda: {m["X-WellPulse-Alert-Id"] for m in mail()} >= expected)
        await _until("every alert posted", lambda: set(receiver.by_id) >= expected)

    posted = Counter(d.webhook_id for d in receiver.received)
    emailed = Counter(str(m["X-WellPulse-Alert-Id"]) for m in mail())
    message_ids = {a: {str(m["Message-ID"]) for m in mail() if m["X-WellPulse-Alert-Id"] == a} for a in expected}
    report = {
        "webhook": _tally(expected, posted, episode),
        "email": _tally(expected, emailed, episode),
    }
    sys.stdout.write(f"alert deliveries after two SIGKILLs: {report}\n")
    for channel, tally in report.items():
        assert tally["delivered"] == tally["expected"] == TEAMS, (channel, tally)
        assert tally["lost"] == 0, (channel, tally)
        assert tally["duplicated"] == 0, (channel, tally)
    assert receiver.rejected == 0, "every request carried a valid signature"
    # A resend (a lease that ran out after a kill) carries the same identity, so it is absorbed.
    assert all(len(ids) == 1 for ids in message_ids.values()), message_ids
    assert set(posted) == expected
    assert set(emailed) == expected


def _tally(expected: set[str], received: Counter[str], episode: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Counted by alert id, as a receiver that de-duplicates by webhook-id / Message-ID counts them.

    ``duplicated``: alerts HR would read twice even so, i.e. more than one alert id for one unit and
    rule, or an id that is no alert at all. ``resent``: extra copies of one id before de-duplication
    (the price of at least once: a lease that ran out after a kill)."""
    per_episode = Counter(episode.get(alert_id, ("?", alert_id)) for alert_id in received)
    return {
        "expected": len(expected),
        "delivered": len(expected & set(received)),
        "duplicated": sum(n - 1 for n in per_episode.values()) + len(set(received) - expected),
        "lost": len(expected - set(received)),
        "resent": sum(received.values()) - len(set(received)),
    }
