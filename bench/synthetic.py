"""The reporting benchmark's data: a synthetic organisation and a year of its answers, scored and
rolled up as reporting's write path would, then loaded straight into reporting's tables with COPY.

Answers are drawn per response (numpy), scored with the bank's rules (read from its tags, as
``QuestionBank.families`` and scoring's ``score_response`` do, vectorised), and summed into own
rollups per unit x ISO week x measure; the subtree rollups add each unit's own sums to its
ancestors. ``check_scoring`` and ``check_fanout`` hold both against the real code on small sizes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg
import numpy as np
from runtime import BenchFailed, say

from wellpulse.common.bank import LEAVING_SCORE, AlertFamily, Item, QuestionBank, ResponseKind
from wellpulse.common.events import ResponseScored, iso_week_of, monday_of
from wellpulse.common.measures import (
    BULLYING_REPORTED,
    CASELOAD_MANAGEABLE,
    CASELOAD_UNMANAGEABLE,
    CASES_HELD,
    INTENDS_TO_LEAVE,
    RESPONSES,
    SCORES,
    UNMANAGEABLE_SCORE,
    answer_measure,
    item_measure,
    scale_measure,
)
from wellpulse.common.orgtree import refresh_subtree_headcounts
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.intake.rotation import items_for_week
from wellpulse.reporting.measures import reporting_measures
from wellpulse.scoring.scales import score_response

SCHEMA = "reporting"
LAST_WEEK = "2026-W48"
SKIP_SHARE = 0.03  # each item is left unanswered by about this share of respondents
SMALL_TEAM_SHARE = 0.1  # teams of 2-6 people: often fewer than k answer, so suppression runs
# Weeks when fewer answer (Christmas, the summer holidays), as a share of the usual rate.
QUIET_WEEKS = {1: 0.7, 52: 0.7, 31: 0.8, 32: 0.8, 33: 0.8}


@dataclass(frozen=True)
class Size:
    name: str
    people: int  # the headcount the tree is drawn for (the real total is reported)
    weeks: int = 52


SIZES = {
    # ~15 thousand responses: for the smoke test.
    "tiny": Size("tiny", 300),
    # ~2,000 people answering at ~90% for 52 weeks: ~100 thousand responses.
    "small": Size("small", 2_200),
    # ~200,000 people: ~10 million responses.
    "large": Size("large", 225_000),
}


@dataclass
class Org:
    """The tree, units in byte order of their ids (the order of every array below)."""

    ids: list[str]
    parent: np.ndarray  # index of each unit's parent, -1 for the root
    depth: np.ndarray
    kind: list[str]  # root, directorate, service, team
    names: list[str]
    headcount: np.ndarray  # each unit's own people (the org file's headcount)

    def of_kind(self, kind: str) -> list[int]:
        return [i for i, k in enumerate(self.kind) if k == kind]

    def chain(self, unit: int) -> list[int]:
        chain = [unit]
        while self.parent[chain[-1]] >= 0:
            chain.append(int(self.parent[chain[-1]]))
        return chain

    def subtree_headcount(self) -> np.ndarray:
        total = self.headcount.astype(np.int64)
        for depth in range(int(self.depth.max()), 0, -1):
            at = np.flatnonzero(self.depth == depth)
            np.add.at(total, self.parent[at], total[at])
        return total


def _split(total: int, groups: int, rng: np.random.Generator) -> list[int]:
    """``total`` things into ``groups`` groups of at least one, of uneven sizes."""
    shares = rng.dirichlet(np.full(groups, 4.0))
    return [1 + int(c) for c in rng.multinomial(total - groups, shares)]


def draw_org(size: Size, rng: np.random.Generator) -> Org:
    """Root -> directorates -> services -> teams, about as wide at each level (depth 4)."""
    teams = max(8, round(size.people / 13.5))
    width = teams ** (1 / 3)
    directorates = max(2, round(width))
    services = max(directorates, round(teams / width))
    rows: list[tuple[str, str | None, str, str, int]] = [
        ("org", None, "root", "Synthetic Borough Council", max(3, size.people // 500))
    ]
    teams_of_services = iter(_split(teams, services, rng))
    for d, n_services in enumerate(_split(services, directorates, rng), start=1):
        directorate = f"d{d:02d}"
        rows.append((directorate, "org", "directorate", f"Directorate {d}", int(rng.integers(2, 7))))
        for s in range(1, n_services + 1):
            service = f"{directorate}-s{s:03d}"
            rows.append((service, directorate, "service", f"Service {d}.{s}", int(rng.integers(0, 3))))
            for t in range(1, next(teams_of_services) + 1):
                small = rng.random() < SMALL_TEAM_SHARE
                people = int(rng.integers(2, 7) if small else rng.integers(6, 23))
                rows.append((f"{service}-t{t:02d}", service, "team", f"Team {d}.{s}.{t}", people))
    rows.sort(key=lambda r: r[0].encode())
    index = {r[0]: i for i, r in enumerate(rows)}
    parent = np.array([index[r[1]] if r[1] else -1 for r in rows], dtype=np.int64)
    depth = np.zeros(len(rows), dtype=np.int64)
    for i in range(len(rows)):
        j, d = i, 0
        while parent[j] >= 0:
            j, d = parent[j], d + 1
        depth[i] = d
    return Org(
        ids=[r[0] for r in rows],
        parent=parent,
        depth=depth,
        kind=[r[2] for r in rows],
        names=[r[3] for r in rows],
        headcount=np.array([r[4] for r in rows], dtype=np.int64),
    )


class Scorer:
    """The bank's scoring, vectorised over one week's respondents: the same measures, values and
    rounding as ``score_response`` + ``reporting_measures`` give one by one (``check_scoring`` compares)."""

    def __init__(self, bank: QuestionBank) -> None:
        self.bank = bank
        scales = sorted({i.hse_scale.value for i in bank.items if i.hse_scale is not None})
        self.measures = sorted(
            {RESPONSES}
            | {scale_measure(s) for s in scales}
            | {item_measure(i.code) for i in bank.items if i.hse_scale is not None}
            | {answer_measure(i.code, v) for i in bank.items if i.hse_scale is not None for v in SCORES}
            | {INTENDS_TO_LEAVE, BULLYING_REPORTED, CASELOAD_MANAGEABLE, CASELOAD_UNMANAGEABLE, CASES_HELD}
        )
        self.column = {m: j for j, m in enumerate(self.measures)}
        # A scale mean is round(fmean(scores), 6): looked up by (sum of scores, how many).
        most = max(sum(1 for i in bank.items if i.hse_scale and i.hse_scale.value == s) for s in scales)
        self.scale_mean = np.zeros((5 * most + 1, most + 1))
        for count in range(1, most + 1):
            for total in range(count, 5 * count + 1):
                self.scale_mean[total, count] = round(total / count, 6)

    def kind(self, item: Item) -> ResponseKind:
        return self.bank.scales[item.response].kind

    def answers(self, items: Sequence[Item], mood: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Answers to the asked items, one per respondent: 1..5 (0 skipped), an option index of a
        choice (-1 skipped), a count (-1 skipped). ``mood``: how well each respondent's unit is doing."""
        out: dict[str, np.ndarray] = {}
        size = len(mood)
        for item in items:
            kind = self.kind(item)
            skipped = rng.random(size) < SKIP_SHARE
            if kind is ResponseKind.CHOICE:
                options = self.bank.scales[item.response].options
                p_yes = np.clip(0.08 - 0.1 * mood, 0.01, 0.5)
                draw = rng.random(size)
                yes, no, unsaid = (options.index(o) for o in ("yes", "no", "prefer_not_to_say"))
                out[item.code] = np.where(skipped, -1, np.where(draw < p_yes, yes, np.where(draw > 0.95, unsaid, no)))
            elif kind is ResponseKind.INTEGER:
                scale = self.bank.scales[item.response]
                cases = np.clip(rng.poisson(np.clip(18 - 4 * mood, 3, 40)), scale.min or 0, scale.max or 150)
                out[item.code] = np.where(skipped, -1, cases)
            else:
                score = np.clip(np.rint(rng.normal(3.4 + mood, 1.0)), 1, 5).astype(np.int64)
                answer = 6 - score if item.reverse else score
                out[item.code] = np.where(skipped, 0, answer)
        return out

    def score(self, items: Sequence[Item], answers: dict[str, np.ndarray], size: int) -> Iterator[tuple[str, Any, Any]]:
        """(measure, values, answered mask) for every measure the week's responses contribute to."""
        yield RESPONSES, np.ones(size), np.ones(size, dtype=bool)
        scale_sum: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(size, dtype=np.int64))
        scale_count: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(size, dtype=np.int64))
        cases, cases_any = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=bool)
        manage_sum, manage_count = np.zeros(size), np.zeros(size, dtype=np.int64)
        said_yes, said_no, said_any = (np.zeros(size, dtype=bool) for _ in range(3))
        leaving, leaving_any = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
        for item in items:
            kind, given = self.kind(item), answers[item.code]
            if kind is ResponseKind.CHOICE:
                options = self.bank.scales[item.response].options
                answered = given >= 0
                if item.family is AlertFamily.BULLYING:
                    said_yes |= given == options.index("yes")
                    said_no |= given == options.index("no")
                    said_any |= answered
                continue
            if kind is ResponseKind.INTEGER:
                if item.family is AlertFamily.CASELOAD:
                    cases += np.where(given >= 0, given, 0)
                    cases_any |= given >= 0
                continue
            answered = given > 0
            score = np.where(item.reverse, 6 - given, given)
            if item.hse_scale is not None:
                yield item_measure(item.code), score.astype(float), answered
                for value in SCORES:  # the item's 1-5 distribution, which reporting keeps too
                    yield answer_measure(item.code, value), np.ones(size), answered & (score == value)
                scale_sum[item.hse_scale.value] += np.where(answered, score, 0)
                scale_count[item.hse_scale.value] += answered
            elif item.family is AlertFamily.CASELOAD:
                manage_sum += np.where(answered, score, 0)
                manage_count += answered
            elif item.family is AlertFamily.INTENT_TO_LEAVE:
                leaving |= answered & (score <= LEAVING_SCORE)
                leaving_any |= answered
        for scale, total in scale_sum.items():
            count = scale_count[scale]
            yield scale_measure(scale), self.scale_mean[total, count], count > 0
        manageable = manage_sum / np.maximum(manage_count, 1)
        yield CASELOAD_MANAGEABLE, manageable, manage_count > 0
        yield CASELOAD_UNMANAGEABLE, (manageable <= UNMANAGEABLE_SCORE).astype(float), manage_count > 0
        yield CASES_HELD, cases.astype(float), cases_any
        yield BULLYING_REPORTED, said_yes.astype(float), said_yes | said_no
        yield INTENDS_TO_LEAVE, leaving.astype(float), leaving_any


