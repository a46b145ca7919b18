"""The issuer's key cache driven by a fake fetch and a fake clock: when it fetches, when it must not,
and what it keeps when the issuer fails."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from wellpulse.common.auth.keys import IssuerUnavailable, SigningKeys

ISSUER = "https://issuer.example.test/tenant"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = "https://keys.example.test/tenant/jwks"
MAX_AGE = 900.0
FLOOR = 30.0


def key(kid: str | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kty": "RSA", "n": f"modulus-of-{kid}", "e": "AQAB", **extra}
    if kid is not None:
        entry["kid"] = kid
    return entry


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeIssuer:
    """Answers discovery and the JWKS; can fail, be told what to answer, or hold a fetch until released."""

    keys: list[dict[str, Any]] = field(default_factory=lambda: [key("k1")])
    discovery: dict[str, Any] = field(default_factory=lambda: {"issuer": ISSUER, "jwks_uri": JWKS_URI})
    failing: bool = False
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, url: str) -> Any:
        self.calls.append(url)
        self.started.set()
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), timeout=5)
        if self.failing:
            raise httpx.ConnectError("connection refused")
        return copy.deepcopy({DISCOVERY: self.discovery, JWKS_URI: {"keys": self.keys}}[url])

    @property
    def key_fetches(self) -> int:
        return self.calls.count(JWKS_URI)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def signing_keys(issuer: FakeIssuer, clock: Clock) -> SigningKeys:
    return SigningKeys(ISSUER, issuer, max_age=MAX_AGE, floor=FLOOR, clock=clock)


async def test_the_first_find_discovers_and_fetches_once(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    found = await signing_keys.find("k1")

    assert found is not None
    assert found["n"] == "modulus-of-k1"
    assert issuer.calls == [DISCOVERY, JWKS_URI]


async def test_known_keys_are_served_from_the_cache(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")
    for _ in range(5):
        clock.now += 100
        assert await signing_keys.find("k1") is not None

    assert issuer.calls == [DISCOVERY, JWKS_URI]


async def test_an_unknown_kid_refreshes_only_once_the_floor_has_passed(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")
    issuer.keys = [key("k1"), key("k2")]  # the issuer rotates

    clock.now += FLOOR - 1
    assert await signing_keys.find("k2") is None
    assert await signing_keys.find("made-up") is None
    assert issuer.key_fetches == 1

    clock.now += 1
    assert await signing_keys.find("k2") is not None
    assert issuer.key_fetches == 2
    assert issuer.calls.count(DISCOVERY) == 1  # the jwks_uri is remembered


async def test_a_stream_of_made_up_kids_costs_one_fetch_per_floor(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")
    for step in range(100):
        clock.now += 1
        assert await signing_keys.find(f"made-up-{step}") is None

    assert issuer.key_fetches == 1 + 100 // int(FLOOR)


async def test_keys_older_than_the_max_age_are_read_again(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")

    clock.now += MAX_AGE - 1
    await signing_keys.find("k1")
    assert issuer.key_fetches == 1

    clock.now += 1
    issuer.keys = [key("k1", n="rotated-modulus")]
    found = await signing_keys.find("k1")
    assert issuer.key_fetches == 2
    assert found is not None
    assert found["n"] == "rotated-modulus"


async def test_concurrent_finds_of_unknown_kids_share_one_fetch(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")
    clock.now += FLOOR
    issuer.keys = [key("k1"), key("k2")]
    issuer.gate, issuer.started = asyncio.Event(), asyncio.Event()

    finds = asyncio.gather(*(signing_keys.find(f"unknown-{n}") for n in range(25)), signing_keys.find("k2"))
    await asyncio.wait_for(issuer.started.wait(), timeout=5)
    issuer.gate.set()
    found = await asyncio.wait_for(finds, timeout=5)

    assert issuer.key_fetches == 2
    assert found[:-1] == [None] * 25
    assert found[-1] is not None


async def test_concurrent_first_finds_share_one_discovery_and_fetch(
    signing_keys: SigningKeys, issuer: FakeIssuer
) -> None:
    issuer.gate = asyncio.Event()

    finds = asyncio.gather(*(signing_keys.find("k1") for _ in range(10)))
    await asyncio.wait_for(issuer.started.wait(), timeout=5)
    issuer.gate.set()
    found = await asyncio.wait_for(finds, timeout=5)

    assert all(f is not None for f in found)
    assert issuer.calls == [DISCOVERY, JWKS_URI]


async def test_a_failing_refresh_keeps_the_keys_held_and_respects_the_floor(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    await signing_keys.find("k1")
    issuer.failing = True

    clock.now += MAX_AGE  # stale: a refresh is due, and fails
    assert await signing_keys.find("k1") is not None
    attempts = len(issuer.calls)
    assert attempts > 2

    clock.now += FLOOR - 1
    assert await signing_keys.find("k1") is not None
    assert await signing_keys.find("rotated-in") is None
    assert len(issuer.calls) == attempts  # no retry within the floor

    clock.now += 1
    issuer.failing = False
    issuer.keys = [key("k1"), key("rotated-in")]
    assert await signing_keys.find("rotated-in") is not None
    assert issuer.calls[-2:] == [DISCOVERY, JWKS_URI]  # a failed key fetch discovers again


async def test_without_any_keys_a_failure_is_issuer_unavailable_and_retried_only_after_the_floor(
    signing_keys: SigningKeys, issuer: FakeIssuer, clock: Clock
) -> None:
    issuer.failing = True

    with pytest.raises(IssuerUnavailable, match="discovery"):
        await signing_keys.find("k1")
    with pytest.raises(IssuerUnavailable, match="discovery"):
        await signing_keys.find("k1")
    assert issuer.calls == [DISCOVERY]

    clock.now += FLOOR
    issuer.failing = False
    assert await signing_keys.find("k1") is not None


async def test_a_discovery_naming_another_issuer_is_refused(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    issuer.discovery = {"issuer": "https://evil.example.test/tenant", "jwks_uri": JWKS_URI}

    with pytest.raises(IssuerUnavailable) as caught:
        await signing_keys.find("k1")

    message = str(caught.value)
    assert "https://evil.example.test/tenant" in message
    assert ISSUER in message
    assert DISCOVERY in message
    assert issuer.key_fetches == 0


async def test_a_discovery_without_jwks_uri_is_refused(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    issuer.discovery = {"issuer": ISSUER}

    with pytest.raises(IssuerUnavailable, match="jwks_uri"):
        await signing_keys.find("k1")


@pytest.mark.parametrize(
    "keys",
    [[], [key("e1", use="enc")], [{"kid": "no-kty", "n": "x"}], ["not-a-key"]],
    ids=["empty", "encryption-only", "no-kty", "not-a-mapping"],
)
async def test_a_key_set_without_a_signing_key_is_issuer_unavailable(
    signing_keys: SigningKeys, issuer: FakeIssuer, keys: list[Any]
) -> None:
    issuer.keys = keys

    with pytest.raises(IssuerUnavailable, match="no signing key"):
        await signing_keys.find("k1")


async def test_encryption_keys_are_ignored(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    issuer.keys = [key("e1", use="enc"), key("s1", use="sig"), key("s2")]

    assert await signing_keys.find("e1") is None
    assert await signing_keys.find("s1") is not None
    assert await signing_keys.find("s2") is not None


async def test_no_kid_picks_the_only_key(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    issuer.keys = [key("only")]

    found = await signing_keys.find(None)

    assert found is not None
    assert found["kid"] == "only"


async def test_no_kid_picks_nothing_when_there_are_two_keys(signing_keys: SigningKeys, issuer: FakeIssuer) -> None:
    issuer.keys = [key("k1"), key("k2")]

    assert await signing_keys.find(None) is None
