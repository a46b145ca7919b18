"""A service's token checking, built from its settings: the verifier, its HTTP client, its metrics.

Bearer tokens on the APIs and the id tokens of a browser sign-in (the reporting dashboard) are
checked by the same verifier code against the same cached keys, issuer, algorithms and claim
names; only the audience differs (an id token is issued to the sign-in's client id).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable
from dataclasses import replace

import httpx
from prometheus_client import CollectorRegistry, Counter

from wellpulse.common.auth.keys import FetchJson, IssuerUnavailable, SigningKeys, http_fetcher
from wellpulse.common.auth.principal import ClaimNames, Principal, Role
from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.auth.tokens import Refusal, TokenPolicy, TokenRefused, TokenVerifier, VerifiedToken
from wellpulse.common.http import Problem

log = logging.getLogger(__name__)
REALM = "wellpulse"


class Authenticator:
    def __init__(
        self, settings: OidcSettings, service: str, registry: CollectorRegistry, fetch: FetchJson | None = None
    ) -> None:
        issuer = settings.required_issuer()
        self._client: httpx.AsyncClient | None = None
        if fetch is None:
            self._client = httpx.AsyncClient(
                timeout=settings.oidc_http_timeout_seconds,
                headers={"User-Agent": f"wellpulse-{service}"},
                follow_redirects=False,
            )
            fetch = http_fetcher(self._client)
        claims = ClaimNames(
            subject=settings.oidc_subject_claim,
            roles=settings.oidc_roles_claim,
            units=settings.oidc_units_claim,
            role_values={
                settings.oidc_leader_role: Role.leader,
                settings.oidc_hr_role: Role.hr,
                settings.oidc_admin_role: Role.admin,
            },
        )
        policy = TokenPolicy(
            issuer=issuer,
            audience=settings.oidc_audience,
            algorithms=settings.oidc_algorithms,
            leeway=settings.oidc_leeway_seconds,
            claims=claims,
        )
        keys = SigningKeys(
            issuer,
            fetch,
            max_age=settings.oidc_jwks_max_age_seconds,
            floor=settings.oidc_jwks_refresh_floor_seconds,
        )
        self._policy, self._keys = policy, keys
        self._verifier = TokenVerifier(policy, keys)
        self._sign_in_verifiers: dict[str, TokenVerifier] = {}
        self._refusals = Counter(
            "wellpulse_auth_refusals",
            "Requests refused for want of a valid bearer token or the role they need, by reason.",
            ["reason"],
            registry=registry,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def principal(self, token: str | None) -> Principal:
        """The caller a bearer token names; a 401 problem (or 503 when the issuer is unreachable)."""
        verification = self._verifier.verify_claims(token) if token else _refused(Refusal.missing)
        return (await self._checked(verification)).principal

    async def signed_in(self, id_token: str, *, client_id: str, nonce: str) -> VerifiedToken:
        """The person an OpenID Connect sign-in's id token names, checked as a bearer token is but
        for the sign-in's client id, and carrying the nonce this browser's sign-in sent; a 401 problem
        (503 when the issuer is unreachable) otherwise."""
        verifier = self._sign_in_verifiers.get(client_id)
        if verifier is None:
            verifier = TokenVerifier(replace(self._policy, audience=client_id), self._keys)
            self._sign_in_verifiers[client_id] = verifier
        return await self._checked(_with_nonce(verifier, id_token, nonce))

    async def _checked(self, verification: Awaitable[VerifiedToken]) -> VerifiedToken:
        try:
            return await verification
        except TokenRefused as refused:
            self._refusals.labels(reason=refused.reason.name).inc()
            raise unauthenticated(refused) from None
        except IssuerUnavailable as exc:
            self._refusals.labels(reason="issuer_unavailable").inc()
            log.warning("cannot check bearer tokens: %s", exc)
            raise Problem(
                503,
                "The identity provider cannot be reached",
                "This service could not fetch the identity provider's signing keys to check your token; "
                "try again shortly.",
                headers={"Retry-After": "10"},
            ) from None

    def forbidden(self) -> None:
        self._refusals.labels(reason="role").inc()


async def _refused(reason: Refusal) -> VerifiedToken:
    raise TokenRefused(reason)


async def _with_nonce(verifier: TokenVerifier, id_token: str, nonce: str) -> VerifiedToken:
    verified = await verifier.verify_claims(id_token)
    sent = verified.claims.get("nonce")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
        raise TokenRefused(Refusal.nonce)
    return verified


def unauthenticated(refused: TokenRefused) -> Problem:
    # RFC 6750: no error code when no credentials were sent at all.
    challenge = f'Bearer realm="{REALM}"'
    if refused.reason is not Refusal.missing:
        challenge += f', error="invalid_token", error_description="{refused.reason.name}"'
    return Problem(
        401,
        "Not signed in" if refused.reason is Refusal.missing else "The bearer token was refused",
        refused.detail,
        headers={"WWW-Authenticate": challenge},
        reason=refused.reason.name,
    )
