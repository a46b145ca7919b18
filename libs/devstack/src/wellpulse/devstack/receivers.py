"""Local stand-ins for HR's systems: a webhook receiver and a mail sink, both on loopback.

``make run`` shows alerts arriving in them; e2e tests assert on what they kept. The webhook receiver
checks signatures exactly as a real receiver would (the ``standardwebhooks`` library), so a test that
passes here proves an organisation's receiver would accept the same request.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from secrets import token_bytes
from typing import Any, Self

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from wellpulse.devstack.embedded import free_port

ALERT_ID_HEADER = "X-WellPulse-Alert-Id"
# Far above any alert; a receiver that reads whatever it is sent is a receiver anyone can exhaust.
MAX_BODY_BYTES = 1024 * 1024


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(token_bytes(32)).decode()


@dataclass(frozen=True)
class WebhookDelivery:
    """One request whose signature verified."""

    webhook_id: str
    body: Any
    received_at: datetime
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class CannedAnswer:
    """What the receiver answers instead of checking the request, for one request."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()


class _Waitable:
    """A lock and a condition: the servers' threads record, tests wait with a deadline, nobody sleeps."""

    def __init__(self) -> None:
        self._changed = threading.Condition()

    def _wait(self, what: str, ready: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what} did not happen within {within:g} s")
                self._changed.wait(left)


