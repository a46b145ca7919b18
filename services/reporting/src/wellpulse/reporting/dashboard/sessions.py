"""The dashboard's browser sessions, kept in reporting's schema: the cookie holds only a random id.

A sign-in in progress is tied to the browser that started it by a cookie of its own, so an answer
from the provider is accepted only in that browser (no one can sign a victim in as themselves).
A session ends when its id token does (or after the settings' cap), on sign-out, and for good:
the row is deleted. Only sha256 hashes of either cookie are stored. The CSRF token of a session is
derived from its id, so it needs no storage and is worthless without the cookie it belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from fastapi import Request, Response

from wellpulse.common.auth import Principal, Role
from wellpulse.common.db import Database

# How long a browser may take between leaving for the provider and coming back.
SIGN_IN_SECONDS = 600
_CSRF_CONTEXT = b"wellpulse.dashboard.csrf\x00"
_ROLES = frozenset(role.value for role in Role)


def new_secret() -> str:
    """A cookie value: 256 bits from the operating system's CSPRNG."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def csrf_token(session_id: str) -> str:
    """The token a session's forms carry: derived from the session id, which it does not reveal."""
    return base64.urlsafe_b64encode(hashlib.sha256(_CSRF_CONTEXT + session_id.encode()).digest()).decode().rstrip("=")


def csrf_matches(session_id: str, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), csrf_token(session_id).encode())


def session_expiry(token_expires_at: int, now: datetime, max_seconds: int) -> datetime:
    """When a session ends: with its id token, and never later than ``max_seconds`` from now."""
    return min(datetime.fromtimestamp(token_expires_at, UTC), now + timedelta(seconds=max_seconds))


@dataclass(frozen=True)
class Cookies:
    """The two cookies: HttpOnly, SameSite=Lax, and outside development Secure with the ``__Host-``
    prefix (so no subdomain and no plain-http page can set or overwrite them)."""

    secure: bool

    @property
    def session(self) -> str:
        return "__Host-wellpulse-session" if self.secure else "wellpulse-session"

    @property
    def sign_in(self) -> str:
        return "__Host-wellpulse-sign-in" if self.secure else "wellpulse-sign-in"

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax")

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    return_to: str


class SessionStore(Protocol):
    cookies: Cookies

    async def principal(self, request: Request) -> Principal | None: ...
    async def open(self, principal: Principal, expires_at: datetime) -> str: ...
    async def close(self, session_id: str) -> None: ...
    async def begin_sign_in(self, pending: PendingSignIn) -> str: ...
    async def finish_sign_in(self, binding: str) -> PendingSignIn | None: ...


class PostgresSessions:
    """``SessionStore`` on ``reporting.dashboard_sessions`` and ``reporting.dashboard_sign_ins``."""

    def __init__(self, database: Database, cookies: Cookies) -> None:
        self._database = database
        self.cookies = cookies

    async def principal(self, request: Request) -> Principal | None:
        """Who the request's session cookie names, while the session lasts (the auth seam's ``SessionUser``)."""
        session_id = request.cookies.get(self.cookies.session)
        if not session_id:
            return None
        row = await self._database.pool.fetchrow(
            "SELECT subject, roles, units FROM reporting.dashboard_sessions WHERE id_hash = $1 AND expires_at > now()",
            digest(session_id),
        )
        if row is None:
            return None
        roles = frozenset(Role(r) for r in row["roles"] if r in _ROLES)
        return Principal(row["subject"], roles, tuple(row["units"]))

    async def open(self, principal: Principal, expires_at: datetime) -> str:
        session_id = new_secret()
        async with self._database.transaction() as conn:
            await conn.execute("DELETE FROM reporting.dashboard_sessions WHERE expires_at <= now()")
            await conn.execute(
                "INSERT INTO reporting.dashboard_sessions (id_hash, subject, roles, units, expires_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                digest(session_id),
                principal.subject,
                sorted(role.value for role in principal.roles),
                list(principal.units),
                expires_at,
            )
        return session_id

    async def close(self, session_id: str) -> None:
        await self._database.pool.execute(
            "DELETE FROM reporting.dashboard_sessions WHERE id_hash = $1", digest(session_id)
        )

    async def begin_sign_in(self, pending: PendingSignIn) -> str:
        binding = new_secret()
        async with self._database.transaction() as conn:
            await conn.execute("DELETE FROM reporting.dashboard_sign_ins WHERE expires_at <= now()")
            await conn.execute(
                "INSERT INTO reporting.dashboard_sign_ins (binding_hash, state, nonce, code_verifier, return_to, "
                "expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
                digest(binding),
                pending.state,
                pending.nonce,
                pending.code_verifier,
                pending.return_to,
                float(SIGN_IN_SECONDS),
            )
        return binding

    async def finish_sign_in(self, binding: str) -> PendingSignIn | None:
        """The sign-in this browser started, once: taking it ends it, whatever the answer was."""
        row = await self._database.pool.fetchrow(
            "DELETE FROM reporting.dashboard_sign_ins WHERE binding_hash = $1 "
            "RETURNING state, nonce, code_verifier, return_to, expires_at > now() AS live",
            digest(binding),
        )
        if row is None or not row["live"]:
            return None
        return PendingSignIn(row["state"], row["nonce"], row["code_verifier"], row["return_to"])
