"""The audit trail of changes made through an API: who (subject and role), what, to which target.

One structured line per change on the ``wellpulse.audit`` logger, and a counter in ``/metrics``.
Details are counts and identifiers chosen by the caller of ``record``: never an address, a link
or an answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.exceptions import HTTPException

from wellpulse.common.auth.principal import Principal, Role
from wellpulse.common.http import Problem

log = logging.getLogger("wellpulse.audit")


class AuditTrail:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._changes = Counter(
            "wellpulse_audited_changes",
            "Changes made through the API, by action and outcome.",
            ["action", "outcome"],
            registry=registry,
        )

    def record(
        self,
        user: Principal,
        role: Role,
        action: str,
        target: str,
        *,
        outcome: str = "applied",
        **details: Any,
    ) -> None:
        """``outcome``: ``applied``, or why not (``refused``, ``conflict``, ``unavailable``...)."""
        self._write(user, role, action, target, outcome, details)

    def _write(
        self, user: Principal, role: Role, action: str, target: str, outcome: str, details: Mapping[str, Any]
    ) -> None:
        self._changes.labels(action=action, outcome=outcome).inc()
        line = {"audit": action, "outcome": outcome, "subject": user.subject, "role": role.value, "target": target}
        # A detail never replaces who did what, to which target, with what outcome.
        line.update((name, value) for name, value in details.items() if name not in line)
        log.info("%s", json.dumps(line, sort_keys=False, default=str))

    @contextmanager
    def change(self, user: Principal, role: Role, action: str, target: str) -> Iterator[dict[str, Any]]:
        """Record the change when the block ends: applied, or refused with the status it answered.

        The block adds details (counts, ids) to the dict it is given; a ``Problem`` or
        ``HTTPException`` escaping it is recorded as ``refused-<status>``, anything else as ``failed``.
        """
        details: dict[str, Any] = {}
        try:
            yield details
        except (Problem, HTTPException) as exc:
            status = exc.status if isinstance(exc, Problem) else exc.status_code
            self._write(user, role, action, target, f"refused-{status}", details)
            raise
        except BaseException:
            self._write(user, role, action, target, "failed", details)
            raise
        self._write(user, role, action, target, "applied", details)
