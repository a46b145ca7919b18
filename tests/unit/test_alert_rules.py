"""The pure alert rules at, just below and just above every threshold: what fires, what it says,
and that every number summed over weeks is called responses (never people)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wellpulse.alerts.rules import (
    Bullying,
    Caseload,
    IntentToLeave,
    ScaleInRed,
    Verdict,
    WindowView,
    cases_measure,
)
from wellpulse.alerts.rules_file import (
    BullyingRule,
    CaseloadRule,
    FirstStep,
    IntentToLeaveRule,
    ScaleInRedRule,
)
from wellpulse.common.bank import Change, HseScale
from wellpulse.common.measures import (
    BULLYING_REPORTED,
    CASELOAD_UNMANAGEABLE,
    INTENDS_TO_LEAVE,
    scale_measure,
)
from wellpulse.common.rollups import Sums

STEP = FirstStep(text="Talk with the team this week.", changes=(Change.WORKLOAD,))
FIRST_WEEK = date(2026, 11, 2)  # a Monday
WINDOW = tuple(FIRST_WEEK + timedelta(weeks=i) for i in range(4))
BASELINE = tuple(FIRST_WEEK - timedelta(weeks=i) for i in range(8, 0, -1))


def yes_no(yes: int, n: int) -> Sums:
    """n answers of 0/1, ``yes`` of them 1."""
    return Sums(n, float(yes), float(yes))


def view(sums: dict[tuple[date, str], Sums], baseline: tuple[date, ...] = ()) -> WindowView:
    return WindowView("team-a", "Team A", WINDOW, sums, baseline)


def spread(measure: str, yes: int, n: int) -> dict[tuple[date, str], Sums]:
    """``yes`` of ``n`` answers, split as evenly as possible over the window's weeks."""
    weeks = len(WINDOW)
    return {
        (week, measure): yes_no(yes // weeks + (i < yes % weeks), n // weeks + (i < n % weeks))
        for i, week in enumerate(WINDOW)
    }


def histogram(cases: list[int]) -> dict[tuple[date, str], Sums]:
    """Answers to "cases held", dealt out round-robin over the window's weeks."""
    sums: dict[tuple[date, str], Sums] = {}
    for i, held in enumerate(cases):
        key = (WINDOW[i % len(WINDOW)], cases_measure(held))
        sums[key] = sums.get(key, Sums()) + Sums(1, float(held), float(held * held))
    return sums


def clauses(verdict: Verdict | None) -> list[str]:
    return [] if verdict is None else [f.clause for f in verdict.findings]


def assert_counts_responses(text: str, responses: int) -> None:
    assert f"{responses} responses" in text
    assert "people" not in text.lower()
    assert "respondent" not in text.lower()


def by_hand_median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --- caseload -----------------------------------------------------------------------------------


def caseload(median: float | None = 22, share: float | None = 0.5) -> Caseload:
    return Caseload(CaseloadRule(median_cases_above=median, unmanageable_share_at_least=share, first_step=STEP))


@pytest.mark.parametrize(
    ("cases", "fires"),
    [
        ([20, 22, 24], False),  # median exactly at the limit: the rule is "above"
        ([21, 22], False),  # 21.5, just below
        ([22, 23], True),  # 22.5, just above
        ([23, 23, 30, 40], True),
    ],
)
def test_caseload_median_is_above_the_limit(cases: list[int], fires: bool) -> None:
    verdict = caseload(median=22, share=None).evaluate(view(histogram(cases)))
    assert clauses(verdict) == (["median_cases_above"] if fires else [])


def test_caseload_median_finding_says_responses_and_the_limit() -> None:
    verdict = caseload(median=22, share=None).evaluate(view(histogram([22, 23, 23, 25, 30, 31])))
    assert verdict is not None
    (finding,) = verdict.findings
    assert finding.value == 24.0
    assert finding.threshold == 22
    assert_counts_responses(finding.text, 6)
    assert "24" in finding.text
    assert "the limit is 22" in finding.text
    assert verdict.rule == verdict.family == "caseload"
    assert "Team A" in verdict.title
    assert verdict.first_step == STEP


def test_caseload_median_ignores_weeks_outside_the_window() -> None:
    sums = histogram([10, 12, 14])
    sums[(BASELINE[-1], cases_measure(90))] = Sums(50, 4500.0, 405000.0)
    assert caseload(median=22, share=None).evaluate(view(sums)) is None


@given(
    cases=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=40),
    offset=st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]),
)
def test_caseload_median_fires_exactly_when_above(cases: list[int], offset: float) -> None:
    held = by_hand_median(cases)
    limit = max(held + offset, 0.0)
    verdict = caseload(median=limit, share=None).evaluate(view(histogram(cases)))
    assert clauses(verdict) == (["median_cases_above"] if held > limit else [])
    if verdict is not None:
        assert verdict.findings[0].value == held


