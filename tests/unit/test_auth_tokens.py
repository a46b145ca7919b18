"""Bearer-token verification against an in-memory issuer: what verifies, why the rest is refused, and
that junk or obviously wrong tokens are refused without ever fetching the issuer's keys."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from wellpulse.common.auth.keys import SigningKeys
from wellpulse.common.auth.principal import ClaimNames, Principal, Role, claim
from wellpulse.common.auth.tokens import MAX_TOKEN_LENGTH, Refusal, TokenPolicy, TokenRefused, TokenVerifier

ISSUER = "https://issuer.example.test/tenant"
AUDIENCE = "wellpulse"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = "https://keys.example.test/tenant/jwks"
LEEWAY = 30


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    rogue: rsa.RSAPrivateKey  # never published by the issuer
    small: rsa.RSAPrivateKey  # 1024 bits: below the minimum

    def public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        rogue=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        small=rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - must be refused
    )


def jwk(public: Any, kid: str, alg: str | None) -> dict[str, Any]:
    exporter = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    entry = {**exporter.to_jwk(public, as_dict=True), "kid": kid, "use": "sig"}
    entry.pop("key_ops", None)
    if alg is not None:
        entry["alg"] = alg
    return entry


@dataclass
class FakeIssuer:
    """Serves the discovery document and the JWKS; remembers every URL it was asked for."""

    jwks: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> Any:
        self.calls.append(url)
        documents = {DISCOVERY: {"issuer": ISSUER, "jwks_uri": JWKS_URI}, JWKS_URI: self.jwks}
        return copy.deepcopy(documents[url])

    @property
    def key_fetches(self) -> int:
        return self.calls.count(JWKS_URI)


@pytest.fixture
def issuer(keys: Keys) -> FakeIssuer:
    return FakeIssuer(
        {
            "keys": [
                jwk(keys.rsa.public_key(), "rsa-1", "RS256"),
                jwk(keys.ec.public_key(), "ec-1", "ES256"),
                jwk(keys.rsa.public_key(), "rsa-no-alg", None),
                jwk(keys.ec.public_key(), "ec-no-alg", None),
                jwk(keys.small.public_key(), "rsa-small", "RS256"),
            ]
        }
    )


def make_verifier(fetch: FakeIssuer, algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")) -> TokenVerifier:
    policy = TokenPolicy(ISSUER, AUDIENCE, algorithms, LEEWAY, ClaimNames())
    return TokenVerifier(policy, SigningKeys(ISSUER, fetch, max_age=900, floor=30))


@pytest.fixture
def verifier(issuer: FakeIssuer) -> TokenVerifier:
    return make_verifier(issuer)


def claims(**changes: Any) -> dict[str, Any]:
    """Good claims; a change to None removes the claim."""
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "person-1",
        "iat": now,
        "exp": now + 300,
        "roles": ["leader", "hr"],
        "wellpulse_units": ["unit-a", "unit-b"],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Any, kid: str | None = "rsa-1", alg: str = "RS256", **changes: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**changes), key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Mapping[str, Any]) -> str:
    return b64(json.dumps(value).encode())


async def refused(verifier: TokenVerifier, token: str) -> TokenRefused:
    with pytest.raises(TokenRefused) as caught:
        await verifier.verify(token)
    return caught.value


async def test_a_valid_token_names_the_principal(verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer) -> None:
    principal = await verifier.verify(mint(keys.rsa))

    assert principal == Principal("person-1", frozenset({Role.leader, Role.hr}), ("unit-a", "unit-b"))
    assert issuer.calls == [DISCOVERY, JWKS_URI]


async def test_an_ec_signed_token_verifies(verifier: TokenVerifier, keys: Keys) -> None:
    principal = await verifier.verify(mint(keys.ec, kid="ec-1", alg="ES256", roles=["admin"]))

    assert principal.roles == frozenset({Role.admin})


async def test_unknown_role_values_are_ignored_and_units_deduplicated(verifier: TokenVerifier, keys: Keys) -> None:
    token = mint(keys.rsa, roles=["superuser", "leader"], wellpulse_units=["u-1", "u-2", "u-1"])

    principal = await verifier.verify(token)

    assert principal.roles == frozenset({Role.leader})
    assert principal.units == ("u-1", "u-2")


async def test_expired_beyond_the_leeway_is_refused_without_fetching_keys(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    token = mint(keys.rsa, exp=int(time.time()) - LEEWAY - 30)

    assert (await refused(verifier, token)).reason is Refusal.expired
    assert issuer.calls == []


async def test_expired_within_the_leeway_still_verifies(verifier: TokenVerifier, keys: Keys) -> None:
    token = mint(keys.rsa, exp=int(time.time()) - LEEWAY // 3)

    assert (await verifier.verify(token)).subject == "person-1"


async def test_a_token_not_valid_yet_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    token = mint(keys.rsa, nbf=int(time.time()) + LEEWAY + 120)

    assert (await refused(verifier, token)).reason is Refusal.not_yet_valid


async def test_a_token_for_another_audience_is_refused_without_fetching_keys(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    for audience in ("another-app", ["another-app", "third-app"], None):
        assert (await refused(verifier, mint(keys.rsa, aud=audience))).reason is Refusal.audience
    assert issuer.calls == []


async def test_an_audience_list_containing_ours_verifies(verifier: TokenVerifier, keys: Keys) -> None:
    token = mint(keys.rsa, aud=["another-app", AUDIENCE])

    assert (await verifier.verify(token)).subject == "person-1"


async def test_a_token_from_another_issuer_is_refused_without_fetching_keys(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    for other in ("https://evil.example.test/tenant", ISSUER + "/", None):
        assert (await refused(verifier, mint(keys.rsa, iss=other))).reason is Refusal.issuer
    assert issuer.calls == []


async def test_alg_none_is_refused_without_fetching_keys(verifier: TokenVerifier, issuer: FakeIssuer) -> None:
    for header in ({"alg": "none"}, {"alg": "none", "kid": "rsa-1"}, {"alg": "None"}, {"typ": "JWT"}):
        token = f"{segment(header)}.{segment(claims())}."
        assert (await refused(verifier, token)).reason is Refusal.algorithm
    assert issuer.calls == []


async def test_hs256_signed_with_the_public_key_is_refused_without_fetching_keys(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    """Algorithm confusion: the published RSA key used as an HMAC secret."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'})}.{segment(claims(roles=['admin']))}"
    signature = hmac.new(keys.public_pem(), signing_input.encode(), hashlib.sha256).digest()

    assert (await refused(verifier, f"{signing_input}.{b64(signature)}")).reason is Refusal.algorithm
    assert issuer.calls == []


