"""Unit tests for webhook URL checks: public https only outside development, before and after DNS."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any

import pytest

from wellpulse.alerts.delivery.targets import InvalidWebhookUrl, check_resolved_host, validate_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/wellpulse",
        "https://hooks.example.org:8443/a/b?c=d",
        "https://203.0.113.7.nip.io/hook",
        "https://8.8.8.8/hook",
        "https://[2001:4860:4860::8888]/hook",
        "https://[::ffff:8.8.8.8]/hook",  # IPv4-mapped, pointing at a public address
        "https://[64:ff9b::808:808]/hook",  # NAT64 of 8.8.8.8
        "HTTPS://Hooks.Example.ORG./hook",
    ],
)
def test_a_public_https_url_is_accepted(url: str) -> None:
    assert validate_webhook_url(url, development=False) == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.org/hook", "must start with https://"),
        ("ftp://hooks.example.org/hook", "must start with https://"),
        ("hooks.example.org/hook", "must start with https://"),
        ("https://user:pass@hooks.example.org/hook", "user name or password"),
        ("https://token@hooks.example.org/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("https://hooks.example.org:99999/hook", "port"),
        ("https://hooks.example.org/ho ok", "spaces"),
        ("https://hooks.example.org/\nhook", "control characters"),
    ],
)
def test_a_malformed_url_is_refused_with_what_to_change(url: str, says: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match=says):
        validate_webhook_url(url, development=False)


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("[fc00::5]", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a URL under test, not a bind
        ("[::]", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "not reachable from the Internet"),  # carrier-grade NAT
        ("[fec0::1]", "site-local"),
        ("[::ffff:127.0.0.1]", "loopback address (this machine) inside an IPv6"),
        ("[::ffff:10.0.0.1]", "private-network address inside an IPv6"),
        ("[2002:a9fe:a9fe::]", "link-local address (where cloud metadata services answer) inside"),  # 6to4
        ("[64:ff9b::7f00:1]", "loopback address (this machine) inside"),  # NAT64
    ],
)
def test_an_ip_literal_that_is_not_public_is_refused_outside_development(host: str, says: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match=rf"points at .*{re.escape(says)}"):
        validate_webhook_url(f"https://{host}/hook", development=False)


@pytest.mark.parametrize(
    "host", ["127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "017700000001", "hooks.example.123"]
)
def test_an_address_in_disguise_is_refused_even_in_development(host: str) -> None:
    for development in (False, True):
        with pytest.raises(InvalidWebhookUrl, match="looks like an IP address"):
            validate_webhook_url(f"https://{host}/hook", development=development)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "api.localhost", "printer.local", "vault.internal", "nas.home.arpa", "intranet"]
)
def test_a_name_that_only_means_something_inside_a_network_is_refused(host: str) -> None:
    with pytest.raises(InvalidWebhookUrl, match="only has a meaning inside a network"):
        validate_webhook_url(f"https://{host}/hook", development=False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost:9000/", "https://10.0.0.1/hook", "http://[::1]:8080/"]
)
def test_development_allows_http_and_local_receivers(url: str) -> None:
    assert validate_webhook_url(url, development=True) == url


@pytest.mark.parametrize("url", ["ftp://localhost/hook", "http://user:pw@localhost/", "http:///hook"])
def test_development_still_refuses_what_could_never_work(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        validate_webhook_url(url, development=True)


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Answers for names the test gives, so DNS results can be chosen; other names resolve for real."""
    answers: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: str, port: Any, **kwargs: Any) -> list[Any]:
        if host not in answers:
            return await real(host, port, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in answers[host]
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return answers


async def test_a_host_resolving_only_to_public_addresses_passes(dns: dict[str, list[str]]) -> None:
    dns["hooks.example.org"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]

    await check_resolved_host("hooks.example.org", development=False)


@pytest.mark.parametrize("internal", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "fd00::1", "::ffff:192.168.0.1"])
async def test_one_internal_address_among_public_ones_is_enough_to_refuse(
    dns: dict[str, list[str]], internal: str
) -> None:
    dns["hooks.example.org"] = ["93.184.215.14", internal]
    shown = re.escape(str(ipaddress.ip_address(internal)))

    with pytest.raises(InvalidWebhookUrl, match=rf"hooks\.example\.org resolves to {shown},"):
        await check_resolved_host("hooks.example.org", development=False)


async def test_development_does_not_resolve_at_all(dns: dict[str, list[str]]) -> None:
    dns["hooks.example.org"] = ["10.0.0.5"]

    await check_resolved_host("hooks.example.org", development=True)


async def test_the_real_resolver_is_asked_without_blocking_the_loop() -> None:
    """``localhost`` resolves from the hosts file on any machine, to loopback."""
    with pytest.raises(InvalidWebhookUrl, match="loopback"):
        await check_resolved_host("localhost", development=False)


async def test_an_ip_literal_host_is_checked_too() -> None:
    with pytest.raises(InvalidWebhookUrl, match="private"):
        await check_resolved_host("[fd12::1]", development=False)
    await check_resolved_host("8.8.8.8", development=False)


async def test_a_name_that_does_not_resolve_is_a_lookup_failure_not_a_verdict(dns: dict[str, list[str]]) -> None:
    with pytest.raises(socket.gaierror):
        await check_resolved_host("no-such-host.invalid", development=False)
