"""A response travels HTTP → Kafka → scoring → alerts and reporting → a trend, across processes."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.support import Auth, Org, Roster, answers_for, poll, submit
from wellpulse.devstack.stack import Services


def _answer(stack: Services, roster: Roster, pulse: dict[str, Any], unit: str, count: int, *, leaving: bool) -> None:
    for token in roster.tokens(pulse["pulse_id"], unit, count):
        answer = submit(stack.url("pulse-intake"), token, answers_for(pulse, leaving=leaving))
        assert answer.status_code == 202, answer.text


def _week(stack: Services, auth: Auth, unit: str, iso_week: str) -> dict[str, Any]:
    trend = httpx.get(
        f"{stack.url('reporting')}/v1/units/{unit}/trends",
        params={"to_week": iso_week, "weeks": 1},
        headers=auth.leader(unit),
    )
    assert trend.status_code == 200, trend.text
    week: dict[str, Any] = trend.json()["weeks"][0]
    return week


def test_responses_become_a_trend_and_small_groups_stay_hidden(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    big, small, parent = f"{uid}-big", f"{uid}-small", f"{uid}-dir"
    org.add((parent, None, 0), (big, parent, 10), (small, parent, 4))
    _answer(stack, roster, pulse, big, 6, leaving=False)
    _answer(stack, roster, pulse, small, 2, leaving=False)

    whole = poll(
        lambda: _week(stack, auth, parent, pulse["iso_week"]),
        lambda w: w["respondents"] == 8,
        "respondents counted for the parent unit",
    )
    assert whole["response_rate"] == round(8 / 14, 4)
    scales = {m: f for m, f in whole["measures"].items() if m.startswith("scale:")}
    assert scales, "this week's items inform at least one HSE scale"
    # Everyone answered 3, which scores 3 whether or not an item is reverse-scored.
    assert all(f["mean"] == 3.0 and f["n"] == 8 for f in scales.values())
    assert whole["measures"]["family:intends_to_leave"]["mean"] == 0.0

    # The team of six would be shown on its own, but not beside its parent: parent minus it would
    # give the team of two away. So it is hidden too (complementary suppression), like the two.
    hidden = {
        "iso_week": pulse["iso_week"],
        "suppressed": True,
        "respondents": None,
        "response_rate": None,
        "measures": {},
    }
    assert _week(stack, auth, big, pulse["iso_week"]) == hidden
    assert _week(stack, auth, small, pulse["iso_week"]) == hidden


def test_a_parent_minus_its_visible_teams_never_gives_a_small_team_away(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    """The differencing attack from the design: a directorate of 20 answering as teams of 10, 6 and
    4 (too few to show). Shown beside the directorate, the two visible teams would give the 4 away
    (20 - 10 - 6 = 4), so the smaller of them is hidden too, and what the shown figures leave over
    is 10 people."""
    parent, ten, four, six = f"{uid}-dir", f"{uid}-ten", f"{uid}-four", f"{uid}-six"
    org.add((parent, None, 0), (ten, parent, 12), (four, parent, 5), (six, parent, 8))
    for team, count in ((ten, 10), (four, 4), (six, 6)):
        _answer(stack, roster, pulse, team, count, leaving=False)

    whole = poll(
        lambda: _week(stack, auth, parent, pulse["iso_week"]),
        lambda w: w["respondents"] == 20,
        "respondents counted for the directorate",
    )
    assert whole["suppressed"] is False
    shown = {team: _week(stack, auth, team, pulse["iso_week"])["respondents"] for team in (ten, four, six)}
    assert shown == {ten: 10, four: None, six: None}
    visible = [n for n in shown.values() if n is not None]
    assert whole["respondents"] - sum(visible) >= 5, "what the shown figures leave over is at least k"


def test_an_alert_names_the_smallest_unit_with_k_answers(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    parent, left, right = f"{uid}-dir", f"{uid}-left", f"{uid}-right"
    org.add((parent, None, 0), (left, parent, 5), (right, parent, 5))
    # Three in each team intend to leave: too few to name a team, enough to name their parent.
    for team in (left, right):
        _answer(stack, roster, pulse, team, 3, leaving=True)

    def ours() -> list[dict[str, Any]]:
        alerts = httpx.get(f"{stack.url('alerts')}/v1/alerts", headers=auth.hr(parent)).json()
        assert all(a["unit_id"].startswith(uid) for a in alerts), "hr sees only alerts within its scope"
        return list(alerts)

    [alert] = poll(ours, lambda found: len(found) >= 1, "an intent-to-leave alert for the parent")
    assert alert["unit_id"] == parent
    assert alert["rule"] == "intent_to_leave"
    # Raised as soon as the parent reached k people; the sixth may or may not have been counted.
    assert alert["people"] in (5, 6)
    [finding] = alert["findings"]
    assert (finding["clause"], finding["value"], finding["threshold"]) == ("share_at_least", 1.0, 0.5)
    assert "responses" in finding["text"]
    assert alert["window_end_week"] == pulse["iso_week"]


def test_bad_submissions_are_refused_with_every_problem_named(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    team = f"{uid}-team"
    org.add((team, None, 5))
    [token] = roster.tokens(pulse["pulse_id"], team, 1)
    intake = stack.url("pulse-intake")
    answers = answers_for(pulse, leaving=False)
    answers["LEAVE-JOB"] = 9
    answers["NOT-AN-ITEM"] = 1
    refused = submit(intake, token, answers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert set(refused.json()["errors"]) == {"LEAVE-JOB", "NOT-AN-ITEM"}
    # A refused submission leaves the link unspent: corrected, it is taken.
    assert submit(intake, token, answers_for(pulse, leaving=False)).status_code == 202
    assert submit(intake, token, answers_for(pulse, leaving=False)).status_code == 409

    assert submit(intake, "x" * 43, {}).status_code == 404
    assert submit(intake, "not-a-token", {}).status_code == 404
    not_found = httpx.get(f"{stack.url('reporting')}/v1/units/{uid}-nope/trends", headers=auth.leader(f"{uid}-nope"))
    assert not_found.status_code == 404


def test_every_service_reports_health_readiness_and_metrics(stack: Services) -> None:
    for name in ("pulse-intake", "scoring", "alerts", "reporting"):
        base = stack.url(name)
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert httpx.get(f"{base}/readyz").status_code == 200
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        if name == "pulse-intake":
            expected = {
                "faststream_published_messages",
                "faststream_published_messages_duration_seconds",
                "faststream_published_messages_exceptions",
                "wellpulse_responses",
            }
        else:
            expected = {
                "faststream_received_processed_messages",
                "faststream_received_processed_messages_duration_seconds",
                "faststream_received_processed_messages_exceptions",
                "wellpulse_dead_letters",
            }
        assert expected <= set(families), f"{name} lacks {expected - set(families)}"
        asyncapi = httpx.get(f"{base}/asyncapi.json").json()
        assert asyncapi["asyncapi"].startswith("3.")
