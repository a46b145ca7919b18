"""Posting an alert to a receiver's webhook, signed as Standard Webhooks specifies.

One call is one attempt: it answers delivered, retry (later, per ``schedule``) or failed (stop), and
never raises for anything the network or the receiver does.
"""

from __future__ import annotations

import base64
import binascii
import math
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import stamina
from standardwebhooks import Webhook

from wellpulse.alerts.delivery.attempt import Attempt
from wellpulse.alerts.delivery.schedule import parse_retry_after
from wellpulse.alerts.delivery.targets import InvalidWebhookUrl, check_resolved_host, validate_webhook_url

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# Standard Webhooks: secrets should be 24 to 64 random bytes; shorter ones are too easy to guess.
MIN_SECRET_BYTES = 24
USER_AGENT = "WellPulse-Alerts"
# Statuses that say "not now" rather than "no": request timeout, too early, too many requests.
_TRY_LATER = frozenset({408, 425, 429})


class InvalidWebhookSecret(ValueError):
    """A signing secret is not ``whsec_`` followed by base64; the message says what to fix (not the secret)."""


def _secret_key(secret: str, position: int) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret(
            f"webhook secret #{position} must start with {SECRET_PREFIX!r} followed by base64 "
            "(copy it exactly as the receiver shows it)"
        )
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise InvalidWebhookSecret(
            f"webhook secret #{position} is not valid base64 after {SECRET_PREFIX!r}: copy it again"
        ) from None
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidWebhookSecret(
            f"webhook secret #{position} holds {len(key)} bytes; use at least {MIN_SECRET_BYTES} random bytes"
        )
    return key


def check_secrets(secrets: Sequence[str]) -> None:
    """Raise ``InvalidWebhookSecret`` for the first secret that could not sign (saved contacts are checked)."""
    for position, secret in enumerate(secrets, start=1):
        _secret_key(secret, position)


def sign_headers(message_id: str, payload: bytes, secrets: Sequence[str], at: datetime) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for ``payload``.

    One ``v1,<base64>`` signature per secret, space-separated: while a receiver rotates its secret it
    holds the old and the new one, and whichever it checks first matches.
    """
    if not secrets:
        raise InvalidWebhookSecret("a webhook needs at least one signing secret")
    if not message_id or not message_id.isascii() or not message_id.isprintable() or " " in message_id:
        raise ValueError("the webhook message id must be non-empty printable ASCII without spaces")
    if at.tzinfo is None:
        raise ValueError("the signing time must be timezone-aware")
    at = at.astimezone(UTC)  # the library stamps the time as UTC without converting it
    data = payload.decode()
    signatures = [
        Webhook(_secret_key(secret, position)).sign(message_id, at, data)
        for position, secret in enumerate(secrets, start=1)
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _transient(error: Exception) -> bool:
    # Refused or reset connections and lookup hiccups often clear within a second (a receiver
    # restarting, a stale pooled connection). A reset after the body went out may mean the receiver
    # got it: sending again is safe, receivers de-duplicate on webhook-id. Timeouts are not retried
    # here: each costs the whole timeout, and the outbox schedule handles them.
    return isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError | socket.gaierror)


class WebhookSender:
    """Posts signed alert payloads with the caller's ``httpx.AsyncClient`` (its pool, its proxies)."""

    def __init__(self, client: httpx.AsyncClient, *, development: bool, timeout_seconds: float = 10.0) -> None:
        self._client = client
        self._development = development
        self._timeout = httpx.Timeout(timeout_seconds)

    async def send(self, url: str, secrets: Sequence[str], message_id: str, payload: bytes) -> Attempt:
        """One delivery attempt of ``payload`` to ``url``."""
        try:
            validate_webhook_url(url, development=self._development)
        except InvalidWebhookUrl as refused:
            return Attempt.failed(str(refused))
        try:
            # A few quick tries inside this one attempt, so a blip does not cost a full backoff step
            # (30 s and growing). retry_context, not @stamina.retry: its retry log then names a block,
            # never this method's arguments, which include the payload.
            async for attempt in stamina.retry_context(
                on=_transient, attempts=3, timeout=2.0, wait_initial=0.2, wait_max=0.5, wait_jitter=0.1
            ):
                with attempt:
                    return await self._post(url, secrets, message_id, payload)
        except (InvalidWebhookUrl, InvalidWebhookSecret) as refused:
            return Attempt.failed(str(refused))
        except socket.gaierror as error:
            return Attempt.retry(f"could not look up the webhook host: {error.strerror or error}")
        except httpx.TimeoutException:
            return Attempt.retry(f"the receiver did not answer within {self._timeout.read:.0f} s")
        except httpx.TransportError as error:
            return Attempt.retry(f"could not reach the receiver: {_short(error)}")
        raise AssertionError("unreachable: stamina either returns or raises")

    async def _post(self, url: str, secrets: Sequence[str], message_id: str, payload: bytes) -> Attempt:
        # Checked before every connection, not only when the URL was saved: DNS can change under it.
        await check_resolved_host(urlsplit(url).hostname or "", development=self._development)
        now = datetime.now(UTC)
        headers = {
            **sign_headers(message_id, payload, secrets, now),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        request = self._client.build_request("POST", url, content=payload, headers=headers, timeout=self._timeout)
        # Streamed and never read: the status and headers are the whole answer, and a receiver cannot
        # make us buffer a large body.
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            return _judge(response, now)
        finally:
            await response.aclose()


def _judge(response: httpx.Response, now: datetime) -> Attempt:
    status = response.status_code
    if 200 <= status < 300:
        return Attempt.delivered(status)
    if status in _TRY_LATER or 500 <= status < 600:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        return Attempt.retry(f"the receiver answered {status}, try later", status, retry_after)
    if 300 <= status < 400:
        location = response.headers.get("location", "")[:200]
        return Attempt.failed(
            f"the receiver answered {status}, a redirect{f' to {location}' if location else ''}; "
            "redirects are not followed (the signature is for this URL's receiver): configure the final URL",
            status,
        )
    if status == 410:
        return Attempt.failed("the receiver answered 410 Gone: it asks for no more deliveries to this URL", status)
    if status in (401, 403):
        return Attempt.failed(
            f"the receiver refused the delivery ({status}): check it holds the same signing secret", status
        )
    return Attempt.failed(f"the receiver refused the delivery ({status})", status)


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:200]