@pytest.mark.parametrize(
    ("yes", "n", "fires"),
    [(5, 10, True), (49, 100, False), (51, 100, True), (50, 100, True), (0, 12, False)],
)
def test_caseload_unmanageable_share_is_at_least(yes: int, n: int, fires: bool) -> None:
    verdict = caseload(median=None, share=0.5).evaluate(view(spread(CASELOAD_UNMANAGEABLE, yes, n)))
    assert clauses(verdict) == (["unmanageable_share_at_least"] if fires else [])


def test_caseload_share_finding_says_responses_and_the_threshold() -> None:
    verdict = caseload(median=None, share=0.5).evaluate(view(spread(CASELOAD_UNMANAGEABLE, 12, 20)))
    assert verdict is not None
    (finding,) = verdict.findings
    assert finding.value == pytest.approx(0.6)
    assert finding.threshold == 0.5
    assert_counts_responses(finding.text, 20)
    assert "60%" in finding.text
    assert "the threshold is 50%" in finding.text


def test_caseload_each_clause_alone_and_both_together() -> None:
    high_cases = histogram([30, 30, 30])
    unmanageable = spread(CASELOAD_UNMANAGEABLE, 6, 10)
    manageable = spread(CASELOAD_UNMANAGEABLE, 1, 10)
    low_cases = histogram([10, 11, 12])
    rule = caseload(median=22, share=0.5)
    assert clauses(rule.evaluate(view(high_cases | manageable))) == ["median_cases_above"]
    assert clauses(rule.evaluate(view(low_cases | unmanageable))) == ["unmanageable_share_at_least"]
    assert clauses(rule.evaluate(view(high_cases | unmanageable))) == [
        "median_cases_above",
        "unmanageable_share_at_least",
    ]
    assert rule.evaluate(view(low_cases | manageable)) is None


def test_caseload_clause_not_configured_never_fires() -> None:
    data = histogram([40, 40]) | spread(CASELOAD_UNMANAGEABLE, 10, 10)
    assert clauses(caseload(median=None, share=0.5).evaluate(view(data))) == ["unmanageable_share_at_least"]
    assert clauses(caseload(median=22, share=None).evaluate(view(data))) == ["median_cases_above"]


def test_caseload_without_responses_is_none() -> None:
    assert caseload().evaluate(view({})) is None
    # Other measures present, but none of the rule's own.
    assert caseload().evaluate(view(spread(BULLYING_REPORTED, 8, 8))) is None


# --- bullying -----------------------------------------------------------------------------------


def bullying(reports: int | None = 3, share: float | None = 0.2) -> Bullying:
    return Bullying(BullyingRule(reports_at_least=reports, share_at_least=share, first_step=STEP))


@pytest.mark.parametrize(("yes", "fires"), [(2, False), (3, True), (4, True)])
def test_bullying_reports_are_at_least(yes: int, fires: bool) -> None:
    verdict = bullying(reports=3, share=None).evaluate(view(spread(BULLYING_REPORTED, yes, 100)))
    assert clauses(verdict) == (["reports_at_least"] if fires else [])


