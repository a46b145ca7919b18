"""Unit tests for webhook delivery: Standard Webhooks signatures, and one attempt's outcome against a
real receiver on loopback (the development ``WebhookReceiver``)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from wellpulse.alerts.delivery.attempt import Attempt
from wellpulse.alerts.delivery.notice import AlertNotice
from wellpulse.alerts.delivery.webhooks import USER_AGENT, InvalidWebhookSecret, WebhookSender, sign_headers
from wellpulse.devstack.embedded import free_port
from wellpulse.devstack.receivers import WebhookReceiver, new_webhook_secret

ALERT_ID = "8d0b7a62-6c1e-4b8e-9a52-3f6f1c2d9e10"
MESSAGE_ID = f"alert-{ALERT_ID}"


def _notice(**changes: Any) -> AlertNotice:
    fields: dict[str, Any] = {
        "alert_id": ALERT_ID,
        "rule": "intent_to_leave",
        "title": "Intent to leave is high in Assessment Team A",
        "unit_id": "assessment-a",
        "unit_name": "Assessment Team A",
        "window_start_week": "2026-W45",
        "window_end_week": "2026-W48",
        "people": 6,
        "findings": ["62% of 23 responses agree they are thinking of leaving (threshold 50%)"],
        "first_step": "Hold a team conversation about workload and career plans.",
        "changes": ["career opportunities", "enough staff and manageable workloads"],
        "raised_on": date(2026, 11, 23),
        "link": "https://alerts.example.org/alerts/8d0b7a62-6c1e-4b8e-9a52-3f6f1c2d9e10",
    }
    return AlertNotice(**{**fields, **changes})


PAYLOAD = _notice().payload(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))


# Signatures


def test_headers_verify_with_the_standard_webhooks_library() -> None:
    secret = new_webhook_secret()
    now = datetime.now(UTC)

    headers = sign_headers(MESSAGE_ID, PAYLOAD, [secret], now)

    assert Webhook(secret).verify(PAYLOAD, headers) == json.loads(PAYLOAD)
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))


def test_a_tampered_body_or_another_id_does_not_verify() -> None:
    secret = new_webhook_secret()
    headers = sign_headers(MESSAGE_ID, PAYLOAD, [secret], datetime.now(UTC))

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(PAYLOAD.replace(b"62%", b"12%"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(PAYLOAD, {**headers, "webhook-id": "alert-other"})


def test_one_signature_per_secret_so_either_side_of_a_rotation_verifies() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()

    headers = sign_headers(MESSAGE_ID, PAYLOAD, [old, new], datetime.now(UTC))

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(s.startswith("v1,") for s in headers["webhook-signature"].split(" "))
    for secret in (old, new):
        Webhook(secret).verify(PAYLOAD, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(PAYLOAD, headers)


def test_the_signing_time_means_the_same_instant_in_any_zone() -> None:
    secret = new_webhook_secret()
    now = datetime.now(UTC).replace(microsecond=0)
    elsewhere = now.astimezone(timezone(timedelta(hours=5, minutes=30)))

    assert sign_headers(MESSAGE_ID, PAYLOAD, [secret], elsewhere) == sign_headers(MESSAGE_ID, PAYLOAD, [secret], now)


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (base64.b64encode(b"k" * 32).decode(), "must start with 'whsec_'"),
        ("whsec_not*base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "holds 5 bytes"),
        ("whsec_", "holds 0 bytes"),
    ],
)
def test_a_secret_not_in_the_whsec_form_is_refused_without_repeating_it(secret: str, says: str) -> None:
    with pytest.raises(InvalidWebhookSecret, match=says) as refused:
        sign_headers(MESSAGE_ID, PAYLOAD, [new_webhook_secret(), secret], datetime.now(UTC))
    message = str(refused.value)
    assert "#2" in message
    if material := secret.removeprefix("whsec_"):
        assert material not in message


def test_an_unpadded_secret_is_read_like_the_library_reads_it() -> None:
    secret = "whsec_" + base64.b64encode(b"x" * 25).decode().rstrip("=")

    Webhook(secret).verify(PAYLOAD, sign_headers(MESSAGE_ID, PAYLOAD, [secret], datetime.now(UTC)))


def test_no_secret_no_signature() -> None:
    with pytest.raises(InvalidWebhookSecret, match="at least one"):
        sign_headers(MESSAGE_ID, PAYLOAD, [], datetime.now(UTC))


# The payload


def test_the_payload_has_the_standard_webhooks_shape_and_every_field() -> None:
    body = json.loads(PAYLOAD)

    assert body["type"] == "alert.raised"
    assert body["timestamp"] == "2026-11-23T09:30:00Z"
    assert body["data"] == {**json.loads(_notice().model_dump_json()), "raised_on": "2026-11-23"}
    assert body["data"]["people"] == 6


def test_the_same_alert_at_the_same_time_is_the_same_bytes() -> None:
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert _notice().payload(at) == _notice().payload(at.astimezone(timezone(timedelta(hours=-8))))
    with pytest.raises(ValueError, match="timezone-aware"):
        _notice().payload(datetime(2026, 11, 23, 9, 30))  # naive on purpose


# Sending, against a real receiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def sender(client: httpx.AsyncClient) -> WebhookSender:
    return WebhookSender(client, development=True)


async def test_a_verified_delivery_is_delivered(sender: WebhookSender, receiver: WebhookReceiver) -> None:
    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert attempt == Attempt("delivered", 204)
    [delivery] = receiver.received
    assert delivery.webhook_id == MESSAGE_ID
    assert delivery.body == json.loads(PAYLOAD)
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["user-agent"] == USER_AGENT
    assert receiver.rejected == 0


async def test_a_resend_arrives_again_and_deduplicates_on_its_id(
    sender: WebhookSender, receiver: WebhookReceiver
) -> None:
    for _ in range(2):
        assert (await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)).outcome == "delivered"

    assert len(receiver.received) == 2
    assert list(receiver.by_id) == [MESSAGE_ID]


async def test_a_receiver_that_knows_only_the_new_secret_accepts_a_rotating_sender(
    sender: WebhookSender, client: httpx.AsyncClient
) -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    with WebhookReceiver([new]) as receiver:
        attempt = await sender.send(receiver.url, [old, new], MESSAGE_ID, PAYLOAD)

        assert attempt.outcome == "delivered"
        assert len(receiver.received) == 1


async def test_a_signature_the_receiver_cannot_verify_is_refused_and_not_retried(
    sender: WebhookSender, receiver: WebhookReceiver
) -> None:
    attempt = await sender.send(receiver.url, [new_webhook_secret()], MESSAGE_ID, PAYLOAD)

    assert attempt.outcome == "failed"
    assert attempt.status == 401
    assert attempt.error is not None
    assert "signing secret" in attempt.error
    assert receiver.rejected == 1
    assert receiver.received == []


async def test_the_receiver_refuses_an_unsigned_post(client: httpx.AsyncClient, receiver: WebhookReceiver) -> None:
    answer = await client.post(receiver.url, content=PAYLOAD)

    assert answer.status_code == 401
    assert receiver.rejected == 1


async def test_503_with_retry_after_asks_for_a_retry_no_sooner_than_asked(
    sender: WebhookSender, client: httpx.AsyncClient
) -> None:
    with WebhookReceiver(fail_first=1, retry_after_seconds=7) as receiver:
        first = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)
        second = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

        assert first.outcome == "retry"
        assert first.status == 503
        assert first.retry_after_seconds == 7.0
        assert second == Attempt("delivered", 204)
        assert receiver.requests == 2
        assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 504])
async def test_statuses_that_mean_not_now_ask_for_a_retry(
    sender: WebhookSender, receiver: WebhookReceiver, status: int
) -> None:
    receiver.answer_next(status)

    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert (attempt.outcome, attempt.status, attempt.retry_after_seconds) == ("retry", status, None)


async def test_retry_after_as_an_http_date_is_honoured(sender: WebhookSender, receiver: WebhookReceiver) -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    receiver.answer_next(429, {"Retry-After": format_datetime(later, usegmt=True)})

    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert attempt.outcome == "retry"
    assert attempt.retry_after_seconds is not None
    assert 590 <= attempt.retry_after_seconds <= 600


async def test_410_gone_means_stop(sender: WebhookSender, receiver: WebhookReceiver) -> None:
    receiver.answer_next(410)

    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert (attempt.outcome, attempt.status) == ("failed", 410)
    assert attempt.error is not None
    assert "Gone" in attempt.error


@pytest.mark.parametrize("status", [400, 404, 413, 422])
async def test_other_client_errors_fail(sender: WebhookSender, receiver: WebhookReceiver, status: int) -> None:
    receiver.answer_next(status)

    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert (attempt.outcome, attempt.status) == ("failed", status)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed(sender: WebhookSender, receiver: WebhookReceiver, status: int) -> None:
    receiver.answer_next(status, {"Location": receiver.url + "/moved"})

    attempt = await sender.send(receiver.url, [receiver.secret], MESSAGE_ID, PAYLOAD)

    assert (attempt.outcome, attempt.status) == ("failed", status)
    assert attempt.error is not None
    assert "configure the final URL" in attempt.error
    assert receiver.url + "/moved" in attempt.error
    assert receiver.requests == 1  # the redirect target was never asked
    assert receiver.received == []


async def test_a_closed_port_asks_for_a_retry(sender: WebhookSender) -> None:
    attempt = await sender.send(f"http://127.0.0.1:{free_port()}/hook", [new_webhook_secret()], MESSAGE_ID, PAYLOAD)

    assert (attempt.outcome, attempt.status) == ("retry", None)
    assert attempt.error is not None
    assert "could not reach the receiver" in attempt.error


async def test_a_receiver_that_never_answers_times_out_into_a_retry(client: httpx.AsyncClient) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sender = WebhookSender(client, development=True, timeout_seconds=0.3)

        attempt = await sender.send(
            f"http://127.0.0.1:{silent.getsockname()[1]}/hook", [new_webhook_secret()], MESSAGE_ID, PAYLOAD
        )

    assert attempt.outcome == "retry"
    assert attempt.error is not None
    assert "did not answer" in attempt.error


def _flaky(failures: int) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport whose first ``failures`` connections are refused, then answers 204."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= failures:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(204)

    return httpx.MockTransport(answer), seen


async def test_a_refused_connection_that_clears_is_retried_within_the_attempt() -> None:
    transport, seen = _flaky(failures=2)
    async with httpx.AsyncClient(transport=transport) as http:
        attempt = await WebhookSender(http, development=True).send(
            "http://127.0.0.1:9/hook", [new_webhook_secret()], MESSAGE_ID, PAYLOAD
        )

    assert attempt == Attempt("delivered", 204)
    assert len(seen) == 3


async def test_quick_retries_stop_after_three_tries() -> None:
    transport, seen = _flaky(failures=10)
    async with httpx.AsyncClient(transport=transport) as http:
        attempt = await WebhookSender(http, development=True).send(
            "http://127.0.0.1:9/hook", [new_webhook_secret()], MESSAGE_ID, PAYLOAD
        )

    assert attempt.outcome == "retry"
    assert len(seen) == 3


async def test_an_invalid_secret_fails_before_any_request(sender: WebhookSender, receiver: WebhookReceiver) -> None:
    attempt = await sender.send(receiver.url, ["not-a-secret"], MESSAGE_ID, PAYLOAD)

    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "whsec_" in attempt.error
    assert receiver.requests == 0


# Outside development


@pytest.mark.parametrize(
    ("url", "says"), [("http://127.0.0.1:{port}/hooks", "https://"), ("https://127.0.0.1:{port}/hooks", "loopback")]
)
async def test_outside_development_a_local_url_is_refused_before_any_request(
    client: httpx.AsyncClient, receiver: WebhookReceiver, url: str, says: str
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]

    attempt = await WebhookSender(client, development=False).send(
        url.format(port=port), [receiver.secret], MESSAGE_ID, PAYLOAD
    )

    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert says in attempt.error
    assert receiver.requests == 0


async def test_outside_development_a_name_resolving_inside_the_network_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()

    async def internal(host: str, port: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 0))]

    monkeypatch.setattr(loop, "getaddrinfo", internal)
    transport, seen = _flaky(failures=0)
    async with httpx.AsyncClient(transport=transport) as http:
        attempt = await WebhookSender(http, development=False).send(
            "https://hooks.example.org/wellpulse", [new_webhook_secret()], MESSAGE_ID, PAYLOAD
        )

    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "resolves to 10.0.0.5" in attempt.error
    assert seen == []


async def test_outside_development_a_public_name_is_sent_to(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def public(host: str, port: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0))]

    monkeypatch.setattr(loop, "getaddrinfo", public)
    transport, seen = _flaky(failures=0)
    async with httpx.AsyncClient(transport=transport) as http:
        attempt = await WebhookSender(http, development=False).send(
            "https://hooks.example.org/wellpulse", [new_webhook_secret()], MESSAGE_ID, PAYLOAD
        )

    assert attempt == Attempt("delivered", 204)
    assert [str(r.url) for r in seen] == ["https://hooks.example.org/wellpulse"]
