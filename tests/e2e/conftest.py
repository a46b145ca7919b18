"""The four services as separate processes on the session's broker and database, kept warm."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.support import Org
from wellpulse.devstack.stack import Infrastructure, Services

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack(infrastructure: Infrastructure) -> Iterator[Services]:
    services = Services(infrastructure, PROJECT / ".devstack" / f"e2e-{os.getpid()}" / "logs")
    services.start(
        {
            # Small batches: more commits per test, so a crash lands between them.
            "SCORING_CONSUMER_BATCH_SIZE": "50",
            "REPORTING_CONSUMER_BATCH_SIZE": "50",
            "ALERTS_CONSUMER_BATCH_SIZE": "50",
            "ALERTS_OUTBOX_INTERVAL_SECONDS": "1",
        }
    )
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="session")
def org(stack: Services) -> Org:
    return Org(stack.url("pulse-intake"))


@pytest.fixture(scope="session")
def pulse(stack: Services) -> dict[str, Any]:
    """This week's round (opening it again returns the same round)."""
    answer = httpx.post(f"{stack.url('pulse-intake')}/v1/admin/rounds", json={})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps one test's units apart from every other test's."""
    return f"t{uuid.uuid4().hex[:6]}"
