"""The organisation's benchmark taken once per window and kept in PostgreSQL: a kept one is used
only while no response has been counted into its window and the tree has not changed; a page then
never reads every team's rows. Checked against the pure benchmark functions over the same sums."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg
import pytest

from wellpulse.common.bank import HseScale
from wellpulse.common.benchmark import Lines, TeamWeek, band_lines, percentile, team_means
from wellpulse.common.db import Database
from wellpulse.common.events import OrgUnit
from wellpulse.common.measures import SCALE_PREFIX, scale_measure
from wellpulse.common.orgtree import UnitState
from wellpulse.common.rollups import Contribution, SubtreeRollups
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.benchmarks import AHEAD_WINDOWS, Benchmarks, ahead
from wellpulse.reporting.publication import last_shown_week
from wellpulse.reporting.read_model import ReadModel, apply_org_units
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

pytestmark = pytest.mark.integration

K = 3
SCALES = [s.value for s in HseScale][:3]
WEEK = date(2026, 10, 5)  # a Monday
TEAMS = {f"t{i}": ("d1" if i < 4 else "d2") for i in range(8)}


class CountingRollups(SubtreeRollups):
    """The real rollups, counting how often every team's rows are read for a benchmark."""

    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.team_reads = 0

    async def team_percentiles(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        first_week: date,
        last_week: date,
        measure_prefix: str,
        k: int,
        percents: Sequence[float],
        min_units: int,
    ) -> dict[str, tuple[int, tuple[float, ...]]]:
        self.team_reads += 1
        return await super().team_percentiles(conn, first_week, last_week, measure_prefix, k, percents, min_units)


@dataclass
class Setup:
    database: Database
    model: ReadModel
    rollups: CountingRollups
    benchmarks: Benchmarks


async def apply_tree(setup: Setup, parents: Mapping[str, str | None], removed: tuple[str, ...] = ()) -> None:
    latest = {
        u: UnitState(OrgUnit(unit_id=u, parent_id=p, name=u.upper(), headcount=10), False) for u, p in parents.items()
    } | {u: UnitState(None, True) for u in removed}
    async with setup.database.transaction() as conn:
        await apply_org_units(conn, setup.model, latest)


@pytest.fixture
async def setup(fresh_database: str) -> AsyncIterator[Setup]:
    settings = ReportingSettings(environment="development", database_url=fresh_database, oidc_issuer="http://x")
    database = Database(SCHEMA, MIGRATIONS)
    await database.open(settings)
    rollups = CountingRollups(SCHEMA)
    made = Setup(database, ReadModel(SCHEMA, rollups), rollups, Benchmarks(rollups, K, min_units=3))
    await apply_tree(made, {"root": None, "d1": "root", "d2": "root", **TEAMS})
    try:
        yield made
    finally:
        await database.close()


def score(team: str, scale: str, week: date, person: int) -> float:
    """Each team a different mean on each scale; every team ≥ k people a week (t7 one week fewer)."""
    index = int(team[1:])
    return 1 + ((index * 7 + SCALES.index(scale) * 3 + person + week.toordinal()) % 40) / 10


def people(team: str, week: date) -> int:
    return 2 if team == "t7" and week == WEEK else 3 + int(team[1:]) % 3


async def answer(setup: Setup, team: str, week: date, persons: int) -> list[Contribution]:
    made = [Contribution(team, week, scale_measure(s), score(team, s, week, p)) for s in SCALES for p in range(persons)]
    async with setup.database.transaction() as conn:
        await setup.rollups.add(conn, made)
    return made


def expected(contributions: list[Contribution], teams: set[str]) -> dict[str, Lines]:
    sums: dict[tuple[str, str, date], list[float]] = {}
    for c in contributions:
        if c.unit_id in teams:
            sums.setdefault((c.unit_id, c.measure, c.week_start), []).append(c.value)
    rows = [TeamWeek(u, m.removeprefix(SCALE_PREFIX), len(v), sum(v)) for (u, m, _), v in sums.items()]
    return band_lines(team_means(rows, K), 3)


def assert_lines(got: Mapping[str, Lines], want: Mapping[str, Lines]) -> None:
    """The database's sums may add in another order than Python's: equal to the last few bits."""
    assert set(got) == set(want)
    for scale, lines in want.items():
        assert got[scale].units == lines.units
        assert (got[scale].p20, got[scale].p50, got[scale].p80) == pytest.approx((lines.p20, lines.p50, lines.p80))


