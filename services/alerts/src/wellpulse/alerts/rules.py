"""Pure alert rules: one unit's window of weekly sums in, findings out. No I/O.

Which unit a rule looks at, and whether it may be named at all, is decided before a rule runs
(``naming``): a rule only sees a unit whose every contributing week passed disclosure control.
Each clause says what crossed which threshold, counting responses as responses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import median

from wellpulse.alerts.rules_file import (
    BullyingRule,
    CaseloadRule,
    FirstStep,
    IntentToLeaveRule,
    ScaleInRedRule,
)
from wellpulse.common.bank import HseScale
from wellpulse.common.measures import (
    BULLYING_REPORTED,
    CASELOAD_UNMANAGEABLE,
    CASES_HELD,
    INTENDS_TO_LEAVE,
    scale_measure,
)
from wellpulse.common.rollups import Sums

CASES = "cases:"  # the histogram of cases held: one measure per count, n = responses giving it


def cases_measure(cases: int) -> str:
    return f"{CASES}{cases}"


@dataclass(frozen=True)
class Finding:
    clause: str
    value: float
    threshold: float
    text: str


@dataclass(frozen=True)
class Verdict:
    rule: str
    family: str
    title: str
    findings: tuple[Finding, ...]
    first_step: FirstStep


@dataclass(frozen=True)
class WindowView:
    """One unit's subtree over a window (and the weeks before it), as disclosure control let it through."""

    unit_id: str
    unit_name: str
    window: tuple[date, ...]
    sums: Mapping[tuple[date, str], Sums]
    # The weeks before the window, when they may be used (every contributing week shown).
    baseline: tuple[date, ...] = ()

    def total(self, measure: str, weeks: Sequence[date] | None = None) -> Sums:
        result = Sums()
        for week in self.window if weeks is None else weeks:
            result += self.sums.get((week, measure), Sums())
        return result

    def histogram(self, prefix: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for (week, measure), sums in self.sums.items():
            if week in self.window and measure.startswith(prefix):
                value = int(measure.removeprefix(prefix))
                counts[value] = counts.get(value, 0) + sums.n
        return counts


def _at_least(value: float, threshold: float) -> bool:
    """``value >= threshold``, where both are shares or differences of shares: 0.35 - 0.2 is
    0.14999999999999997 in floating point, and a rise of exactly 15 points must count."""
    return value >= threshold - 1e-9


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


class Caseload:
    family = rule = "caseload"

    def __init__(self, config: CaseloadRule) -> None:
        self.config = config
        self.measures = frozenset({CASES_HELD, CASELOAD_UNMANAGEABLE})

    def evaluate(self, view: WindowView) -> Verdict | None:
        findings = []
        limit = self.config.median_cases_above
        histogram = view.histogram(CASES)
        if limit is not None and histogram:
            held = median(v for v, n in sorted(histogram.items()) for _ in range(n))
            responses = sum(histogram.values())
            if held > limit:
                findings.append(
                    Finding(
                        "median_cases_above",
                        held,
                        limit,
                        f"The median number of cases held is {held:g} across {responses} responses "
                        f"(the limit is {limit:g}).",
                    )
                )
        threshold = self.config.unmanageable_share_at_least
        unmanageable = view.total(CASELOAD_UNMANAGEABLE)
        if threshold is not None and unmanageable.n and _at_least(unmanageable.total / unmanageable.n, threshold):
            share = unmanageable.total / unmanageable.n
            findings.append(
                Finding(
                    "unmanageable_share_at_least",
                    share,
                    threshold,
                    f"{_percent(share)} of {unmanageable.n} responses disagree that their caseload is "
                    f"manageable (the threshold is {_percent(threshold)}).",
                )
            )
        return _verdict(self, view, findings, f"Caseloads are high in {view.unit_name}", self.config.first_step)


class Bullying:
    family = rule = "bullying"

    def __init__(self, config: BullyingRule) -> None:
        self.config = config
        self.measures = frozenset({BULLYING_REPORTED})

    def evaluate(self, view: WindowView) -> Verdict | None:
        reported = view.total(BULLYING_REPORTED)
        if not reported.n:
            return None
        reports, share = round(reported.total), reported.total / reported.n
        findings = []
        if self.config.reports_at_least is not None and reports >= self.config.reports_at_least:
            findings.append(
                Finding(
                    "reports_at_least",
                    reports,
                    self.config.reports_at_least,
                    f"{reports} of {reported.n} responses report experiencing or witnessing bullying, "
                    f"harassment or discrimination (the threshold is {self.config.reports_at_least} reports).",
                )
            )
        if self.config.share_at_least is not None and _at_least(share, self.config.share_at_least):
            findings.append(
                Finding(
                    "share_at_least",
                    share,
                    self.config.share_at_least,
                    f"{_percent(share)} of {reported.n} responses report bullying, harassment or "
                    f"discrimination (the threshold is {_percent(self.config.share_at_least)}).",
                )
            )
        title = f"Bullying, harassment or discrimination reported in {view.unit_name}"
        return _verdict(self, view, findings, title, self.config.first_step)


class IntentToLeave:
    family = rule = "intent_to_leave"

    def __init__(self, config: IntentToLeaveRule) -> None:
        self.config = config
        self.measures = frozenset({INTENDS_TO_LEAVE})

    def evaluate(self, view: WindowView) -> Verdict | None:
        now = view.total(INTENDS_TO_LEAVE)
        if not now.n:
            return None
        share = now.total / now.n
        findings = []
        if self.config.share_at_least is not None and _at_least(share, self.config.share_at_least):
            findings.append(
                Finding(
                    "share_at_least",
                    share,
                    self.config.share_at_least,
                    f"{_percent(share)} of {now.n} responses agree they are thinking of leaving their job or "
                    f"the profession in the next 12 months (the threshold is {_percent(self.config.share_at_least)}).",
                )
            )
        before = view.total(INTENDS_TO_LEAVE, view.baseline)
        rise = self.config.rise_at_least
        if rise is not None and before.n and _at_least(share - before.total / before.n, rise):
            earlier = before.total / before.n
            findings.append(
                Finding(
                    "rise_at_least",
                    share - earlier,
                    rise,
                    f"That is {(share - earlier) * 100:.0f} points more than in the {len(view.baseline)} weeks "
                    f"before ({_percent(earlier)} of {before.n} responses; the threshold is a rise of "
                    f"{rise * 100:.0f} points).",
                )
            )
        title = f"Intent to leave is high in {view.unit_name}"
        return _verdict(self, view, findings, title, self.config.first_step)


class ScaleInRed:
    """A unit's mean on an HSE scale below the benchmark's percentile, for each scale: one alert
    per unit listing every scale in the red, so HR reads one alert about one team."""

    family = rule = "scale_in_red"

    def __init__(self, config: ScaleInRedRule) -> None:
        self.config = config
        self.measures = frozenset(scale_measure(scale.value) for scale in HseScale)

    def evaluate(
        self, view: WindowView, benchmark: Mapping[str, float], scales: Collection[HseScale] = tuple(HseScale)
    ) -> Verdict | None:
        """``benchmark``: each scale's value to compare with (the percentile of the teams' means);
        ``scales``: those the view's unit may be named for."""
        red: list[tuple[float, HseScale, Finding]] = []
        for scale in (s for s in HseScale if s in scales):
            line = benchmark.get(scale.value)
            sums = view.total(scale_measure(scale.value))
            if line is None or sums.mean is None or sums.mean >= line:
                continue
            name = scale.value.replace("_", " ")
            finding = Finding(
                f"below_percentile:{scale.value}",
                round(sums.mean, 2),
                round(line, 2),
                f"The {name} mean is {sums.mean:.2f} (1-5, higher is better) across {sums.n} responses, below "
                f"the {self.config.percentile:g}th percentile of the benchmark ({line:.2f}).",
            )
            red.append((sums.mean - line, scale, finding))
        if not red:
            return None
        red.sort(key=lambda r: (r[0], r[1].value))
        worst = red[0][1]
        names = ", ".join(scale.value.replace("_", " ") for _, scale, _ in red)
        title = f"In the red on {names} in {view.unit_name}"
        # The first step is the one for the scale furthest below its line.
        return _verdict(self, view, [f for _, _, f in red], title, self.config.first_steps[worst])


def _verdict(
    rule: Caseload | Bullying | IntentToLeave | ScaleInRed,
    view: WindowView,
    findings: list[Finding],
    title: str,
    step: FirstStep,
) -> Verdict | None:
    return Verdict(rule.rule, rule.family, title, tuple(findings), step) if findings else None


def weeks_between(first: date, last: date) -> Iterator[date]:
    week = first
    while week <= last:
        yield week
        week = date.fromordinal(week.toordinal() + 7)
