"""Importing the org tree through the API and the CLI: all or nothing, idempotent, and removals
reach every service as tombstones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.e2e.support import Auth, Org, Roster, answers_for, poll, submit
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


def _cli(stack: Services, *args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WELLPULSE_TOKEN"}
    if token is not None:
        env["WELLPULSE_TOKEN"] = token
    cli = Path(sys.executable).parent / "wellpulse-intake"
    return subprocess.run(
        [str(cli), "--url", stack.url("pulse-intake"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def _bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_five_bad_rows_are_all_reported_by_the_cli_and_nothing_is_imported(
    stack: Services, infrastructure: Infrastructure, auth: Auth, tmp_path: Path
) -> None:
    bad = tmp_path / "org.csv"
    bad.write_text(BAD_TREE)
    run = _cli(stack, "import-org", str(bad), token=_bearer(auth.admin))
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


def test_the_cli_says_what_to_do_without_a_token_or_with_a_refused_one(
    stack: Services, auth: Auth, tmp_path: Path
) -> None:
    tree = tmp_path / "org.csv"
    tree.write_text("unit_id,parent_id,name,headcount\nzz-cli,,CLI,5\n")
    missing = _cli(stack, "import-org", str(tree), token=None)
    assert missing.returncode == 2
    assert "WELLPULSE_TOKEN" in missing.stderr
    assert "wellpulse-dev token --role admin" in missing.stderr

    expired = _cli(stack, "import-org", str(tree), token=_bearer(auth.headers("admin", exp=1)))
    assert expired.returncode == 1
    assert "expired" in expired.stderr
    assert "Get a fresh one" in expired.stderr

    leader = _cli(stack, "import-org", str(tree), token=_bearer(auth.leader("zz-cli")))
    assert leader.returncode == 1
    assert "lacks the admin role" in leader.stderr


def test_reimporting_changes_nothing_and_a_removed_unit_disappears_everywhere(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    keep, drop = f"{uid}-keep", f"{uid}-drop"
    org.add((keep, None, 5), (drop, None, 5))
    again = org.put()
    assert again["created_or_updated"] == 0
    assert again["removed"] == 0

    trends = f"{stack.url('reporting')}/v1/units/{drop}/trends"
    leader = auth.leader(drop)
    poll(lambda: httpx.get(trends, headers=leader).status_code, lambda s: s == 200, "reporting knows the unit")
    org.remove(drop)
    poll(lambda: httpx.get(trends, headers=leader).status_code, lambda s: s == 404, "reporting saw the tombstone")


def test_a_unit_with_people_on_the_roster_cannot_be_removed(
    stack: Services, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    staffed = f"{uid}-staffed"
    org.add((staffed, None, 5))
    [token] = roster.tokens(pulse["pulse_id"], staffed, 1)
    assert submit(stack.url("pulse-intake"), token, answers_for(pulse, leaving=False)).status_code == 202
    without = [u for u in org.units.values() if u["unit_id"] != staffed]
    refused = httpx.put(f"{stack.url('pulse-intake')}/v1/admin/org-units", json={"units": without}, headers=org.admin)
    assert refused.status_code == 409
    assert refused.json()["units"] == {staffed: 1}
