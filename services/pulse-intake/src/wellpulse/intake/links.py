"""Minting a round's links and handing them over: by email, or as a CSV for a mail merge."""

from __future__ import annotations

import random
from collections.abc import Sequence

from wellpulse.common.service import Database
from wellpulse.intake import store
from wellpulse.intake.mail import Invitation, SendReport, send_invitations, smtp_client
from wellpulse.intake.roster import RosterEntry
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.tokens import mint, token_hash


class LinkIssuer:
    def __init__(self, settings: IntakeSettings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._key = settings.token_hash_key.get_secret_value().encode()

    async def mint(self, pulse_id: str, entries: Sequence[RosterEntry]) -> list[Invitation]:
        invitations = [(mint(), entry) for entry in entries]
        # Stored in an order unrelated to the roster's, so the table's row order says nothing.
        random.SystemRandom().shuffle(invitations)
        async with self._database.pool.acquire() as conn, conn.transaction():
            await store.store_links(conn, pulse_id, [(token_hash(self._key, t), e.unit_id) for t, e in invitations])
        random.SystemRandom().shuffle(invitations)
        base = self._settings.public_url.rstrip("/")
        return [Invitation(e.email, f"{base}/p/{t}") for t, e in invitations]

    async def email(self, pulse: store.Round, entries: Sequence[RosterEntry]) -> tuple[int, SendReport]:
        """Connect to the mail server first, so an unreachable one mints nothing; then mint and send.

        Raises ``SmtpNotConfigured``, or aiosmtplib's and the network's errors.
        """
        async with smtp_client(self._settings) as client:
            invitations = await self.mint(pulse.pulse_id, entries)
            return len(invitations), await send_invitations(client, self._settings, invitations, pulse.iso_week)
