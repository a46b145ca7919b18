"""Unit tests for alert emails: what HR reads, the headers that make resends harmless, and one SMTP
attempt's outcome against a real mail server on loopback (the development ``MailSink``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from wellpulse.alerts.delivery.attempt import Attempt
from wellpulse.alerts.delivery.email import EmailSender, alert_email
from wellpulse.alerts.delivery.notice import AlertNotice
from wellpulse.devstack.embedded import free_port
from wellpulse.devstack.receivers import MailSink

ALERT_ID = "8d0b7a62-6c1e-4b8e-9a52-3f6f1c2d9e10"
HR = "wellbeing.lead@council.example.org"
SENDER = "WellPulse <alerts@council.example.org>"


def _notice(**changes: Any) -> AlertNotice:
    fields: dict[str, Any] = {
        "alert_id": ALERT_ID,
        "rule": "bullying",
        "title": "Bullying, harassment or discrimination reported in Assessment Team A",
        "unit_id": "assessment-a",
        "unit_name": "Assessment Team A",
        "window_start_week": "2026-W45",
        "window_end_week": "2026-W48",
        "people": 7,
        "findings": [
            "31% of 26 responses report bullying, harassment or discrimination in the last four weeks (threshold 20%)"
        ],
        "first_step": "Remind the team how to report concerns safely, and who they can talk to.",
        "changes": ["positive, inclusive workplaces free from bullying, harassment and discrimination"],
        "raised_on": date(2026, 11, 23),
        "link": f"https://alerts.council.example.org/alerts/{ALERT_ID}",
    }
    return AlertNotice(**{**fields, **changes})


def _email(to: str = HR, **changes: Any) -> Any:
    return alert_email(_notice(**changes), to=to, sender=SENDER, organisation="Borough Council")


# What the notice and the email say


def test_the_text_says_what_crossed_which_threshold_and_what_to_do_first() -> None:
    text = _notice().text()

    assert text.startswith("Bullying, harassment or discrimination reported in Assessment Team A\n")
    assert "Period: weeks 2026-W45 to 2026-W48" in text
    assert "- 31% of 26 responses report bullying" in text
    assert "Suggested first step:\nRemind the team how to report concerns safely" in text
    assert "- positive, inclusive workplaces free from bullying" in text
    assert f"See the alert: https://alerts.council.example.org/alerts/{ALERT_ID}" in text


def test_the_text_says_no_individual_answers_are_included_and_how_many_people_stand_behind_it() -> None:
    text = _notice(people=9).text()

    assert "no individual's answers are included" in text
    assert "at least 9 people in each week" in text


def test_a_one_week_alert_without_a_link_reads_naturally() -> None:
    text = _notice(window_start_week="2026-W48", link=None, changes=[]).text()

    assert "Period: week 2026-W48" in text
    assert "See the alert" not in text
    assert "12 Changes" not in text


@pytest.mark.parametrize(
    "bad",
    [
        {"alert_id": "not-a-uuid"},
        {"title": "Two\nlines"},
        {"window_start_week": "2026-48"},
        {"window_end_week": "2026-W54"},
        {"window_start_week": "2026-W49"},  # after the end
        {"people": 0},
        {"findings": []},
        {"first_step": "  "},
    ],
)
def test_a_notice_that_would_mislead_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _notice(**bad)


def test_the_email_has_subject_ids_and_the_notice_as_its_body() -> None:
    message = _email()

    assert message["Subject"] == "[WellPulse] Bullying, harassment or discrimination reported in Assessment Team A"
    assert message["To"] == HR
    assert message["From"] == SENDER
    assert message["X-WellPulse-Alert-Id"] == ALERT_ID
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    body = message.get_content()
    assert body.startswith(_notice().text())
    assert "HR or wellbeing contact for Borough Council" in body


def test_the_message_id_is_the_same_for_a_resend_and_differs_by_alert_and_recipient() -> None:
    first = _email()["Message-ID"]

    assert (
        first
        == alert_email(_notice(), to=f"Wellbeing Lead <{HR.upper()}>", sender=SENDER, organisation="Borough Council")[
            "Message-ID"
        ]
    )
    assert first.startswith(f"<alert-{ALERT_ID}.")
    assert first.endswith("@council.example.org>")
    assert HR not in first
    assert _email(to="someone.else@council.example.org")["Message-ID"] != first
    assert _email(alert_id="0f5d7a4c-1111-4e2b-8f00-3c6f1c2d9e10")["Message-ID"] != first


# Sending, against a real SMTP server


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as running:
        yield running


def _sender(sink: MailSink) -> EmailSender:
    return EmailSender(sink.host, sink.port, starttls=False, timeout_seconds=5)


async def test_an_accepted_message_is_delivered_with_its_headers(sink: MailSink) -> None:
    attempt = await _sender(sink).send(_email())

    assert attempt == Attempt("delivered")
    [mail] = sink.received
    assert mail.recipients == (HR,)
    assert mail.message["X-WellPulse-Alert-Id"] == ALERT_ID
    assert mail.message["Subject"].startswith("[WellPulse] ")
    assert "no individual's answers are included" in mail.message.get_content()


async def test_a_resend_carries_the_same_message_id(sink: MailSink) -> None:
    sender = _sender(sink)
    for _ in range(2):
        assert (await sender.send(_email())).outcome == "delivered"

    assert sink.by_alert_id() == {ALERT_ID: 2}
    assert list(sink.by_message_id().values()) == [2]


async def test_each_message_is_kept_as_an_eml_file(sink: MailSink) -> None:
    await _sender(sink).send(_email())

    assert sink.folder is not None
    [saved] = sink.folder.glob("*.eml")
    assert ALERT_ID in saved.name
    assert b"X-WellPulse-Alert-Id: " + ALERT_ID.encode() in saved.read_bytes()


async def test_a_permanent_refusal_of_the_recipient_fails(sink: MailSink) -> None:
    sink.refuse(HR, "550 5.1.1 No such user")

    attempt = await _sender(sink).send(_email())

    assert (attempt.outcome, attempt.status) == ("failed", 550)
    assert attempt.error is not None
    assert "No such user" in attempt.error
    assert sink.received == []


async def test_a_temporary_refusal_asks_for_a_retry(sink: MailSink) -> None:
    sink.refuse(HR, "451 4.7.1 Greylisted, try again later")

    attempt = await _sender(sink).send(_email())

    assert (attempt.outcome, attempt.status) == ("retry", 451)
    assert sink.received == []


async def test_a_refused_connection_asks_for_a_retry() -> None:
    attempt = await EmailSender("127.0.0.1", free_port(), starttls=False, timeout_seconds=5).send(_email())

    assert attempt.outcome == "retry"
    assert attempt.status is None
    assert attempt.error is not None
    assert "could not hand the message to the mail server" in attempt.error


async def test_starttls_demanded_of_a_server_without_it_asks_for_a_retry(sink: MailSink) -> None:
    attempt = await EmailSender(sink.host, sink.port, starttls=True, timeout_seconds=5).send(_email())

    assert attempt.outcome == "retry"
    assert sink.received == []


def test_tls_from_the_start_and_starttls_cannot_both_be_asked_for() -> None:
    with pytest.raises(ValueError, match="choose one"):
        EmailSender("smtp.example.org", 465, starttls=True, use_tls=True)


def test_the_date_header_is_the_time_given() -> None:
    message = alert_email(
        _notice(), to=HR, sender=SENDER, organisation="Borough Council", at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    )

    assert message["Date"] == "Mon, 23 Nov 2026 09:00:00 +0000"
