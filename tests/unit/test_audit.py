"""The audit trail: one JSON line on ``wellpulse.audit`` and one counted outcome per change, whether it
was applied, refused with a status, or failed."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

from wellpulse.common.audit import AuditTrail
from wellpulse.common.auth.principal import Principal, Role
from wellpulse.common.http import Problem

ADMIN = Principal("admin-1", frozenset({Role.admin, Role.hr}), ("org",))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def trail(registry: CollectorRegistry) -> AuditTrail:
    return AuditTrail(registry)


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="wellpulse.audit")
    return caplog


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "wellpulse.audit"]


def counted(registry: CollectorRegistry, action: str, outcome: str) -> float:
    value = registry.get_sample_value("wellpulse_audited_changes_total", {"action": action, "outcome": outcome})
    return value or 0.0


def test_an_applied_change_is_one_line_with_its_details(
    trail: AuditTrail, registry: CollectorRegistry, audit_log: pytest.LogCaptureFixture
) -> None:
    with trail.change(ADMIN, Role.admin, "roster.import", "roster") as details:
        details["added"] = 12
        details.update(removed=3)

    assert lines(audit_log) == [
        {
            "audit": "roster.import",
            "outcome": "applied",
            "subject": "admin-1",
            "role": "admin",
            "target": "roster",
            "added": 12,
            "removed": 3,
        }
    ]
    assert audit_log.records[0].levelno == logging.INFO
    assert counted(registry, "roster.import", "applied") == 1


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [
        (Problem(409, "Conflict", "the round is already open"), "refused-409"),
        (HTTPException(404, "no such round"), "refused-404"),
        (HTTPException(413), "refused-413"),
    ],
)
def test_a_refused_change_records_the_status_and_still_raises(
    trail: AuditTrail,
    registry: CollectorRegistry,
    audit_log: pytest.LogCaptureFixture,
    raised: Exception,
    outcome: str,
) -> None:
    def open_round() -> None:
        with trail.change(ADMIN, Role.admin, "round.open", "2026-W10") as details:
            details["pulse_id"] = "p-1"
            raise raised

    with pytest.raises(type(raised)) as caught:
        open_round()

    assert caught.value is raised
    [line] = lines(audit_log)
    assert line["outcome"] == outcome
    assert line["target"] == "2026-W10"
    assert line["pulse_id"] == "p-1"
    assert counted(registry, "round.open", outcome) == 1
    assert counted(registry, "round.open", "applied") == 0


def test_any_other_error_is_recorded_as_failed_and_still_raises(
    trail: AuditTrail, registry: CollectorRegistry, audit_log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConnectionError), trail.change(ADMIN, Role.admin, "links.issue", "p-2"):
        raise ConnectionError("database went away")

    [line] = lines(audit_log)
    assert line["outcome"] == "failed"
    assert "database went away" not in json.dumps(line)
    assert counted(registry, "links.issue", "failed") == 1


def test_record_counts_each_action_and_outcome_apart(trail: AuditTrail, registry: CollectorRegistry) -> None:
    trail.record(ADMIN, Role.admin, "org.import", "org-tree")
    trail.record(ADMIN, Role.admin, "org.import", "org-tree")
    trail.record(ADMIN, Role.hr, "org.import", "org-tree", outcome="conflict", units=4)

    assert counted(registry, "org.import", "applied") == 2
    assert counted(registry, "org.import", "conflict") == 1


def test_the_role_recorded_is_the_one_acted_in(trail: AuditTrail, audit_log: pytest.LogCaptureFixture) -> None:
    trail.record(ADMIN, Role.hr, "alert.ack", "alert-9")

    assert lines(audit_log)[0]["role"] == "hr"


def test_details_that_are_not_json_are_written_as_text(trail: AuditTrail, audit_log: pytest.LogCaptureFixture) -> None:
    with trail.change(ADMIN, Role.admin, "signposts.update", "signposts") as details:
        details["kinds"] = {"phone"}

    assert lines(audit_log)[0]["kinds"] == "{'phone'}"


@pytest.mark.parametrize("name", ["subject", "role", "audit", "outcome", "target"])
def test_a_detail_never_overwrites_who_what_or_the_outcome(
    trail: AuditTrail, registry: CollectorRegistry, audit_log: pytest.LogCaptureFixture, name: str
) -> None:
    def close_round() -> None:
        with trail.change(ADMIN, Role.admin, "round.close", "p-3") as details:
            details[name] = "forged"
            raise Problem(404, "Not Found", "no pulse round 'p-3'")

    with pytest.raises(Problem, match="no pulse round"):
        close_round()

    [line] = lines(audit_log)
    assert line["subject"] == "admin-1"
    assert line["role"] == "admin"
    assert line["audit"] == "round.close"
    assert line["outcome"] == "refused-404"
    assert line["target"] == "p-3"
    assert counted(registry, "round.close", "refused-404") == 1


def test_record_keeps_the_fixed_fields_against_colliding_details(
    trail: AuditTrail, audit_log: pytest.LogCaptureFixture
) -> None:
    trail.record(ADMIN, Role.admin, "round.open", "2026-W11", subject="forged", audit="other", pulse_id="p-4")

    [line] = lines(audit_log)
    assert (line["subject"], line["audit"], line["pulse_id"]) == ("admin-1", "round.open", "p-4")
