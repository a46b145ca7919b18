"""The development issuer's browser sign-in: the authorization request's checks, PKCE S256, one-time
codes, client authentication, and the whole exchange over HTTP as a client sees it."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from wellpulse.devstack.issuer import DevIssuer
from wellpulse.devstack.issuer_signin import (
    CODE_TTL_SECONDS,
    AuthorizationRequest,
    Client,
    CodeBook,
    Person,
    SignInError,
    TokenError,
    authenticate_client,
    parse_authorization,
    parse_person,
    pkce_challenge,
)

CALLBACK = "http://127.0.0.1:8004/dashboard/auth/callback"
CLIENTS = {
    "dash": Client("dash", frozenset({CALLBACK}), "s3cret"),
    "public": Client("public", frozenset({CALLBACK})),
}
VERIFIER = secrets.token_urlsafe(48)


def _params(**overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "dash",
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": pkce_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    return {k: v for k, v in (params | overrides).items() if v != "-"}


def test_pkce_s256_is_the_rfc_7636_transform() -> None:
    # RFC 7636, appendix B.
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_an_unknown_client_or_an_unregistered_redirect_is_shown_never_redirected() -> None:
    for params in (
        _params(client_id="stranger"),
        _params(redirect_uri="https://evil.example/cb"),
        _params(client_id="-"),
    ):
        with pytest.raises(SignInError) as refused:
            parse_authorization(params, CLIENTS)
        assert refused.value.answer() is None, "an error is never sent to a redirect URI not registered"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": "-"}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "-"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"state": "-"}, "invalid_request"),
    ],
)
def test_a_request_without_pkce_s256_state_or_openid_goes_back_with_an_error(
    overrides: dict[str, str], error: str
) -> None:
    with pytest.raises(SignInError) as refused:
        parse_authorization(_params(**overrides), CLIENTS)
    answer = refused.value.answer()
    assert answer is not None
    assert answer.startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(answer).query)["error"] == [error]


def test_the_sign_in_form_names_a_role_and_units() -> None:
    assert parse_person({"role": "leader", "units": "north, south north"}) == (
        Person("dev-leader", "leader", ("north", "south")),
        [],
    )
    assert parse_person({"role": "admin", "units": "", "subject": "ada"}) == (Person("ada", "admin", ()), [])
    assert parse_person({"role": "hr", "units": ""})[1] == ["A leader or HR needs at least one unit in scope."]
    assert parse_person({"role": "boss", "units": "north"})[1] == ["Choose a role."]
    assert parse_person({"role": "leader", "units": "north <script>"})[0] is None


def _request() -> AuthorizationRequest:
    return parse_authorization(_params(), CLIENTS)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token_form(code: str, **overrides: str) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER}
    return {k: v for k, v in (form | overrides).items() if v != "-"}


def test_a_code_is_redeemed_once_by_its_client_for_its_redirect_with_the_verifier() -> None:
    book = CodeBook()
    person = Person("pat", "leader", ("north",))
    code = book.issue(_request(), person)
    grant = book.redeem(_token_form(code), CLIENTS["dash"])
    assert (grant.person, grant.request.nonce) == (person, "n-1")
    with pytest.raises(TokenError, match="used already") as again:
        book.redeem(_token_form(code), CLIENTS["dash"])
    assert again.value.error == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "client", "error"),
    [
        ({"code_verifier": secrets.token_urlsafe(48)}, "dash", "invalid_grant"),
        ({"code_verifier": "-"}, "dash", "invalid_request"),
        ({"code_verifier": "too-short"}, "dash", "invalid_request"),
        ({"redirect_uri": CALLBACK + "/other"}, "dash", "invalid_grant"),
        ({}, "public", "invalid_grant"),
        ({"grant_type": "refresh_token"}, "dash", "unsupported_grant_type"),
    ],
)
def test_a_code_sent_wrongly_is_refused_and_spent(form: dict[str, str], client: str, error: str) -> None:
    book = CodeBook()
    code = book.issue(_request(), Person("pat", "leader", ("north",)))
    with pytest.raises(TokenError) as refused:
        book.redeem(_token_form(code, **form), CLIENTS[client])
    assert refused.value.error == error
    if error != "unsupported_grant_type":
        with pytest.raises(TokenError):
            book.redeem(_token_form(code), CLIENTS["dash"])  # even the right request cannot use it now


def test_a_code_expires_after_a_minute() -> None:
    clock = Clock()
    book = CodeBook(clock)
    code = book.issue(_request(), Person("pat", "leader", ("north",)))
    clock.now += CODE_TTL_SECONDS + 1
    with pytest.raises(TokenError, match="expired"):
        book.redeem(_token_form(code), CLIENTS["dash"])


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_clients_authenticate_with_basic_or_form_credentials_and_public_ones_with_none() -> None:
    assert authenticate_client(_basic("dash", "s3cret"), {}, CLIENTS).client_id == "dash"
    assert authenticate_client(None, {"client_id": "dash", "client_secret": "s3cret"}, CLIENTS).client_id == "dash"
    assert authenticate_client(None, {"client_id": "public"}, CLIENTS).client_id == "public"
    for header, form in (
        (_basic("dash", "wrong"), {}),
        (None, {"client_id": "dash"}),
        (None, {"client_id": "nobody"}),
        ("Basic not-base64!", {}),
    ):
        with pytest.raises(TokenError) as refused:
            authenticate_client(header, form, CLIENTS)
        assert (refused.value.error, refused.value.status) == ("invalid_client", 401)


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[DevIssuer]:
    running = DevIssuer(tmp_path / "issuer", environment="development")
    running.start()
    running.register_client("dash", [CALLBACK], "s3cret")
    try:
        yield running
    finally:
        running.stop()


def test_discovery_names_the_sign_in_endpoints(issuer: DevIssuer) -> None:
    discovery = httpx.get(f"{issuer.url}/.well-known/openid-configuration").json()
    assert discovery["authorization_endpoint"] == f"{issuer.url}/authorize"
    assert discovery["token_endpoint"] == f"{issuer.url}/token"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    issuer.browser_url = "http://localhost:8005"
    moved = httpx.get(f"{issuer.url}/.well-known/openid-configuration").json()
    assert moved["authorization_endpoint"] == "http://localhost:8005/authorize", "browsers may reach it elsewhere"
    assert moved["token_endpoint"] == f"{issuer.url}/token"


def test_a_browser_signs_in_and_the_client_gets_tokens_for_the_person_chosen(issuer: DevIssuer) -> None:
    page = httpx.get(f"{issuer.url}/authorize", params=_params())
    assert page.status_code == 200
    assert 'name="role" value="leader"' in page.text
    assert '<label class="field" for="units">' in page.text
    assert 'name="code_challenge" value="' + pkce_challenge(VERIFIER) in page.text

    answer = httpx.post(f"{issuer.url}/authorize", data=_params() | {"role": "hr", "units": "north", "subject": "pat"})
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"]

    tokens = httpx.post(f"{issuer.url}/token", data=_token_form(query["code"][0]), auth=("dash", "s3cret"))
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.json()
    keys = httpx.get(f"{issuer.url}/jwks.json").json()["keys"]

    def claims(token: str, audience: str) -> dict[str, object]:
        kid = jwt.get_unverified_header(token)["kid"]
        [key] = [k for k in keys if k["kid"] == kid]
        decoded: dict[str, object] = jwt.decode(
            token, jwt.PyJWK(key), algorithms=["RS256"], audience=audience, issuer=issuer.url
        )
        return decoded

    id_claims = claims(body["id_token"], "dash")
    assert (id_claims["sub"], id_claims["roles"], id_claims["wellpulse_units"]) == ("pat", ["hr"], ["north"])
    assert id_claims["nonce"] == "n-1"
    assert claims(body["access_token"], "wellpulse")["roles"] == ["hr"], "the access token is for the APIs"

    again = httpx.post(f"{issuer.url}/token", data=_token_form(query["code"][0]), auth=("dash", "s3cret"))
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_the_sign_in_page_says_what_is_missing_and_keeps_what_was_typed(issuer: DevIssuer) -> None:
    answer = httpx.post(f"{issuer.url}/authorize", data=_params() | {"role": "leader", "units": "", "subject": "kim"})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert "at least one unit" in answer.text
    assert 'value="kim"' in answer.text


def test_the_token_endpoint_refuses_a_wrong_secret_and_a_wrong_verifier(issuer: DevIssuer) -> None:
    def code() -> str:
        answer = httpx.post(f"{issuer.url}/authorize", data=_params() | {"role": "leader", "units": "north"})
        return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    wrong_secret = httpx.post(f"{issuer.url}/token", data=_token_form(code()), auth=("dash", "guess"))
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert wrong_secret.headers["WWW-Authenticate"].startswith("Basic")
    wrong_verifier = httpx.post(
        f"{issuer.url}/token",
        data=_token_form(code(), code_verifier=secrets.token_urlsafe(48)),
        auth=("dash", "s3cret"),
    )
    assert (wrong_verifier.status_code, wrong_verifier.json()["error"]) == (400, "invalid_grant")
