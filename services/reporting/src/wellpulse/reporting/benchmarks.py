"""The benchmark reporting's bands are drawn against: a loaded file, or the organisation's own
teams over the same window (``common.benchmark``).

Taking the organisation's benchmark reads every team's rows for the window, about a million at
15,000 teams; so it is taken once per window and kept in the database (``benchmark_store``), used
while no response has been counted into the window since and the tree has not changed, and taken
ahead for the windows the dashboard offers, ending at the latest week shown (``keep_fresh``). Once
a week is shown its responses are in, so a kept benchmark of shown weeks holds until the tree
changes: a leader's page pays one indexed statement for it, whatever the organisation's size.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal, Self

import asyncpg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wellpulse.common.bank import HseScale
from wellpulse.common.benchmark import Lines
from wellpulse.common.db import Database
from wellpulse.common.measures import SCALE_PREFIX, scale_measure
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.settings import ConfigurationError
from wellpulse.reporting import benchmark_store
from wellpulse.reporting.publication import last_shown_week

log = logging.getLogger(__name__)

# The windows (in weeks) taken ahead ending at the latest week shown: the dashboard's choices;
# and the default window (the API's and the dashboard's) ending at each week of the year before.
AHEAD_WINDOWS = (1, 4, 8, 13, 26)
DEFAULT_WINDOW = 4
AHEAD_WEEKS_BACK = 52


def ahead(latest: date) -> list[tuple[date, date]]:
    """The windows ``keep_fresh`` takes, the ones a leader most likely opens first."""
    windows = [(latest - timedelta(weeks=weeks - 1), latest) for weeks in AHEAD_WINDOWS]
    for back in range(1, AHEAD_WEEKS_BACK):
        last = latest - timedelta(weeks=back)
        windows.append((last - timedelta(weeks=DEFAULT_WINDOW - 1), last))
    return windows


SCALE_MEASURES = tuple(scale_measure(s.value) for s in HseScale)

Score = Annotated[float, Field(ge=1, le=5)]


class FileLines(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    p20: Score
    p50: Score
    p80: Score

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if not self.p20 <= self.p50 <= self.p80:
            raise ValueError(f"p20 ≤ p50 ≤ p80 must hold (got {self.p20}, {self.p50}, {self.p80})")
        return self


class BenchmarkFile(BaseModel):
    """A benchmark from outside the organisation (e.g. the HSE Analysis Tool's national figures):
    per HSE scale, its 20th, 50th and 80th percentiles of scale means (1–5, higher is better)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Shown beside the bands, e.g. 'HSE 2024 national'")
    scales: dict[HseScale, FileLines] = Field(min_length=1)


def load_benchmark_file(path: Path) -> BenchmarkFile:
    """The file's benchmark, or ``ConfigurationError`` naming every problem in it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"REPORTING_BENCHMARK_FILE: cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"REPORTING_BENCHMARK_FILE: {path} is not valid YAML: {exc}") from exc
    try:
        return BenchmarkFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"REPORTING_BENCHMARK_FILE: {path} has problems: {problems}") from None


@dataclass(frozen=True)
class Benchmark:
    source: Literal["organisation", "file"]
    name: str
    lines: dict[str, Lines]


ORGANISATION = "the organisation's teams"


@dataclass
class Benchmarks:
    rollups: SubtreeRollups
    k: int
    min_units: int
    file: BenchmarkFile | None = None
    _locks: dict[tuple[date, date], asyncio.Lock] = field(default_factory=dict)

    async def for_window(self, pool: asyncpg.Pool, first: date, last: date) -> Benchmark:
        if self.file is not None:
            return Benchmark(
                "file",
                self.file.name,
                {s.value: Lines(v.p20, v.p50, v.p80) for s, v in self.file.scales.items()},
            )
        schema = self.rollups.schema
        if (lines := await benchmark_store.kept(pool, schema, first, last, SCALE_MEASURES)) is None:
            lines = await self.take(pool, first, last)
        return Benchmark("organisation", ORGANISATION, lines)

    async def take(self, pool: asyncpg.Pool, first: date, last: date) -> dict[str, Lines]:
        """Take the window's benchmark from every team's rows and keep it (or use the one another
        request has just kept). Under the tree lock, so the tree neither moves nor is swapped
        while it is taken, and the fingerprint is read before the teams' rows: a response counted
        in between makes the kept benchmark look stale, never a stale one look fresh."""
        schema = self.rollups.schema
        key = (first, last)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one taking per window at a time in this process
            if (lines := await benchmark_store.kept(pool, schema, first, last, SCALE_MEASURES)) is not None:
                return lines
            async with pool.acquire() as conn, conn.transaction():
                await self.rollups.lock_shared(conn)
                roots = await benchmark_store.roots(conn, schema)
                responses = await benchmark_store.fingerprint(conn, schema, roots, first, last, SCALE_MEASURES)
                cuts = await self.rollups.team_percentiles(
                    conn, first, last, SCALE_PREFIX, self.k, (20, 50, 80), self.min_units
                )
                lines = {m.removeprefix(SCALE_PREFIX): Lines(c[0], c[1], c[2], n) for m, (n, c) in cuts.items()}
                await benchmark_store.keep(conn, schema, first, last, roots, responses, lines)
        if not lock.locked() and self._locks.get(key) is lock:
            del self._locks[key]
        return lines

    async def keep_fresh(
        self, database: Database, publish_after_days: int, in_progress: bool, every_seconds: float
    ) -> None:
        """Take ahead, every ``every_seconds``, the benchmark of the windows a leader most likely
        opens (``ahead``) where no kept one holds (a background job). Shown weeks no longer move,
        so after the first round this reads one kept row a window, until the tree changes; any
        other window is taken when first asked for, and kept."""
        if self.file is not None or every_seconds <= 0:
            return
        while True:
            latest = last_shown_week(date.today(), publish_after_days, in_progress)  # as the API's
            for first, last in ahead(latest):
                try:
                    await self.take(database.pool, first, last)  # reads the kept one first
                except (asyncpg.PostgresError, OSError) as exc:  # the next round tries again
                    log.warning("could not take the benchmark of %s to %s ahead: %s", first, last, exc)
            await asyncio.sleep(every_seconds)
