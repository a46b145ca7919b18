"""Importing the org tree through the API and the CLI: all or nothing, idempotent, and removals
reach every service as tombstones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.e2e.support import Org, Roster, answers_for, poll, submit
from wellpulse.devstack.stack import Infrastructure, Services

BAD_TREE = """unit_id,parent_id,name,headcount
zz-root,,Root,0
zz-a,zz-root,A,5
zz-b,zz-ghost,B,5
zz-c,zz-d,C,5
zz-d,zz-c,D,5
zz-a,zz-root,A again,5
zz-e,zz-root,E,
zz f,zz-root,F,5
"""


def test_five_bad_rows_are_all_reported_by_the_cli_and_nothing_is_imported(
    stack: Services, infrastructure: Infrastructure, tmp_path: Path
) -> None:
    bad = tmp_path / "org.csv"
    bad.write_text(BAD_TREE)
    cli = Path(sys.executable).parent / "wellpulse-intake"
    run = subprocess.run(
        [str(cli), "--url", stack.url("pulse-intake"), "import-org", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 1
    reported = [line.strip().split(":")[0] for line in run.stderr.splitlines() if line.startswith("  line")]
    assert reported == [
        "line 4, parent_id",
        "line 5, parent_id",
        "line 7, unit_id",
        "line 8, headcount",
        "line 9, unit_id",
    ]
    with psycopg.connect(infrastructure.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM intake.org_units WHERE unit_id LIKE 'zz%'").fetchone()
    assert row == (0,)


def test_reimporting_changes_nothing_and_a_removed_unit_disappears_everywhere(
    stack: Services, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    keep, drop = f"{uid}-keep", f"{uid}-drop"
    org.add((keep, None, 5), (drop, None, 5))
    again = org.put()
    assert again["created_or_updated"] == 0
    assert again["removed"] == 0

    trends = f"{stack.url('reporting')}/v1/units/{drop}/trends"
    poll(lambda: httpx.get(trends).status_code, lambda status: status == 200, "reporting knows the unit")
    org.remove(drop)
    poll(lambda: httpx.get(trends).status_code, lambda status: status == 404, "reporting saw the tombstone")


def test_a_unit_with_people_on_the_roster_cannot_be_removed(
    stack: Services, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    staffed = f"{uid}-staffed"
    org.add((staffed, None, 5))
    [token] = roster.tokens(pulse["pulse_id"], staffed, 1)
    assert submit(stack.url("pulse-intake"), token, answers_for(pulse, leaving=False)).status_code == 202
    without = [u for u in org.units.values() if u["unit_id"] != staffed]
    refused = httpx.put(f"{stack.url('pulse-intake')}/v1/admin/org-units", json={"units": without})
    assert refused.status_code == 409
    assert refused.json()["units"] == {staffed: 1}
