"""The four services as separate processes on the session's broker and database, kept warm."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, async_playwright

from tests.e2e.browser import CHROMIUM, FLAGS
from tests.e2e.support import Auth, Mailbox, Org, Roster, TraceCollector
from wellpulse.devstack.embedded import free_port
from wellpulse.devstack.stack import Infrastructure, Services

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it is sent."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def traces() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector
    finally:
        collector.shutdown()
        collector.server_close()


@pytest.fixture(scope="session")
def stack(infrastructure: Infrastructure, mailbox: Mailbox, traces: TraceCollector) -> Iterator[Services]:
    services = Services(infrastructure, PROJECT / ".devstack" / f"e2e-{os.getpid()}" / "logs")
    services.start(
        {
            "INTAKE_SMTP_HOST": "127.0.0.1",
            "INTAKE_SMTP_PORT": str(mailbox.port),
            "INTAKE_SMTP_STARTTLS": "false",
            "SCORING_OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint,
            # Small batches: more commits per test, so a crash lands between them.
            "SCORING_CONSUMER_BATCH_SIZE": "50",
            "REPORTING_CONSUMER_BATCH_SIZE": "50",
            "ALERTS_CONSUMER_BATCH_SIZE": "50",
            "ALERTS_OUTBOX_INTERVAL_SECONDS": "1",
            "ALERTS_SMTP_HOST": "127.0.0.1",
            "ALERTS_SMTP_PORT": str(mailbox.port),
            "ALERTS_SMTP_STARTTLS": "false",
            "ALERTS_DELIVERY_INTERVAL_SECONDS": "1",
            # Retries a few seconds apart, so a test sees a receiver's outage end.
            "ALERTS_DELIVERY_FIRST_RETRY_SECONDS": "1",
            "ALERTS_DELIVERY_MAX_RETRY_SECONDS": "2",
            "ALERTS_DELIVERY_LEASE_SECONDS": "5",
            # A short floor on JWKS refreshes, so the key-rotation test need not wait 30 s.
            **{f"{p}OIDC_JWKS_REFRESH_FLOOR_SECONDS": "2" for p in ("INTAKE_", "ALERTS_", "REPORTING_")},
        }
    )
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="session")
def auth(infrastructure: Infrastructure) -> Auth:
    return Auth(infrastructure.issuer.folder, infrastructure.issuer.url)


@pytest.fixture(scope="session")
def org(stack: Services, auth: Auth) -> Org:
    return Org(stack.url("pulse-intake"), auth.admin)


@pytest.fixture(scope="session")
def roster(stack: Services, auth: Auth) -> Roster:
    return Roster(stack.url("pulse-intake"), auth.admin)


@pytest.fixture(scope="session")
def pulse(stack: Services, auth: Auth) -> dict[str, Any]:
    """This week's round (opening it again returns the same round)."""
    answer = httpx.post(f"{stack.url('pulse-intake')}/v1/admin/rounds", json={}, headers=auth.admin)
    # Links for this round are minted per test, for that test's own people.
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps one test's units apart from every other test's."""
    return f"t{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, once per session (the form's and the dashboard's browser tests share it)."""
    assert shutil.which(CHROMIUM), "Debian's chromium is needed (scripts/test installs it)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()
