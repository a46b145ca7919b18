"""Pure: one-time link tokens. Only a keyed hash of a token is ever stored.

A token is 256 bits from the operating system's CSPRNG, URL-safe. The server keeps
``HMAC(key, token)`` with the round and unit; the token itself exists only in the link sent to one
person. Without the key a stolen table cannot be matched to links; without the token the server
cannot tell which link was whose.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

TOKEN_BYTES = 32
# What token_urlsafe(32) produces: 43 characters of the URL-safe base64 alphabet.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def mint() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: str) -> bool:
    return bool(TOKEN_SHAPE.fullmatch(value))


def token_hash(key: bytes, token: str) -> bytes:
    return hmac.new(key, b"link:" + token.encode(), hashlib.sha256).digest()


def response_event_id(key: bytes, token: str) -> uuid.UUID:
    """The response's event id, the same for every submission with one token.

    If a crash strikes after Kafka took a response but before the link was marked spent, the link
    still works; a second submission then carries the same event id and consumers drop it. A
    different HMAC context from ``token_hash`` means neither value can be derived from the other.
    """
    digest = hmac.new(key, b"response:" + token.encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)
