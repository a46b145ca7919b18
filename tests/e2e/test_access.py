"""Access control on the running services: every operation the OpenAPI declares, except the staff
form and the operations endpoints, refuses a missing, expired, foreign, unsigned or altered token;
a token without the role gets 403 (unscoped) or 404 (scoped); scope follows the org tree."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.openapi_operations import ALL, PROTECTED, PUBLIC, Operation
from tests.e2e.support import Auth, Org, Roster, answers_for, poll, submit
from wellpulse.devstack.stack import Infrastructure, Services

ROLES = ("leader", "hr", "admin")


def test_every_operation_is_public_by_name_or_needs_a_bearer_token() -> None:
    assert PROTECTED, "the OpenAPI documents no protected operation"
    unsecured = [op.id for op in PROTECTED if not op.secured or not op.roles]
    assert unsecured == [], "every non-public operation declares the bearer scheme and the roles it needs"
    assert {(op.method, op.path) for op in ALL if not op.secured} == PUBLIC


def test_the_running_services_serve_the_same_operations(stack: Services) -> None:
    for service in ("pulse-intake", "alerts", "reporting"):
        spec = httpx.get(f"{stack.url(service)}/openapi.json").json()
        running = {(m.upper(), p) for p, ms in spec["paths"].items() for m in ms}
        assert running == {(op.method, op.path) for op in ALL if op.service == service}
        assert spec["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": spec["components"]["securitySchemes"]["bearer"]["description"],
        }


def _url(stack: Services, op: Operation, pulse: dict[str, Any], unit: str) -> str:
    path = op.path.format(pulse_id=pulse["pulse_id"], unit_id=unit, alert_id=uuid.uuid4())
    return stack.url(op.service) + path


def _call(stack: Services, op: Operation, pulse: dict[str, Any], unit: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(op.method, _url(stack, op, pulse, unit), headers=headers, timeout=30)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refused_tokens(auth: Auth, roles: tuple[str, ...], unit: str) -> dict[str, str]:
    def token(**claims: Any) -> str:
        return auth.headers(*roles, units=(unit,), **claims)["Authorization"].removeprefix("Bearer ")

    valid = token()
    header, payload, signature = valid.split(".")
    claims = jwt.decode(valid, options={"verify_signature": False})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "not yet valid": token(nbf=int(time.time()) + 3600),
        "wrong audience": token(aud="some-other-app"),
        "wrong issuer": token(iss="https://login.example.org/other-tenant"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "tampered": f"{header}.{_b64({**claims, 'roles': ['admin', 'hr', 'leader']})}.{signature}",
        "unknown key": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "not-published"}),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("op", PROTECTED, ids=lambda op: op.id)
def test_a_protected_operation_refuses_every_bad_token(
    stack: Services, auth: Auth, org: Org, pulse: dict[str, Any], uid: str, op: Operation
) -> None:
    unit = f"{uid}-unit"
    org.add((unit, None, 5))
    missing = _call(stack, op, pulse, unit, None)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"] == 'Bearer realm="wellpulse"'
    assert missing.headers["content-type"] == "application/problem+json"

    for why, token in _refused_tokens(auth, tuple(op.roles), unit).items():
        refused = _call(stack, op, pulse, unit, token)
        assert refused.status_code == 401, f"{why}: {refused.status_code} {refused.text}"
        assert 'error="invalid_token"' in refused.headers["www-authenticate"], why
        assert token not in refused.text, "a refusal never echoes the token"
        assert refused.json()["detail"], why

    others = tuple(role for role in ROLES if role not in op.roles)
    wrong = _call(stack, op, pulse, unit, auth.headers(*others, units=(unit,))["Authorization"][7:])
    assert wrong.status_code == op.wrong_role_status, wrong.text


def _alerts_for(stack: Services, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.url('alerts')}/v1/alerts", headers=headers)
    assert answer.status_code == 200, answer.text
    alerts: list[dict[str, Any]] = answer.json()
    return alerts


def test_a_leader_and_hr_see_only_their_own_subtree(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    root, ours, theirs = f"{uid}-root", f"{uid}-ours", f"{uid}-theirs"
    our_team, their_team = f"{ours}-team", f"{theirs}-team"
    org.add((root, None, 0), (ours, root, 0), (theirs, root, 0), (our_team, ours, 6), (their_team, theirs, 6))
    # Enough intending to leave to raise an alert in each team, one team after the other. Were
    # both teams' answers evaluated together while one team had fewer than k, only the root could
    # be named, and its alert would rightly keep either team from being named for the window
    # (root − team would describe the few): the test would then depend on the broker's batching.
    for team in (our_team, their_team):
        for token in roster.tokens(pulse["pulse_id"], team, 5):
            assert submit(stack.url("pulse-intake"), token, answers_for(pulse, leaving=True)).status_code == 202
        poll(
            lambda t=team: _alerts_for(stack, auth.hr(t)),  # type: ignore[misc]
            lambda alerts: len(alerts) > 0,
            f"an alert for {team}",
        )

    trends = stack.url("reporting") + "/v1/units/{}/trends?weeks=1"
    leader = auth.leader(ours)
    for visible in (ours, our_team):
        shown = poll(
            lambda u=visible: httpx.get(trends.format(u), headers=leader),  # type: ignore[misc]
            lambda r: r.status_code == 200,
            f"reporting knows {visible}",
        )
        assert shown.json()["unit_id"] == visible
    unknown = httpx.get(trends.format(f"{uid}-no-such-unit"), headers=leader)
    assert unknown.status_code == 404
    for hidden in (theirs, their_team, root):
        refused = httpx.get(trends.format(hidden), headers=leader)
        assert refused.status_code == 404
        # Exactly as a unit that does not exist: same status, headers that matter, and body.
        assert refused.headers["content-type"] == unknown.headers["content-type"]
        assert refused.json() == {**unknown.json(), "detail": f"no unit {hidden!r}"}
    # HR may read trends in its scope too; an admin, who has no trends role, is answered as outsiders are.
    assert httpx.get(trends.format(ours), headers=auth.hr(ours)).status_code == 200
    assert httpx.get(trends.format(ours), headers=auth.headers("admin", units=(root,))).status_code == 404

    everyone = poll(
        lambda: _alerts_for(stack, auth.hr(root)),
        lambda alerts: {a["unit_id"] for a in alerts} >= {our_team, their_team},
        "an alert in each directorate",
    )
    mine = _alerts_for(stack, auth.hr(ours))
    assert {a["unit_id"] for a in mine} == {our_team}
    assert {a["unit_id"] for a in _alerts_for(stack, auth.hr(their_team))} == {their_team}
    assert _alerts_for(stack, auth.hr(f"{uid}-no-such-unit")) == []

    alert = stack.url("alerts") + "/v1/alerts/{}"
    [their_alert] = [a for a in everyone if a["unit_id"] == their_team]
    [our_alert] = [a for a in everyone if a["unit_id"] == our_team]
    detail = httpx.get(alert.format(our_alert["alert_id"]), headers=auth.hr(ours)).json()
    assert {key: detail[key] for key in our_alert} == our_alert
    absent = str(uuid.uuid4())
    unknown = httpx.get(alert.format(absent), headers=auth.hr(ours))
    hidden = httpx.get(alert.format(their_alert["alert_id"]), headers=auth.hr(ours))
    assert unknown.status_code == hidden.status_code == 404
    assert hidden.json() == {**unknown.json(), "detail": f"no alert {their_alert['alert_id']!r}"}
    # A leader reads no alerts: the list is refused outright, one alert answers as if absent.
    assert httpx.get(f"{stack.url('alerts')}/v1/alerts", headers=auth.leader(root)).status_code == 403
    assert httpx.get(alert.format(our_alert["alert_id"]), headers=auth.leader(root)).status_code == 404

    # Every endpoint on one alert: outside the caller's scope it is as absent as an unknown id.
    note = {"note": "Stay conversations held with the team; themes taken to leadership."}
    for path, body in (
        ("", None),
        ("/deliveries", None),
        ("/acknowledge", {}),
        ("/resolve", note),
    ):
        method = "GET" if body is None else "POST"
        for alert_id, headers in (
            (their_alert["alert_id"], auth.hr(ours)),
            (their_alert["alert_id"], auth.leader(root)),
            (absent, auth.hr(root)),
        ):
            refused = httpx.request(method, alert.format(alert_id) + path, json=body, headers=headers)
            assert refused.status_code == 404, (path, refused.text)
            assert refused.json()["detail"] == f"no alert {alert_id!r}"
    untouched = httpx.get(alert.format(their_alert["alert_id"]), headers=auth.hr(theirs)).json()
    assert untouched["status"] == "open", "nothing outside the scope was acknowledged or resolved"
    assert [e["action"] for e in untouched["history"]] == ["raised"]

    # Reporting counts the alerts by family for leaders, each within their part of the tree.
    counts = stack.url("reporting") + "/v1/units/{}/alerts?weeks=2"
    family = our_alert["family"]

    def alert_counts(unit: str, headers: dict[str, str], **expected: int) -> dict[str, Any]:
        answer: dict[str, Any] = poll(
            lambda: httpx.get(counts.format(unit), headers=headers).json(),
            lambda c: {k: c.get("families", {}).get(family, {}).get(k) for k in expected} == expected,
            f"reporting counts {expected} {family} alerts for {unit}",
        )
        return answer

    alert_counts(ours, leader, open=1, acknowledged=0, raised=1)
    alert_counts(root, auth.leader(root), open=2, acknowledged=0, raised=2)
    assert httpx.get(counts.format(ours), headers=auth.leader(theirs)).status_code == 404

    mine = alert.format(our_alert["alert_id"])
    hr = auth.headers("hr", units=(ours,), subject=f"{uid}-hr-lead")
    acknowledged = httpx.post(f"{mine}/acknowledge", json={}, headers=hr)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    alert_counts(ours, leader, open=0, acknowledged=1, raised=1)
    assert httpx.post(f"{mine}/acknowledge", json={}, headers=hr).status_code == 409
    assert httpx.post(f"{mine}/resolve", json={"note": " "}, headers=hr).status_code == 422
    resolved = httpx.post(f"{mine}/resolve", json=note, headers=hr)
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution_note"]) == ("resolved", note["note"])
    assert httpx.post(f"{mine}/resolve", json=note, headers=hr).status_code == 409
    detail = httpx.get(mine, headers=hr).json()
    assert [(e["action"], e["actor"]) for e in detail["history"]] == [
        ("raised", "system"),
        ("acknowledged", f"{uid}-hr-lead"),
        ("resolved", f"{uid}-hr-lead"),
    ]
    assert detail["history"][-1]["note"] == note["note"]
    # Resolved: no longer open anywhere, still counted as raised; the other directorate's stays open.
    alert_counts(ours, leader, open=0, acknowledged=0, raised=1)
    whole = alert_counts(root, auth.leader(root), open=1, acknowledged=0, raised=2)
    assert set(whole["families"]) >= {"caseload", "bullying", "intent_to_leave"}


async def test_a_rotated_signing_key_is_picked_up_with_one_fetch_per_service(
    stack: Services, infrastructure: Infrastructure, auth: Auth, org: Org, uid: str
) -> None:
    unit = f"{uid}-rotation"
    org.add((unit, None, 5))
    targets = {
        "pulse-intake": (f"{stack.url('pulse-intake')}/v1/admin/signposts", ("admin",)),
        "alerts": (f"{stack.url('alerts')}/v1/alerts", ("hr",)),
        "reporting": (f"{stack.url('reporting')}/v1/units/{unit}/trends?weeks=1", ("leader",)),
    }
    before = {name: auth.headers(*roles, units=(unit,)) for name, (_, roles) in targets.items()}
    async with httpx.AsyncClient(timeout=30) as client:
        for name, (url, _) in targets.items():  # each service holds the current key first
            answer = await poll_async(lambda u=url, n=name: client.get(u, headers=before[n]), f"{name} before")
            assert answer.status_code == 200, answer.text

        issuer = infrastructure.issuer
        fetched = dict(issuer.jwks_fetches)
        issuer.rotate()
        after = {name: auth.headers(*roles, units=(unit,)) for name, (_, roles) in targets.items()}
        for name, (url, _) in targets.items():
            # The first requests may come within the refresh floor of the last fetch; then one fetch.
            await poll_async(lambda u=url, n=name: client.get(u, headers=after[n]), f"{name} after", within=30)
            burst = await asyncio.gather(*(client.get(url, headers=after[name]) for _ in range(20)))
            assert [r.status_code for r in burst] == [200] * 20
            old = await client.get(url, headers=before[name])
            assert old.status_code == 200, "tokens signed by the previous key (still published) still verify"
        agents = {
            "pulse-intake": "wellpulse-pulse-intake",
            "alerts": "wellpulse-alerts",
            "reporting": "wellpulse-reporting",
        }
        for name, agent in agents.items():
            assert issuer.jwks_fetches[agent] - fetched.get(agent, 0) == 1, f"{name} fetched the keys once"


async def poll_async(request: Any, what: str, within: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        answer: httpx.Response = await request()
        if answer.status_code == 200:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still {answer.status_code} {answer.text} after {within:.0f}s")
        await asyncio.sleep(0.2)
