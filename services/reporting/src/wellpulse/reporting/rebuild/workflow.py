"""The rebuild, start to end: a fresh read model from the topics (``org.units``, ``pulse.scored``,
``pulse.alerts``), then compared with the live one, or swapped in for it while the live service
goes on consuming.

Why the swap loses nothing and counts nothing twice: it takes the live model's tree lock
exclusively, which every live write takes (shared) before it records anything, so no live batch
is half applied and none can commit meanwhile. Under the lock it replays both topics to their ends
as they are *now*: every record the live consumer applied is below those ends, so the rebuilt
model holds it too. Then, in the same transaction, it moves the read model's tables (``store.TABLES``,
the one list of them) from the live schema to ``reporting_previous`` and the rebuilt ones into their
place; every other table of the live schema (yoyo's bookkeeping, sessions) stays where it is. A live
batch that was waiting on the lock goes on in the rebuilt tables (its statements name them by name,
and PostgreSQL plans them again), where ``applied_events`` already holds whatever the rebuild
applied: a redelivery, absorbed. Records past the ends are the live consumer's to apply, once, as
always.

It refuses rather than swap in a model that lacks what the live one counts: records retention has
deleted from ``pulse.scored`` or ``pulse.alerts``, units compaction has dropped from ``org.units``,
migrations that differ, or objects outside the list that refer to its tables.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO
from urllib.parse import urlsplit

import asyncpg
import psycopg
from aiokafka import ConsumerRecord

from wellpulse.common.db import apply_migrations_async
from wellpulse.common.events import Payload, ResponseScored
from wellpulse.common.kafka import Received, decode_each, decode_each_of
from wellpulse.common.orgtree import latest_units
from wellpulse.common.topics import ORG_UNITS, PULSE_ALERTS, PULSE_SCORED
from wellpulse.reporting import benchmark_store
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.read_model import ALERT_EVENTS, ReadModel, apply_alerts, apply_org_units, apply_scored
from wellpulse.reporting.rebuild import store
from wellpulse.reporting.rebuild.differences import Report, compare_rows
from wellpulse.reporting.rebuild.errors import RebuildError
from wellpulse.reporting.rebuild.replay import Record, TopicReplay, check_topics
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

# The topics the read model is made from, in the order a replay reads them.
TOPICS = (ORG_UNITS, PULSE_SCORED, PULSE_ALERTS)


class Mode(StrEnum):
    compare = "compare"
    swap = "swap"


@dataclass
class Tally:
    """What replaying one topic did."""

    records: int = 0
    # org.units: unit states applied; pulse.scored: responses counted for the first time.
    applied: int = 0
    # pulse.scored: responses already counted (the same event delivered again), absorbed.
    duplicates: int = 0
    # Records that do not decode: the live consumer dead-lettered them; skipped here.
    undecodable: int = 0

    def __iadd__(self, other: Tally) -> Tally:
        self.records += other.records
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.undecodable += other.undecodable
        return self

    def as_json(self) -> dict[str, int]:
        return dict(vars(self))


class SkipUndecodable:
    """A replay's decoder: what does not decode was dead-lettered when the live consumer first read
    it, so the replay counts it and goes on, and dead-letters nothing a second time."""

    def __init__(self) -> None:
        self.skipped = 0

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]], payload: Any) -> list[Received[Any]]:
        good, bad = decode_each(records, payload)
        self.skipped += len(bad)
        return good

    def each_of(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], payloads: Sequence[type[Payload]]
    ) -> list[Received[Any]]:
        good, bad = decode_each_of(records, payloads)
        self.skipped += len(bad)
        return good


class Progress:
    """Lines on stderr: what the rebuild is doing, and how far a long replay has got."""

    def __init__(self, stream: TextIO, every_seconds: float = 2.0) -> None:
        self.stream = stream
        self.every = every_seconds
        self._last = time.monotonic()

    def say(self, message: str) -> None:
        self.stream.write(f"rebuild: {message}\n")
        self.stream.flush()
        self._last = time.monotonic()

    def reading(self, replay: TopicReplay) -> None:
        if time.monotonic() - self._last < self.every:
            return
        total = replay.total()
        of = f" of {total:,} ({replay.read / total:.0%})" if total else ""
        self.say(f"{replay.topic}: {replay.read:,}{of} records read")


Apply = Callable[[asyncpg.Connection, list[Record], SkipUndecodable, Tally], Awaitable[None]]


class Rebuild:
    def __init__(
        self, settings: ReportingSettings, conn: asyncpg.Connection, progress: Progress, batch_size: int
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.progress = progress
        self.batch_size = batch_size
        self.live = ReadModel.in_schema(SCHEMA)
        self.rebuilt = ReadModel.in_schema(store.REBUILT)
        # Where the next replay of each topic starts, partition -> offset.
        self.positions: dict[str, dict[int, int]] = {topic: {} for topic in TOPICS}
        self.tallies = {topic: Tally() for topic in TOPICS}
        # Records a topic no longer holds (retention), per topic and partition: not in the rebuild.
        # (org.units is compacted: its gaps are compaction's, checked against the live tree instead.)
        self.lost: dict[str, dict[int, int]] = {PULSE_SCORED: {}, PULSE_ALERTS: {}}

    async def prepare(self) -> None:
        """An empty schema beside the live one, migrated with the live one's migrations."""
        await store.drop_schema(self.conn, store.REBUILT)
        try:
            applied = await apply_migrations_async(self.settings.database_dsn, store.REBUILT, MIGRATIONS)
        except psycopg.Error as exc:
            raise RebuildError(
                f"migrating {store.REBUILT} with reporting's migrations failed ({type(exc).__name__}: {exc}); the "
                "failed migration rolled back. A migration that names the schema (`reporting.x`) cannot build a copy: "
                "write it without the schema, as tests/unit/test_reporting_migrations_name_no_schema.py asks"
            ) from exc
        self.progress.say(f"schema {store.REBUILT} created afresh ({len(applied)} migration(s)); {SCHEMA} is only read")

    async def replay(self) -> dict[str, Tally]:
        """Every topic, from where the last replay ended to its end now: the tree first, then the
        responses, then the alerts. Subtree rollups follow the tree as it stands, so whatever the
        order the live consumers met moves and responses in, they hold what this order gives; the
        alerts projection does not depend on the tree."""
        steps: tuple[tuple[str, Apply], ...] = (
            (ORG_UNITS, self._tree),
            (PULSE_SCORED, self._responses),
            (PULSE_ALERTS, self._alerts),
        )
        done: dict[str, Tally] = {}
        for topic, apply in steps:
            started = time.monotonic()
            tally, decoder = Tally(), SkipUndecodable()
            replay = TopicReplay(self.settings, topic, self.positions[topic], self.batch_size)
            async with aclosing(replay.batches()) as batches:
                async for batch in batches:
                    # Its own transaction while building; a savepoint inside the swap's.
                    async with self.conn.transaction():
                        await apply(self.conn, batch, decoder, tally)
                    tally.records += len(batch)
                    self.progress.reading(replay)
            tally.undecodable = decoder.skipped
            self.positions[topic] = replay.positions
            if topic in self.lost and (missing := replay.missing()):
                lost = self.lost[topic]
                for partition, count in missing.items():
                    lost[partition] = lost.get(partition, 0) + count
                self.progress.say(f"{topic} no longer holds {sum(missing.values()):,} record(s) (retention): {missing}")
            self.tallies[topic] += tally
            done[topic] = tally
            self.progress.say(f"{topic}: {_described(topic, tally)} in {time.monotonic() - started:.1f} s")
        return done

    async def _tree(
        self, conn: asyncpg.Connection, batch: list[Record], decoder: SkipUndecodable, tally: Tally
    ) -> None:
        latest = await latest_units(batch, decoder)
        await apply_org_units(conn, self.rebuilt, latest)
        tally.applied += len(latest)

    async def _responses(
        self, conn: asyncpg.Connection, batch: list[Record], decoder: SkipUndecodable, tally: Tally
    ) -> None:
        received = await decoder(batch, ResponseScored)
        fresh = await apply_scored(conn, self.rebuilt, received)
        tally.applied += fresh
        tally.duplicates += len(received) - fresh

    async def _alerts(
        self, conn: asyncpg.Connection, batch: list[Record], decoder: SkipUndecodable, tally: Tally
    ) -> None:
        tally.applied += await apply_alerts(conn, self.rebuilt, decoder.each_of(batch, ALERT_EVENTS))

    async def compare(self) -> Report:
        """Both models row for row, each read in one snapshot."""
        self.progress.say(f"comparing {store.REBUILT} with {SCHEMA}, row for row")
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            tables = [
                await compare_rows(
                    table.name,
                    table.columns,
                    store.rows(self.conn, SCHEMA, table),
                    store.rows(self.conn, store.REBUILT, table),
                )
                for table in store.TABLES
            ]
        return Report(tables)

    def refuse_lost_history(self) -> None:
        for topic, what in ((PULSE_SCORED, "scored response(s)"), (PULSE_ALERTS, "alert record(s)")):
            if lost := self.lost[topic]:
                raise RebuildError(
                    f"{topic} no longer holds {sum(lost.values()):,} {what} (partition: count {lost}): retention "
                    "has deleted them, so the rebuilt model lacks what the live one holds, and a swap would drop "
                    "it; nothing was swapped. Keep the live model, or lengthen the topic's retention.ms before "
                    "the next rebuild"
                )

    async def refuse_unsafe_swap(self) -> None:
        """Under the swap's locks: what would make the swapped-in model wrong, refused."""
        self.refuse_lost_history()
        live = await store.migrations_recorded(self.conn, SCHEMA)
        rebuilt = await store.migrations_recorded(self.conn, store.REBUILT)
        if live != rebuilt:
            raise RebuildError(
                f"the live schema has migrations {sorted(live)}, the rebuilt one {sorted(rebuilt)}: run the rebuild "
                "from the same version of wellpulse-reporting as the service (or `wellpulse-reporting migrate` "
                "first); nothing was swapped"
            )
        if hanging := await store.dependents(self.conn, SCHEMA):
            raise RebuildError(
                f"{', '.join(hanging)} in schema {SCHEMA} refer(s) to the read model's tables: a swap moves those "
                "tables and would leave them on the replaced ones; add the table to the read model's list "
                "(rebuild/store.py TABLES) if the topics determine it, or drop the reference; nothing was swapped"
            )
        if unknown := await store.units_only_in(self.conn, SCHEMA, store.REBUILT):
            raise RebuildError(
                f"the live tree has units that {ORG_UNITS} no longer describes ({', '.join(unknown)}): removed units "
                "whose last state compaction has dropped from the topic. The rebuilt model does not know where they "
                "sat, and a swap would take their past responses out of their former parents' figures; nothing was "
                "swapped. Keep the live model"
            )
        if missing := await store.keys_only_in(self.conn, SCHEMA, store.REBUILT, "applied_events", "event_id"):
            raise RebuildError(
                f"the live model has counted {missing:,} response(s) that {PULSE_SCORED} no longer holds (retention "
                "deleted them, or the topic was recreated): the rebuilt model lacks them and a swap would drop them; "
                "nothing was swapped. Keep the live model"
            )
        if missing := await store.keys_only_in(self.conn, SCHEMA, store.REBUILT, "alerts", "alert_id"):
            raise RebuildError(
                f"the live model knows {missing:,} alert(s) that {PULSE_ALERTS} no longer holds (retention deleted "
                "them, or the topic was recreated): the rebuilt model lacks them and a swap would drop them from "
                "the alert counts leaders see; nothing was swapped. Keep the live model"
            )

    async def swap(self) -> dict[str, Any]:
        """The rebuilt model's tables in place of the live one's, atomically (see the module's
        docstring); every other table of the live schema stays."""
        self.refuse_lost_history()
        await store.drop_schema(self.conn, store.PREVIOUS)
        self.progress.say("waiting for the tree lock: live batches in hand finish, the next ones wait")
        async with self.conn.transaction():
            await store.hold_migration_lock(self.conn, SCHEMA)  # no replica migrates it meanwhile
            await self.live.rollups.lock_exclusive(self.conn)
            locked = time.monotonic()
            self.progress.say("tree lock held; catching up with the topics' ends as they are now")
            caught_up = await self.replay()
            await self.refuse_unsafe_swap()
            await store.move_tables(self.conn, SCHEMA, store.PREVIOUS)
            await store.move_tables(self.conn, store.REBUILT, SCHEMA)
            await benchmark_store.forget_all(self.conn, SCHEMA)  # taken from the model just replaced
            await store.drop_schema(self.conn, store.REBUILT)  # its bookkeeping, nothing of the model
        held = time.monotonic() - locked
        self.progress.say(
            f"swapped: the read model's tables in {SCHEMA} ({', '.join(store.NAMES)}) are now the rebuilt ones "
            f"(the tree lock was held {held:.2f} s); the ones they replaced are kept in schema {store.PREVIOUS} "
            f"until the next swap (DROP SCHEMA {store.PREVIOUS} CASCADE removes them)"
        )
        return {
            "swapped": True,
            "live_schema": SCHEMA,
            "tables": list(store.NAMES),
            "previous_schema": store.PREVIOUS,
            "lock_held_seconds": round(held, 3),
            "caught_up_under_lock": {topic: t.as_json() for topic, t in caught_up.items()},
        }

    def replayed(self) -> dict[str, Any]:
        return {topic: t.as_json() for topic, t in self.tallies.items()}