@dataclass
class Rollups:
    """Sums per unit x week x measure (arrays of shape units x weeks x measures)."""

    n: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int, int]) -> Rollups:
        return cls(np.zeros(shape, dtype=np.int64), np.zeros(shape), np.zeros(shape))

    def fanned_out(self, org: Org) -> Rollups:
        """Each unit's sums with everything below it: deepest units first, each added to its parent."""
        up = Rollups(self.n.copy(), self.total.copy(), self.total_sq.copy())
        for depth in range(int(org.depth.max()), 0, -1):
            at = np.flatnonzero(org.depth == depth)
            at = at[np.argsort(org.parent[at], kind="stable")]
            parents = org.parent[at]
            starts = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
            for array in (up.n, up.total, up.total_sq):
                array[parents[starts]] += np.add.reduceat(array[at], starts, axis=0)
        return up

    def rows(self) -> int:
        return int(np.count_nonzero(self.n))


@dataclass
class Synthetic:
    size: Size
    org: Org
    weeks: list[date]
    measures: list[str]
    own: Rollups
    subtree: Rollups
    respondents: np.ndarray  # units x weeks
    # Kept only when asked for (the scoring check): each week's respondents' units and answers.
    answers: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)
    bank_items: dict[int, tuple[Item, ...]] = field(default_factory=dict)

    @property
    def responses(self) -> int:
        return int(self.respondents.sum())


