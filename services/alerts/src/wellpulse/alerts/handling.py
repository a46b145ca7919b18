"""HR handling an alert: acknowledge it, resolve it with a note. Each transition is checked by the
lifecycle, recorded in the alert's history with who made it, and audited."""

from __future__ import annotations

from collections.abc import Callable

from wellpulse.alerts import store
from wellpulse.alerts.lifecycle import Action, InvalidTransition, transition
from wellpulse.common.audit import AuditTrail
from wellpulse.common.auth import Role, Scope, not_found
from wellpulse.common.db import Database
from wellpulse.common.http import Problem

PAST = {Action.acknowledge: "acknowledged", Action.resolve: "resolved"}


class AlertDesk:
    def __init__(self, database: Database, audit: AuditTrail, on_change: Callable[[], None] = lambda: None) -> None:
        self._database = database
        self._audit = audit
        # Wakes the outbox, so the transition reaches pulse.alerts (and reporting) at once.
        self._on_change = on_change

    async def act(self, scope: Scope, alert_id: str, action: Action, note: str | None) -> store.AlertRow:
        """Raises a 404 problem outside the caller's scope (as for an unknown alert), 409 when the
        alert's status does not allow the action."""
        with self._audit.change(scope.principal, Role.hr, f"alert.{action.value}", alert_id) as entry:
            async with self._database.transaction() as conn:
                row = await store.get_alert(conn, alert_id, lock=True)
                if row is None or not await scope.covers(row.unit_id):
                    raise not_found("alert", alert_id)
                try:
                    status = transition(row.status, action, note)
                except InvalidTransition as refused:
                    raise Problem(
                        409, "The alert cannot do that now", str(refused), alert_status=row.status.value
                    ) from None
                await store.set_status(conn, alert_id, status, note)
                await store.add_event(conn, alert_id, scope.principal.subject, PAST[action], note)
                entry.update(unit_id=row.unit_id, rule=row.rule)
                updated = await store.get_alert(conn, alert_id)
        assert updated is not None
        self._on_change()
        return updated
