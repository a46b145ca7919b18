"""When Kafka is gone, intake takes nothing: 503 with Retry-After, nothing half-written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.e2e.support import Auth, LonelyIntake, answers_for, standalone_intake


@pytest.fixture
async def lonely_intake(fresh_database: str, auth: Auth) -> AsyncIterator[LonelyIntake]:
    async with standalone_intake(
        fresh_database,
        auth.issuer_url,
        {"INTAKE_KAFKA_PUBLISH_TIMEOUT_SECONDS": "3", "INTAKE_RETRY_AFTER_SECONDS": "17"},
    ) as intake:
        yield intake


async def test_intake_answers_503_with_retry_after_and_keeps_nothing(lonely_intake: LonelyIntake, auth: Auth) -> None:
    units = {"units": [{"unit_id": "solo", "parent_id": None, "name": "Solo", "headcount": 9}]}
    people = {"roster": [{"email": f"p{i}@example.org", "unit_id": "solo"} for i in range(2)]}
    async with httpx.AsyncClient(base_url=lonely_intake.intake.url, timeout=30, headers=auth.admin) as client:
        assert (await client.put("/v1/admin/org-units", json=units)).status_code == 200
        assert (await client.put("/v1/admin/roster", json=people)).status_code == 200
        pulse = (await client.post("/v1/admin/rounds", json={})).json()
        links = await client.post(f"/v1/admin/rounds/{pulse['pulse_id']}/links", json={"delivery": "csv"})
        first, second = (row.split(",")[1].rsplit("/", 1)[1] for row in links.text.splitlines()[1:])
        answers = answers_for(pulse, leaving=False)
        assert (await client.post("/v1/responses", json={"token": first, "answers": answers})).status_code == 202

        await asyncio.to_thread(lonely_intake.tansu.stop)

        refused = await client.post("/v1/responses", json={"token": second, "answers": answers})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "17"
        assert refused.headers["content-type"] == "application/problem+json"
        assert "the link still works" in refused.json()["detail"]
        page = await client.post(f"/p/{second}", data={"lang": "en", **{k: str(v) for k, v in answers.items()}})
        assert page.status_code == 503
        assert page.headers["retry-after"] == "17"

        new_team = {"unit_id": "new", "parent_id": "solo", "name": "New", "headcount": 3}
        changed_tree = {"units": [*units["units"], new_team]}
        assert (await client.put("/v1/admin/org-units", json=changed_tree)).status_code == 503

        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "kafka" in ready.json()["failing"]

    conn = await asyncpg.connect(lonely_intake.database_url)
    try:
        stored = await conn.fetch("SELECT unit_id FROM intake.org_units ORDER BY unit_id")
        spent = await conn.fetchval("SELECT count(*) FROM intake.links WHERE spent_on IS NOT NULL")
        unspent = await conn.fetchval("SELECT count(*) FROM intake.links WHERE spent_on IS NULL")
        claimed = await conn.fetchval("SELECT count(*) FROM intake.links WHERE claimed_at IS NOT NULL")
    finally:
        await conn.close()
    assert [r["unit_id"] for r in stored] == ["solo"], "the refused import must leave the tree as it was"
    assert (spent, unspent) == (1, 1), "the refused response must leave its link unspent"
    assert claimed == 0, "the refused response's claim must be released, not left to go stale"
