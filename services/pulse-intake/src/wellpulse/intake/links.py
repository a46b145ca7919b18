"""Minting a round's links and handing them over: by email, or as a CSV for a mail merge."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wellpulse.common.db import Database
from wellpulse.intake import store
from wellpulse.intake.mail import Invitation, SendReport, send_invitations, smtp_client
from wellpulse.intake.roster import RosterEntry
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.tokens import mint, token_hash


class LinksRefused(Exception):
    """The round cannot have links issued as asked; ``status`` and the message say why."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


@dataclass(frozen=True)
class Issued:
    minted: int
    # CSV delivery: the links themselves, for the admin's mail merge. Email delivery: who failed.
    invitations: list[Invitation] = field(default_factory=list)
    sent: int = 0
    failed: list[str] = field(default_factory=list)


class LinkIssuer:
    def __init__(self, settings: IntakeSettings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._key = settings.token_hash_key.get_secret_value().encode()

    async def issue(
        self, pulse: store.Round, delivery: Literal["email", "csv"], emails: Sequence[str] | None
    ) -> Issued:
        """One link per roster entry (or per listed address, to re-send), emailed or returned.

        Raises ``LinksRefused``; for email, ``SmtpNotConfigured`` or the mail server's errors.
        """
        if pulse.status != "open":
            raise LinksRefused(410, "Closed", f"pulse round {pulse.pulse_id!r} has closed")
        if pulse.links_issued and emails is None:
            raise LinksRefused(
                409,
                "Links already issued",
                f"{pulse.links_issued} links were already issued for this round. To re-send to "
                "particular people, list their roster addresses in `emails`.",
            )
        entries = await store.roster(self._database.pool, emails)
        if emails is not None and (unknown := sorted(set(emails) - {e.email for e in entries})):
            raise LinksRefused(
                422, "Not on the roster", f"{len(unknown)} address(es) are not on the roster", unknown=unknown
            )
        if not entries:
            raise LinksRefused(422, "Empty roster", "Import a roster first (PUT /v1/admin/roster).")
        if delivery == "csv":
            invitations = await self.mint(pulse.pulse_id, entries)
            return Issued(len(invitations), invitations=invitations)
        minted, report = await self.email(pulse, entries)
        return Issued(minted, sent=report.sent, failed=report.failed)

    async def mint(self, pulse_id: str, entries: Sequence[RosterEntry]) -> list[Invitation]:
        invitations = [(mint(), entry) for entry in entries]
        # Stored in an order unrelated to the roster's, so the table's row order says nothing.
        random.SystemRandom().shuffle(invitations)
        async with self._database.transaction() as conn:
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
