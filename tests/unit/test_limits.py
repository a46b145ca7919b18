"""Request size limits: the body cap as ASGI middleware in memory, and the URL and head caps inside a
real uvicorn server on loopback, spoken to over raw sockets."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from wellpulse.common.http import PROBLEM_JSON, install_problem_handlers
from wellpulse.common.limits import BodyLimit, BodyLimits, bounded_http_protocol

CAP = 1024
IMPORT_CAP = 64 * 1024
MAX_URL = 1024
MAX_HEAD = 4096
DEADLINE = 10.0


# --- BodyLimit -----------------------------------------------------------------------------------


class Answer(BaseModel):
    text: str


def body_app(handled: list[str]) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/answers")
    async def answers(answer: Answer) -> dict[str, int]:
        handled.append("answers")
        return {"length": len(answer.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        handled.append("raw")
        return {"length": len(body)}

    @app.post("/import")
    async def import_file(request: Request) -> dict[str, int]:
        body = await request.body()
        handled.append("import")
        return {"length": len(body)}

    app.add_middleware(BodyLimit, limits=BodyLimits(CAP, {("POST", "/import"): IMPORT_CAP}))
    return app


@dataclass
class Limited:
    client: httpx.AsyncClient
    handled: list[str]


@pytest.fixture
async def limited() -> AsyncIterator[Limited]:
    handled: list[str] = []
    transport = httpx.ASGITransport(app=body_app(handled))
    async with httpx.AsyncClient(transport=transport, base_url="http://wellpulse.test") as client:
        yield Limited(client, handled)


def assert_too_large(answer: httpx.Response, cap: int) -> None:
    assert answer.status_code == 413
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["connection"] == "close"
    body = answer.json()
    assert body["status"] == 413
    assert f"({cap // 1024} KiB)" in body["detail"]


async def chunks(size: int, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_body_under_the_cap_passes(limited: Limited) -> None:
    answer = await limited.client.post("/answers", json={"text": "fine"})

    assert answer.status_code == 200
    assert answer.json() == {"length": 4}
    assert limited.handled == ["answers"]


async def test_a_body_of_exactly_the_cap_passes(limited: Limited) -> None:
    answer = await limited.client.post("/raw", content=b"x" * CAP)

    assert answer.json() == {"length": CAP}


async def test_a_declared_length_over_the_cap_is_413_before_the_handler(limited: Limited) -> None:
    answer = await limited.client.post("/answers", json={"text": "x" * (2 * CAP)})

    assert_too_large(answer, CAP)
    assert limited.handled == []


@pytest.mark.parametrize("path", ["/raw", "/answers"])
async def test_a_streamed_body_over_the_cap_is_413_while_it_is_read(limited: Limited, path: str) -> None:
    answer = await limited.client.post(path, content=chunks(256, 10))

    assert_too_large(answer, CAP)
    assert limited.handled == []


async def test_a_streamed_body_under_the_cap_passes(limited: Limited) -> None:
    answer = await limited.client.post("/raw", content=chunks(256, 3))

    assert answer.json() == {"length": 768}


async def test_a_route_with_its_own_cap_takes_a_bigger_body_and_only_that_route(limited: Limited) -> None:
    big = b"x" * (16 * 1024)

    assert (await limited.client.post("/import", content=big)).json() == {"length": len(big)}
    assert (await limited.client.post("/import", content=chunks(1024, 16))).json() == {"length": len(big)}
    assert_too_large(await limited.client.post("/raw", content=big), CAP)
    assert_too_large(await limited.client.post("/import", content=b"x" * (IMPORT_CAP + 1)), IMPORT_CAP)
    assert_too_large(await limited.client.post("/import", content=chunks(16 * 1024, 5)), IMPORT_CAP)
    assert limited.handled == ["import", "import"]


async def test_a_declared_length_too_large_or_not_a_number_never_calls_the_app() -> None:
    called: list[Scope] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope)

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    async def send(message: Message) -> None:
        sent.append(message)

    for declared, status in ((str(CAP + 1).encode(), 413), (b"10000000000000", 413), (b"-1", 400), (b"12abc", 400)):
        sent.clear()
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/raw",
            "headers": [(b"content-type", b"application/json"), (b"content-length", declared)],
        }
        await BodyLimit(app, BodyLimits(CAP))(scope, receive, send)
        assert sent[0]["status"] == status, declared
        assert (b"content-type", PROBLEM_JSON.encode()) in sent[0]["headers"]
        assert json.loads(sent[1]["body"])["status"] == status
    assert called == []


async def test_non_http_scopes_pass_through_untouched() -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["type"])

    async def never() -> Message:
        raise AssertionError("not read")

    async def ignore(message: Message) -> None:
        raise AssertionError("not sent")

    await BodyLimit(app, BodyLimits(CAP))({"type": "lifespan"}, never, ignore)

    assert called == ["lifespan"]


# --- the bounded uvicorn protocol, on a real server ----------------------------------------------


def server_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    return app


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        server_app(),
        host="127.0.0.1",
        port=port,
        http=bounded_http_protocol(max_url_bytes=MAX_URL, max_head_bytes=MAX_HEAD),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        thread.join(timeout=0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)
        listener.close()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """A raw HTTP/1.1 connection that reads responses by Content-Length, with a deadline."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        self.buffer += data
        return bool(data)

    def response(self) -> RawResponse:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"the connection closed before a response: {self.buffer!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("the connection closed inside a response body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(int(status_line.split()[1]), headers, body)

    def closed_by_server(self) -> bool:
        return not self.buffer and not self._fill()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connection(server_port: int) -> Iterator[Connection]:
    conn = Connection(server_port)
    yield conn
    conn.close()


def request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_refused(answer: RawResponse, status: int) -> None:
    assert answer.status == status
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["connection"] == "close"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["detail"]


def test_a_normal_request_succeeds(connection: Connection) -> None:
    connection.send(request("GET", "/ping"))

    answer = connection.response()
    assert answer.status == 200
    assert answer.json() == {"pong": "yes"}


def test_a_url_over_the_cap_is_414(connection: Connection) -> None:
    connection.send(request("GET", "/ping?q=" + "a" * (2 * MAX_URL)))

    answer = connection.response()
    assert_refused(answer, 414)
    assert "1 KiB" in answer.json()["detail"]
    assert connection.closed_by_server()


def test_a_url_just_under_the_cap_is_not_414(connection: Connection) -> None:
    target = "/ping?q="
    connection.send(request("GET", target + "a" * (MAX_URL - len(target))))

    assert connection.response().status == 200


def test_one_giant_header_is_431(connection: Connection) -> None:
    connection.send(request("GET", "/ping", {"X-Giant": "g" * (2 * MAX_HEAD)}))

    answer = connection.response()
    assert_refused(answer, 431)
    assert "4 KiB" in answer.json()["detail"]
    assert connection.closed_by_server()


def test_many_small_headers_over_the_cap_are_431(connection: Connection) -> None:
    headers = {f"X-Small-{n}": "s" * 20 for n in range(2 * MAX_HEAD // 30)}
    connection.send(request("GET", "/ping", headers))

    assert_refused(connection.response(), 431)


def test_a_head_that_never_ends_is_refused_as_it_grows(connection: Connection) -> None:
    """Sent a KiB at a time and never finished: the server must answer before it has buffered much more."""
    connection.send(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    sent = 0
    while sent < 16 * MAX_HEAD:
        readable, _, _ = select.select([connection.sock], [], [], 0.05)
        if readable:
            break
        try:
            connection.send(b"e" * 1024)
        except OSError:
            break  # closed by the server mid-send: its answer is waiting
        sent += 1024

    assert_refused(connection.response(), 431)
    assert sent < 16 * MAX_HEAD


@pytest.mark.parametrize(("extra", "status"), [(0, 200), (1, 431)])
def test_the_head_cap_is_exact(connection: Connection, extra: int, status: int) -> None:
    bare = len(request("GET", "/ping", {"X-Pad": ""}))
    data = request("GET", "/ping", {"X-Pad": "p" * (MAX_HEAD - bare + extra)})
    assert len(data) == MAX_HEAD + extra

    connection.send(data)

    assert connection.response().status == status


def test_a_head_over_the_cap_is_431_even_when_its_body_comes_later(connection: Connection) -> None:
    connection.send(request("POST", "/echo", {"X-Giant": "g" * (2 * MAX_HEAD), "Content-Length": "5"}))
    with contextlib.suppress(OSError):  # the server may already have closed the connection: that is the point
        connection.send(b"hello")

    assert_refused(connection.response(), 431)


def test_a_body_in_the_same_packet_does_not_count_towards_the_head(connection: Connection) -> None:
    """Headers alone are well under the cap; headers and body together are over it."""
    body = b"b" * (2 * MAX_HEAD)
    data = request("POST", "/echo", {"Content-Type": "application/octet-stream"}, body)
    assert len(data) - len(body) < MAX_HEAD < len(data)

    connection.send(data)

    answer = connection.response()
    assert answer.status == 200
    assert answer.json() == {"length": len(body)}


def test_two_requests_on_one_connection_both_succeed(connection: Connection) -> None:
    connection.send(request("GET", "/ping", {"X-Pad": "p" * (MAX_HEAD // 2)}))
    assert connection.response().status == 200

    connection.send(request("POST", "/echo", {"X-Pad": "p" * (MAX_HEAD // 2)}, b"x" * 100))
    second = connection.response()
    assert second.status == 200
    assert second.json() == {"length": 100}


def test_pipelined_requests_each_under_the_cap_both_succeed(connection: Connection) -> None:
    one = request("GET", "/ping", {"X-Pad": "p" * (MAX_HEAD * 3 // 4)})
    assert len(one) < MAX_HEAD < 2 * len(one)

    connection.send(one + one)

    assert connection.response().status == 200
    assert connection.response().status == 200
