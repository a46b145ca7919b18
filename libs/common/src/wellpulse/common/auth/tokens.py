"""Bearer-token verification with PyJWT: signature by the issuer's key, then iss, aud, exp, nbf.

Nothing from the token is trusted before its signature is checked, except to refuse it early:
a token whose header or unverified claims are already wrong is refused before any key is looked
up, so junk never makes the service fetch the issuer's keys.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from wellpulse.common.auth.keys import SigningKeys
from wellpulse.common.auth.principal import ClaimNames, ClaimProblem, Principal

# A token longer than this is not a token (Entra's with many groups stay under 8 KiB).
MAX_TOKEN_LENGTH = 16 * 1024


class Refusal(StrEnum):
    """Why a token was refused; each says what to do about it, never what the token held."""

    missing = "Send the token in an Authorization header: `Authorization: Bearer <token>`."
    malformed = "The bearer token is not a JSON Web Token."
    algorithm = "The token is signed with an algorithm this service does not accept."
    expired = "The token has expired: get a new one from your identity provider."
    not_yet_valid = "The token is not valid yet: check the clocks of this server and the identity provider."
    issuer = "The token was issued by a different identity provider than this service trusts."
    audience = "The token was issued for a different application (its audience is not this service's)."
    unknown_key = "The token is signed with a key the identity provider does not publish."
    signature = "The token's signature does not verify: it was altered or signed by someone else."
    claims = "The token lacks a claim this service needs."
    nonce = "The sign-in answer does not belong to the sign-in this browser started: sign in again."


class TokenRefused(Exception):
    def __init__(self, reason: Refusal, detail: str | None = None) -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail or reason.value


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    leeway: int
    claims: ClaimNames


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    claims: Mapping[str, Any]

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])  # required, and checked to be a number, by the verification


class TokenVerifier:
    def __init__(self, policy: TokenPolicy, keys: SigningKeys) -> None:
        self._policy = policy
        self._keys = keys

    async def verify(self, token: str) -> Principal:
        """The principal a valid token names, or ``TokenRefused``. May raise ``IssuerUnavailable``."""
        return (await self.verify_claims(token)).principal

    async def verify_claims(self, token: str) -> VerifiedToken:
        """The principal a valid token names and its verified claims (``exp``, a sign-in's ``nonce``)."""
        policy = self._policy
        header, unverified = _peek(token)
        algorithm = header.get("alg")
        if algorithm not in policy.algorithms:
            raise TokenRefused(Refusal.algorithm)
        _precheck(unverified, policy)
        kid = header.get("kid")
        jwk = await self._keys.find(kid if isinstance(kid, str) else None)
        if jwk is None:
            raise TokenRefused(Refusal.unknown_key)
        try:
            # Bind the key to the header's algorithm only when the key does not name its own.
            key = jwt.PyJWK(dict(jwk), algorithm=None if "alg" in jwk else algorithm)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=policy.audience,
                issuer=policy.issuer,
                leeway=policy.leeway,
                options={"require": ["exp", "iss", "aud"], "enforce_minimum_key_length": True},
            )
        except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:  # InvalidKeyError: wrong kty for the alg, short key
            raise TokenRefused(Refusal.unknown_key, "The issuer's key for this token cannot be used.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(Refusal.claims, f"The token has no {exc.claim!r} claim.") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(_refusal(exc)) from exc
        try:
            return VerifiedToken(policy.claims.principal(claims), claims)
        except ClaimProblem as exc:
            raise TokenRefused(Refusal.claims, f"{Refusal.claims.value} ({exc})") from exc


def _peek(token: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenRefused(Refusal.malformed)
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise TokenRefused(Refusal.malformed) from exc
    return header, claims


def _precheck(claims: Mapping[str, Any], policy: TokenPolicy) -> None:
    """Refuse what the full check would refuse anyway, before a key is looked up."""
    if claims.get("iss") != policy.issuer:
        raise TokenRefused(Refusal.issuer)
    audience = claims.get("aud")
    if policy.audience not in (audience if isinstance(audience, list) else [audience]):
        raise TokenRefused(Refusal.audience)
    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires < time.time() - policy.leeway:
        raise TokenRefused(Refusal.expired)


def _refusal(exc: jwt.InvalidTokenError) -> Refusal:
    match exc:
        case jwt.ExpiredSignatureError():
            return Refusal.expired
        case jwt.ImmatureSignatureError():
            return Refusal.not_yet_valid
        case jwt.InvalidAudienceError():
            return Refusal.audience
        case jwt.InvalidIssuerError():
            return Refusal.issuer
        case jwt.InvalidAlgorithmError():
            return Refusal.algorithm
        case jwt.InvalidSignatureError():
            return Refusal.signature
        case _:
            return Refusal.malformed
