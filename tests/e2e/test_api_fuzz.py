"""Generated requests from each service's own OpenAPI document (schemathesis): whatever arrives,
no service answers with a server error."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.support import LonelyIntake, standalone_intake
from wellpulse.devstack.stack import Services

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def _fuzz(base_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--seed",
            "20261122",
            "--exclude-path-regex",
            "/metrics|/readyz",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture
async def own_intake(fresh_database: str) -> AsyncIterator[LonelyIntake]:
    """Its own intake: generated admin calls must not rewrite the tree other tests stand on."""
    async with standalone_intake(fresh_database, {}) as intake:
        yield intake


def test_intake_never_answers_with_a_server_error(own_intake: LonelyIntake) -> None:
    run = _fuzz(own_intake.intake.url)
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout


@pytest.mark.parametrize("service", ["alerts", "reporting"])
def test_read_apis_never_answer_with_a_server_error(stack: Services, service: str) -> None:
    run = _fuzz(stack.url(service))
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout
