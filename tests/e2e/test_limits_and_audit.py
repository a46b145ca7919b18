"""The open edge has limits (bodies, before they are read into memory), and every admin change
leaves an audit line naming who did what to which target, and never an address."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.support import Auth, Org, Roster
from wellpulse.devstack.stack import Services

MiB = 1024 * 1024


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _stream(url: str, path: str, total: int) -> tuple[bytes, int]:
    """POST ``total`` bytes of chunked JSON-ish junk; stop when the server answers. (answer, bytes sent)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"[" * (256 * 1024)
        frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        sent, answer = 0, b""
        sock.setblocking(False)
        while sent < total:
            try:
                answer += sock.recv(65536)
                break  # the server has answered (and will close): stop sending
            except BlockingIOError:
                pass
            try:
                sock.sendall(frame)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.setblocking(True)
        deadline = time.monotonic() + 30
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer, sent


def test_a_100_mb_body_is_refused_without_the_process_growing(stack: Services) -> None:
    intake = stack.processes["pulse-intake"]
    assert intake.process is not None
    pid = intake.process.pid
    baseline = _rss(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(pid))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        answer, sent = _stream(intake.url, "/v1/responses", 100 * MiB)
    finally:
        done.set()
        sampler.join()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer
    assert sent < 100 * MiB, "the server answered before the whole body was sent"
    assert peak - baseline < 4 * MiB, f"intake grew by {(peak - baseline) / MiB:.1f} MiB"

    parts = urlsplit(intake.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/responses HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * MiB}\r\n\r\n".encode()
        )
        first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 413"), "refused on its declared length, before any of it arrives"


def test_imports_take_more_than_other_routes(stack: Services, auth: Auth, org: Org, roster: Roster, uid: str) -> None:
    team = f"{uid}-many"
    org.add((team, None, 3000))
    roster.add(team, 3000)  # the whole roster again: well over the 64 KiB every other route takes
    big = {"items": [{"kind": "other", "name": {"en": "x" * 70_000, "cy": "x"}, "description": {"en": "d", "cy": "d"}}]}
    refused = httpx.put(f"{stack.url('pulse-intake')}/v1/admin/signposts", json=big, headers=auth.admin)
    assert refused.status_code == 413
    assert "nothing was read or saved" in refused.json()["detail"]


def _audit_lines(stack: Services) -> list[dict[str, Any]]:
    log = stack.processes["pulse-intake"].log_dir / "pulse-intake.log"
    lines = []
    for line in log.read_text().splitlines():
        if " wellpulse.audit " in line:
            lines.append(json.loads(line.split(" wellpulse.audit ", 1)[1]))
    return lines


def test_every_admin_change_is_audited_with_who_and_never_an_address(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    intake = stack.url("pulse-intake")
    team = f"{uid}-audited"
    org.add((team, None, 5))
    people = roster.add(team, 2)
    admin = auth.headers("admin", subject=f"{uid}-admin")
    links = httpx.post(
        f"{intake}/v1/admin/rounds/{pulse['pulse_id']}/links",
        json={"delivery": "csv", "emails": people},
        headers=admin,
    )
    assert links.status_code == 200
    closed = httpx.post(f"{intake}/v1/admin/rounds/no-such-round/close", headers=admin)
    assert closed.status_code == 404

    mine = [line for line in _audit_lines(stack) if line["subject"] == f"{uid}-admin"]
    assert [(line["audit"], line["target"], line["outcome"]) for line in mine] == [
        ("links.issue", pulse["pulse_id"], "applied"),
        ("round.close", "no-such-round", "refused-404"),
    ]
    assert mine[0]["role"] == "admin"
    assert mine[0]["minted"] == 2
    assert mine[0]["resend_to"] == 2
    everything = json.dumps(_audit_lines(stack))
    assert not any(person in everything for person in people), "an audit line never names an address"

    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{intake}/metrics").text)}
    counted = {
        (s.labels["action"], s.labels["outcome"]): s.value
        for s in families["wellpulse_audited_changes"].samples
        if s.name.endswith("_total")
    }
    assert counted[("links.issue", "applied")] >= 1
    assert counted[("round.close", "refused-404")] >= 1
    assert counted[("org.import", "applied")] >= 1
