"""The benchmark reporting's bands are drawn against: a loaded file, or the organisation's own
teams over the same window (``common.benchmark``), kept for a few minutes per window so a leader's
page never pays for reading every team."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Self

import asyncpg
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wellpulse.common.bank import HseScale
from wellpulse.common.benchmark import Lines, TeamWeek, band_lines, team_means
from wellpulse.common.measures import SCALE_PREFIX
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.settings import ConfigurationError

# How many windows' benchmarks are kept at once.
KEPT_WINDOWS = 64

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


@dataclass
class Benchmarks:
    rollups: SubtreeRollups
    k: int
    min_units: int
    file: BenchmarkFile | None = None
    keep_seconds: float = 300.0
    _kept: dict[tuple[date, date], tuple[float, Benchmark]] = field(default_factory=dict)
    _locks: dict[tuple[date, date], asyncio.Lock] = field(default_factory=dict)

    async def for_window(self, pool: asyncpg.Pool, first: date, last: date) -> Benchmark:
        if self.file is not None:
            return Benchmark(
                "file",
                self.file.name,
                {s.value: Lines(v.p20, v.p50, v.p80) for s, v in self.file.scales.items()},
            )
        key = (first, last)
        async with self._locks.setdefault(key, asyncio.Lock()):  # one read per window at a time
            kept = self._kept.get(key)
            if kept is not None and time.monotonic() - kept[0] < self.keep_seconds:
                return kept[1]
            sums = await self.rollups.team_sums(pool, first, last, SCALE_PREFIX)
            rows = [TeamWeek(u, m.removeprefix(SCALE_PREFIX), s.n, s.total) for (u, _, m), s in sums.items()]
            benchmark = Benchmark(
                "organisation", "the organisation's teams", band_lines(team_means(rows, self.k), self.min_units)
            )
            self._kept[key] = (time.monotonic(), benchmark)
        while len(self._kept) > KEPT_WINDOWS:  # windows asked for long ago go first
            oldest = min(self._kept, key=lambda w: self._kept[w][0])
            del self._kept[oldest]
            self._locks.pop(oldest, None)
        return benchmark
