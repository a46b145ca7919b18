"""With the schedule on, intake opens this week's round by itself, emails every person on the
roster their link through a real SMTP server, and closes earlier rounds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from tests.e2e.support import Auth, LonelyIntake, Mailbox, poll, standalone_intake
from wellpulse.common.events import iso_week_of


@pytest.fixture
async def scheduled_intake(fresh_database: str, mailbox: Mailbox, auth: Auth) -> AsyncIterator[LonelyIntake]:
    async with standalone_intake(
        fresh_database,
        auth.issuer_url,
        {
            "INTAKE_SCHEDULE_ENABLED": "true",
            "INTAKE_SCHEDULE_INTERVAL_SECONDS": "0.5",
            "INTAKE_SMTP_HOST": "127.0.0.1",
            "INTAKE_SMTP_PORT": str(mailbox.port),
            "INTAKE_SMTP_STARTTLS": "false",
            # The test opens a round for a week long gone, for the schedule to close (development only).
            "INTAKE_ANSWER_PAST_WEEKS": "true",
        },
    ) as intake:
        yield intake


async def test_the_schedule_opens_the_week_sends_links_and_closes_the_past(
    scheduled_intake: LonelyIntake, mailbox: Mailbox, auth: Auth
) -> None:
    people = [f"scheduled-{i}@example.org" for i in range(3)]
    async with httpx.AsyncClient(base_url=scheduled_intake.intake.url, timeout=30, headers=auth.admin) as client:
        units = {"units": [{"unit_id": "sched", "parent_id": None, "name": "Sched", "headcount": 3}]}
        assert (await client.put("/v1/admin/org-units", json=units)).status_code == 200
        old = (await client.post("/v1/admin/rounds", json={"iso_week": "2024-W10"})).json()
        roster = {"roster": [{"email": p, "unit_id": "sched"} for p in people]}
        assert (await client.put("/v1/admin/roster", json=roster)).status_code == 200

    delivered = poll(
        lambda: {p: len(mailbox.messages.get(p, [])) for p in people},
        lambda got: all(n >= 1 for n in got.values()),
        "this week's links emailed to everyone on the roster",
    )
    assert set(delivered.values()) == {1}, "each person gets exactly one link"
    week = iso_week_of(date.today())
    assert all(week in m.get("Subject", "") for p in people for m in mailbox.messages[p])
    closed = poll(
        lambda: httpx.get(
            f"{scheduled_intake.intake.url}/v1/admin/rounds/{old['pulse_id']}", headers=auth.admin
        ).json(),
        lambda r: r["status"] == "closed",
        "the earlier round closed",
    )
    assert closed["links_issued"] == 0
