"""Which webhook URLs the alerts service will post to.

An organisation admin types the URL, and the service posts from inside the organisation's network, so
a careless or hostile URL could reach internal services (cloud metadata, databases, admin consoles).
Outside development only public https endpoints pass: checked once on the URL as written and again on
every address its host resolves to, just before each send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that only mean something inside a network (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
# Resolvers read "127.1", "2130706433" or "0x7f.1" as IPv4 addresses; WHATWG URLs do the same when the
# last label is numeric. Such a host is an address in disguise.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class InvalidWebhookUrl(ValueError):
    """The webhook URL cannot be used; the message says what to change."""


def validate_webhook_url(url: str, *, development: bool) -> str:
    """``url`` if the service may post to it, else ``InvalidWebhookUrl`` saying why."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidWebhookUrl("the webhook URL contains spaces or control characters: paste it again")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if development else ("https",)
    if scheme not in allowed:
        if scheme == "http":
            raise InvalidWebhookUrl(
                "the webhook URL must start with https:// (plain http is allowed only in development): "
                "alerts would otherwise cross the network readable and alterable"
            )
        raise InvalidWebhookUrl(f"the webhook URL must start with {' or '.join(f'{s}://' for s in allowed)}")
    if "@" in parts.netloc:
        raise InvalidWebhookUrl(
            "the webhook URL must not contain a user name or password (user:pass@host): "
            "the receiver checks the webhook signature instead"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhookUrl("the webhook URL has no host: write it as https://host.example/path")
    try:
        parts.port  # noqa: B018 - reading it is the check: urlsplit validates the port lazily
    except ValueError:
        raise InvalidWebhookUrl(f"the webhook URL's port is not a number from 0 to 65535: {parts.netloc}") from None
    address = _address(host)
    if development:
        return url
    if address is not None:
        reason = non_public_reason(address)
        if reason:
            raise InvalidWebhookUrl(
                f"the webhook URL points at {host}, {reason}: use the receiver's public address or name"
            )
        return url
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
        raise InvalidWebhookUrl(
            f"the webhook URL's host {host!r} only has a meaning inside a network: "
            "use the receiver's public, fully qualified name"
        )
    return url


def _address(host: str) -> IpAddress | None:
    """The host as an IP address when it is one; refuses numeric hosts that are not plain addresses."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        raise InvalidWebhookUrl(
            f"the webhook URL's host {host!r} looks like an IP address but is not written as one: "
            "write IPv4 addresses as four decimal numbers (203.0.113.7), or use a name"
        )
    return None


def non_public_reason(address: IpAddress) -> str | None:
    """Why ``address`` is not a public Internet address, or None when it is one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = non_public_reason(embedded)
        return f"{reason} inside an IPv6 address" if reason else None
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    if not address.is_global:
        return "an address that is not reachable from the Internet"
    return None


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64): that is where packets go."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def check_resolved_host(host: str, *, development: bool) -> None:
    """Refuse ``host`` if any address it resolves to is not public (outside development).

    Any, not all: a client may connect to whichever address comes back first, so one internal address
    among public ones is enough to reach an internal service. Lookup failures raise ``OSError``
    (``socket.gaierror``): that is a reason to try later, not a verdict on the URL.
    """
    if development:
        return
    name = host.strip("[]").rstrip(".")
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = non_public_reason(address)
        if reason:
            raise InvalidWebhookUrl(
                f"the webhook host {name} resolves to {address}, {reason}: webhooks are only sent to public addresses"
            )
