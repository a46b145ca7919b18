"""The development issuer: real discovery and JWKS over HTTP, tokens its keys sign, key rotation,
and a refusal to run or sign outside development."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.issuer import DevIssuer, NotDevelopment, parse_ttl, sign

WELLPULSE_DEV = Path(sys.executable).parent / "wellpulse-dev"


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[DevIssuer]:
    running = DevIssuer(tmp_path / "issuer", environment="development")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _verify(issuer: DevIssuer, token: str) -> dict[str, object]:
    discovery = httpx.get(f"{issuer.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == issuer.url
    jwks = httpx.get(discovery["jwks_uri"], headers={"User-Agent": "unit-test"}).json()
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in jwks["keys"] if k["kid"] == kid]
    claims: dict[str, object] = jwt.decode(
        token, jwt.PyJWK(key), algorithms=["RS256"], audience="wellpulse", issuer=issuer.url
    )
    return claims


def test_a_token_it_signs_verifies_against_its_published_keys(issuer: DevIssuer) -> None:
    token = sign(issuer.folder, roles=["leader", "hr"], units=["north", "south"], ttl_seconds=60, subject="pat")
    claims = _verify(issuer, token)
    assert claims["sub"] == "pat"
    assert claims["roles"] == ["leader", "hr"]
    assert claims["wellpulse_units"] == ["north", "south"]
    assert int(claims["exp"]) - int(claims["iat"]) == 60  # type: ignore[call-overload]
    assert issuer.jwks_fetches["unit-test"] == 1


def test_rotation_signs_with_a_new_key_and_keeps_the_old_one_published(issuer: DevIssuer) -> None:
    before = sign(issuer.folder, roles=["admin"])
    issuer.rotate()
    after = sign(issuer.folder, roles=["admin"])
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    _verify(issuer, before)
    _verify(issuer, after)
    issuer.rotate()
    published = {k["kid"] for k in httpx.get(f"{issuer.url}/jwks.json").json()["keys"]}
    assert jwt.get_unverified_header(before)["kid"] not in published, "only the last two keys stay published"


def test_it_refuses_to_run_outside_development(tmp_path: Path) -> None:
    for environment in (None, "production", "staging"):
        with pytest.raises(NotDevelopment, match="ENVIRONMENT=development"):
            DevIssuer(tmp_path, environment=environment)
    run = subprocess.run(
        [str(WELLPULSE_DEV), "issuer", "--folder", str(tmp_path / "x"), "--port", "0"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert run.returncode != 0
    assert "ENVIRONMENT=development" in run.stderr


def test_it_signs_nothing_from_a_folder_that_is_not_a_development_issuers(issuer: DevIssuer, tmp_path: Path) -> None:
    state = issuer.folder / "issuer.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "environment": "production"}))
    with pytest.raises(NotDevelopment):
        sign(issuer.folder, roles=["admin"])
    with pytest.raises(StackError, match="no development issuer"):
        sign(tmp_path / "nowhere", roles=["admin"])
    with pytest.raises(StackError, match="unknown role"):
        sign(tmp_path / "nowhere", roles=["root"])


def test_the_token_command_prints_a_token_or_says_what_is_missing(issuer: DevIssuer) -> None:
    def token(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(WELLPULSE_DEV), "token", "--folder", str(issuer.folder), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    printed = token("--role", "leader", "--unit", "north", "--ttl", "15m")
    assert printed.returncode == 0, printed.stderr
    claims = _verify(issuer, printed.stdout.strip())
    assert claims["wellpulse_units"] == ["north"]
    assert int(claims["exp"]) - int(claims["iat"]) == 900  # type: ignore[call-overload]
    no_unit = token("--role", "hr")
    assert no_unit.returncode != 0
    assert "needs --unit" in no_unit.stderr
    assert token("--role", "admin").returncode == 0
    assert "not a duration" in token("--role", "admin", "--ttl", "soon").stderr


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("8h", 28800), ("2d", 172800), ("45", 45)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "8 h", "h", "1.5h", "3w"])
def test_impossible_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_ttl(text)
