"""The FastAPI auth seam on a small app with an in-memory issuer and org tree: 401, 403, 404 outside
scope, the refusal metrics, the OIDC settings' refusals, and what the OpenAPI document says."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI
from jwt.algorithms import RSAAlgorithm
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth import CallerScope, CurrentUser, Principal, Role, Scope, UnitInScope, not_found, require
from wellpulse.common.auth.authenticator import Authenticator
from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.auth.tokens import Refusal
from wellpulse.common.http import PROBLEM_JSON, install_problem_handlers
from wellpulse.common.openapi import document_answers
from wellpulse.common.settings import ConfigurationError

ISSUER = "http://127.0.0.1:9/issuer"  # http is allowed in development only
AUDIENCE = "wellpulse-test"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = f"{ISSUER}/jwks"
# north ─ north-a ─ north-a-1, and south ─ south-a, under org.
PARENTS: dict[str, str | None] = {
    "org": None,
    "north": "org",
    "north-a": "north",
    "north-a-1": "north-a",
    "south": "org",
    "south-a": "south",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_ALGORITHMS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"XX_{name}", raising=False)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeIssuer:
    jwks: dict[str, Any]
    failing: bool = False
    calls: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> Any:
        self.calls.append(url)
        if self.failing:
            raise httpx.ConnectError("connection refused")
        return copy.deepcopy({DISCOVERY: {"issuer": ISSUER, "jwks_uri": JWKS_URI}, JWKS_URI: self.jwks}[url])


class FakeOrgTree:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def ancestors(self, unit_id: str) -> Sequence[str]:
        self.asked.append(unit_id)
        chain: list[str] = []
        unit: str | None = unit_id
        while unit is not None and unit in PARENTS:
            chain.append(unit)
            unit = PARENTS[unit]
        return chain


class Note(BaseModel):
    text: str


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"subject": user.subject, "roles": sorted(user.roles), "units": list(user.units)}

    @router.get("/settings")
    async def org_settings(user: Annotated[Principal, require(Role.admin)]) -> dict[str, str]:
        return {"subject": user.subject}

    @router.get("/units/{unit_id}")
    async def unit(unit_id: Annotated[str, Depends(UnitInScope(Role.leader, Role.hr))]) -> dict[str, str]:
        return {"unit_id": unit_id}

    @router.get("/alerts/{unit_id}")
    async def alerts(unit_id: Annotated[str, Depends(UnitInScope(Role.hr))]) -> dict[str, str]:
        return {"unit_id": unit_id}

    @router.get("/cases/{case_id}")
    async def cases(
        case_id: str, scope: Annotated[Scope, Depends(CallerScope(Role.hr, resource="case", path_param="case_id"))]
    ) -> dict[str, str]:
        unit = case_id.removeprefix("case-")  # a case belongs to the unit in its id
        if not await scope.covers(unit):
            raise not_found("case", case_id)
        return {"unit_id": unit}

    @router.post("/units/{unit_id}/notes")
    async def add_note(
        note: Note, unit_id: Annotated[str, Depends(UnitInScope(Role.hr))], user: CurrentUser
    ) -> dict[str, str]:
        return {"unit_id": unit_id, "text": note.text}

    @router.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    return router


@dataclass
class Seam:
    client: httpx.AsyncClient
    app: FastAPI
    issuer: FakeIssuer
    tree: FakeOrgTree
    registry: CollectorRegistry
    key: rsa.RSAPrivateKey

    def token(self, *, roles: Sequence[str] = (), units: Sequence[str] = (), **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "person-7",
            "exp": now + 300,
            "roles": list(roles),
            "wellpulse_units": list(units),
            **changes,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})

    async def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return await self.client.get(path, headers=headers)

    def refusals(self, reason: str) -> float:
        return self.registry.get_sample_value("wellpulse_auth_refusals_total", {"reason": reason}) or 0.0


@pytest.fixture
async def seam(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[Seam]:
    public = {**RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True), "kid": "k1", "alg": "RS256"}
    issuer = FakeIssuer({"keys": [public]})
    registry = CollectorRegistry()
    settings = OidcSettings(environment="development", oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
    app = FastAPI()
    app.state.authenticator = Authenticator(settings, "test", registry, fetch=issuer)
    app.state.org_tree = tree = FakeOrgTree()
    install_problem_handlers(app)
    router = build_router()
    app.include_router(router)
    document_answers(app, [router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wellpulse.test") as client:
        yield Seam(client, app, issuer, tree, registry, signing_key)


# --- 401 -----------------------------------------------------------------------------------------


async def test_no_token_is_401_with_a_bare_challenge(seam: Seam) -> None:
    answer = await seam.get("/me")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="wellpulse"'
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert body["status"] == 401
    assert body["detail"] == Refusal.missing.value
    assert seam.refusals("missing") == 1
    assert seam.issuer.calls == []


async def test_a_non_bearer_authorization_is_treated_as_no_token(seam: Seam) -> None:
    answer = await seam.client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="wellpulse"'


async def test_a_junk_token_is_401_invalid_token(seam: Seam) -> None:
    answer = await seam.get("/me", "not.a-real.token-text")

    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="wellpulse"')
    assert 'error="invalid_token"' in challenge
    assert 'error_description="malformed"' in challenge
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["detail"] == Refusal.malformed.value
    assert "a-real" not in answer.text
    assert seam.refusals("malformed") == 1
    assert seam.refusals("missing") == 0


async def test_a_refused_token_is_never_echoed_back(seam: Seam) -> None:
    token = seam.token(roles=["admin"], aud="another-app", sub="someone-secret")

    answer = await seam.get("/me", token)

    assert answer.status_code == 401
    assert answer.json()["detail"] == Refusal.audience.value
    for part in token.split("."):
        assert part not in answer.text
    assert "someone-secret" not in answer.text
    assert seam.refusals("audience") == 1


async def test_an_expired_token_is_counted_as_expired(seam: Seam) -> None:
    answer = await seam.get("/me", seam.token(exp=int(time.time()) - 3600))

    assert answer.status_code == 401
    assert 'error_description="expired"' in answer.headers["www-authenticate"]
    assert seam.refusals("expired") == 1
    assert seam.issuer.calls == []


async def test_an_unreachable_issuer_is_503_not_401(seam: Seam) -> None:
    seam.issuer.failing = True

    answer = await seam.get("/me", seam.token(roles=["leader"]))

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "10"
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert seam.refusals("issuer_unavailable") == 1


async def test_a_valid_token_reaches_the_handler(seam: Seam) -> None:
    answer = await seam.get("/me", seam.token(roles=["hr", "unmapped"], units=["north"]))

    assert answer.status_code == 200
    assert answer.json() == {"subject": "person-7", "roles": ["hr"], "units": ["north"]}


# --- 403 -----------------------------------------------------------------------------------------


async def test_require_answers_403_without_the_role(seam: Seam) -> None:
    answer = await seam.get("/settings", seam.token(roles=["leader", "hr"], units=["org"]))

    assert answer.status_code == 403
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert "admin" in answer.json()["detail"]
    assert seam.refusals("role") == 1


async def test_require_passes_with_the_role(seam: Seam) -> None:
    answer = await seam.get("/settings", seam.token(roles=["admin"]))

    assert answer.status_code == 200
    assert seam.refusals("role") == 0


async def test_require_without_a_token_is_401_not_403(seam: Seam) -> None:
    assert (await seam.get("/settings")).status_code == 401


# --- 404 outside scope ---------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["north", "north-a", "north-a-1"])
async def test_a_unit_and_its_descendants_are_in_scope(seam: Seam, unit: str) -> None:
    answer = await seam.get(f"/units/{unit}", seam.token(roles=["leader"], units=["north"]))

    assert answer.status_code == 200
    assert answer.json() == {"unit_id": unit}


async def test_everything_outside_scope_answers_exactly_as_a_unit_that_does_not_exist(seam: Seam) -> None:
    token = seam.token(roles=["leader"], units=["north"])
    answers = {unit: await seam.get(f"/units/{unit}", token) for unit in ("ghost", "south", "south-a", "org")}
    roleless = await seam.get("/units/north", seam.token(roles=[], units=["north"]))

    bodies = set()
    for unit, answer in [*answers.items(), ("north", roleless)]:
        assert answer.status_code == 404, unit
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert "www-authenticate" not in answer.headers
        assert unit in answer.json()["detail"]
        bodies.add(answer.content.replace(unit.encode(), b"UNIT"))
    assert len(bodies) == 1
    assert seam.tree.asked.count("north") == 1  # looked up even for a caller without the role


async def test_an_hr_only_unit_route_is_404_for_a_leader(seam: Seam) -> None:
    leader = await seam.get("/alerts/north-a", seam.token(roles=["leader"], units=["north"]))
    hr = await seam.get("/alerts/north-a", seam.token(roles=["hr"], units=["north"]))
    ghost = await seam.get("/alerts/ghost", seam.token(roles=["hr"], units=["north"]))

    assert leader.status_code == 404
    assert hr.status_code == 200
    assert leader.content.replace(b"north-a", b"UNIT") == ghost.content.replace(b"ghost", b"UNIT")


async def test_a_scope_over_two_subtrees_covers_both(seam: Seam) -> None:
    token = seam.token(roles=["hr"], units=["north-a", "south"])

    assert (await seam.get("/units/north-a-1", token)).status_code == 200
    assert (await seam.get("/units/south-a", token)).status_code == 200
    assert (await seam.get("/units/north", token)).status_code == 404


async def test_caller_scope_lets_the_handler_check_units(seam: Seam) -> None:
    hr = seam.token(roles=["hr"], units=["south"])
    leader = seam.token(roles=["leader"], units=["south"])

    assert (await seam.get("/cases/case-south-a", hr)).status_code == 200
    outside = await seam.get("/cases/case-north", hr)
    wrong_role = await seam.get("/cases/case-south-a", leader)
    assert outside.status_code == wrong_role.status_code == 404
    assert wrong_role.json() == {**outside.json(), "detail": "no case 'case-south-a'"}
    assert (await seam.get("/cases/case-south-a")).status_code == 401


async def test_a_unit_id_that_cannot_be_one_is_a_problem_422(seam: Seam) -> None:
    answer = await seam.get("/units/-leading-dash", seam.token(roles=["leader"], units=["north"]))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [("none",), ("HS256",), ("RS256", "HS512"), (), ("rs256",)], ids=repr)
def test_oidc_settings_refuse_anything_but_key_pair_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="cannot be allowed"):
        OidcSettings(environment="development", oidc_algorithms=algorithms)


def test_oidc_settings_refuse_an_http_issuer_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="OIDC_ISSUER must be an https:// URL"):
        OidcSettings(environment="production", oidc_issuer="http://issuer.example.test")


def test_oidc_settings_accept_an_http_issuer_in_development_and_https_anywhere() -> None:
    assert OidcSettings(environment="development", oidc_issuer=ISSUER).required_issuer() == ISSUER
    https = "https://issuer.example.test"
    assert OidcSettings(environment="production", oidc_issuer=https).required_issuer() == https


class PrefixedSettings(OidcSettings):
    model_config = SettingsConfigDict(env_prefix="XX_")


def test_oidc_algorithms_parse_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XX_OIDC_ALGORITHMS", "RS256, ES256,")
    monkeypatch.setenv("XX_ENVIRONMENT", "development")

    assert PrefixedSettings().oidc_algorithms == ("RS256", "ES256")


def test_a_comma_separated_variable_naming_hs256_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XX_OIDC_ALGORITHMS", "RS256,HS256")

    with pytest.raises(ValidationError, match="HS256 cannot be allowed"):
        PrefixedSettings(environment="development")


def test_a_missing_issuer_names_the_prefixed_variable() -> None:
    with pytest.raises(ConfigurationError, match="XX_OIDC_ISSUER is not set"):
        PrefixedSettings(environment="development").required_issuer()
    with pytest.raises(ConfigurationError, match="XX_OIDC_ISSUER must be an https"):
        PrefixedSettings(oidc_issuer="http://issuer.example.test")


# --- OpenAPI -------------------------------------------------------------------------------------


def operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    paths = app.openapi()["paths"]
    return {f"{method.upper()} {path}": op for path, ops in paths.items() for method, op in ops.items()}


async def test_openapi_documents_401_503_and_403_for_a_role_check(seam: Seam) -> None:
    operation = operations(seam.app)["GET /settings"]

    assert {"401", "403", "503"} <= operation["responses"].keys()
    assert "404" not in operation["responses"]
    assert operation["x-wellpulse-roles"] == ["admin"]
    assert "Needs the role: admin." in operation["description"]


async def test_openapi_documents_404_for_a_unit_in_scope(seam: Seam) -> None:
    ops = operations(seam.app)
    unit, alerts, cases = ops["GET /units/{unit_id}"], ops["GET /alerts/{unit_id}"], ops["GET /cases/{case_id}"]

    assert {"401", "404", "503"} <= unit["responses"].keys()
    assert "403" not in unit["responses"]
    assert unit["x-wellpulse-roles"] == ["hr", "leader"]
    assert alerts["x-wellpulse-roles"] == ["hr"]
    assert "404" in cases["responses"]
    assert cases["x-wellpulse-roles"] == ["hr"]


async def test_openapi_documents_422_and_413_as_problem_json(seam: Seam) -> None:
    document = seam.app.openapi()
    ops = operations(seam.app)
    note = ops["POST /units/{unit_id}/notes"]

    for operation in (note, ops["GET /units/{unit_id}"], ops["GET /cases/{case_id}"]):
        assert list(operation["responses"]["422"]["content"]) == [PROBLEM_JSON]
    assert PROBLEM_JSON in note["responses"]["413"]["content"]
    assert "413" not in ops["GET /units/{unit_id}"]["responses"]
    assert set(document["components"]["schemas"]["ProblemDetails"]["required"]) >= {"title", "status", "detail"}


async def test_openapi_leaves_an_open_route_without_auth_answers(seam: Seam) -> None:
    ops = operations(seam.app)

    assert ops["GET /me"]["responses"].keys() >= {"401", "503"}
    assert "x-wellpulse-roles" not in ops["GET /me"]
    public = ops["GET /public"]
    assert not {"401", "403", "404", "503", "422"} & public["responses"].keys()
    assert "x-wellpulse-roles" not in public
