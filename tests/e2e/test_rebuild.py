"""``wellpulse-reporting rebuild`` against the live pipeline (intake, scoring, alerts and reporting
as processes, on a broker and a database of their own): several weeks of a small organisation's
responses, a team moved to another directorate and one disbanded, scored records delivered twice,
alerts raised, acknowledged and resolved. The rebuilt read model (alerts projection included)
equals the live one row for row, a corrupted live row is reported, and a swap while responses
keep arriving leaves every response counted exactly once and every alert's status as it was."""

from __future__ import annotations

import asyncio
import json
import math
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.e2e.rebuild_support import SERVICES, alerts_both, alerts_mirrored, reporting_command, settle
from tests.e2e.support import Auth, Org, Roster, answers_for, own_pipeline, poll, submit
from wellpulse.common.events import iso_week_of, monday_of
from wellpulse.common.topics import PULSE_SCORED
from wellpulse.devstack.stack import Infrastructure
from wellpulse.reporting.rebuild.store import TABLES

pytestmark = pytest.mark.e2e

TEAMS = ("t1", "t2", "t3")
# One small team in each directorate, where HR handles an alert: t5's is acknowledged, t6's resolved.
ALERTED = ("t5", "t6")


@dataclass
class Pipeline:
    database_url: str
    bootstrap: str
    intake: str
    alerts: str
    reporting: str
    auth: Auth
    org: Org
    roster: Roster
    # Responses intake accepted (202), by unit and ISO week: what reporting must count, once each.
    accepted: Counter[tuple[str, str]] = field(default_factory=Counter)
    rounds: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.accepted.values())

    def round(self, iso_week: str) -> dict[str, Any]:
        if iso_week not in self.rounds:
            answer = httpx.post(f"{self.intake}/v1/admin/rounds", json={"iso_week": iso_week}, headers=self.auth.admin)
            assert answer.status_code == 201, answer.text
            self.rounds[iso_week] = answer.json()
        return self.rounds[iso_week]

    def answer(self, iso_week: str, unit: str, count: int, rng: random.Random) -> None:
        pulse = self.round(iso_week)
        for token in self.roster.tokens(pulse["pulse_id"], unit, count):
            self.submit(pulse, unit, token, rng)

    def submit(
        self, pulse: dict[str, Any], unit: str, token: str, rng: random.Random, answers: dict[str, Any] | None = None
    ) -> None:
        answer = submit(self.intake, token, answers or varied_answers(pulse, rng))
        assert answer.status_code == 202, answer.text
        with self.lock:
            self.accepted[(unit, pulse["iso_week"])] += 1

    def raise_alert(self, iso_week: str, team: str) -> str:
        """Five of the team thinking of leaving: an intent-to-leave alert for the team, its id."""
        pulse = self.round(iso_week)
        for token in self.roster.tokens(pulse["pulse_id"], team, 5):
            self.submit(pulse, team, token, random.Random(), answers_for(pulse, leaving=True))

        def leaving() -> list[str]:
            answer = httpx.get(f"{self.alerts}/v1/alerts", headers=self.auth.hr(team), timeout=30)
            assert answer.status_code == 200, answer.text
            return [a["alert_id"] for a in answer.json() if a["unit_id"] == team and a["family"] == "intent_to_leave"]

        [alert_id] = poll(leaving, lambda found: len(found) == 1, f"an intent-to-leave alert for {team}")
        return alert_id

    def handle(self, alert_id: str, team: str, action: str) -> None:
        """HR acknowledges or resolves the alert."""
        body = {"note": "Stay conversations held; themes taken to leadership."} if action == "resolve" else {}
        answer = httpx.post(
            f"{self.alerts}/v1/alerts/{alert_id}/{action}", json=body, headers=self.auth.hr(team), timeout=30
        )
        assert answer.status_code == 200, answer.text

    def alert_counts(self, unit: str) -> dict[str, Any]:
        """What a leader of the unit reads: alerts by family, open, acknowledged and raised."""
        answer = httpx.get(
            f"{self.reporting}/v1/units/{unit}/alerts", params={"weeks": 8}, headers=self.auth.leader(unit), timeout=30
        )
        assert answer.status_code == 200, answer.text
        families: dict[str, Any] = answer.json()["families"]
        return families

    def alerts_mirrored(self) -> set[tuple[Any, ...]]:
        return alerts_mirrored(self.database_url, len(ALERTED))

    def move_people(self, unit: str, to: str) -> None:
        """Everyone on the roster in ``unit`` now works in ``to`` (a unit with staff cannot be removed)."""
        self.roster.people = {email: to if u == unit else u for email, u in self.roster.people.items()}
        rows = [{"email": email, "unit_id": u} for email, u in self.roster.people.items()]
        answer = httpx.put(f"{self.intake}/v1/admin/roster", json={"roster": rows}, headers=self.auth.admin)
        assert answer.status_code == 200, answer.text

    def respondents(self, unit: str) -> int | None:
        """This week's respondents in the unit's subtree, as a leader of it sees them."""
        answer = httpx.get(
            f"{self.reporting}/v1/units/{unit}/trends", params={"weeks": 1}, headers=self.auth.leader(unit), timeout=30
        )
        assert answer.status_code == 200, answer.text
        respondents: int | None = answer.json()["weeks"][-1]["respondents"]
        return respondents

    async def settle(self) -> None:
        await settle(self.bootstrap)

    def rebuild(self, *args: str) -> subprocess.CompletedProcess[str]:
        return reporting_command(self.database_url, self.bootstrap, "rebuild", *args)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return reporting_command(self.database_url, self.bootstrap, *args)


