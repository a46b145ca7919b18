"""A development OpenID Connect issuer: real discovery and JWKS over HTTP, tokens signed by its keys.

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

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from wellpulse.devstack.embedded import StackError

AUDIENCE = "wellpulse"
ROLES = ("leader", "hr", "admin")


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
    """Serves ``/.well-known/openid-configuration`` and ``/jwks.json`` for the keys in its folder."""

    def __init__(self, folder: Path, *, environment: str | None, host: str = "127.0.0.1", port: int = 0) -> None:
        ensure_development(environment)
        self.folder = folder
        self.keys = Keys(folder)
        self._bind = (host, port)
        self._server: _IssuerServer | None = None
        # JWKS downloads by the User-Agent that asked (each service names itself).
        self.jwks_fetches: Counter[str] = Counter()
        self._lock = threading.Lock()

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
            "authorization_endpoint": f"{issuer}/authorize",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
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
        if self.path == "/.well-known/openid-configuration":
            self._json(200, issuer.discovery())
        elif self.path == "/jwks.json":
            issuer.count_fetch(self.headers.get("User-Agent", ""))
            self._json(200, issuer.keys.jwks())
        elif self.path == "/healthz":
            self._json(200, {"status": "ok", "service": "development-issuer"})
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