@pytest.mark.parametrize("kid", ["rsa-1", "rsa-no-alg"])
async def test_hs256_confusion_is_refused_even_if_the_policy_listed_hs256(
    issuer: FakeIssuer, keys: Keys, kid: str
) -> None:
    """Settings never allow HS256; the verifier still must not treat an RSA key as an HMAC secret."""
    verifier = make_verifier(issuer, algorithms=("RS256", "HS256"))
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{segment(claims(roles=['admin']))}"
    signature = hmac.new(keys.public_pem(), signing_input.encode(), hashlib.sha256).digest()

    reason = (await refused(verifier, f"{signing_input}.{b64(signature)}")).reason

    assert reason in {Refusal.algorithm, Refusal.unknown_key}


async def test_a_tampered_payload_fails_the_signature(verifier: TokenVerifier, keys: Keys) -> None:
    header, _, signature = mint(keys.rsa, roles=["leader"]).split(".")
    forged = f"{header}.{segment(claims(roles=['admin']))}.{signature}"

    assert (await refused(verifier, forged)).reason is Refusal.signature


async def test_a_token_signed_by_an_unpublished_key_is_refused(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    assert (await refused(verifier, mint(keys.rogue, kid="rogue-1"))).reason is Refusal.unknown_key
    assert issuer.key_fetches == 1


async def test_a_published_kid_with_someone_elses_signature_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    assert (await refused(verifier, mint(keys.rogue, kid="rsa-1"))).reason is Refusal.signature


async def test_a_token_without_kid_is_refused_when_the_issuer_has_several_keys(
    verifier: TokenVerifier, keys: Keys
) -> None:
    assert (await refused(verifier, mint(keys.rsa, kid=None))).reason is Refusal.unknown_key


@pytest.mark.parametrize("missing", ["exp", "sub"])
async def test_a_token_missing_a_needed_claim_is_refused(verifier: TokenVerifier, keys: Keys, missing: str) -> None:
    refusal = await refused(verifier, mint(keys.rsa, **{missing: None}))

    assert refusal.reason is Refusal.claims
    assert repr(missing) in refusal.detail


async def test_a_jwk_without_alg_verifies_an_rs256_token(verifier: TokenVerifier, keys: Keys) -> None:
    assert (await verifier.verify(mint(keys.rsa, kid="rsa-no-alg"))).subject == "person-1"


async def test_a_jwk_whose_alg_differs_from_the_header_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    """The key says RS256; a PS256 signature by the very same key pair must still not pass."""
    assert (await refused(verifier, mint(keys.rsa, kid="rsa-1", alg="PS256"))).reason is Refusal.algorithm


@pytest.mark.parametrize(
    ("kid", "alg", "signer"),
    [("ec-no-alg", "RS256", "rsa"), ("rsa-no-alg", "ES256", "ec")],
)
async def test_a_header_alg_that_does_not_fit_the_key_type_is_refused(
    verifier: TokenVerifier, keys: Keys, kid: str, alg: str, signer: str
) -> None:
    """Entra-style JWKS entries carry no alg: the header then picks one the key cannot do."""
    token = mint(getattr(keys, signer), kid=kid, alg=alg)

    assert (await refused(verifier, token)).reason is Refusal.unknown_key


async def test_a_key_shorter_than_2048_bits_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns when signing with a short key
        token = mint(keys.small, kid="rsa-small")

    assert (await refused(verifier, token)).reason is Refusal.unknown_key


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "not-a-token",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "...",
        "Bearer abc.def.ghi",
        f"{segment({'alg': 'RS256'})}.{b64(b'not json')}.c2ln",
        f"{b64(b'[1, 2]')}.{segment(claims())}.c2ln",
        f"{segment({'alg': 'RS256'})}.{b64(b'[1, 2]')}.c2ln",
        f"{segment({'alg': 'RS256', 'kid': 7})}.{segment(claims())}.c2ln",
        "\u00e9\u00e9.\u00e9\u00e9.\u00e9",
    ],
)
async def test_junk_is_malformed_and_never_fetches_keys(verifier: TokenVerifier, issuer: FakeIssuer, junk: str) -> None:
    assert (await refused(verifier, junk)).reason is Refusal.malformed
    assert issuer.calls == []


