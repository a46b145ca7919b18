"""Phase 4, alerts: how soon HR hears about a team in trouble. The drill's teams answer one at a
time; each team's fifth response makes it nameable with everyone intending to leave, and is timed
from its POST to the alert's row and to the signed webhook arriving at a real receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import httpx
from load import ALERT_ROOT, ALERT_TEAM_PEOPLE, Round, expect, loopback_client
from measure import spread
from runtime import BenchFailed, Deadline, bounded, say

from wellpulse.common.bank import AlertFamily, QuestionBank, ResponseKind
from wellpulse.common.events import monday_of
from wellpulse.common.measures import RESPONSES
from wellpulse.devstack.receivers import WebhookReceiver
from wellpulse.devstack.stack import Services

T = TypeVar("T")

ALERT_TEAMS = 20
RULE = "intent_to_leave"
# The relay is woken the moment an alert is raised; its interval (and the first retry) only
# matter when a delivery fails, and then the retry should land inside the phase.
SERVICE_ENV = {"ALERTS_DELIVERY_INTERVAL_SECONDS": "1", "ALERTS_DELIVERY_FIRST_RETRY_SECONDS": "1"}
TEAM_WITHIN_S = 30.0  # one team's wait for its alert, then for its webhook
POLL_S = 0.02  # the figures come from timestamps; polling only decides when to move on
PROBE_WITHIN_S = 10.0


def drill_answers(items: Sequence[dict[str, Any]], bank: QuestionBank) -> dict[str, int | str]:
    """Answers that call for an intent-to-leave alert and nothing else: the bank's intent-to-leave
    items at the worst score, every other 1–5 item at the best (no scale in the red, caseloads
    manageable), "no" to choices (no bullying reported), 15 cases held."""
    answers: dict[str, int | str] = {}
    for entry in items:
        item = bank.item(entry["code"])
        scale = bank.scales[item.response]
        if scale.kind is ResponseKind.CHOICE:
            answers[item.code] = "no" if "no" in scale.options else scale.options[0]
        elif scale.kind is ResponseKind.INTEGER:
            low, high = scale.min or 0, scale.max if scale.max is not None else 15
            answers[item.code] = min(max(15, low), high)
        else:
            wanted = 1.0 if item.family is AlertFamily.INTENT_TO_LEAVE else 5.0
            answers[item.code] = next(v for v in range(1, 6) if bank.score(item, v) == wanted)
    return answers


@dataclass
class Timed:
    """One measured alert; times are wall-clock seconds (the database's and the receiver's clocks
    are this machine's too)."""

    team: str
    submitted_at: float
    accepted_at: float
    alert_id: str | None = None
    raised_at: float | None = None  # alerts.alerts.raised_at
    seen_at: float | None = None  # the first poll that found the row
    webhook_at: float | None = None  # the receiver's received_at


class Drill:
    """The alerts phase's stack, round and connections."""

    def __init__(
        self,
        services: Services,
        bench_round: Round,
        bank: QuestionBank,
        db: asyncpg.Connection,
        receiver: WebhookReceiver,
        deadline: Deadline,
    ) -> None:
        self.services = services
        self.round = bench_round
        self.db = db
        self.receiver = receiver
        self.deadline = deadline
        self.answers = drill_answers(bench_round.items, bank)
        self.week = monday_of(bench_round.iso_week)
        self.responses_url = f"{services.url('pulse-intake')}/v1/responses"

    async def poll(self, what: str, probe: Callable[[], Awaitable[T | None]], within: float) -> T | None:
        """``probe`` until it answers; None after ``within`` s. Fails the run on the deadline or
        when a service process died."""
        until = time.monotonic() + within
        while (found := await self._probe(what, probe)) is None:
            for name, process in self.services.processes.items():
                code = process.process.poll() if process.process else None
                if code is not None:
                    raise BenchFailed(f"{name} exited with code {code} while {what}; see {self.services.log_dir}")
            self.deadline.check(what)
            if time.monotonic() > until:
                return None
            await asyncio.sleep(POLL_S)
        return found

    async def _probe(self, what: str, probe: Callable[[], Awaitable[T | None]]) -> T | None:
        try:
            async with asyncio.timeout(PROBE_WITHIN_S):
                return await probe()
        except TimeoutError:
            raise BenchFailed(f"a query did not answer within {PROBE_WITHIN_S:.0f}s while {what}") from None

    async def settle(self, applied: int, teams: int) -> None:
        """Wait until alerts has applied every response the earlier phases sent and knows the drill's
        teams: the drill measures latency, so it must not queue behind a backlog."""

        async def ready() -> bool | None:
            seen = await self.db.fetchval("SELECT count(*) FROM alerts.applied_events")
            known = await self.db.fetchval(
                "SELECT count(*) FROM alerts.org_units WHERE parent_id = $1 AND NOT removed", ALERT_ROOT
            )
            return True if seen >= applied and known >= teams else None

        if await self.poll("waiting for alerts to catch up", ready, 120.0) is None:
            raise BenchFailed(f"alerts did not apply {applied} earlier responses and learn the drill's teams")

    async def submit(self, client: httpx.AsyncClient, token: str) -> None:
        reply = await client.post(self.responses_url, json={"token": token, "answers": self.answers})
        expect(reply, "a drill response", ok=(202,))

    async def team(self, client: httpx.AsyncClient, team: str) -> Timed:
        """k − 1 responses, then (once alerts has counted them) the k-th, timed to its alert and webhook."""
        tokens = self.round.alert_tokens[team]
        for token in tokens[: ALERT_TEAM_PEOPLE - 1]:
            await self.submit(client, token)

        async def counted() -> int | None:
            n = await self.db.fetchval(
                "SELECT n FROM alerts.subtree_rollups WHERE unit_id = $1 AND week_start = $2 AND measure = $3",
                team,
                self.week,
                RESPONSES,
            )
            return n if n is not None and n >= ALERT_TEAM_PEOPLE - 1 else None

        if await self.poll(f"waiting for {team}'s first responses in alerts", counted, TEAM_WITHIN_S) is None:
            raise BenchFailed(f"alerts did not count {team}'s first {ALERT_TEAM_PEOPLE - 1} responses")
        submitted = time.time()
        await self.submit(client, tokens[ALERT_TEAM_PEOPLE - 1])
        timed = Timed(team, submitted, time.time())

        async def raised() -> asyncpg.Record | None:
            return await self.db.fetchrow(
                "SELECT alert_id::text, raised_at FROM alerts.alerts WHERE unit_id = $1 AND rule = $2",
                team,
                RULE,
            )

        row = await self.poll(f"waiting for {team}'s alert", raised, TEAM_WITHIN_S)
        if row is None:
            say(f"no {RULE} alert for {team} within {TEAM_WITHIN_S:.0f}s")
            return timed
        timed.seen_at, timed.alert_id, timed.raised_at = time.time(), row["alert_id"], row["raised_at"].timestamp()

        async def delivered() -> float | None:
            delivery = self.receiver.by_id.get(row["alert_id"])
            return delivery.received_at.timestamp() if delivery else None

        timed.webhook_at = await self.poll(f"waiting for {team}'s webhook", delivered, TEAM_WITHIN_S)
        if timed.webhook_at is None:
            say(f"no webhook for {team}'s alert within {TEAM_WITHIN_S:.0f}s")
        return timed

    async def others(self, measured: Sequence[str]) -> list[dict[str, str]]:
        """Alerts in the drill's part of the org besides the measured ones (the root's, see the README)."""
        rows = await self.db.fetch(
            """
            SELECT a.unit_id, a.rule FROM alerts.alerts a JOIN alerts.org_units o USING (unit_id)
            WHERE (o.unit_id = $1 OR o.parent_id = $1) AND NOT a.alert_id::text = ANY($2::text[])
            ORDER BY a.unit_id, a.rule
            """,
            ALERT_ROOT,
            list(measured),
        )
        return [dict(r) for r in rows]


async def alerts_phase(
    services: Services,
    bench_round: Round,
    bank: QuestionBank,
    database_url: str,
    admin_token: str,
    deadline: Deadline,
    applied: int,
) -> dict[str, Any]:
    """The top-level figures (``submit_to_alert_ms``, ``submit_to_webhook_ms``, ``alerts_measured``)
    and the phase's details under ``alerts``. ``applied``: responses the earlier phases sent."""
    teams = sorted(bench_round.alert_tokens)
    receiver = WebhookReceiver()
    await asyncio.to_thread(receiver.start)
    db: asyncpg.Connection | None = None
    try:
        db = await asyncpg.connect(database_url, timeout=10)
        contact = {
            "contact_id": "bench-hr",
            "name": "Bench HR",
            "webhook": {"url": receiver.url, "secrets": [receiver.secret]},
            "units": [ALERT_ROOT],
        }
        async with loopback_client(headers={"Authorization": f"Bearer {admin_token}"}) as admin:
            reply = await admin.put(f"{services.url('alerts')}/v1/admin/contacts", json={"contacts": [contact]})
            expect(reply, "saving the HR contact")
        drill = Drill(services, bench_round, bank, db, receiver, deadline)
        await drill.settle(applied, len(teams))
        say(f"phase 4: {len(teams)} teams, one at a time, each raising {RULE} with its {ALERT_TEAM_PEOPLE}th response")
        timed: list[Timed] = []
        async with loopback_client() as client:
            for team in teams:
                timed.append(await drill.team(client, team))
        others = await drill.others([t.alert_id for t in timed if t.alert_id])
    finally:
        if db is not None:
            await bounded("closing the database connection", db.close())
        await bounded("stopping the webhook receiver", asyncio.to_thread(receiver.stop))

    raised = [t.raised_at - t.submitted_at for t in timed if t.raised_at is not None]
    hooked = [t.webhook_at - t.submitted_at for t in timed if t.webhook_at is not None]
    figures = {
        "alerts_measured": len(raised),
        "submit_to_alert_ms": spread(raised),
        "submit_to_webhook_ms": spread(hooked),
        "alerts": {
            "teams": len(teams),
            "rule": RULE,
            "webhooks_measured": len(hooked),
            "missed": [t.team for t in timed if t.raised_at is None or t.webhook_at is None],
            "intake_request_ms": spread([t.accepted_at - t.submitted_at for t in timed]),
            "submit_to_alert_seen_ms": spread([t.seen_at - t.submitted_at for t in timed if t.seen_at is not None]),
            "alert_to_webhook_ms": spread(
                [t.webhook_at - t.raised_at for t in timed if t.webhook_at is not None and t.raised_at is not None]
            ),
            "other_alerts": others,
            "webhook_requests": {"verified": len(receiver.received), "rejected": receiver.rejected},
        },
    }
    say(
        f"phase 4: {len(raised)} alerts, submit → alert {figures['submit_to_alert_ms']}, "
        f"submit → webhook {figures['submit_to_webhook_ms']}"
    )
    return figures