def weeks_of(size: Size) -> list[date]:
    """The Mondays of the size's weeks, up to ``LAST_WEEK``."""
    last = monday_of(LAST_WEEK)
    return [last - timedelta(weeks=i) for i in reversed(range(size.weeks))]


def synthesise(size: Size, bank: QuestionBank, seed: int, keep_answers: bool = False) -> Synthetic:
    rng = np.random.default_rng(seed)
    org = draw_org(size, rng)  # first from the seed: the same tree again without the answers
    weeks = weeks_of(size)
    scorer = Scorer(bank)
    units, m = len(org.ids), len(scorer.measures)
    own = Rollups.empty((units, len(weeks), m))
    # How well each unit is doing (answers lean on it), drifting over the year; who answers how often.
    mood = rng.normal(0.0, 0.45, units)
    drift = rng.normal(0.0, 0.3, units) / len(weeks)
    rate = rng.uniform(0.8, 1.0, units)
    respondents = np.zeros((units, len(weeks)), dtype=np.int64)
    result = Synthetic(size, org, weeks, scorer.measures, own, own, respondents)
    for w, week in enumerate(weeks):
        quiet = QUIET_WEEKS.get(week.isocalendar()[1], 1.0)
        respondents[:, w] = rng.binomial(org.headcount, rate * quiet)
        unit_of = np.repeat(np.arange(units), respondents[:, w])
        items = tuple(bank.item(code) for code in items_for_week(bank, iso_week_of(week)))
        answers = scorer.answers(items, mood[unit_of] + drift[unit_of] * w, rng)
        if keep_answers:
            result.answers[w] = (unit_of, answers)
            result.bank_items[w] = items
        for measure, values, answered in scorer.score(items, answers, len(unit_of)):
            j, who, v = scorer.column[measure], unit_of[answered], values[answered]
            own.n[:, w, j] = np.bincount(who, minlength=units)
            own.total[:, w, j] = np.bincount(who, weights=v, minlength=units)
            own.total_sq[:, w, j] = np.bincount(who, weights=v * v, minlength=units)
    result.subtree = own.fanned_out(org)
    return result


