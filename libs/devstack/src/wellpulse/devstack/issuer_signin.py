"""The development issuer's browser sign-in: the OAuth 2.0 authorization code flow with PKCE, as a
real OpenID Connect provider runs it, except that the person picks their own role and units.

``/authorize`` checks the client and its registered redirect URI, requires a PKCE S256 challenge,
and shows a sign-in page; its form answers with a one-time code sent back to the redirect URI.
``/token`` takes the code once, within a minute, from the client it was issued to (its secret
checked, when it has one), for the same redirect URI, with the verifier whose S256 hash is the
challenge, and answers an id token (``aud`` = the client, with the nonce) and an access token for
the APIs. Everything here but the HTTP handling and the page is pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import unquote, urlencode

CODE_TTL_SECONDS = 60
# The lifetime of a sign-in's tokens: the dashboard's session ends with its id token.
SIGN_IN_TTL_SECONDS = 3600
ROLE_CHOICES = {
    "leader": "Leader: trends for the units below",
    "hr": "HR: alerts and trends for the units below",
    "admin": "Admin: the organisation's set-up (the dashboard refuses this role)",
}
# As the services accept them in a path (common.auth.dependencies.UNIT_ID_PATTERN).
_UNIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# RFC 7636: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: frozenset[str]
    # None: a public client, which proves nothing but its PKCE verifier.
    secret: str | None = None


class SignInError(Exception):
    """An authorization request that cannot go on. ``redirect_uri``: where the error may be sent,
    once the client and that URI are known to belong together; None: show it, send nobody anywhere."""

    def __init__(self, error: str, description: str, *, redirect_uri: str | None = None, state: str = "") -> None:
        super().__init__(description)
        self.error, self.description = error, description
        self.redirect_uri, self.state = redirect_uri, state

    def answer(self) -> str | None:
        if self.redirect_uri is None:
            return None
        return answer_url(self.redirect_uri, self.state, error=self.error, error_description=self.description)


class TokenError(Exception):
    """RFC 6749 5.2: ``error`` is invalid_request, invalid_client, invalid_grant or unsupported_grant_type."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description

    @property
    def status(self) -> int:
        return 401 if self.error == "invalid_client" else 400


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str | None
    code_challenge: str
    scope: str

    def fields(self) -> dict[str, str]:
        """The request as the sign-in form carries it on, in hidden fields."""
        fields = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "scope": self.scope,
        }
        return fields | ({"nonce": self.nonce} if self.nonce else {})

    def answer(self, **params: str) -> str:
        """The redirect URI with ``params`` (a code, or an error) and the state added."""
        return answer_url(self.redirect_uri, self.state, **params)


def answer_url(redirect_uri: str, state: str, **params: str) -> str:
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode({**params, "state": state})


def parse_authorization(params: Mapping[str, str], clients: Mapping[str, Client]) -> AuthorizationRequest:
    """The request, once the client, its redirect URI and a PKCE S256 challenge check out."""
    client = clients.get(params.get("client_id", ""))
    if client is None:
        raise SignInError("invalid_client", "This issuer has no client with that client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise SignInError("invalid_request", "The redirect_uri is not one registered for this client.")
    state = params.get("state", "")

    def refused(error: str, description: str) -> SignInError:
        return SignInError(error, description, redirect_uri=redirect_uri, state=state)

    if params.get("response_type") != "code":
        raise refused("unsupported_response_type", "Only response_type=code is offered.")
    if "openid" not in params.get("scope", "").split():
        raise refused("invalid_scope", "The scope must include openid.")
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge):
        raise refused("invalid_request", "PKCE is required: send an S256 code_challenge.")
    if not state:
        raise refused("invalid_request", "Send a state, to tie the answer to this browser.")
    return AuthorizationRequest(
        client.client_id, redirect_uri, state, params.get("nonce") or None, challenge, params["scope"]
    )


@dataclass(frozen=True)
class Person:
    subject: str
    role: str
    units: tuple[str, ...]


def parse_person(form: Mapping[str, str]) -> tuple[Person | None, list[str]]:
    """Who the sign-in form says to sign in as, or the problems to show on the form again."""
    problems = []
    role = form.get("role", "")
    if role not in ROLE_CHOICES:
        problems.append("Choose a role.")
    units = tuple(dict.fromkeys(u for u in re.split(r"[\s,]+", form.get("units", "")) if u))
    if any(not _UNIT_ID.match(unit) for unit in units):
        problems.append("Unit ids are letters, digits, dots, dashes and underscores, separated by spaces or commas.")
    elif not units and role in ("leader", "hr"):
        problems.append("A leader or HR needs at least one unit in scope.")
    subject = form.get("subject", "").strip() or f"dev-{role or 'nobody'}"
    if len(subject) > 100:
        problems.append("The name is at most 100 characters.")
    return (None, problems) if problems else (Person(subject, role, units), [])


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class Grant:
    request: AuthorizationRequest
    person: Person
    expires_at: float


