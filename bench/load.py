"""The load: the bench org, roster and one-time links, and the HTTP clients that submit responses
to intake."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from runtime import BenchFailed, Deadline, say

from wellpulse.common.bank import QuestionBank, ResponseKind

ISO_WEEK = "2026-W48"
DIRECTORATES = (
    ("children", "Children's services", 7),
    ("adults", "Adult social care", 7),
    ("health", "Community health", 6),
)


def org_units() -> list[dict[str, Any]]:
    """A root, three directorates, twenty teams."""
    units: list[dict[str, Any]] = [
        {"unit_id": "bench-org", "parent_id": None, "name": "Bench Borough Council", "headcount": 12}
    ]
    for code, name, teams in DIRECTORATES:
        directorate = f"bench-{code}"
        units.append({"unit_id": directorate, "parent_id": "bench-org", "name": name, "headcount": 5})
        units += [
            {
                "unit_id": f"{directorate}-t{i:02d}",
                "parent_id": directorate,
                "name": f"{name} team {i}",
                "headcount": 18 + 3 * i,
            }
            for i in range(1, teams + 1)
        ]
    return units


# The alerts phase's own corner of the org: a second root whose teams only its drill answers, so
# the other phases' teams, roster and figures stay as they were.
ALERT_ROOT = "bench-alerting"
ALERT_TEAM_HEADCOUNT = 6
ALERT_TEAM_PEOPLE = 5  # k: the fifth respondent makes a team nameable


def alert_units(teams: int) -> list[dict[str, Any]]:
    """The alerts phase's root and ``teams`` teams of six under it (none when ``teams`` is 0)."""
    if teams < 1:
        return []
    return [{"unit_id": ALERT_ROOT, "parent_id": None, "name": "Bench alert drill", "headcount": 1}] + [
        {
            "unit_id": f"{ALERT_ROOT}-t{i:02d}",
            "parent_id": ALERT_ROOT,
            "name": f"Alert drill team {i}",
            "headcount": ALERT_TEAM_HEADCOUNT,
        }
        for i in range(1, teams + 1)
    ]


def teams_of(units: Sequence[dict[str, Any]]) -> list[str]:
    parents = {u["parent_id"] for u in units}
    return [u["unit_id"] for u in units if u["unit_id"] not in parents]


def random_answer(bank: QuestionBank, scale_name: str, rng: random.Random) -> int | str:
    scale = bank.scales[scale_name]
    if scale.kind is ResponseKind.CHOICE:
        # Mostly "no", as real answers to a bullying item would be.
        weights = [1 if option != "no" else 6 for option in scale.options]
        return rng.choices(scale.options, weights=weights)[0]
    low, high = scale.min or 0, scale.max if scale.max is not None else 5
    if scale.kind is ResponseKind.INTEGER:
        return rng.randint(max(low, 5), min(high, 40)) if high >= 5 else rng.randint(low, high)
    return rng.randint(low, high)


def random_answers(items: Sequence[dict[str, Any]], bank: QuestionBank, rng: random.Random) -> dict[str, int | str]:
    """Random answers, valid for the round's items."""
    return {item["code"]: random_answer(bank, item["response"], rng) for item in items}


@dataclass
class Round:
    """The open round and the one-time link tokens minted for it; each response spends the next one."""

    pulse_id: str
    iso_week: str
    bank_version: str
    items: list[dict[str, Any]]
    teams: list[str]
    tokens: list[str]
    used: int = 0
    # The alerts phase's links, per team of ``alert_units``: kept apart from ``tokens``.
    alert_tokens: dict[str, list[str]] = field(default_factory=dict)

    def bodies(self, n: int, bank: QuestionBank, seed: int) -> list[dict[str, Any]]:
        """``n`` request bodies ``{"token", "answers"}``, each spending a link not yet used."""
        if self.used + n > len(self.tokens):
            raise BenchFailed(f"ran out of minted links: {len(self.tokens) - self.used} left, {n} needed")
        rng = random.Random(seed)
        tokens = self.tokens[self.used : self.used + n]
        self.used += n
        return [{"token": token, "answers": random_answers(self.items, bank, rng)} for token in tokens]


def loopback_client(**options: Any) -> httpx.AsyncClient:
    """An httpx client for the stack on 127.0.0.1: never through a proxy from the environment."""
    return httpx.AsyncClient(trust_env=False, timeout=30.0, **options)


def expect(reply: httpx.Response, what: str, ok: Sequence[int] = (200,)) -> httpx.Response:
    if reply.status_code not in ok:
        raise BenchFailed(f"{what} answered {reply.status_code}: {reply.text[:500]}")
    return reply