def _described(topic: str, tally: Tally) -> str:
    if topic == ORG_UNITS:
        return f"{tally.records:,} records read, {tally.applied:,} unit states applied"
    if topic == PULSE_ALERTS:
        return (
            f"{tally.records:,} records read: {tally.applied:,} alerts raised or handled applied (one applied again "
            f"changes nothing), {tally.undecodable:,} undecodable skipped (the live consumer dead-lettered them)"
        )
    return (
        f"{tally.records:,} records read: {tally.applied:,} responses counted, {tally.duplicates:,} already counted "
        f"(redelivered) absorbed, {tally.undecodable:,} undecodable skipped (the live consumer dead-lettered them)"
    )


async def rebuild(settings: ReportingSettings, mode: Mode, batch_size: int, out: TextIO, err: TextIO) -> int:
    """Exit status: 0 equal (compare) or swapped; 1 differences found (compare); 2 could not run."""
    # Progress is the rebuild's own lines; what these would log, its errors say in their own words.
    for name, level in (("aiokafka", logging.CRITICAL), ("yoyo", logging.WARNING), ("wellpulse", logging.WARNING)):
        logging.getLogger(name).setLevel(level)
    progress = Progress(err)
    try:
        conn = await _connect(settings)
        try:
            return await _run(settings, conn, mode, batch_size, out, progress)
        finally:
            await conn.close()
    except RebuildError as exc:
        err.write(f"wellpulse-reporting rebuild: {exc}\n")
        return 2
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        err.write(
            f"wellpulse-reporting rebuild: PostgreSQL failed ({type(exc).__name__}: {exc}); the live read model is "
            "unchanged (a swap either happens whole or not at all); run the rebuild again\n"
        )
        return 2


