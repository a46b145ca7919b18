"""Request size limits, enforced before anything is read into memory.

Bodies: a cap per route (a pulse answer is a few KiB; admin imports have their own, larger cap),
checked against ``Content-Length`` before the app runs and counted as a body streams in, so a
100 MB upload costs one chunk of memory, not 100 MB. Heads: the request line and headers are
capped inside the HTTP server, before uvicorn or httptools has buffered them whole.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wellpulse.common.http import PROBLEM_JSON, problem


class BodyTooLarge(HTTPException):
    """Raised while a body streams in; a Starlette HTTPException so FastAPI passes it through untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit), headers={"Connection": "close"})


@dataclass(frozen=True)
class BodyLimits:
    default: int
    # (method, path) -> cap, for the few routes that take a file.
    routes: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def for_request(self, method: str, path: str) -> int:
        return self.routes.get((method, path), self.default)


class BodyLimit:
    """ASGI middleware: 413 for a body over its route's cap, before or while it is read."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.limits.for_request(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await problem(400, "Bad Request", "Content-Length is not a number of bytes.")(scope, receive, send)
            return
        if declared is not None and int(declared) > cap:
            response = problem(413, "Content Too Large", _too_large(cap), headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise BodyTooLarge(cap)
            return message

        await self.app(scope, counted, send)


def _too_large(cap: int) -> str:
    return f"The request body is larger than this endpoint accepts ({_size(cap)}); nothing was read or saved."


def _head_too_large(cap: int) -> str:
    return f"The request's headers are larger than {_size(cap)}."


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


def bounded_http_protocol(*, max_url_bytes: int, max_head_bytes: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, refusing a request line over ``max_url_bytes`` (414) or a
    head (request line and headers) over ``max_head_bytes`` (431) as the bytes arrive."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _in_head = False
        _head_bytes = 0
        _messages = 0
        _refusal: tuple[int, str] | None = None

        def data_received(self, data: bytes) -> None:
            # A chunk that begins and ends inside one head is all head: counted, so a head that never
            # ends is refused as it grows. A head that ends is measured in on_headers_complete, so a
            # body or a next request arriving in the same chunk never counts towards it.
            in_head, messages = self._in_head, self._messages
            super().data_received(data)
            if in_head and self._in_head and messages == self._messages and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > max_head_bytes:
                    self._refuse(431, _head_too_large(max_head_bytes))

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._head_bytes, self._refusal = True, 0, None
            self._messages += 1

        def on_url(self, url: bytes) -> None:
            if len(self.url) + len(url) > max_url_bytes:
                self._refusal = (414, f"The request's URL is longer than {_size(max_url_bytes)}.")
                raise ValueError("URL too long")  # httptools stops parsing; send_400_response answers
            super().on_url(url)

        def on_headers_complete(self) -> None:
            self._in_head = False
            # "METHOD url HTTP/1.1\r\n", "name: value\r\n" each, "\r\n".
            head = len(self.parser.get_method()) + len(self.url) + 14
            head += sum(len(name) + len(value) + 4 for name, value in self.headers)
            if head > max_head_bytes:
                self._refusal = (431, _head_too_large(max_head_bytes))
                raise ValueError("head too large")  # as for the URL: send_400_response answers
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            if self._refusal is None:
                super().send_400_response(msg)
            else:
                self._refuse(*self._refusal)

        def _refuse(self, status: int, detail: str) -> None:
            phrase = HTTPStatus(status).phrase
            body = json.dumps({"type": "about:blank", "title": phrase, "status": status, "detail": detail}).encode()
            head = (
                f"HTTP/1.1 {status} {phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
            self.transport.close()

    return BoundedHttpToolsProtocol