async def open_round(intake: str, admin_token: str, links_needed: int, alert_teams: int = 0) -> Round:
    """Load the org, open the week's round, import a roster of ``links_needed`` people spread at
    random over the teams and mint their links as CSV (``email,link``; the token ends the link).
    With ``alert_teams``, the org and roster also hold the alerts phase's teams and their people."""
    units = org_units()
    teams = teams_of(units)
    drill = alert_units(alert_teams)
    drill_people = {
        f"bench-alert-{u['unit_id'].rsplit('-', 1)[1]}-{i}@example.org": u["unit_id"]
        for u in drill
        if u["parent_id"] is not None
        for i in range(1, ALERT_TEAM_PEOPLE + 1)
    }
    async with loopback_client(headers={"Authorization": f"Bearer {admin_token}"}) as client:
        reply = expect(await client.put(f"{intake}/v1/admin/org-units", json={"units": units + drill}), "org import")
        say(f"org loaded: {reply.json()}")
        reply = await client.post(f"{intake}/v1/admin/rounds", json={"iso_week": ISO_WEEK})
        pulse = expect(reply, "opening the round", ok=(200, 201)).json()
        say(f"round {pulse['pulse_id']}: {', '.join(i['code'] for i in pulse['items'])}")
        rng = random.Random(47)
        roster = [{"email": f"bench-{i:06d}@example.org", "unit_id": rng.choice(teams)} for i in range(links_needed)]
        roster += [{"email": email, "unit_id": unit} for email, unit in drill_people.items()]
        expect(await client.put(f"{intake}/v1/admin/roster", json={"roster": roster}), "roster import")
        reply = await client.post(
            f"{intake}/v1/admin/rounds/{pulse['pulse_id']}/links", json={"delivery": "csv"}, timeout=120.0
        )
        rows = csv.DictReader(io.StringIO(expect(reply, "minting links").text))
        tokens: list[str] = []
        alert_tokens: dict[str, list[str]] = {}
        for row in rows:
            token = row["link"].rsplit("/", 1)[1]
            if row["email"] in drill_people:
                alert_tokens.setdefault(drill_people[row["email"]], []).append(token)
            else:
                tokens.append(token)
    say(f"{len(tokens) + sum(map(len, alert_tokens.values()))} one-time links minted")
    return Round(
        pulse["pulse_id"],
        pulse["iso_week"],
        pulse["bank_version"],
        pulse["items"],
        teams,
        tokens,
        alert_tokens=alert_tokens,
    )


@dataclass
class Submission:
    submitted_at: float = 0.0
    answered_at: float = 0.0
    status: int | str = "not sent"


class HttpxPost:
    """The default load generator: an httpx client with one connection, POSTing JSON to one URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = loopback_client(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def __aenter__(self) -> HttpxPost:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    async def post(self, body: dict[str, Any]) -> int:
        return (await self.client.post(self.url, json=body)).status_code


class RawHttp:
    """A bare HTTP/1.1 keep-alive client for one connection: JSON POSTs, status codes back.

    ``--client raw`` uses it so that the load generator, which shares the machine with everything it
    measures, costs a small fraction of the CPU httpx needs per request.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawHttp:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, body: dict[str, Any]) -> int:
        payload = json.dumps(body).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(head.encode() + payload)
            await self.writer.drain()
            status = int((await self.reader.readline()).split()[1])
            headers = {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            if headers.get("transfer-encoding") == "chunked":
                while size := int((await self.reader.readline()).strip() or b"0", 16):
                    await self.reader.readexactly(size + 2)
                await self.reader.readline()
            else:
                await self.reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection") == "close":
                self.close()
            return status
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            self.close()
            raise


CLIENTS: dict[str, type[HttpxPost] | type[RawHttp]] = {"httpx": HttpxPost, "raw": RawHttp}


async def submit_all(
    url: str,
    bodies: Sequence[dict[str, Any]],
    concurrency: int,
    client_kind: str,
    deadline: Deadline,
) -> list[Submission]:
    """POST every body with ``concurrency`` workers, one connection each; one attempt per body.

    A client per worker rather than one shared pool: httpx spends about twice the CPU per request
    when 32 requests share one client's pool, and this process shares two cores with the stack.
    """
    results = [Submission() for _ in bodies]
    indices = iter(range(len(bodies)))

    async def worker() -> None:
        async with CLIENTS[client_kind](url) as client:
            for i in indices:  # a shared iterator: each index is taken by exactly one worker
                if deadline.left() <= 0:
                    return
                sub = results[i]
                sub.submitted_at = time.monotonic()
                try:
                    sub.status = await client.post(bodies[i])
                except (httpx.HTTPError, OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                    sub.status = type(exc).__name__
                sub.answered_at = time.monotonic()

    try:
        async with asyncio.timeout(max(deadline.left(), 0.001)):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        sent = sum(1 for r in results if r.answered_at)
        raise BenchFailed(f"intake did not answer {len(bodies)} requests in time ({sent} answered)") from None
    return results


def status_counts(subs: Sequence[Submission]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sub in subs:
        counts[str(sub.status)] = counts.get(str(sub.status), 0) + 1
    return dict(sorted(counts.items()))
