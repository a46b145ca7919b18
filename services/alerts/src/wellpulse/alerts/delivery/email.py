"""Emailing an alert to an HR contact: the message, and one SMTP attempt to hand it over (aiosmtplib).

One message has one recipient, so each attempt's outcome is about one person's mailbox.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from wellpulse.alerts.delivery.attempt import Attempt
from wellpulse.alerts.delivery.notice import AlertNotice

ALERT_ID_HEADER = "X-WellPulse-Alert-Id"


def message_id(alert_id: str, to: str, sender: str) -> str:
    """The same for every resend of one alert to one person, so mail systems can drop the duplicates."""
    recipient = parseaddr(to)[1].lower() or to.lower()
    domain = parseaddr(sender)[1].rpartition("@")[2] or "wellpulse.invalid"
    # Hashed: the id travels into mail logs and threads; the address already sits in To.
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    return f"<alert-{alert_id}.{digest}@{domain}>"


def alert_email(
    notice: AlertNotice, *, to: str, sender: str, organisation: str, at: datetime | None = None
) -> EmailMessage:
    """The email for ``notice`` to one HR contact. ``at`` (default now) is the Date header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"[WellPulse] {notice.title}"
    message["Date"] = format_datetime(at or datetime.now(UTC))
    message["Message-ID"] = message_id(notice.alert_id, to, sender)
    message[ALERT_ID_HEADER] = notice.alert_id
    # RFC 3834: out-of-office and other robots must not answer an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        notice.text() + f"\n--\nYou receive this as an HR or wellbeing contact for {organisation} in WellPulse.\n"
    )
    return message


class EmailSender:
    """Hands messages to one SMTP server, a fresh connection per message."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_tls: bool = False,
        timeout_seconds: float = 30.0,
    ) -> None:
        if starttls and use_tls:
            raise ValueError("choose one: use_tls (TLS from the first byte, port 465) or starttls (port 587)")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout = timeout_seconds

    async def send(self, message: EmailMessage) -> Attempt:
        """One attempt: delivered once the server accepted the message for its recipient."""
        try:
            refused, _ = await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                use_tls=self._use_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            return _refused([(r.code, r.message) for r in error.recipients])
        except aiosmtplib.SMTPResponseException as error:
            return _refused([(error.code, error.message)])
        except (aiosmtplib.SMTPException, OSError) as error:
            # Could not connect, timed out, disconnected, no STARTTLS: nothing was accepted; try later.
            return Attempt.retry(f"could not hand the message to the mail server: {_short(str(error))}")
        if refused:
            return _refused([(r.code, r.message) for r in refused.values()])
        return Attempt.delivered()


def _refused(replies: list[tuple[int, str]]) -> Attempt:
    """SMTP's own verdict: 4xx is "not now" (greylisting, a full mailbox), 5xx is "never"."""
    code, text = min(replies)  # a temporary refusal among permanent ones still deserves another try
    reason = f"the mail server answered {code} {_short(text)}"
    if 400 <= code < 500:
        return Attempt.retry(reason, code)
    return Attempt.failed(reason, code)


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