# --- loading -------------------------------------------------------------------------------------

COLUMNS = ["unit_id", "week_start", "measure", "n", "total", "total_sq"]
CHUNK = 500_000


def _records(data: Synthetic, rollups: Rollups) -> Iterator[tuple[str, date, str, int, float, float]]:
    """Every row with n > 0, in primary-key order (so the index is built by appending)."""
    flat_n, flat_total, flat_sq = rollups.n.reshape(-1), rollups.total.reshape(-1), rollups.total_sq.reshape(-1)
    present = np.flatnonzero(flat_n)
    ids, weeks, measures = data.org.ids, data.weeks, data.measures
    for start in range(0, len(present), CHUNK):
        chunk = present[start : start + CHUNK]
        u, w, m = np.unravel_index(chunk, rollups.n.shape)
        yield from zip(
            [ids[i] for i in u.tolist()],
            [weeks[i] for i in w.tolist()],
            [measures[i] for i in m.tolist()],
            flat_n[chunk].tolist(),
            flat_total[chunk].tolist(),
            flat_sq[chunk].tolist(),
            strict=True,
        )


async def load(conn: asyncpg.Connection, data: Synthetic) -> dict[str, Any]:
    """Fill reporting's empty tables: the org tree, own and subtree rollups, and one applied event
    per response (the idempotence table a real year leaves behind). Seconds per step."""
    timings: dict[str, float] = {}

    async def step(name: str, work: Any) -> None:
        started = time.monotonic()
        await work
        timings[name] = round(time.monotonic() - started, 1)
        say(f"  {name}: {timings[name]} s")

    org = data.org
    units = [
        (uid, org.ids[p] if p >= 0 else None, name, int(h), False)
        for uid, p, name, h in zip(org.ids, org.parent.tolist(), org.names, org.headcount.tolist(), strict=True)
    ]
    if await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.org_units"):
        raise BenchFailed("reporting's tables are not empty: the bench loads a fresh database only")
    await step(
        "org_units",
        conn.copy_records_to_table(
            "org_units",
            schema_name=SCHEMA,
            columns=["unit_id", "parent_id", "name", "headcount", "removed"],
            records=units,
        ),
    )
    # The projection's own upkeep fills the subtree headcounts, as an org import would.
    await step("subtree_headcounts", refresh_subtree_headcounts(conn, SCHEMA, org.ids))
    for table, rollups in (("own_rollups", data.own), ("subtree_rollups", data.subtree)):
        await step(
            table,
            conn.copy_records_to_table(table, schema_name=SCHEMA, columns=COLUMNS, records=_records(data, rollups)),
        )
    await step(
        "applied_events",
        conn.execute(
            f"INSERT INTO {SCHEMA}.applied_events (event_id, applied_on) "
            "SELECT gen_random_uuid(), $1::date + (i % $2) FROM generate_series(1, $3) AS i",
            data.weeks[0],
            7 * len(data.weeks),
            data.responses,
        ),
    )
    await step(
        "vacuum_analyze",
        conn.execute(
            f"VACUUM (ANALYZE) {SCHEMA}.org_units, {SCHEMA}.own_rollups, "
            f"{SCHEMA}.subtree_rollups, {SCHEMA}.applied_events"
        ),
    )
    await step("checkpoint", conn.execute("CHECKPOINT"))
    return timings


