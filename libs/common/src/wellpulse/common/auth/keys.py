"""The issuer's signing keys: found through OIDC discovery, fetched without blocking, cached.

Keys are re-read when they are older than ``max_age`` or when a token names a key not seen yet
(the issuer rotated), but never twice within ``floor``: a stream of tokens naming made-up keys
costs the issuer at most one fetch per floor. Concurrent requests share one fetch. When a fetch
fails, the keys already held keep working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

# GET a URL, return its JSON body.
FetchJson = Callable[[str], Awaitable[Any]]


class IssuerUnavailable(Exception):
    """Neither the issuer's keys nor a cached copy could be had; the message says which step failed."""


class SigningKeys:
    def __init__(
        self,
        issuer: str,
        fetch: FetchJson,
        *,
        max_age: float,
        floor: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer
        self._fetch = fetch
        self._max_age = max_age
        self._floor = floor
        self._clock = clock
        self._jwks_uri: str | None = None
        self._keys: dict[str | None, Mapping[str, Any]] = {}
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._attempted_at: float | None = None  # the last fetch, whatever came of it
        self._failure = "the issuer's keys have not been fetched yet"
        self._lock = asyncio.Lock()

    async def find(self, kid: str | None) -> Mapping[str, Any] | None:
        """The JWK for ``kid`` (None: the issuer's only key); None when the issuer has no such key."""
        stale = self._since(self._fetched_at) >= self._max_age
        if (stale or self._lookup(kid) is None) and self._since(self._attempted_at) >= self._floor:
            await self._refresh(self._attempted_at)
        if self._fetched_at is None:
            raise IssuerUnavailable(self._failure)
        return self._lookup(kid)

    def _since(self, moment: float | None) -> float:
        return float("inf") if moment is None else self._clock() - moment

    def _lookup(self, kid: str | None) -> Mapping[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, seen: float | None) -> None:
        async with self._lock:
            if self._attempted_at != seen:
                return  # another request fetched while this one waited: use what it found
            try:
                keys = await self._fetch_keys()
            except IssuerUnavailable as exc:
                self._failure = str(exc)
                if self._keys:
                    log.warning("%s; keeping the %d key(s) already held", exc, len(self._keys))
                else:
                    log.warning("%s", exc)
                return
            finally:
                self._attempted_at = self._clock()
            self._keys, self._fetched_at = keys, self._attempted_at

    async def _fetch_keys(self) -> dict[str | None, Mapping[str, Any]]:
        if self._jwks_uri is None:
            self._jwks_uri = await self._discover()
        try:
            document = await self._fetch(self._jwks_uri)
        except (httpx.HTTPError, ValueError) as exc:
            self._jwks_uri = None  # discover again next time: the issuer may have moved its keys
            raise IssuerUnavailable(f"fetching the issuer's keys failed ({type(exc).__name__})") from exc
        keys = _signing_keys(document)
        if not keys:
            raise IssuerUnavailable("the issuer's key set holds no signing key")
        log.info("read %d signing key(s) from the issuer", len(keys))
        return keys

    async def _discover(self) -> str:
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = await self._fetch(url)
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"OIDC discovery at {url} failed ({type(exc).__name__})") from exc
        if not isinstance(document, Mapping) or document.get("issuer") != self._issuer:
            named = document.get("issuer") if isinstance(document, Mapping) else None
            raise IssuerUnavailable(f"the discovery document at {url} names issuer {named!r}, not {self._issuer!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IssuerUnavailable(f"the discovery document at {url} has no jwks_uri")
        return jwks_uri


def _signing_keys(document: Any) -> dict[str | None, Mapping[str, Any]]:
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        return {}
    keys: dict[str | None, Mapping[str, Any]] = {}
    for jwk in entries:
        if isinstance(jwk, Mapping) and isinstance(jwk.get("kty"), str) and jwk.get("use", "sig") == "sig":
            kid = jwk.get("kid")
            keys[kid if isinstance(kid, str) else None] = jwk
    return keys


def http_fetcher(client: httpx.AsyncClient) -> FetchJson:
    async def fetch(url: str) -> Any:
        answer = await client.get(url, headers={"Accept": "application/json"})
        answer.raise_for_status()
        return answer.json()

    return fetch
