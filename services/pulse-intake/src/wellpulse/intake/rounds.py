"""Opening the round for an ISO week with the items rotation picks for it (API and schedule alike)."""

from __future__ import annotations

import asyncpg

from wellpulse.common.bank import QuestionBank
from wellpulse.intake import store
from wellpulse.intake.rotation import items_for_week


async def open_round_for_week(pool: asyncpg.Pool, bank: QuestionBank, iso_week: str, max_items: int) -> store.Round:
    """The week's round: opened now, or the one already open (a week has one round)."""
    items = items_for_week(bank, iso_week, max_items)
    pulse, _ = await store.open_round(pool, store.new_pulse_id(iso_week), iso_week, items, bank.version)
    return pulse
