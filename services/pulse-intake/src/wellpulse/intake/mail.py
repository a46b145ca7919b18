"""Sending each person this week's link by email, over one SMTP connection (aiosmtplib).

The address and the link meet only in the message being sent: neither is logged together, stored
or published. A failure names the address so an admin can follow up, and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from wellpulse.intake.settings import IntakeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invitation:
    email: str
    link: str


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: list[str]


def invitation_message(settings: IntakeSettings, invitation: Invitation, iso_week: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = invitation.email
    message["Subject"] = f"Your wellbeing pulse for {iso_week} / Eich pwls lles ar gyfer {iso_week}"
    message.set_content(
        f"""Hello,

This week's wellbeing pulse from {settings.organisation_name} takes under a minute:

{invitation.link}

It is anonymous. The link works once and is not linked to your name or this address.
Results are only ever shown for groups of at least {settings.min_group_size} people. Every question is optional.

---

Helo,

Mae pwls lles yr wythnos hon gan {settings.organisation_name} yn cymryd llai na munud:

{invitation.link}?lang=cy

Mae'n ddienw. Mae'r ddolen yn gweithio unwaith ac nid yw'n gysylltiedig â'ch enw na'r cyfeiriad hwn.
Dim ond ar gyfer grwpiau o {settings.min_group_size} neu fwy y dangosir canlyniadau. Mae pob cwestiwn yn ddewisol.
"""
    )
    return message


def smtp_client(settings: IntakeSettings) -> aiosmtplib.SMTP:
    """Connect with ``async with smtp_client(settings) as client`` before minting any link, so an
    unreachable mail server costs nothing."""
    if not settings.smtp_host:
        raise SmtpNotConfigured("set INTAKE_SMTP_HOST (and credentials) to send links by email")
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_use_tls,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        timeout=settings.smtp_timeout_seconds,
    )


async def send_invitations(
    client: aiosmtplib.SMTP, settings: IntakeSettings, invitations: Sequence[Invitation], iso_week: str
) -> SendReport:
    sent, failed = 0, []
    for invitation in invitations:
        try:
            await client.send_message(invitation_message(settings, invitation, iso_week))
            sent += 1
        except aiosmtplib.SMTPException:
            failed.append(invitation.email)  # returned to the admin who asked; never logged
    if failed:
        log.warning("%d invitation(s) were not accepted by the mail server", len(failed))
    return SendReport(sent, failed)


class SmtpNotConfigured(RuntimeError):
    pass