@pytest.mark.parametrize(("yes", "n", "fires"), [(2, 10, True), (19, 100, False), (21, 100, True), (20, 100, True)])
def test_bullying_share_is_at_least(yes: int, n: int, fires: bool) -> None:
    verdict = bullying(reports=None, share=0.2).evaluate(view(spread(BULLYING_REPORTED, yes, n)))
    assert clauses(verdict) == (["share_at_least"] if fires else [])


def test_bullying_each_clause_alone_and_both_together() -> None:
    rule = bullying(reports=3, share=0.2)
    assert clauses(rule.evaluate(view(spread(BULLYING_REPORTED, 3, 100)))) == ["reports_at_least"]
    assert clauses(rule.evaluate(view(spread(BULLYING_REPORTED, 2, 10)))) == ["share_at_least"]
    assert clauses(rule.evaluate(view(spread(BULLYING_REPORTED, 3, 10)))) == ["reports_at_least", "share_at_least"]
    assert rule.evaluate(view(spread(BULLYING_REPORTED, 2, 100))) is None


def test_bullying_findings_say_responses_and_the_threshold() -> None:
    verdict = bullying(reports=3, share=0.2).evaluate(view(spread(BULLYING_REPORTED, 4, 16)))
    assert verdict is not None
    reports, share = verdict.findings
    assert (reports.value, reports.threshold) == (4, 3)
    assert_counts_responses(reports.text, 16)
    assert reports.text.startswith("4 of 16 responses")
    assert "the threshold is 3 reports" in reports.text
    assert (share.value, share.threshold) == (0.25, 0.2)
    assert_counts_responses(share.text, 16)
    assert "25%" in share.text
    assert "the threshold is 20%" in share.text
    assert verdict.rule == verdict.family == "bullying"
    assert "Team A" in verdict.title


def test_bullying_without_responses_is_none() -> None:
    assert bullying().evaluate(view({})) is None
    assert bullying().evaluate(view(spread(INTENDS_TO_LEAVE, 9, 10))) is None


@given(
    q=st.integers(min_value=1, max_value=20),
    p=st.integers(min_value=1, max_value=20),
    m=st.integers(min_value=1, max_value=30),
)
def test_bullying_share_exactly_at_the_threshold_fires_and_one_less_does_not(q: int, p: int, m: int) -> None:
    p = min(p, q)
    rule = bullying(reports=None, share=p / q)
    assert clauses(rule.evaluate(view(spread(BULLYING_REPORTED, p * m, q * m)))) == ["share_at_least"]
    assert rule.evaluate(view(spread(BULLYING_REPORTED, p * m - 1, q * m))) is None


@given(
    reports=st.integers(min_value=0, max_value=40),
    threshold=st.integers(min_value=1, max_value=40),
    extra=st.integers(min_value=0, max_value=100),
)
def test_bullying_reports_count_every_week_of_the_window(reports: int, threshold: int, extra: int) -> None:
    verdict = bullying(reports=threshold, share=None).evaluate(
        view(spread(BULLYING_REPORTED, reports, reports + extra))
    )
    if reports + extra == 0:
        assert verdict is None
    else:
        assert clauses(verdict) == (["reports_at_least"] if reports >= threshold else [])


# --- intent to leave ----------------------------------------------------------------------------


def intent(share: float | None = 0.5, rise: float | None = 0.15) -> IntentToLeave:
    return IntentToLeave(IntentToLeaveRule(share_at_least=share, rise_at_least=rise, first_step=STEP))


