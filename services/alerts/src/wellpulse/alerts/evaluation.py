"""Evaluating the rules after a batch of scored responses: add them to the rollups, then for each
unit and week they touched, find the unit each rule may name, run the rule, and raise or update
the alert with its deliveries, all in the batch's one transaction (the outbox)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg

from wellpulse.alerts import deliveries_store, store
from wellpulse.alerts.decline import decline
from wellpulse.alerts.lifecycle import Decision, on_condition
from wellpulse.alerts.naming import Fragment, ShownCells, people, smallest_nameable
from wellpulse.alerts.rules import (
    CASES,
    Bullying,
    Caseload,
    Finding,
    IntentToLeave,
    ScaleInRed,
    Verdict,
    WindowView,
    cases_measure,
)
from wellpulse.alerts.rules_file import RuleBook
from wellpulse.common.bank import HseScale, QuestionBank
from wellpulse.common.cells import decide
from wellpulse.common.events import ResponseScored, derived_id, iso_week_of, monday_of
from wellpulse.common.measures import RESPONSES, SCALE_PREFIX, item_measure, measures_of, scale_measure
from wellpulse.common.rollups import Contribution, SubtreeRollups, Sums

log = logging.getLogger(__name__)
# The benchmark of teams' scale means is re-read at most this often per window.
BENCHMARK_SECONDS = 60.0


def alert_measures(scored: ResponseScored) -> Iterator[tuple[str, float]]:
    """What alerts keep of one response: the shared measures, and the cases held as a histogram
    (a median needs the distribution, not only the sums)."""
    yield from measures_of(scored)
    if scored.families.cases_held is not None:
        yield cases_measure(scored.families.cases_held), 1.0


@dataclass(frozen=True)
class Raised:
    alert_id: str
    rule: str
    unit_id: str


class Evaluation:
    def __init__(self, book: RuleBook, bank: QuestionBank, k: int, rollups: SubtreeRollups) -> None:
        rules = book.rules
        self.book, self.k, self.rollups = book, k, rollups
        self.window_weeks = rules.window_weeks
        self.baseline_weeks = rules.intent_to_leave.baseline_weeks if rules.intent_to_leave.enabled else 0
        self.plain: list[Caseload | Bullying | IntentToLeave] = [
            rule
            for rule, enabled in (
                (Caseload(rules.caseload), rules.caseload.enabled),
                (Bullying(rules.bullying), rules.bullying.enabled),
                (IntentToLeave(rules.intent_to_leave), rules.intent_to_leave.enabled),
            )
            if enabled
        ]
        self.red = ScaleInRed(rules.scale_in_red) if rules.scale_in_red.enabled else None
        self.decline = rules.sustained_decline if rules.sustained_decline.enabled else None
        self.items_of: dict[str, list[str]] = defaultdict(list)
        for item in bank.items:
            if item.hse_scale is not None:
                self.items_of[item.hse_scale.value].append(item.code)
        self.measures = frozenset(
            {RESPONSES}
            | {m for rule in self.plain for m in rule.measures}
            | (set(self.red.measures) if self.red else set())
            | ({scale_measure(s.value) for s in HseScale} if self.decline else set())
        )
        self._benchmarks: dict[date, tuple[float, dict[str, float]]] = {}
        self._names: dict[str, str] = {}  # the names of the units the current week's evaluation loaded

    async def apply(self, conn: asyncpg.Connection, events: Sequence[tuple[str, ResponseScored]]) -> list[Raised]:
        """Add the batch's new events to the rollups and evaluate what they touched."""
        fresh = await store.fresh_events(conn, [event_id for event_id, _ in events])
        touched: dict[date, set[str]] = defaultdict(set)
        contributions = []
        for event_id, scored in events:
            if event_id in fresh:
                week = monday_of(scored.iso_week)
                touched[week].add(scored.unit_id)
                contributions += [Contribution(scored.unit_id, week, m, v) for m, v in alert_measures(scored)]
        await self.rollups.add(conn, contributions)
        raised: list[Raised] = []
        for week in sorted(touched):
            raised += await self._evaluate(conn, week, touched[week])
        return raised

    def _weeks(self, last: date) -> tuple[tuple[date, ...], tuple[date, ...]]:
        window = tuple(last - timedelta(weeks=i) for i in reversed(range(self.window_weeks)))
        baseline = tuple(window[0] - timedelta(weeks=i) for i in reversed(range(1, self.baseline_weeks + 1)))
        return window, baseline

    async def _evaluate(self, conn: asyncpg.Connection, week: date, units: Collection[str]) -> list[Raised]:
        window, baseline = self._weeks(week)
        chains = await self.rollups.chains(conn, units)
        on_chains = {u for chain in chains.values() for u in chain}
        fragment, shown = await decide(conn, self.rollups, on_chains, (*baseline, *window), self.measures, self.k)
        self._names = dict(fragment.names)
        raised: list[Raised] = []
        seen: set[tuple[str, str]] = set()
        for unit in sorted(units):
            chain = chains[unit]
            for rule in self.plain:
                target = smallest_nameable(fragment, shown, self.k, chain, window, rule.measures)
                if target is None or (target, rule.rule) in seen:
                    continue
                seen.add((target, rule.rule))
                view = await self._view(conn, fragment, shown, target, window, baseline, rule)
                verdict = rule.evaluate(view)
                if verdict is not None:
                    raised += await self._record(conn, verdict, fragment, target, chain, window, rule.measures)
            if self.red is not None:
                raised += await self._in_the_red(conn, fragment, shown, chain, window, seen)
            if self.decline is not None:
                raised += await self._declines(conn, fragment, shown, chain, window, seen)
        return raised

    def _by_target(
        self, fragment: Fragment, shown: ShownCells, chain: Sequence[str], window: tuple[date, ...]
    ) -> dict[str, list[HseScale]]:
        """For each scale, the smallest unit on the chain it may be named for; scales grouped by unit."""
        targets: dict[str, list[HseScale]] = defaultdict(list)
        for scale in HseScale:
            target = smallest_nameable(fragment, shown, self.k, chain, window, {scale_measure(scale.value)})
            if target is not None:
                targets[target].append(scale)
        return targets

    async def _in_the_red(
        self,
        conn: asyncpg.Connection,
        fragment: Fragment,
        shown: ShownCells,
        chain: Sequence[str],
        window: tuple[date, ...],
        seen: set[tuple[str, str]],
    ) -> list[Raised]:
        assert self.red is not None
        raised: list[Raised] = []
        for target, scales in self._by_target(fragment, shown, chain, window).items():
            if (target, self.red.rule) in seen:
                continue
            seen.add((target, self.red.rule))
            view = await self._view(conn, fragment, shown, target, window, (), self.red)
            verdict = self.red.evaluate(view, await self._benchmark(conn, window), scales)
            if verdict is not None:
                measures = {scale_measure(s.value) for s in scales}
                raised += await self._record(conn, verdict, fragment, target, chain, window, measures)
        return raised

    async def _view(
        self,
        conn: asyncpg.Connection,
        fragment: Fragment,
        shown: ShownCells,
        unit: str,
        window: tuple[date, ...],
        baseline: tuple[date, ...],
        rule: Caseload | Bullying | IntentToLeave | ScaleInRed,
    ) -> WindowView:
        sums = {(w, m): s for (u, w, m), s in fragment.sums.items() if u == unit}
        if isinstance(rule, Caseload):
            histogram = await self.rollups.read(conn, [unit], window[0], window[-1], measure_prefixes=[CASES])
            sums |= {(w, m): s for (_, w, m), s in histogram.items()}
        usable_baseline: tuple[date, ...] = ()
        if isinstance(rule, IntentToLeave) and baseline:
            # The baseline is reported too ("up from 20%"), so it must pass the same control; and a
            # rise means little against fewer weeks than the window itself.
            covered = sum(1 for w in baseline if any(fragment.count(unit, w, m) for m in rule.measures))
            nameable = smallest_nameable(fragment, shown, self.k, [unit], baseline, rule.measures) == unit
            if nameable and covered >= self.window_weeks:
                usable_baseline = baseline
        return WindowView(unit, self._names.get(unit, unit), window, sums, usable_baseline)

    async def _benchmark(self, conn: asyncpg.Connection, window: tuple[date, ...]) -> dict[str, float]:
        """Each scale's value to compare with: the file's, or the percentile of the teams' means
        (teams whose every contributing week had at least k responses)."""
        if self.book.benchmark is not None:
            return {scale.value: value for scale, value in self.book.benchmark.scales.items()}
        cached = self._benchmarks.get(window[-1])
        if cached and time.monotonic() - cached[0] < BENCHMARK_SECONDS:
            return cached[1]
        config = self.book.rules.scale_in_red
        cuts = await self.rollups.team_percentiles(
            conn, window[0], window[-1], SCALE_PREFIX, self.k, [config.percentile], config.min_benchmark_units
        )
        lines = {measure.removeprefix(SCALE_PREFIX): values[0] for measure, (_, values) in cuts.items()}
        self._benchmarks[window[-1]] = (time.monotonic(), lines)
        return lines

    async def _declines(
        self,
        conn: asyncpg.Connection,
        fragment: Fragment,
        shown: ShownCells,
        chain: Sequence[str],
        window: tuple[date, ...],
        seen: set[tuple[str, str]],
    ) -> list[Raised]:
        config = self.decline
        assert config is not None
        raised: list[Raised] = []
        rule = "sustained_decline"
        for target, scales in self._by_target(fragment, shown, chain, window).items():
            if (target, rule) in seen:
                continue
            seen.add((target, rule))
            first = window[-1] - timedelta(weeks=config.history_weeks - 1)
            codes = [item_measure(c) for s in scales for c in self.items_of[s.value]]
            rows = await self.rollups.read(conn, [target], first, window[-1], codes)
            findings: list[tuple[float, HseScale, Finding]] = []
            for scale in scales:
                # Only weeks in which an item had at least k responses feed the statistic.
                items: dict[str, dict[date, Sums]] = defaultdict(dict)
                for (_, week, measure), sums in rows.items():
                    if measure.removeprefix("item:") in self.items_of[scale.value] and sums.n >= self.k:
                        items[measure][week] = sums
                weeks = sorted({w for history in items.values() for w in history})
                signal = decline(items, weeks, config.reference_k, config.decision_h)
                if signal is None or signal.weeks < config.min_weeks:
                    continue
                label = scale.value.replace("_", " ")
                text = (
                    f"{label.capitalize()} scores have fallen week after week since {iso_week_of(signal.since)}, "
                    f"each item against its own earlier weeks: the evidence (a one-sided CUSUM, in standard "
                    f"errors) reached {signal.statistic:.1f}, above the decision level of {config.decision_h:g}."
                )
                findings.append(
                    (
                        -signal.statistic,
                        scale,
                        Finding(f"cusum_above:{scale.value}", signal.statistic, config.decision_h, text),
                    )
                )
            if not findings:
                continue
            findings.sort(key=lambda f: (f[0], f[1].value))
            names = ", ".join(s.value.replace("_", " ") for _, s, _ in findings)
            verdict = Verdict(
                rule,
                rule,
                f"Sustained decline in {names} in {self._names.get(target, target)}",
                tuple(f for _, _, f in findings),
                config.first_steps[findings[0][1]],
            )
            measures = {scale_measure(s.value) for _, s, _ in findings}
            raised += await self._record(conn, verdict, fragment, target, chain, window, measures)
        return raised

    async def _record(
        self,
        conn: asyncpg.Connection,
        verdict: Verdict,
        fragment: Fragment,
        unit: str,
        chain: Sequence[str],
        window: tuple[date, ...],
        measures: Collection[str],
    ) -> list[Raised]:
        latest = await store.latest_alert(conn, unit, verdict.rule)
        decision = on_condition(latest, window[-1], self.book.rules.cooldown_weeks)
        if decision is Decision.update and latest is not None:
            await store.still_holds(conn, latest.alert_id, window[-1])
            return []
        if decision is Decision.cooling:
            return []
        disclosed = {
            measure: {iso_week_of(w): n for w in window if (n := fragment.count(unit, w, measure)) > 0}
            for measure in sorted({*measures, RESPONSES})
        }
        if await self._would_difference(conn, verdict.rule, unit, chain, disclosed):
            log.info("not naming %s for %s: with an earlier alert it would describe fewer than k", unit, verdict.rule)
            return []
        alert_id = str(derived_id("alert", verdict.rule, unit, iso_week_of(window[-1])))
        new = store.NewAlert(
            alert_id=alert_id,
            rule=verdict.rule,
            family=verdict.family,
            unit_id=unit,
            unit_name=self._names.get(unit, unit),
            title=verdict.title,
            window_start=window[0],
            window_end=window[-1],
            people=people(fragment, unit, window),
            findings=verdict.findings,
            disclosed=disclosed,
            first_step=verdict.first_step.text,
            changes=tuple(c.value for c in verdict.first_step.changes),
            follows=latest.alert_id if latest else None,
        )
        if not await store.insert_alert(conn, new):
            return []
        above = list(chain[chain.index(unit) :])
        await deliveries_store.schedule(conn, alert_id, await deliveries_store.contacts(conn, covering=above))
        log.info("raised %s for %s (window ending %s)", verdict.rule, unit, iso_week_of(window[-1]))
        return [Raised(alert_id, verdict.rule, unit)]

    async def _would_difference(
        self,
        conn: asyncpg.Connection,
        rule: str,
        unit: str,
        chain: Sequence[str],
        disclosed: dict[str, dict[str, int]],
    ) -> bool:
        """Whether this alert's figures, set against an earlier alert of the same rule for the unit,
        an ancestor or a descendant (raised when fewer had answered), would describe fewer than k.

        Within one moment, disclosure control keeps every shown figure safe against the others;
        across time, the same unit's figure grows as responses arrive, so an earlier alert's
        figure and this one's may differ by a handful of people. Then this alert is not raised."""
        related = {*chain[chain.index(unit) :], *await store.subtree(conn, unit)}
        for earlier in await store.disclosures(conn, rule, related):
            for measure, weeks in earlier.disclosed.items():
                for week, then in weeks.items():
                    now = disclosed.get(measure, {}).get(week)
                    if now is not None and 0 < abs(now - then) < self.k:
                        return True
        return False
