"""Generated requests from each service's own OpenAPI document (schemathesis, every check): no
server error, and every status code, content type and body the services answer is documented.

Without a token nothing changes: intake's whole schema is the same afterwards. With a token, the
generated calls reach the handlers (an intake of its own takes the admin's).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.support import Auth, LonelyIntake, standalone_intake
from wellpulse.devstack.stack import Infrastructure, Services

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).parent / "schemathesis.toml"
INTAKE_TABLES = ("org_units", "roster", "rounds", "links", "signposts")


def _fuzz(
    base_url: str, headers: dict[str, str] | None = None, *, exclude: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    auth = [f"--header=Authorization: {headers['Authorization']}"] if headers else []
    excluded = [f"--exclude-checks={','.join(exclude)}"] if exclude else []
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "20261201",
            *auth,
            *excluded,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def _failures(run: subprocess.CompletedProcess[str]) -> str:
    """What schemathesis found, from its report's failures section on."""
    start = run.stdout.find("FAILURES")
    return run.stdout[start if start >= 0 else -6000 :][:12000]


def _snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(database_url) as conn:
        return {table: conn.execute(f"SELECT * FROM intake.{table} ORDER BY 1").fetchall() for table in INTAKE_TABLES}


@pytest.mark.parametrize("service", ["pulse-intake", "scoring", "alerts", "reporting"])
def test_without_a_token_nothing_changes_and_every_answer_is_documented(
    stack: Services, infrastructure: Infrastructure, pulse: dict[str, Any], service: str
) -> None:
    before = _snapshot(infrastructure.database_url)
    assert before["rounds"], "the session's round is open before the fuzzing"
    run = _fuzz(stack.url(service))
    assert run.returncode == 0, _failures(run)
    assert " passed" in run.stdout
    assert _snapshot(infrastructure.database_url) == before, "an unauthenticated request changed intake"


@pytest.fixture
async def own_intake(fresh_database: str, auth: Auth) -> AsyncIterator[LonelyIntake]:
    """Its own intake: generated admin calls must not rewrite the tree other tests stand on."""
    async with standalone_intake(fresh_database, auth.issuer_url, {}) as intake:
        yield intake


def test_an_admin_reaching_every_intake_handler_gets_only_documented_answers(
    own_intake: LonelyIntake, auth: Auth
) -> None:
    # Every check but one: "schema-valid data is accepted" cannot hold where the rules are not the
    # schema's to state (a tree whose parents loop, a week 53 in a year of 52, links for a closed round).
    run = _fuzz(own_intake.intake.url, auth.admin, exclude=("positive_data_acceptance",))
    assert run.returncode == 0, _failures(run)
    assert " passed" in run.stdout


@pytest.mark.parametrize("service", ["alerts", "reporting"])
def test_hr_and_leaders_reaching_every_handler_get_only_documented_answers(
    stack: Services, auth: Auth, service: str
) -> None:
    # Alerts' admin routes take a token with the admin role too; "schema-valid data is accepted" cannot
    # hold for a contact list whose ids repeat or whose webhook is a private address.
    headers = auth.headers("hr", "leader", "admin", units=("northshire",))
    exclude = ("positive_data_acceptance",) if service == "alerts" else ()
    run = _fuzz(stack.url(service), headers, exclude=exclude)
    assert run.returncode == 0, _failures(run)
    assert " passed" in run.stdout