def with_baseline(yes: int, n: int) -> dict[tuple[date, str], Sums]:
    return {
        (week, INTENDS_TO_LEAVE): yes_no(yes // 8 + (i < yes % 8), n // 8 + (i < n % 8))
        for i, week in enumerate(BASELINE)
    }


@pytest.mark.parametrize(("yes", "n", "fires"), [(5, 10, True), (49, 100, False), (51, 100, True), (50, 100, True)])
def test_intent_share_is_at_least(yes: int, n: int, fires: bool) -> None:
    verdict = intent(share=0.5, rise=None).evaluate(view(spread(INTENDS_TO_LEAVE, yes, n)))
    assert clauses(verdict) == (["share_at_least"] if fires else [])


@pytest.mark.parametrize(
    ("before", "now", "fires"),
    [
        (25, 40, True),  # 25% → 40%: a rise of exactly 15 points
        (20, 35, True),  # 20% → 35%: a rise of exactly 15 points
        (20, 34, False),  # 14 points
        (20, 36, True),  # 16 points
    ],
)
def test_intent_rise_is_at_least(before: int, now: int, fires: bool) -> None:
    data = spread(INTENDS_TO_LEAVE, now, 100) | with_baseline(before, 100)
    verdict = intent(share=None, rise=0.15).evaluate(view(data, baseline=BASELINE))
    assert clauses(verdict) == (["rise_at_least"] if fires else [])


@given(
    before=st.integers(min_value=0, max_value=99),
    points=st.integers(min_value=1, max_value=100),
    n=st.sampled_from([100, 200, 400]),
)
@example(before=20, points=15, n=100)
def test_intent_rise_of_exactly_the_threshold_fires_and_one_response_less_does_not(
    before: int, points: int, n: int
) -> None:
    """Shares of 0/1 answers out of n: before/100 then (before + points)/100 of the responses."""
    if before + points > 100:
        before = 100 - points
    scale = n // 100
    rule = intent(share=None, rise=points / 100)
    at = spread(INTENDS_TO_LEAVE, (before + points) * scale, n) | with_baseline(before * scale, n)
    below = spread(INTENDS_TO_LEAVE, (before + points) * scale - 1, n) | with_baseline(before * scale, n)
    assert clauses(rule.evaluate(view(at, baseline=BASELINE))) == ["rise_at_least"]
    assert rule.evaluate(view(below, baseline=BASELINE)) is None


def test_intent_rise_needs_baseline_weeks() -> None:
    """The earlier weeks' sums are there, but the view was not allowed to use them."""
    data = spread(INTENDS_TO_LEAVE, 45, 100) | with_baseline(10, 100)
    rule = intent(share=None, rise=0.15)
    assert rule.evaluate(view(data)) is None
    assert clauses(rule.evaluate(view(data, baseline=BASELINE))) == ["rise_at_least"]


def test_intent_rise_with_baseline_weeks_but_no_baseline_responses_is_none() -> None:
    data = spread(INTENDS_TO_LEAVE, 45, 100)
    assert intent(share=None, rise=0.15).evaluate(view(data, baseline=BASELINE)) is None


def test_intent_each_clause_alone_and_both_together() -> None:
    rule = intent(share=0.5, rise=0.15)
    high_flat = spread(INTENDS_TO_LEAVE, 60, 100) | with_baseline(55, 100)
    low_rising = spread(INTENDS_TO_LEAVE, 40, 100) | with_baseline(10, 100)
    high_rising = spread(INTENDS_TO_LEAVE, 60, 100) | with_baseline(10, 100)
    low_flat = spread(INTENDS_TO_LEAVE, 40, 100) | with_baseline(35, 100)
    assert clauses(rule.evaluate(view(high_flat, BASELINE))) == ["share_at_least"]
    assert clauses(rule.evaluate(view(low_rising, BASELINE))) == ["rise_at_least"]
    assert clauses(rule.evaluate(view(high_rising, BASELINE))) == ["share_at_least", "rise_at_least"]
    assert rule.evaluate(view(low_flat, BASELINE)) is None


def test_intent_findings_say_responses_and_the_threshold() -> None:
    data = spread(INTENDS_TO_LEAVE, 36, 60) | with_baseline(8, 40)
    verdict = intent(share=0.5, rise=0.15).evaluate(view(data, baseline=BASELINE))
    assert verdict is not None
    share, rise = verdict.findings
    assert share.value == pytest.approx(0.6)
    assert share.threshold == 0.5
    assert_counts_responses(share.text, 60)
    assert "60%" in share.text
    assert "the threshold is 50%" in share.text
    assert rise.value == pytest.approx(0.4)
    assert rise.threshold == 0.15
    assert "40 points" in rise.text
    assert_counts_responses(rise.text, 40)  # the baseline's responses
    assert "20%" in rise.text
    assert "8 weeks" in rise.text
    assert "a rise of 15 points" in rise.text
    assert verdict.rule == verdict.family == "intent_to_leave"


def test_intent_without_responses_is_none() -> None:
    assert intent().evaluate(view({})) is None
    # Baseline responses alone say nothing about the window.
    assert intent().evaluate(view(with_baseline(80, 100), baseline=BASELINE)) is None


# --- scale in the red ---------------------------------------------------------------------------


def scale_rule() -> ScaleInRed:
    config = ScaleInRedRule(percentile=20, first_steps={s: STEP for s in HseScale})
    return ScaleInRed(config)


def scale_sums(mean_hundredths: int, n: int = 100) -> dict[tuple[date, str], Sums]:
    """n responses of the demands scale whose mean is mean_hundredths / 100."""
    total = mean_hundredths * n / 100
    return {(WINDOW[0], scale_measure("demands")): Sums(n, total, total * total / n)}


@pytest.mark.parametrize(("mean", "fires"), [(299, True), (300, False), (301, False), (120, True)])
def test_scale_in_red_only_below_the_benchmark(mean: int, fires: bool) -> None:
    verdict = scale_rule().evaluate(view(scale_sums(mean)), {"demands": 3.0})
    assert (verdict is not None) is fires


def test_scale_in_red_without_a_benchmark_value_is_none() -> None:
    data = view(scale_sums(110))
    assert scale_rule().evaluate(data, {}) is None
    assert scale_rule().evaluate(data, {"control": 4.0}) is None


def test_scale_in_red_without_responses_is_none() -> None:
    assert scale_rule().evaluate(view({}), {"demands": 3.0}) is None
    other_scale = {(WINDOW[0], scale_measure("control")): Sums(20, 20.0, 20.0)}
    assert scale_rule().evaluate(view(other_scale), {"demands": 3.0}) is None


def test_scale_in_red_finding_says_responses_and_the_benchmark() -> None:
    sums = {
        (WINDOW[0], scale_measure("manager_support")): Sums(10, 25.0, 65.0),
        (WINDOW[2], scale_measure("manager_support")): Sums(10, 26.0, 70.0),
    }
    verdict = scale_rule().evaluate(view(sums), {"manager_support": 2.9})
    assert verdict is not None
    (finding,) = verdict.findings
    assert (finding.value, finding.threshold) == (2.55, 2.9)
    assert_counts_responses(finding.text, 20)
    assert "2.55" in finding.text
    assert "20th percentile" in finding.text
    assert "(2.90)" in finding.text
    assert finding.clause == "below_percentile:manager_support"
    assert verdict.rule == verdict.family == "scale_in_red"
    assert verdict.title == "In the red on manager support in Team A"


def test_one_alert_lists_every_scale_in_the_red_and_takes_the_worst_ones_first_step() -> None:
    sums = {
        (WINDOW[0], scale_measure("demands")): Sums(10, 28.0, 80.0),  # 2.8 against 3.0: 0.2 below
        (WINDOW[0], scale_measure("control")): Sums(10, 21.0, 45.0),  # 2.1 against 3.0: 0.9 below
        (WINDOW[0], scale_measure("role")): Sums(10, 35.0, 125.0),  # 3.5: not in the red
    }
    config = ScaleInRedRule(
        percentile=20,
        first_steps={s: FirstStep(text=f"Step for {s.value}", changes=(Change.MANAGEMENT,)) for s in HseScale},
    )
    benchmark = {"demands": 3.0, "control": 3.0, "role": 3.0}
    verdict = ScaleInRed(config).evaluate(view(sums), benchmark)
    assert verdict is not None
    assert [f.clause for f in verdict.findings] == ["below_percentile:control", "below_percentile:demands"]
    assert verdict.first_step.text == "Step for control"
    # A scale the unit may not be named for is left out, even when it is in the red.
    only = ScaleInRed(config).evaluate(view(sums), benchmark, scales={HseScale.DEMANDS})
    assert only is not None
    assert [f.clause for f in only.findings] == ["below_percentile:demands"]


# --- percentile ---------------------------------------------------------------------------------
