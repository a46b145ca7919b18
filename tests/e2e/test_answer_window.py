"""The answer window end to end, as in production: pulse-intake as its own process on PostgreSQL
and a broker, with ``INTAKE_ANSWER_PAST_WEEKS`` off. A link whose week is over (its round opened and
its links minted while that week was answered, here by a development intake on the same database)
answers 410 on the form and on the submit, saying which week and until when, and stays unspent; a
round for that week can no longer be opened (422, naming the first week that can); this week's
link is answered. No clock is faked: "last week" is over whatever day the test runs."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.support import Auth, Org, Roster, answers_for, lone_service, own_broker, submit
from wellpulse.common.events import iso_week_of, monday_of
from wellpulse.devstack.processes import ServiceProcess

pytestmark = pytest.mark.e2e

UNIT = "window"


def _round(intake: str, auth: Auth, iso_week: str) -> httpx.Response:
    return httpx.post(f"{intake}/v1/admin/rounds", json={"iso_week": iso_week}, headers=auth.admin, timeout=30)


async def _running(process: ServiceProcess) -> ServiceProcess:
    process.start()
    await asyncio.to_thread(process.wait_ready)
    return process


async def test_a_link_whose_week_is_over_answers_closed_and_this_weeks_link_is_taken(
    fresh_database: str, auth: Auth
) -> None:
    today = date.today()
    this_week, last_week = iso_week_of(today), iso_week_of(today - timedelta(weeks=1))
    async with own_broker() as tansu:
        logs = tansu.root.parent / "logs"

        def intake(env: dict[str, str]) -> ServiceProcess:
            return lone_service("pulse-intake", fresh_database, tansu.bootstrap, auth.issuer_url, logs, env)

        # Last week's round and links, made as they were while last week was answered.
        history = await _running(intake({"INTAKE_ANSWER_PAST_WEEKS": "true"}))
        try:
            Org(history.url, auth.admin).add((UNIT, None, 10))
            opened = _round(history.url, auth, last_week)
            assert opened.status_code == 201, opened.text
            past: dict[str, Any] = opened.json()
            roster = Roster(history.url, auth.admin)
            [late] = roster.tokens(past["pulse_id"], UNIT, 1)
        finally:
            history.stop()

        production = await _running(intake({}))
        try:
            url = production.url
            async with httpx.AsyncClient(base_url=url, timeout=30) as staff:
                form = await staff.get(f"/p/{late}")
                posted = await staff.post(f"/p/{late}", data={"lang": "en"})
            assert (form.status_code, posted.status_code) == (410, 410)
            assert "This pulse has closed" in form.text
            assert "This pulse has closed" in posted.text

            refused = submit(url, late, answers_for(past, leaving=False))
            assert refused.status_code == 410, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            last_day = (monday_of(last_week) + timedelta(days=6)).isoformat()
            assert refused.json() == {
                "type": "about:blank",
                "title": "Closed",
                "status": 410,
                "detail": f"This pulse, for {last_week}, took answers until {last_day} (UTC) and that has passed, "
                "so nothing was saved. Each week's pulse comes with a new link.",
                "iso_week": last_week,
                "answers_until": last_day,
            }
            # Not spent: it is closed, not answered, however often it is tried.
            assert submit(url, late, answers_for(past, leaving=False)).status_code == 410

            # Nor can last week be opened now; the answer says which weeks can.
            reopened = _round(url, auth, last_week)
            assert reopened.status_code == 422, reopened.text
            assert reopened.json()["title"] == "This week is over"
            assert reopened.json()["detail"].startswith(f"{last_week} is over")
            assert reopened.json()["first_week"] == this_week
            assert f"opened for {this_week} or any later week" in reopened.json()["detail"]

            current = _round(url, auth, this_week)
            assert current.status_code == 201, current.text
            pulse: dict[str, Any] = current.json()
            [token] = Roster(url, auth.admin, dict(roster.people)).tokens(pulse["pulse_id"], UNIT, 1)
            async with httpx.AsyncClient(base_url=url, timeout=30) as staff:
                assert (await staff.get(f"/p/{token}")).status_code == 200
            taken = submit(url, token, answers_for(pulse, leaving=False))
            assert taken.status_code == 202, taken.text
            assert submit(url, token, answers_for(pulse, leaving=False)).status_code == 409
        finally:
            production.stop()