async def test_a_kept_benchmark_is_used_until_a_response_or_the_tree_changes_it(setup: Setup) -> None:
    weeks = [WEEK, WEEK + timedelta(weeks=1)]
    given = [c for week in weeks for team in TEAMS for c in await answer(setup, team, week, people(team, week))]
    first, last = weeks[0], weeks[-1]

    taken = await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert_lines(taken.lines, expected(given, set(TEAMS)))
    assert set(taken.lines) == set(SCALES)
    assert taken.lines[SCALES[0]].units == 7  # t7 had a week below k
    assert setup.rollups.team_reads == 1

    again = await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert again.lines == taken.lines  # the kept one, exactly (floats survive the round trip)
    assert setup.rollups.team_reads == 1

    # A response outside the window changes nothing kept; one inside it is seen at once.
    await answer(setup, "t0", last + timedelta(weeks=1), 4)
    await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert setup.rollups.team_reads == 1
    given += await answer(setup, "t7", WEEK, 1)  # t7's first week reaches k: it now counts
    renewed = await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert setup.rollups.team_reads == 2
    assert_lines(renewed.lines, expected(given, set(TEAMS)))
    assert renewed.lines[SCALES[0]].units == 8

    # The tree changes: d2's teams move under d1, so d2 (childless, no rows) is a team with no figures,
    # and t0 is removed: every kept benchmark is forgotten and the next one is of the new teams.
    await apply_tree(setup, {t: "d1" for t in TEAMS if t != "t0"}, removed=("t0",))
    assert await setup.database.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.team_benchmarks") == 0
    moved = await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert setup.rollups.team_reads == 3
    assert_lines(moved.lines, expected(given, set(TEAMS) - {"t0"}))
    assert moved.lines[SCALES[0]].units == 7


async def test_a_tree_change_forgets_every_kept_benchmark(setup: Setup) -> None:
    for team in TEAMS:
        await answer(setup, team, WEEK, 4)
    await setup.benchmarks.for_window(setup.database.pool, WEEK, WEEK)
    await setup.benchmarks.for_window(setup.database.pool, WEEK - timedelta(weeks=1), WEEK)
    assert await setup.database.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.team_benchmarks") == 2
    await apply_tree(setup, {"t3": "d2"})  # a move: which teams are under which directorate changed
    assert await setup.database.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.team_benchmarks") == 0


async def test_many_pages_at_once_take_the_window_once(setup: Setup) -> None:
    for team in TEAMS:
        await answer(setup, team, WEEK, 4)
    answers = await asyncio.gather(*(setup.benchmarks.for_window(setup.database.pool, WEEK, WEEK) for _ in range(8)))
    assert len({tuple(sorted(a.lines.items())) for a in answers}) == 1
    assert setup.rollups.team_reads == 1


async def count_kept(setup: Setup) -> int:
    return int(await setup.database.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.team_benchmarks"))


async def test_the_windows_leaders_open_first_are_taken_ahead(setup: Setup) -> None:
    latest = last_shown_week(date.today(), 1)
    for team in TEAMS:
        for back in range(3):
            await answer(setup, team, latest - timedelta(weeks=back), 4)
    windows = ahead(latest)
    assert len(set(windows)) == len(windows) == len(AHEAD_WINDOWS) + 51
    job = asyncio.create_task(setup.benchmarks.keep_fresh(setup.database, 1, False, every_seconds=3600))
    deadline = time.monotonic() + 60
    try:
        while (kept := await count_kept(setup)) < len(windows):
            assert time.monotonic() < deadline, f"{kept} of {len(windows)} windows taken ahead after 60 s"
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
    reads = setup.rollups.team_reads
    assert reads == len(windows)
    for first, last in windows:  # a page asking for any of them now reads no team's rows
        await setup.benchmarks.for_window(setup.database.pool, first, last)
    assert setup.rollups.team_reads == reads
    await setup.benchmarks.for_window(setup.database.pool, latest - timedelta(weeks=2), latest)  # 3 weeks: not
    assert setup.rollups.team_reads == reads + 1


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_databases_percentiles_are_the_pure_benchmarks(setup: Setup, seed: int) -> None:
    """``SubtreeRollups.team_percentiles`` against ``common.benchmark`` over random answers: some
    teams below k in some weeks, some not answering at all, some scales few teams answer."""
    rng = random.Random(seed)
    teams = [f"x{i}" for i in range(40)]
    await apply_tree(setup, {"root": None, "d1": "root", **dict.fromkeys(teams, "d1")})
    weeks = [WEEK + timedelta(weeks=i) for i in range(3)]
    made: list[Contribution] = []
    for team in teams:
        for week in weeks:
            for scale in SCALES:
                if rng.random() < (0.8 if scale != SCALES[2] else 0.15):
                    made += [
                        Contribution(team, week, scale_measure(scale), rng.choice([1, 1.5, 2, 3.25, 4, 5]))
                        for _ in range(rng.choice([1, 2, 3, 4, 6, 9]))
                    ]
    async with setup.database.transaction() as conn:
        await setup.rollups.add(conn, made)
    compared = 0
    for k, min_units, percents in [(3, 3, (20, 50, 80)), (5, 5, (10,)), (4, 12, (0, 33.3, 100))]:
        got = await setup.rollups.team_percentiles(
            setup.database.pool, weeks[0], weeks[-1], SCALE_PREFIX, k, percents, min_units
        )
        sums: dict[tuple[str, str, date], list[float]] = {}
        for c in made:
            sums.setdefault((c.unit_id, c.measure, c.week_start), []).append(c.value)
        means = team_means([TeamWeek(u, m, len(v), sum(v)) for (u, m, _), v in sums.items()], k)
        want = {m: (len(v), tuple(percentile(v, p) for p in percents)) for m, v in means.items() if len(v) >= min_units}
        assert set(got) == set(want), (k, min_units)
        for measure, (units, cuts) in want.items():
            assert got[measure][0] == units
            assert got[measure][1] == pytest.approx(cuts)
        compared += len(want)
    assert compared >= 4, "the random answers leave benchmarks to compare"