class CodeBook:
    """The codes handed out and not yet redeemed; each works once, for a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._codes: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self._now = clock

    def issue(self, request: AuthorizationRequest, person: Person) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self._now()
            self._codes = {c: g for c, g in self._codes.items() if g.expires_at > now}
            self._codes[code] = Grant(request, person, now + CODE_TTL_SECONDS)
        return code

    def redeem(self, form: Mapping[str, str], client: Client) -> Grant:
        """The grant behind the form's code, for this (authenticated) client; the code is spent
        whatever the outcome, so a code that was sent wrongly once can never be tried again."""
        if form.get("grant_type") != "authorization_code":
            raise TokenError("unsupported_grant_type", "Only grant_type=authorization_code is offered.")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires_at <= self._now():
            raise TokenError("invalid_grant", "The code is unknown, used already or expired.")
        if grant.request.client_id != client.client_id:
            raise TokenError("invalid_grant", "The code was issued to another client.")
        if form.get("redirect_uri") != grant.request.redirect_uri:
            raise TokenError("invalid_grant", "The redirect_uri differs from the authorization request's.")
        verifier = form.get("code_verifier", "")
        if not _VERIFIER.match(verifier):
            raise TokenError("invalid_request", "Send the PKCE code_verifier (43 to 128 characters).")
        if not hmac.compare_digest(pkce_challenge(verifier), grant.request.code_challenge):
            raise TokenError("invalid_grant", "The code_verifier does not match the code_challenge.")
        return grant


def authenticate_client(authorization: str | None, form: Mapping[str, str], clients: Mapping[str, Client]) -> Client:
    """The client a token request comes from: HTTP Basic or form credentials (client_secret_basic,
    client_secret_post), or a bare client_id for a public client."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except ValueError:
            raise TokenError("invalid_client", "The Basic credentials are not base64.") from None
        # RFC 6749 2.3.1: both parts are form-urlencoded before they are joined.
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, secret = unquote(basic_id), unquote(basic_secret)
    client = clients.get(client_id or "")
    if client is None:
        raise TokenError("invalid_client", "Unknown client.")
    if client.secret is not None and not hmac.compare_digest((secret or "").encode(), client.secret.encode()):
        raise TokenError("invalid_client", "The client secret is wrong.")
    return client


# --- The page --------------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}Sign in – WellPulse development issuer</title>
<style>
body {{ margin: 0; font: 1.125rem/1.5 system-ui, sans-serif; color: #1b1b1b; background: #f6f5f2; }}
main {{ max-width: 36rem; margin: 0 auto; padding: 1rem; }}
h1 {{ font-size: 1.75rem; line-height: 1.25; }}
.warning {{ border-left: 6px solid #8a4b00; background: #fff4e0; padding: .75rem 1rem; }}
.problems {{ border: 4px solid #a1260d; padding: .75rem 1rem; background: #fff; }}
fieldset {{ border: 1px solid #6b6b6b; border-radius: .375rem; margin: 0 0 1rem; padding: .75rem 1rem; }}
legend {{ font-weight: 600; padding: 0 .25rem; }}
.choice {{ display: flex; gap: .5rem; align-items: center; min-height: 44px; }}
.choice input {{ width: 1.25rem; height: 1.25rem; }}
label.field {{ display: block; font-weight: 600; margin-top: 1rem; }}
.hint {{ margin: .25rem 0; color: #4a4a4a; }}
input[type=text] {{ font: inherit; width: 100%; box-sizing: border-box; min-height: 44px; padding: .375rem .625rem;
  border: 2px solid #6b6b6b; border-radius: .375rem; }}
button {{ font: inherit; font-weight: 600; margin-top: 1.5rem; min-height: 48px; padding: .5rem 1.25rem;
  color: #fff; background: #1d5b79; border: 2px solid #1d5b79; border-radius: .375rem; cursor: pointer; }}
:focus-visible {{ outline: 3px solid #1d5b79; outline-offset: 3px; }}
</style>
</head>
<body>
<main>
<h1>Sign in to WellPulse</h1>
<p class="warning"><strong>Development only.</strong> This issuer signs anyone in as anything, so it runs only
with ENVIRONMENT=development. Choose who to be for <strong>{client}</strong>.</p>
{problems}
<form method="post" action="/authorize">
{hidden}
<fieldset>
<legend>Role</legend>
{roles}
</fieldset>
<label class="field" for="units">Units in scope</label>
<p class="hint" id="units-hint">Unit ids, separated by spaces or commas; each one includes every unit below it.</p>
<input type="text" id="units" name="units" value="{units}" aria-describedby="units-hint" autocomplete="off">
<label class="field" for="subject">Name</label>
<p class="hint" id="subject-hint">The token's subject; leave it blank for dev-&lt;role&gt;.</p>
<input type="text" id="subject" name="subject" value="{subject}" aria-describedby="subject-hint" autocomplete="off">
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
"""


def sign_in_page(
    request: AuthorizationRequest, *, form: Mapping[str, str] | None = None, problems: list[str] | None = None
) -> str:
    """The accessible sign-in page: a role, units and a name, posting the request on to ``/authorize``."""
    given = form or {}
    hidden = "\n".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in request.fields().items()
    )
    roles = "\n".join(
        f'<div class="choice"><input type="radio" id="role-{role}" name="role" value="{role}"'
        f"{' checked' if given.get('role', 'leader') == role else ''}>"
        f'<label for="role-{role}">{escape(label)}</label></div>'
        for role, label in ROLE_CHOICES.items()
    )
    problem_list = ""
    if problems:
        items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
        problem_list = f'<div class="problems" role="alert"><h2>There is a problem</h2><ul>{items}</ul></div>'
    return _PAGE.format(
        title="Error: " if problems else "",
        client=escape(request.client_id),
        problems=problem_list,
        hidden=hidden,
        roles=roles,
        units=escape(given.get("units", "")),
        subject=escape(given.get("subject", "")),
    )


def error_page(error: SignInError) -> str:
    """For a request whose redirect URI cannot be trusted: say what is wrong, send nobody anywhere."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Sign-in request refused – WellPulse development issuer</title></head>"
        f"<body><main><h1>This sign-in request was refused</h1><p>{escape(error.description)} "
        f"({escape(error.error)})</p></main></body></html>"
    )