async def test_a_huge_token_is_malformed_and_never_fetches_keys(
    verifier: TokenVerifier, keys: Keys, issuer: FakeIssuer
) -> None:
    huge = mint(keys.rsa, padding="x" * MAX_TOKEN_LENGTH)

    assert (await refused(verifier, huge)).reason is Refusal.malformed
    assert (await refused(verifier, "a" * 10 * MAX_TOKEN_LENGTH + ".b.c")).reason is Refusal.malformed
    assert issuer.calls == []


async def test_refusal_details_never_repeat_the_token(verifier: TokenVerifier, keys: Keys) -> None:
    token = mint(keys.rogue, kid="rsa-1", sub="secret-subject-42")

    refusal = await refused(verifier, token)

    assert "secret-subject-42" not in refusal.detail
    assert token not in str(refusal)


def test_claim_paths_prefer_a_whole_name_and_follow_dots() -> None:
    token_claims = {
        "realm_access": {"roles": ["hr"]},
        "https://example.org/units": ["u-9"],
        "a.b": "whole",
        "a": {"b": "path"},
    }

    assert claim(token_claims, "realm_access.roles") == ["hr"]
    assert claim(token_claims, "https://example.org/units") == ["u-9"]
    assert claim(token_claims, "a.b") == "whole"
    assert claim(token_claims, "realm_access.missing") is None
    assert claim(token_claims, "missing") is None


def test_claim_names_map_provider_role_values_and_accept_space_separated_roles() -> None:
    names = ClaimNames(roles="realm_access.roles", role_values={"WP.Admin": Role.admin, "WP.HR": Role.hr})

    principal = names.principal({"sub": "p", "realm_access": {"roles": "WP.Admin WP.HR admin"}})

    assert principal.roles == frozenset({Role.admin, Role.hr})  # plain "admin" is not mapped here
    assert principal.units == ()


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
async def test_flipping_any_signature_byte_never_verifies(keys: Keys, position: int, mask: int) -> None:
    issuer = FakeIssuer({"keys": [jwk(keys.rsa.public_key(), "rsa-1", "RS256")]})
    verifier = make_verifier(issuer)
    head, body, signature = mint(keys.rsa).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[position % len(raw)] ^= mask

    with pytest.raises(TokenRefused) as caught:
        await verifier.verify(f"{head}.{body}.{b64(bytes(raw))}")

    assert caught.value.reason is Refusal.signature
