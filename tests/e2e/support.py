"""Helpers the e2e tests share: polling with a deadline, the org under test, valid answers."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from wellpulse.devstack.embedded import EmbeddedTansu
from wellpulse.devstack.issuer import sign
from wellpulse.devstack.processes import SERVICES, ServiceProcess

PROJECT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def poll(read: Callable[[], T], until: Callable[[T], bool], what: str, within: float = 60.0) -> T:
    """Read until the condition holds; fail with the last value seen when the deadline passes."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still {value!r} after {within:.0f}s")
        time.sleep(0.1)


@dataclass(frozen=True)
class Auth:
    """Bearer-token headers from the session's development issuer, as a person with these roles."""

    issuer_folder: Path
    issuer_url: str

    def headers(self, *roles: str, units: tuple[str, ...] = (), **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {sign(self.issuer_folder, roles=roles, units=units, **claims)}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.headers("admin")

    def leader(self, *units: str) -> dict[str, str]:
        return self.headers("leader", units=units)

    def hr(self, *units: str) -> dict[str, str]:
        return self.headers("hr", units=units)


@dataclass
class Org:
    """Units the tests have added. Import replaces the whole tree, so each PUT sends them all."""

    intake: str
    admin: dict[str, str]
    units: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, *units: tuple[str, str | None, int]) -> None:
        for unit_id, parent, headcount in units:
            self.units[unit_id] = {
                "unit_id": unit_id,
                "parent_id": parent,
                "name": unit_id.title(),
                "headcount": headcount,
            }
        self.put()

    def remove(self, unit_id: str) -> None:
        del self.units[unit_id]
        self.put()

    def put(self) -> dict[str, Any]:
        answer = httpx.put(
            f"{self.intake}/v1/admin/org-units", json={"units": list(self.units.values())}, headers=self.admin
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@dataclass
class Roster:
    """People the tests have added. Import replaces the whole roster, so each PUT sends them all."""

    intake: str
    admin: dict[str, str]
    people: dict[str, str] = field(default_factory=dict)

    def add(self, unit_id: str, count: int) -> list[str]:
        emails = [f"{unit_id}-{i}@example.org" for i in range(len(self.people), len(self.people) + count)]
        self.people.update(dict.fromkeys(emails, unit_id))
        rows = [{"email": email, "unit_id": unit} for email, unit in self.people.items()]
        answer = httpx.put(f"{self.intake}/v1/admin/roster", json={"roster": rows}, headers=self.admin)
        assert answer.status_code == 200, answer.text
        return emails

    def links(self, pulse_id: str, emails: list[str]) -> dict[str, str]:
        """Mint links for these people (CSV delivery); email -> link."""
        answer = httpx.post(
            f"{self.intake}/v1/admin/rounds/{pulse_id}/links",
            json={"delivery": "csv", "emails": emails},
            headers=self.admin,
        )
        assert answer.status_code == 200, answer.text
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        return {row["email"]: row["link"] for row in rows}

    def tokens(self, pulse_id: str, unit_id: str, count: int) -> list[str]:
        """Fresh one-time tokens for ``count`` new people in ``unit_id``."""
        links = self.links(pulse_id, self.add(unit_id, count))
        return [link.rsplit("/", 1)[1] for link in links.values()]


@dataclass
class Mailbox:
    """aiosmtpd handler: every message received, by recipient."""

    port: int = 0
    messages: dict[str, list[EmailMessage]] = field(default_factory=dict)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        for recipient in envelope.rcpt_tos:
            self.messages.setdefault(recipient, []).append(message)
        return "250 OK"


class TraceCollector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver on loopback that keeps every span the services export."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.spans: list[Span] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _OtlpHandler(BaseHTTPRequestHandler):
    server: TraceCollector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def submit(intake: str, token: str, answers: dict[str, int | str]) -> httpx.Response:
    return httpx.post(f"{intake}/v1/responses", json={"token": token, "answers": answers})


def answers_for(pulse: dict[str, Any], *, leaving: bool) -> dict[str, int | str]:
    """A complete, valid set of answers for the round's items."""
    values: dict[str, int | str] = {}
    for item in pulse["items"]:
        code, scale = item["code"], item["response"]
        if code in ("LEAVE-JOB", "LEAVE-PROF"):
            values[code] = 5 if leaving else 1
        elif scale == "yes_no_pns":
            values[code] = "no"
        elif scale == "cases_held":
            values[code] = 20
        else:
            values[code] = 3
    return values


def rollup_count(database_url: str, unit_id: str) -> int:
    """How many responses reporting has counted for one unit (all weeks)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM reporting.own_rollups WHERE unit_id = %s AND measure = 'responses'",
            (unit_id,),
        ).fetchone()
    return int(row[0]) if row else 0


async def true_ends(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], within: float = 30.0
) -> dict[TopicPartition, int]:
    """Each partition's end, from a fetch's high watermark.

    Tansu's ListOffsets(latest) answers the last batch's base offset + 1, short of the end when that
    batch holds several records, so ``end_offsets`` alone can call a topic read when it is not. It
    is a lower bound, though: fetch from just before it and the response carries the true end.
    """
    consumer.assign(partitions)
    for tp, low in (await consumer.end_offsets(partitions)).items():
        consumer.seek(tp, max(low - 1, 0))
    deadline = time.monotonic() + within
    while any(consumer.highwater(tp) is None for tp in partitions):
        if time.monotonic() > deadline:
            pytest.fail(f"no high watermark for {partitions}")
        await consumer.getmany(*partitions, timeout_ms=200)
    return {tp: consumer.highwater(tp) or 0 for tp in partitions}


async def drained(bootstrap: str, group: str, topic: str, within: float = 90.0) -> None:
    """Wait until ``group`` has committed every record on ``topic``: nothing left to redeliver."""
    # A consumer in the group that never subscribes reads the group's commits without joining it.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await true_ends(consumer, partitions)
        deadline = time.monotonic() + within
        while True:
            behind = {}
            for tp in partitions:
                committed = await consumer.committed(tp) or 0
                if ends[tp] > committed:
                    behind[tp.partition] = ends[tp] - committed
            if partitions and not behind:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{group} still behind on {topic}: {behind}")
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


def lone_service(
    name: str, database_url: str, bootstrap: str, issuer_url: str, log_dir: Path, env: dict[str, str] | None = None
) -> ServiceProcess:
    """One service (not started) as its own process, on the database and broker given, as in development."""
    spec = next(spec for spec in SERVICES if spec.name == name)
    p = spec.env_prefix
    base = {
        f"{p}ENVIRONMENT": "development",
        f"{p}DATABASE_URL": database_url,
        f"{p}KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        f"{p}KAFKA_ENABLE_IDEMPOTENCE": "false",
        f"{p}OIDC_ISSUER": issuer_url,
    }
    return ServiceProcess(spec, {**base, **(env or {})}, log_dir)


@asynccontextmanager
async def own_broker() -> AsyncIterator[EmbeddedTansu]:
    """A Tansu broker for one test, which it may stop, and whose consumer groups are its own."""
    tansu = EmbeddedTansu(PROJECT / ".devstack" / f"lonely-{os.getpid()}-{uuid.uuid4().hex[:6]}" / "tansu")
    await asyncio.to_thread(tansu.start)
    try:
        yield tansu
    finally:
        tansu.stop()


@dataclass
class LonelyIntake:
    tansu: EmbeddedTansu
    intake: ServiceProcess
    database_url: str


@asynccontextmanager
async def standalone_intake(database_url: str, issuer_url: str, env: dict[str, str]) -> AsyncIterator[LonelyIntake]:
    """pulse-intake alone, on a broker of its own that a test may stop, with its own settings."""
    async with own_broker() as tansu:
        intake = lone_service(
            "pulse-intake", database_url, tansu.bootstrap, issuer_url, tansu.root.parent / "logs", env
        )
        intake.start()
        try:
            await asyncio.to_thread(intake.wait_ready)
            yield LonelyIntake(tansu, intake, database_url)
        finally:
            intake.stop()


@dataclass
class OwnPipeline:
    database_url: str
    bootstrap: str
    urls: dict[str, str]


@asynccontextmanager
async def own_pipeline(
    admin_database_url: str, issuer_url: str, services: tuple[str, ...], env: dict[str, str]
) -> AsyncIterator[OwnPipeline]:
    """These services as processes on a database and a broker of their own (the database dropped
    after), for a test that replays or compares whole topics, which the shared stack's are not."""
    admin = await asyncpg.connect(admin_database_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{admin_database_url.rpartition('/')[0]}/{name}"
    try:
        async with own_broker() as tansu:
            logs = tansu.root.parent / "logs"
            processes = [lone_service(s, database_url, tansu.bootstrap, issuer_url, logs, env) for s in services]
            for process in processes:
                process.start()
            try:
                await asyncio.gather(*(asyncio.to_thread(process.wait_ready) for process in processes))
                urls = {service: process.url for service, process in zip(services, processes, strict=True)}
                yield OwnPipeline(database_url, tansu.bootstrap, urls)
            finally:
                for process in processes:
                    process.stop()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