class WebhookReceiver(_Waitable):
    """An HTTP server on a free loopback port that verifies every POST against its secret(s).

    Verified: 204 and recorded. Not verified: 401 and counted in ``rejected``. ``fail_first`` answers
    the first N requests with 503 and ``Retry-After`` so a sender's retries can be watched.
    """

    def __init__(
        self,
        secrets: Sequence[str] | None = None,
        *,
        fail_first: int = 0,
        retry_after_seconds: int = 1,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__()
        self.secrets = list(secrets) if secrets else [new_webhook_secret()]
        self._verifiers = [Webhook(secret) for secret in self.secrets]
        self._host = host
        self._canned = [CannedAnswer(503, (("Retry-After", str(retry_after_seconds)),))] * fail_first
        self._received: list[WebhookDelivery] = []
        self._rejected = 0
        self._requests = 0
        self._server: _ReceiverServer | None = None

    @property
    def secret(self) -> str:
        """The secret a sender should sign with (the first, when several are accepted)."""
        return self.secrets[0]

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the webhook receiver is not started: call start() first")
        return f"http://{self._host}:{self._server.server_address[1]}/hooks/wellpulse"

    def start(self) -> str:
        self._server = _ReceiverServer((self._host, 0), self)
        # A short poll interval: stop() waits for the serving loop to notice, and tests stop many receivers.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver", daemon=True
        ).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def answer_next(self, status: int, headers: dict[str, str] | None = None, *, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``headers``) without looking at them."""
        with self._changed:
            self._canned += [CannedAnswer(status, tuple((headers or {}).items()))] * times

    @property
    def received(self) -> list[WebhookDelivery]:
        """Every verified delivery in arrival order, duplicates included."""
        with self._changed:
            return list(self._received)

    @property
    def by_id(self) -> dict[str, WebhookDelivery]:
        """The first verified delivery of each webhook-id: what a de-duplicating receiver keeps."""
        with self._changed:
            first: dict[str, WebhookDelivery] = {}
            for delivery in self._received:
                first.setdefault(delivery.webhook_id, delivery)
            return first

    @property
    def rejected(self) -> int:
        """Requests refused with 401 because no signature matched."""
        with self._changed:
            return self._rejected

    @property
    def requests(self) -> int:
        """Every request that reached the receiver, whatever it was answered."""
        with self._changed:
            return self._requests

    def wait_for(self, count: int, within: float = 10.0) -> list[WebhookDelivery]:
        """Block until ``count`` verified deliveries arrived (duplicates count), or raise TimeoutError."""
        self._wait(f"{count} webhook delivery(ies)", lambda: len(self._received) >= count, within)
        return self.received

    def _next_canned(self) -> CannedAnswer | None:
        with self._changed:
            self._requests += 1
            self._changed.notify_all()
            return self._canned.pop(0) if self._canned else None

    def _verify(self, body: bytes, headers: dict[str, str]) -> Any:
        for verifier in self._verifiers:
            try:
                return verifier.verify(body, headers)
            except (WebhookVerificationError, ValueError):  # ValueError: malformed base64, JSON or UTF-8
                continue
        raise WebhookVerificationError("no signature matched any secret")

    def _record(self, delivery: WebhookDelivery | None) -> None:
        with self._changed:
            if delivery is None:
                self._rejected += 1
            else:
                self._received.append(delivery)
            self._changed.notify_all()


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bind: tuple[str, int], receiver: WebhookReceiver) -> None:
        super().__init__(bind, _ReceiverHandler)
        self.receiver = receiver


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def do_POST(self) -> None:
        receiver = self.server.receiver
        canned = receiver._next_canned()
        if canned is not None:
            self._answer(canned.status, dict(canned.headers))
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413)
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            parsed = receiver._verify(body, headers)
        except WebhookVerificationError:
            receiver._record(None)
            self._answer(401)
            return
        receiver._record(WebhookDelivery(headers["webhook-id"], parsed, datetime.now(UTC), self.path, headers))
        self._answer(204)

    def do_GET(self) -> None:
        self._answer(405, {"Allow": "POST"})

    def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class ReceivedMail:
    sender: str | None
    recipients: tuple[str, ...]
    message: EmailMessage
    received_at: datetime


class MailSink(_Waitable):
    """An SMTP server (aiosmtpd) on a free loopback port that keeps every message it accepts.

    With ``folder``, each message is also written there as an ``.eml`` file a mail client can open.
    ``refuse(address, reply)`` makes it refuse one recipient, e.g. ``"550 5.1.1 no such user"``.
    """

    def __init__(self, folder: Path | None = None, *, host: str = "127.0.0.1") -> None:
        super().__init__()
        self.folder = folder
        self.host = host
        self.port = 0
        self._received: list[ReceivedMail] = []
        self._refusals: dict[str, str] = {}
        self._controller: Controller | None = None

    def start(self) -> int:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        controller = Controller(self, hostname=self.host, port=free_port())
        controller.start()
        self._controller = controller
        self.port = controller.port
        return self.port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def refuse(self, address: str, reply: str) -> None:
        with self._changed:
            self._refusals[address.lower()] = reply

    @property
    def received(self) -> list[ReceivedMail]:
        with self._changed:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.received]

    def by_alert_id(self) -> Counter[str]:
        """How many messages arrived for each alert (``X-WellPulse-Alert-Id``)."""
        return Counter(str(m[ALERT_ID_HEADER]) for m in self.messages if m[ALERT_ID_HEADER] is not None)

    def by_message_id(self) -> Counter[str]:
        """How many copies of each Message-ID arrived: above one means a resend a mail system could drop."""
        return Counter(str(m["Message-ID"]) for m in self.messages if m["Message-ID"] is not None)

    def wait_for(self, count: int, within: float = 10.0) -> list[ReceivedMail]:
        """Block until ``count`` messages arrived, or raise TimeoutError."""
        self._wait(f"{count} email(s)", lambda: len(self._received) >= count, within)
        return self.received

    # aiosmtpd handler hooks, called on the controller's event loop thread.

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self._changed:
            refusal = self._refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw: bytes = envelope.original_content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message, datetime.now(UTC))
        with self._changed:
            self._received.append(mail)
            number = len(self._received)
            self._changed.notify_all()
        if self.folder is not None:
            name = "".join(c for c in str(message[ALERT_ID_HEADER] or "mail") if c.isalnum() or c == "-")
            (self.folder / f"{number:04d}-{name}.eml").write_bytes(raw)
        return "250 OK"
