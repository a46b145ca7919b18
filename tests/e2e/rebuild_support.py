"""Helpers the rebuild e2e tests share: the whole pipeline drained, the rebuild command run as an
operator would, and reporting's alerts projection checked against the alerts service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.e2e.support import drained, poll
from wellpulse.common.topics import ORG_UNITS, PULSE_ALERTS, PULSE_RESPONSES, PULSE_SCORED

SERVICES = ("pulse-intake", "scoring", "alerts", "reporting")
# Each consumer group and what it consumes, in pipeline order.
GROUPS = (
    ("wellpulse-scoring", PULSE_RESPONSES),
    ("wellpulse-alerts.org-units", ORG_UNITS),
    ("wellpulse-alerts.scored", PULSE_SCORED),
    ("wellpulse-reporting.org-units", ORG_UNITS),
    ("wellpulse-reporting.scored", PULSE_SCORED),
    ("wellpulse-reporting.alerts", PULSE_ALERTS),
)
# An alert as both services keep it: the alerts service's table, and reporting's projection of it.
ALERT_COLUMNS = "alert_id, unit_id, rule, family, window_end, status"


async def settle(bootstrap: str) -> None:
    """Every consumer has committed everything on its topic: nothing left in flight."""
    for group, topic in GROUPS:
        await drained(bootstrap, group, topic)


def reporting_command(database_url: str, bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``wellpulse-reporting <args>`` as its own process, with the service's settings."""
    env = {
        **os.environ,
        "REPORTING_ENVIRONMENT": "development",
        "REPORTING_DATABASE_URL": database_url,
        "REPORTING_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
    }
    script = Path(sys.executable).parent / "wellpulse-reporting"
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def alerts_both(database_url: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Every alert as the alerts service keeps it, and as reporting's projection has it."""
    with psycopg.connect(database_url) as conn:
        source = conn.execute(f"SELECT {ALERT_COLUMNS} FROM alerts.alerts").fetchall()
        projected = conn.execute(f"SELECT {ALERT_COLUMNS} FROM reporting.alerts").fetchall()
    return set(source), set(projected)


def alerts_mirrored(database_url: str, at_least: int) -> set[tuple[Any, ...]]:
    """Wait until reporting's projection holds every alert the alerts service keeps (at least
    ``at_least``), each in its status: raised alerts and HR's handling both reach it through
    pulse.alerts, which the alerts service's outbox relays feed."""
    source, _ = poll(
        lambda: alerts_both(database_url),
        lambda both: both[0] == both[1] and len(both[0]) >= at_least,
        "reporting's alerts equal the alerts service's",
    )
    return source