def varied_answers(pulse: dict[str, Any], rng: random.Random) -> dict[str, int | str]:
    """Valid answers that differ from person to person, so scale means are fractions whose sums
    round differently in different batch sizes."""
    answers = answers_for(pulse, leaving=rng.random() < 0.3)
    kinds = {item["code"]: item["response"] for item in pulse["items"]}
    for code, value in answers.items():
        if kinds[code] == "cases_held":
            answers[code] = rng.randint(5, 40)
        elif isinstance(value, int) and code not in ("LEAVE-JOB", "LEAVE-PROF"):
            answers[code] = rng.randint(1, 5)
    return answers


@pytest.fixture(scope="module")
async def pipeline(infrastructure: Infrastructure, auth: Auth) -> AsyncIterator[Pipeline]:
    # Small batches: many live transactions, so the swap meets some in flight.
    env = {
        "SCORING_CONSUMER_BATCH_SIZE": "50",
        "REPORTING_CONSUMER_BATCH_SIZE": "50",
        "ALERTS_CONSUMER_BATCH_SIZE": "50",
        # HR's handling reaches pulse.alerts within a second or so.
        "ALERTS_OUTBOX_INTERVAL_SECONDS": "1",
        # The swap test reads this week's trend as it fills (development only).
        "REPORTING_SHOW_WEEK_IN_PROGRESS": "true",
        # Four weeks of history are answered now (development only).
        "INTAKE_ANSWER_PAST_WEEKS": "true",
    }
    async with own_pipeline(infrastructure.database_url, auth.issuer_url, SERVICES, env) as own:
        intake, alerts, reporting = (own.urls[s] for s in ("pulse-intake", "alerts", "reporting"))
        org = Org(intake, auth.admin)
        org.add(("r", None, 0), ("d1", "r", 0), ("d2", "r", 0))
        org.add(("t1", "d1", 40), ("t2", "d1", 40), ("t3", "d2", 40), ("t4", "d2", 40))
        org.add(("t5", "d1", 6), ("t6", "d2", 6))
        roster = Roster(intake, auth.admin)
        yield Pipeline(own.database_url, own.bootstrap, intake, alerts, reporting, auth, org, roster)


