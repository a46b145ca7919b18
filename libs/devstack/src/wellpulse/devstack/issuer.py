"""A development OpenID Connect issuer: real discovery and JWKS over HTTP, tokens signed by its keys,
and a browser sign-in (authorization code + PKCE, ``issuer_signin``) whose page lets one pick a role
and units.

The services check development tokens exactly as they check an organisation's (discovery, JWKS,
signature, iss, aud, exp); only the issuer is local. Its keys live in its folder, so
``wellpulse-dev token`` can sign with them from another process. It refuses to run outside
development, and the services refuse a plain-http issuer outside development too.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.issuer_signin import (
    SIGN_IN_TTL_SECONDS,
    Client,
    CodeBook,
    Grant,
    SignInError,
    TokenError,
    authenticate_client,
    error_page,
    parse_authorization,
    parse_person,
    sign_in_page,
)

AUDIENCE = "wellpulse"
ROLES = ("leader", "hr", "admin")
# The reporting dashboard's client, as `wellpulse-dev run` and docker compose register it.
DASHBOARD_CLIENT_ID = "wellpulse-dashboard"
DASHBOARD_CLIENT_SECRET = "development-only-not-a-secret"  # noqa: S105 - refused outside development
MAX_FORM_BYTES = 64 * 1024


class NotDevelopment(StackError):
    """The development issuer was asked to run, or sign, outside ENVIRONMENT=development."""


def ensure_development(environment: str | None) -> None:
    if environment != "development":
        raise NotDevelopment(
            "the development issuer signs any token it is asked for, so it runs only with "
            f"ENVIRONMENT=development (it is {environment or 'unset'}); in production point the services "
            "at your organisation's identity provider (<PREFIX>OIDC_ISSUER)"
        )


@dataclass(frozen=True)
class IssuerState:
    issuer: str
    audience: str

    @classmethod
    def read(cls, folder: Path) -> IssuerState:
        path = folder / "issuer.json"
        if not path.exists():
            raise StackError(
                f"no development issuer in {folder}: start the stack with `make run` (or `wellpulse-dev run`) "
                "first, or pass --folder"
            )
        data = json.loads(path.read_text())
        ensure_development(data.get("environment"))
        return cls(data["issuer"], data["audience"])


class Keys:
    """The issuer's RSA key pairs, newest last; the newest signs. One JSON file, readable by its owner only."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "keys.json"

    def pairs(self) -> list[tuple[str, rsa.RSAPrivateKey]]:
        if not self.path.exists():
            return []
        loaded = []
        for entry in json.loads(self.path.read_text()):
            key = serialization.load_pem_private_key(entry["pem"].encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            loaded.append((entry["kid"], key))
        return loaded

    def add(self, *, keep: int = 2) -> str:
        """A new signing key; the previous one stays published (tokens it signed still verify)."""
        kid = uuid.uuid4().hex[:16]
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        entries = json.loads(self.path.read_text()) if self.path.exists() else []
        entries = [*entries, {"kid": kid, "pem": pem}][-keep:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(entries, out)
        self.path.with_suffix(".tmp").replace(self.path)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.pairs():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def signing(self) -> tuple[str, rsa.RSAPrivateKey]:
        pairs = self.pairs()
        if not pairs:
            raise StackError(f"the development issuer has no key in {self.path}")
        return pairs[-1]


def parse_ttl(text: str) -> int:
    """``90s``, ``15m``, ``8h``, ``2d`` or plain seconds, as seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    if not number.isdigit() or int(number) == 0:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 15m, 8h or 2d")
    return int(number) * units[unit]


def sign(
    folder: Path,
    *,
    roles: Iterable[str],
    units: Iterable[str] = (),
    ttl_seconds: int = 8 * 3600,
    subject: str | None = None,
    **claims: Any,
) -> str:
    """A token from the issuer in ``folder``, signed by its current key. ``claims`` override any claim."""
    roles = list(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise StackError(f"unknown role {', '.join(unknown)}: use {', '.join(ROLES)}")
    state = IssuerState.read(folder)
    kid, key = Keys(folder).signing()
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": state.issuer,
        "aud": state.audience,
        "sub": subject or f"dev-{'-'.join(roles) or 'nobody'}",
        "roles": roles,
        "wellpulse_units": list(units),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


class DevIssuer:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks.json`` for the keys in its folder, and
    the sign-in (``/authorize``, ``/token``) for the clients registered with it."""

    def __init__(self, folder: Path, *, environment: str | None, host: str = "127.0.0.1", port: int = 0) -> None:
        ensure_development(environment)
        self.folder = folder
        self.keys = Keys(folder)
        self._bind = (host, port)
        self._server: _IssuerServer | None = None
        # JWKS downloads by the User-Agent that asked (each service names itself).
        self.jwks_fetches: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self.codes = CodeBook()
        # Where a browser reaches the issuer, when that is not where the services do (docker compose).
        self.browser_url: str | None = None
        # What the sign-in page's units field starts with (the demo's root, under `make run`).
        self.suggested_units = ""

    def register_client(self, client_id: str, redirect_uris: Iterable[str], secret: str | None = None) -> None:
        """A client that may sign people in, to these exact redirect URIs (more URIs add to its own)."""
        with self._lock:
            known = self.clients.get(client_id)
            uris = frozenset(redirect_uris) | (known.redirect_uris if known else frozenset())
            self.clients[client_id] = Client(client_id, uris, secret)

    @property
    def url(self) -> str:
        state = IssuerState.read(self.folder)
        return state.issuer

    def start(self, public_url: str | None = None, audience: str = AUDIENCE) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        server = _IssuerServer(self._bind, self)
        port = server.server_address[1]
        host = "127.0.0.1" if self._bind[0] in ("0.0.0.0", "") else self._bind[0]  # noqa: S104 - a bind, not a URL
        url = public_url or f"http://{host}:{port}"
        (self.folder / "issuer.json").write_text(
            json.dumps({"issuer": url, "audience": audience, "environment": "development"})
        )
        if not self.keys.pairs():
            self.keys.add()
        self._server = server
        threading.Thread(target=server.serve_forever, name="dev-issuer", daemon=True).start()
        return url

    def rotate(self) -> str:
        """Sign with a new key from now on; the old one stays published for the tokens it signed."""
        return self.keys.add()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def discovery(self) -> Mapping[str, Any]:
        issuer = self.url
        return {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks.json",
            "authorization_endpoint": f"{self.browser_url or issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "scopes_supported": ["openid"],
            "claims_supported": ["sub", "roles", "wellpulse_units", "nonce", "auth_time"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def tokens(self, grant: Grant) -> dict[str, Any]:
        """The token response for a redeemed code: an id token for the client, an access token for the APIs."""
        person, request = grant.person, grant.request

        def token(**claims: Any) -> str:
            return sign(
                self.folder,
                roles=[person.role],
                units=person.units,
                subject=person.subject,
                ttl_seconds=SIGN_IN_TTL_SECONDS,
                **claims,
            )

        nonce = {"nonce": request.nonce} if request.nonce else {}
        id_token = token(aud=request.client_id, auth_time=int(time.time()), **nonce)
        access_token = token()
        return {
            "token_type": "Bearer",
            "access_token": access_token,
            "id_token": id_token,
            "expires_in": SIGN_IN_TTL_SECONDS,
            "scope": request.scope,
        }

    def count_fetch(self, agent: str) -> None:
        with self._lock:
            self.jwks_fetches[agent] += 1


class _IssuerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bind: tuple[str, int], issuer: DevIssuer) -> None:
        super().__init__(bind, _Handler)
        self.issuer = issuer


class _Handler(BaseHTTPRequestHandler):
    server: _IssuerServer

    def do_GET(self) -> None:
        issuer = self.server.issuer
        path, _, query = self.path.partition("?")
        if path == "/.well-known/openid-configuration":
            self._json(200, issuer.discovery())
        elif path == "/jwks.json":
            issuer.count_fetch(self.headers.get("User-Agent", ""))
            self._json(200, issuer.keys.jwks())
        elif path == "/healthz":
            self._json(200, {"status": "ok", "service": "development-issuer"})
        elif path == "/authorize":
            self._authorize(dict(parse_qsl(query)), submitted=False)
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        form = self._form()
        if form is None:
            self._json(413, {"error": "invalid_request", "error_description": "The form is too large."})
        elif path == "/authorize":
            self._authorize(form, submitted=True)
        elif path == "/token":
            self._token(form)
        else:
            self._json(404, {"error": "not_found"})

    def _authorize(self, params: dict[str, str], *, submitted: bool) -> None:
        issuer = self.server.issuer
        try:
            request = parse_authorization(params, issuer.clients)
        except SignInError as refused:
            answer = refused.answer()
            if answer is None:
                self._html(400, error_page(refused))
            else:
                self._redirect(answer)
            return
        if not submitted:
            self._html(200, sign_in_page(request, form={"units": issuer.suggested_units}))
            return
        person, problems = parse_person(params)
        if person is None:
            self._html(400, sign_in_page(request, form=params, problems=problems))
            return
        self._redirect(request.answer(code=issuer.codes.issue(request, person)))

    def _token(self, form: dict[str, str]) -> None:
        issuer = self.server.issuer
        try:
            client = authenticate_client(self.headers.get("Authorization"), form, issuer.clients)
            grant = issuer.codes.redeem(form, client)
        except TokenError as refused:
            extra = {"WWW-Authenticate": 'Basic realm="development issuer"'} if refused.status == 401 else {}
            self._json(refused.status, {"error": refused.error, "error_description": refused.description}, extra)
            return
        self._json(200, issuer.tokens(grant), {"Pragma": "no-cache"})

    def _form(self) -> dict[str, str] | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            return None
        return dict(parse_qsl(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True))

    def _json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(body).encode(), headers)

    def _html(self, status: int, page: str) -> None:
        self._send(status, "text/html; charset=utf-8", page.encode(), {"X-Frame-Options": "DENY"})

    def _redirect(self, location: str) -> None:
        self._send(303, "text/plain; charset=utf-8", b"", {"Location": location})

    def _send(self, status: int, content_type: str, data: bytes, headers: Mapping[str, str] | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
