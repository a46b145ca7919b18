"""``wellpulse-reporting rebuild`` on the demo data: libs/devstack's Northshire Council loaded as
``make run`` loads it (org import, roster, six weeks of rounds, links minted and answered through
the form), through the whole pipeline. Once every consumer has drained, the rebuilt read model is
the live one row for row, the alerts the demo raises included, and a corrupted live row is
reported (issue 8's acceptance: "rebuild on the demo data gives a read model identical to the
live one")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.e2e.rebuild_support import SERVICES, alerts_mirrored, reporting_command, settle
from tests.e2e.support import Auth, OwnPipeline, own_pipeline, poll
from wellpulse.devstack.demo import ROOT, DemoLoaded, load_demo
from wellpulse.devstack.stack import Infrastructure

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def demo(infrastructure: Infrastructure, auth: Auth) -> AsyncIterator[tuple[OwnPipeline, DemoLoaded]]:
    env = {
        # The demo answers six weeks gone by (development only), as the dev stack lets it.
        "INTAKE_ANSWER_PAST_WEEKS": "true",
        "ALERTS_OUTBOX_INTERVAL_SECONDS": "1",
    }
    async with own_pipeline(infrastructure.database_url, auth.issuer_url, SERVICES, env) as own:
        admin_token = auth.admin["Authorization"].removeprefix("Bearer ")
        loaded = await load_demo(own.urls["pulse-intake"], admin_token)
        poll(
            lambda: _counted(own.database_url),
            lambda n: n == loaded.responses,
            f"reporting counted all {loaded.responses} demo responses",
            within=300,
        )
        await settle(own.bootstrap)
        yield own, loaded


def _counted(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(sum(n), 0) FROM reporting.own_rollups WHERE measure = 'responses'")
        return int(row.fetchone()[0])  # type: ignore[index]


async def test_rebuild_on_the_demo_data_equals_the_live_read_model_and_reports_a_corrupted_row(
    demo: tuple[OwnPipeline, DemoLoaded],
) -> None:
    own, loaded = demo
    alerts = alerts_mirrored(own.database_url, at_least=1)

    result = await asyncio.to_thread(reporting_command, own.database_url, own.bootstrap, "rebuild", "--compare")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["equal"] is True, report
    assert report["replayed"]["pulse.scored"]["applied"] == loaded.responses
    tables = report["tables"]
    assert tables["applied_events"]["live_rows"] == loaded.responses
    assert tables["org_units"]["live_rows"] == loaded.units
    assert tables["alerts"]["live_rows"] == len(alerts)
    assert all(t["live_rows"] == t["rebuilt_rows"] > 0 for t in tables.values()), tables

    # The organisation's count of responses for the first week, one too many: reported, nothing else.
    with psycopg.connect(own.database_url) as conn:
        conn.execute(
            "UPDATE reporting.subtree_rollups SET n = n + 1 WHERE unit_id = %s AND measure = 'responses' "
            "AND week_start = (SELECT min(week_start) FROM reporting.subtree_rollups WHERE unit_id = %s)",
            (ROOT, ROOT),
        )
    corrupted = await asyncio.to_thread(reporting_command, own.database_url, own.bootstrap, "rebuild")

    assert corrupted.returncode == 1, corrupted.stderr
    differences = json.loads(corrupted.stdout)
    counts = {name: t["differing"] + t["only_live"] + t["only_rebuilt"] for name, t in differences["tables"].items()}
    assert counts == {name: 1 if name == "subtree_rollups" else 0 for name in tables}
    [example] = differences["tables"]["subtree_rollups"]["examples"]
    assert (example["key"]["unit_id"], example["key"]["measure"]) == (ROOT, "responses")
    assert example["live"]["n"] == example["rebuilt"]["n"] + 1
