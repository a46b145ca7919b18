"""The heatmap: a unit and each of its children against the seven HSE scales over a window, each
cell banded against the benchmark (the HSE Analysis Tool's red / yellow / aqua / green)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

import asyncpg
from pydantic import BaseModel, Field

from wellpulse.common.bank import HseScale
from wellpulse.common.benchmark import Band
from wellpulse.common.csvfile import Cell
from wellpulse.common.measures import scale_measure
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import store
from wellpulse.reporting.around import Around, around, window
from wellpulse.reporting.benchmarks import Benchmark, Benchmarks

SCALES = [s.value for s in HseScale]


class ScaleCell(BaseModel):
    suppressed: bool = Field(description="Not shown: too few people, or it would give a smaller group away")
    mean: float | None = Field(description="1–5, higher is better")
    responses: int | None = Field(description="Responses over the window (not people: one a person a week)")
    band: Band | None = Field(description="Against the benchmark; null when suppressed or no benchmark")


class HeatRow(BaseModel):
    unit_id: str
    name: str
    headcount: int
    whole: bool = Field(description="The unit asked about, everything below it included")
    response_rate: float | None = Field(description="Responses per person per week over the window")
    cells: dict[str, ScaleCell]


class BenchmarkLines(BaseModel):
    p20: float
    p50: float
    p80: float
    units: int | None = Field(description="Teams the organisation's benchmark was taken over; null for a file")


class BenchmarkOut(BaseModel):
    source: str
    name: str
    scales: dict[str, BenchmarkLines | None] = Field(description="Null: too few teams to benchmark the scale")


class Heatmap(BaseModel):
    unit_id: str
    name: str
    min_group_size: int
    first_week: str
    last_week: str
    scales: list[str]
    benchmark: BenchmarkOut
    rows: list[HeatRow]


async def unit_heatmap(
    pool: asyncpg.Pool,
    rollups: SubtreeRollups,
    benchmarks: Benchmarks,
    unit: store.UnitSummary,
    last: date,
    weeks: int,
    k: int,
) -> Heatmap:
    """The heatmap of ``weeks`` weeks up to ``last``: what the API and the dashboard both show."""
    days = window(last, weeks)
    view = await around(pool, rollups, unit, days, {scale_measure(s) for s in SCALES}, k)
    return heatmap(view, await benchmarks.for_window(pool, days[0], days[-1]), k)


def heatmap(view: Around, benchmark: Benchmark, k: int) -> Heatmap:
    rows = []
    for row in view.rows:
        cells = {}
        for scale in SCALES:
            shown = view.figure(row.unit_id, scale_measure(scale))
            lines = benchmark.lines.get(scale)
            cells[scale] = ScaleCell(
                suppressed=shown is None,
                mean=shown.mean if shown else None,
                responses=shown.n if shown else None,
                band=lines.band(shown.mean) if shown and lines else None,
            )
        rows.append(
            HeatRow(
                unit_id=row.unit_id,
                name=row.name,
                headcount=row.headcount,
                whole=row.whole,
                response_rate=view.response_rate(row),
                cells=cells,
            )
        )
    return Heatmap(
        unit_id=view.unit.unit_id,
        name=view.unit.name,
        min_group_size=k,
        first_week=view.first_week,
        last_week=view.last_week,
        scales=SCALES,
        benchmark=BenchmarkOut(
            source=benchmark.source,
            name=benchmark.name,
            scales={
                s: BenchmarkLines(p20=round(v.p20, 4), p50=round(v.p50, 4), p80=round(v.p80, 4), units=v.units)
                if (v := benchmark.lines.get(s))
                else None
                for s in SCALES
            },
        ),
        rows=rows,
    )


CSV_HEADER = ["unit_id", "unit", "whole", "headcount", "response_rate", "scale", "mean", "responses", "band"]


def csv_rows(map_: Heatmap) -> Iterator[Sequence[Cell]]:
    """One line per unit and scale; a suppressed cell says so in place of its figures."""
    for row in map_.rows:
        for scale, cell in row.cells.items():
            figures: list[Cell] = (
                ["suppressed", "suppressed", "suppressed"]
                if cell.suppressed
                else [cell.mean, cell.responses, cell.band.value if cell.band else None]
            )
            yield [row.unit_id, row.name, row.whole, row.headcount, row.response_rate, scale, *figures]
