"""The optional weekly schedule: open this week's round, email its links, close earlier rounds.

``plan`` is pure; ``Scheduler`` applies it every few minutes. Only one replica acts at a time (a
PostgreSQL advisory lock), and every step is idempotent, so a missed or repeated tick is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from wellpulse.common.bank import QuestionBank
from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of
from wellpulse.intake import store
from wellpulse.intake.links import LinkIssuer
from wellpulse.intake.rounds import open_round_for_week
from wellpulse.intake.settings import IntakeSettings

log = logging.getLogger(__name__)

LOCK = "wellpulse.intake.schedule"


@dataclass(frozen=True)
class Plan:
    open_week: str | None
    close: tuple[str, ...]
    send_links_for: str | None


def plan(today: date, rounds: Sequence[store.Round], *, send_links: bool) -> Plan:
    week = iso_week_of(today)
    current = next((r for r in rounds if r.iso_week == week), None)
    # Zero-padded ISO weeks sort as text: "2026-W09" < "2026-W10" < "2027-W01".
    close = tuple(sorted(r.pulse_id for r in rounds if r.status == "open" and r.iso_week < week))
    send = (
        current.pulse_id
        if send_links and current is not None and current.status == "open" and current.links_issued == 0
        else None
    )
    return Plan(None if current else week, close, send)


class Scheduler:
    def __init__(self, settings: IntakeSettings, database: Database, bank: QuestionBank, issuer: LinkIssuer) -> None:
        self._settings = settings
        self._database = database
        self._bank = bank
        self._issuer = issuer

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick(date.today())
            except Exception:  # the next tick retries; letting it escape would stop the schedule
                log.exception("the weekly schedule failed; retrying at the next tick")
            await asyncio.sleep(self._settings.schedule_interval_seconds)

    async def tick(self, today: date) -> None:
        async with self._database.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK):
                return  # another replica is on it
            try:
                await self._apply(today)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", LOCK)

    async def _apply(self, today: date) -> None:
        pool, send = self._database.pool, self._settings.schedule_send_links
        steps = plan(today, await store.open_or_current_rounds(pool, iso_week_of(today)), send_links=send)
        if steps.open_week:
            await open_round_for_week(pool, self._bank, steps.open_week, self._settings.max_items_per_pulse)
            log.info("opened the round for %s", steps.open_week)
            steps = plan(today, await store.open_or_current_rounds(pool, iso_week_of(today)), send_links=send)
        for pulse_id in steps.close:
            await store.close_round(pool, pulse_id)
            log.info("closed round %s", pulse_id)
        if steps.send_links_for:
            pulse = await store.get_round(pool, steps.send_links_for)
            entries = await store.roster(pool)
            if pulse is None or not entries:
                log.warning("no roster yet: this week's links were not sent")
                return
            minted, report = await self._issuer.email(pulse, entries)
            log.info("sent %d of %d links for %s (%d refused)", report.sent, minted, pulse.iso_week, len(report.failed))