# --- checks against the real code ----------------------------------------------------------------


def check_scoring(data: Synthetic, bank: QuestionBank) -> dict[str, Any]:
    """Every response scored one by one with scoring's ``score_response`` and reporting's
    ``reporting_measures`` (what its handler adds), summed: must equal the own rollups drawn vectorised."""
    expected: dict[tuple[int, int, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    responses = 0
    for w, (unit_of, answers) in data.answers.items():
        items = data.bank_items[w]
        for r in range(len(unit_of)):
            given: dict[str, int | str] = {}
            for item in items:
                value = int(answers[item.code][r])
                kind = bank.scales[item.response].kind
                if kind is ResponseKind.CHOICE:
                    if value >= 0:
                        given[item.code] = bank.scales[item.response].options[value]
                elif kind is ResponseKind.INTEGER:
                    if value >= 0:
                        given[item.code] = value
                elif value > 0:
                    given[item.code] = value
            scales, scored_items, families = score_response(given, bank)
            scored = ResponseScored.model_construct(scales=scales, items=scored_items, families=families)
            for measure, value in reporting_measures(scored):
                cell = expected[(int(unit_of[r]), w, measure)]
                cell[0] += 1
                cell[1] += value
                cell[2] += value * value
            responses += 1
    mismatches = _compare(data, data.own, expected)
    return {"responses_scored": responses, "cells": len(expected), "mismatches": mismatches}


def _compare(data: Synthetic, rollups: Rollups, expected: dict[tuple[int, int, str], list[float]]) -> list[str]:
    column = {m: j for j, m in enumerate(data.measures)}
    problems = []
    for (u, w, measure), (n, total, total_sq) in expected.items():
        j = column[measure]
        got = (rollups.n[u, w, j], rollups.total[u, w, j], rollups.total_sq[u, w, j])
        if got[0] != n or not np.isclose(got[1], total, rtol=1e-9) or not np.isclose(got[2], total_sq, rtol=1e-9):
            problems.append(f"{data.org.ids[u]} {data.weeks[w]} {measure}: {got} != {(n, total, total_sq)}")
    if len(expected) != rollups.rows():
        problems.append(f"{rollups.rows()} cells drawn, {len(expected)} expected")
    return problems[:10]


async def check_headcounts(conn: asyncpg.Connection, org: Org) -> dict[str, Any]:
    """The subtree headcounts the projection keeps must be the bench's own sums over the tree."""
    stored = {
        r["unit_id"]: r["subtree_headcount"]
        for r in await conn.fetch(f"SELECT unit_id, subtree_headcount FROM {SCHEMA}.org_units")
    }
    expected = dict(zip(org.ids, org.subtree_headcount().tolist(), strict=True))
    wrong = [f"{u}: {stored.get(u)} != {n}" for u, n in expected.items() if stored.get(u) != n]
    return {"units": len(stored), "mismatches": wrong[:10]}


async def check_fanout(conn: asyncpg.Connection, data: Synthetic) -> dict[str, Any]:
    """The loaded own rows rebuilt into subtree rows by ``SubtreeRollups.rebuild`` (in a
    transaction rolled back afterwards) must equal the subtree rows the bench loaded."""
    tx = conn.transaction()
    await tx.start()
    try:
        await SubtreeRollups(SCHEMA).rebuild(conn, data.org.ids)
        rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM {SCHEMA}.subtree_rollups")
    finally:
        await tx.rollback()
    index = {uid: i for i, uid in enumerate(data.org.ids)}
    week = {d: w for w, d in enumerate(data.weeks)}
    expected = {
        (index[r["unit_id"]], week[r["week_start"]], r["measure"]): [r["n"], r["total"], r["total_sq"]] for r in rows
    }
    return {"rows_rebuilt": len(rows), "mismatches": _compare(data, data.subtree, expected)}