async def _run(
    settings: ReportingSettings, conn: asyncpg.Connection, mode: Mode, batch_size: int, out: TextIO, progress: Progress
) -> int:
    if not await store.hold_rebuild_lock(conn):
        raise RebuildError(
            "another wellpulse-reporting rebuild is running against this database (it holds the advisory lock "
            f"hashtext('{store.REBUILD_LOCK}')); wait for it to end, then run this one again"
        )
    if not await store.has_read_model(conn, SCHEMA):
        raise RebuildError(
            f"there is no live read model to {mode} with: schema {SCHEMA} or its tables are missing in database "
            f"{_where(settings)}; run `wellpulse-reporting migrate` (or start the service) first, or set "
            "REPORTING_DATABASE_URL to the database the service uses"
        )
    await check_topics(settings, TOPICS)
    run = Rebuild(settings, conn, progress, batch_size)
    await run.prepare()
    progress.say(f"replaying {', '.join(TOPICS)}, one after the other, from the start of each partition")
    await run.replay()
    progress.say("catching up with what arrived meanwhile")
    await run.replay()
    if mode is Mode.swap:
        result = await run.swap()
        _print(out, {**result, "replayed": run.replayed()})
        return 0
    report = await run.compare()
    comparison = {"live_schema": SCHEMA, "rebuilt_schema": store.REBUILT, **report.as_json()}
    lost = {topic: {str(p): n for p, n in sorted(counts.items())} for topic, counts in run.lost.items()}
    _print(out, {**comparison, "replayed": run.replayed(), "lost_from_topics": lost})
    counts = ", ".join(f"{t.table} {t.differences:,}" for t in report.tables)
    if report.equal:
        progress.say(f"the rebuilt read model equals the live one, row for row ({_rows(report)})")
    else:
        progress.say(f"the read models differ ({counts} difference(s)); the report on stdout shows them")
    progress.say(
        f"{store.REBUILT} stays for inspection until the next rebuild (DROP SCHEMA {store.REBUILT} CASCADE removes it)"
    )
    return 0 if report.equal else 1


def _rows(report: Report) -> str:
    return ", ".join(f"{t.table} {t.live_rows:,} rows" for t in report.tables)


def _print(out: TextIO, document: dict[str, Any]) -> None:
    out.write(json.dumps(document, indent=2) + "\n")
    out.flush()


async def _connect(settings: ReportingSettings) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(settings.database_dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise RebuildError(
            f"cannot connect to PostgreSQL at {_where(settings)} ({type(exc).__name__}: {exc}); check that it runs "
            "and that REPORTING_DATABASE_URL names the database the reporting service uses"
        ) from exc


def _where(settings: ReportingSettings) -> str:
    """Host, port and database, never the password."""
    parts = urlsplit(settings.database_dsn)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