def _counted(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT coalesce(sum(n), 0) FROM reporting.own_rollups WHERE measure = 'responses'")
        return int(row.fetchone()[0])  # type: ignore[index]


def _responses(database_url: str, table: str) -> dict[tuple[str, date], int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT unit_id, week_start, n FROM reporting.{table} WHERE measure = 'responses'")
        return {(unit, week): n for unit, week, n in rows}


def _rows(database_url: str, schema: str, table: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    spec = next(t for t in TABLES if t.name == table)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            f"SELECT {', '.join(spec.columns.key + spec.columns.values)} FROM {schema}.{table}"
        ).fetchall()
    width = len(spec.columns.key)
    return {row[:width]: row[width:] for row in rows}


def _equal_row_for_row(
    live: dict[tuple[Any, ...], tuple[Any, ...]], rebuilt: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    assert live.keys() == rebuilt.keys()
    for key, values in live.items():
        for a, b in zip(values, rebuilt[key], strict=True):
            if isinstance(a, float):
                assert math.isclose(a, b, rel_tol=1e-9), (key, values, rebuilt[key])
            else:
                assert a == b, (key, values, rebuilt[key])


async def _deliver_again(bootstrap: str, count: int) -> int:
    """Publish the first ``count`` scored records once more, as they were: what scoring's
    producer does when an acknowledgement is lost and it sends a batch again."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    copies = []
    try:
        await consumer.topics()
        partitions = [TopicPartition(PULSE_SCORED, p) for p in consumer.partitions_for_topic(PULSE_SCORED) or ()]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        deadline = time.monotonic() + 30
        while len(copies) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                copies.extend(batch)
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(PULSE_SCORED, r.value, key=r.key, headers=list(r.headers)) for r in copies[:count]]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    assert len(sent) == count
    return count


async def test_the_rebuilt_read_model_equals_the_live_one_row_for_row_and_a_corrupted_row_is_reported(
    pipeline: Pipeline,
) -> None:
    p, rng = pipeline, random.Random(11)
    weeks = [iso_week_of(date.today() - timedelta(weeks=n)) for n in (3, 2, 1, 0)]
    for week in weeks[:2]:
        for team in (*TEAMS, "t4"):
            p.answer(week, team, 5, rng)
    poll(lambda: _counted(p.database_url), lambda n: n == p.total, "reporting counted the first weeks")
    # t2 moves to the other directorate, its past with it; t4 is disbanded (its people go to t3).
    p.org.units["t2"]["parent_id"] = "d2"
    p.move_people("t4", "t3")
    p.org.remove("t4")
    for week in weeks[2:]:
        for team in TEAMS:
            p.answer(week, team, 6, rng)
    # An alert in each small team, one team after the other (tests/e2e/test_access.py says why);
    # HR acknowledges t5's, and acknowledges then resolves t6's.
    acknowledged, resolved = (p.raise_alert(weeks[-1], team) for team in ALERTED)
    p.handle(acknowledged, "t5", "acknowledge")
    p.handle(resolved, "t6", "acknowledge")
    p.handle(resolved, "t6", "resolve")
    redelivered = await _deliver_again(p.bootstrap, 12)
    await p.settle()
    p.alerts_mirrored()

    first = monday_of(weeks[0])
    live = _responses(p.database_url, "subtree_rollups")
    # The live model followed the move: t2's first weeks now count under d2, with the disbanded t4's.
    assert (live[("d1", first)], live[("d2", first)], live[("r", first)]) == (5, 15, 20)
    assert _counted(p.database_url) == p.total, "the redelivered records were counted once"

    result = await asyncio.to_thread(p.rebuild)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["equal"] is True, report
    replayed = report["replayed"]["pulse.scored"]
    assert replayed["applied"] == p.total
    assert replayed["duplicates"] >= redelivered
    assert report["replayed"]["org.units"]["applied"] >= 9
    # Every alert raised, and each of HR's three handlings, read from pulse.alerts.
    assert report["replayed"]["pulse.alerts"]["applied"] >= len(alerts_both(p.database_url)[0]) + 3
    # The same, checked here without the command's own diff: both schemas, row for row.
    for table in TABLES:
        assert report["tables"][table.name]["live_rows"] > 0
        _equal_row_for_row(
            _rows(p.database_url, "reporting", table.name), _rows(p.database_url, "reporting_rebuild", table.name)
        )
    # HR's handling replayed too: the rebuilt projection has each alert in the status HR left it.
    status = {
        str(alert_id): values[4] for (alert_id,), values in _rows(p.database_url, "reporting_rebuild", "alerts").items()
    }
    assert (status[acknowledged], status[resolved]) == ("acknowledged", "resolved")

    # One live count off by one, one live total off by half a point, one resolved alert open again
    # in the live projection: each reported, nothing else.
    with psycopg.connect(p.database_url) as conn:
        [(n,)] = conn.execute(
            "SELECT n FROM reporting.subtree_rollups WHERE unit_id = 'd2' AND week_start = %s "
            "AND measure = 'responses'",
            (first,),
        ).fetchall()
        [(measure, total)] = conn.execute(
            "SELECT measure, total FROM reporting.own_rollups WHERE unit_id = 't1' AND week_start = %s "
            "AND measure LIKE 'scale:%%' ORDER BY measure LIMIT 1",
            (first,),
        ).fetchall()
        conn.execute(
            "UPDATE reporting.subtree_rollups SET n = n + 1 WHERE unit_id = 'd2' AND week_start = %s "
            "AND measure = 'responses'",
            (first,),
        )
        conn.execute(
            "UPDATE reporting.own_rollups SET total = total + 0.5 WHERE unit_id = 't1' AND week_start = %s "
            "AND measure = %s",
            (first, measure),
        )
        conn.execute("UPDATE reporting.alerts SET status = 'open' WHERE alert_id = %s", (resolved,))
    try:
        corrupted = await asyncio.to_thread(p.rebuild, "--compare")
    finally:
        with psycopg.connect(p.database_url) as conn:
            conn.execute(
                "UPDATE reporting.subtree_rollups SET n = %s WHERE unit_id = 'd2' AND week_start = %s "
                "AND measure = 'responses'",
                (n, first),
            )
            conn.execute(
                "UPDATE reporting.own_rollups SET total = %s WHERE unit_id = 't1' AND week_start = %s AND measure = %s",
                (total, first, measure),
            )
            conn.execute("UPDATE reporting.alerts SET status = 'resolved' WHERE alert_id = %s", (resolved,))

    assert corrupted.returncode == 1, corrupted.stderr
    differences = json.loads(corrupted.stdout)
    assert differences["equal"] is False
    tables = differences["tables"]
    assert {name: t["differing"] + t["only_live"] + t["only_rebuilt"] for name, t in tables.items()} == {
        "org_units": 0,
        "applied_events": 0,
        "own_rollups": 1,
        "subtree_rollups": 1,
        "alerts": 1,
    }
    [subtree] = tables["subtree_rollups"]["examples"]
    assert subtree["key"] == {"unit_id": "d2", "week_start": first.isoformat(), "measure": "responses"}
    assert (subtree["live"]["n"], subtree["rebuilt"]["n"]) == (n + 1, n)
    [own] = tables["own_rollups"]["examples"]
    assert own["key"] == {"unit_id": "t1", "week_start": first.isoformat(), "measure": measure}
    assert own["live"]["total"] == pytest.approx(own["rebuilt"]["total"] + 0.5)
    [alert] = tables["alerts"]["examples"]
    assert alert["key"] == {"alert_id": resolved}
    assert (alert["live"]["status"], alert["rebuilt"]["status"]) == ("open", "resolved")
    assert "the read models differ" in corrupted.stderr


class Traffic(threading.Thread):
    """Staff answering this week's pulse, about twenty a second, until stopped."""

    def __init__(self, pipeline: Pipeline, pulse: dict[str, Any], tokens: list[tuple[str, str]]) -> None:
        super().__init__(daemon=True)
        self.pipeline, self.pulse, self.tokens = pipeline, pulse, tokens
        self.stopping = threading.Event()
        self.accepted_at: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        rng = random.Random(5)
        for unit, token in self.tokens:
            if self.stopping.is_set():
                return
            try:
                self.pipeline.submit(self.pulse, unit, token, rng)
                self.accepted_at.append(time.monotonic())
            except AssertionError as exc:
                self.failures.append(str(exc))
            self.stopping.wait(0.05)  # the pace of the traffic, not a wait for anything

    def since(self, moment: float) -> int:
        return sum(1 for t in self.accepted_at if t > moment)


async def test_a_swap_under_live_traffic_counts_every_response_exactly_once_and_keeps_alert_counts(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    week = iso_week_of(date.today())
    pulse = p.round(week)
    # What leaders read of the handled alerts before the swap (the traffic answers other teams).
    handled = {team: p.alert_counts(team) for team in ALERTED}
    assert handled["t5"]["intent_to_leave"] == {"open": 0, "acknowledged": 1, "raised": 1}
    assert handled["t6"]["intent_to_leave"] == {"open": 0, "acknowledged": 0, "raised": 1}
    tokens = [(team, token) for team in TEAMS for token in p.roster.tokens(pulse["pulse_id"], team, 200)]
    random.Random(3).shuffle(tokens)
    traffic = Traffic(p, pulse, tokens)
    traffic.start()
    try:
        poll(lambda: len(traffic.accepted_at), lambda n: n >= 30, "responses are arriving")
        started = time.monotonic()
        swap = asyncio.create_task(asyncio.to_thread(p.rebuild, "--swap"))
        redelivered = 0
        while not swap.done():  # scored records delivered again while the swap runs
            redelivered += await _deliver_again(p.bootstrap, 5)
            await asyncio.sleep(0.2)
        swapped = await swap
        ended = time.monotonic()
        poll(lambda: traffic.since(ended), lambda n: n >= 30, "responses go on arriving after the swap")
    finally:
        traffic.stopping.set()
        traffic.join()

    assert swapped.returncode == 0, swapped.stderr
    result = json.loads(swapped.stdout)
    assert result["swapped"] is True
    assert traffic.failures == []
    assert traffic.since(started) - traffic.since(ended) > 0, "some responses arrived while it swapped"
    assert redelivered > 0
    await p.settle()

    # Exactly once: every accepted response, in its unit and week, none lost and none twice.
    expected = {(unit, monday_of(iso_week)): n for (unit, iso_week), n in p.accepted.items()}
    assert _responses(p.database_url, "own_rollups") == expected
    subtree = _responses(p.database_url, "subtree_rollups")
    assert sum(n for (unit, _), n in subtree.items() if unit == "r") == p.total
    with psycopg.connect(p.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM reporting.applied_events").fetchone() == (p.total,)
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'reporting%' ORDER BY 1")
        assert [row[0] for row in schemas] == ["reporting", "reporting_previous"]

    # The swapped-in alerts projection is the alerts service's, status for status (alerts the
    # traffic raised meanwhile included), and leaders read the same counts as before the swap.
    p.alerts_mirrored()
    assert {team: p.alert_counts(team) for team in ALERTED} == handled
    with psycopg.connect(p.database_url) as conn:
        [(replaced,)] = conn.execute("SELECT count(*) FROM reporting_previous.alerts").fetchall()
    assert replaced >= len(ALERTED), "the swap replaced the live alerts table too"

    # The swapped-in schema is the service's own: it serves trends, needs no migration, and a
    # fresh rebuild equals it.
    assert p.respondents("r") == sum(n for (_, w), n in p.accepted.items() if w == week)
    migrate = await asyncio.to_thread(p.command, "migrate")
    assert (migrate.returncode, "reporting: 0 migration(s) applied" in migrate.stderr) == (0, True), migrate.stderr
    again = await asyncio.to_thread(p.rebuild)
    assert again.returncode == 0, again.stdout
