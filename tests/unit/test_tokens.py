"""One-time tokens: unguessable, URL-safe, and only ever stored as a keyed hash."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from wellpulse.intake.tokens import looks_like_token, mint, response_event_id, token_hash

KEY = b"k" * 32


def test_a_token_carries_256_random_bits_in_url_safe_text() -> None:
    tokens = {mint() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in list(tokens)[:50]:
        assert looks_like_token(token)
        assert len(base64.urlsafe_b64decode(token + "=")) == 32


def test_the_stored_hash_depends_on_the_key_and_reveals_neither() -> None:
    token = mint()
    assert token_hash(KEY, token) == token_hash(KEY, token)
    assert token_hash(KEY, token) != token_hash(b"another key", token)
    assert token.encode() not in token_hash(KEY, token)
    assert len(token_hash(KEY, token)) == 32


def test_the_response_id_is_stable_per_token_and_unlinked_to_the_hash() -> None:
    token = mint()
    event_id = response_event_id(KEY, token)
    assert event_id == response_event_id(KEY, token)
    assert event_id != response_event_id(KEY, mint())
    assert event_id.bytes not in token_hash(KEY, token)


@given(st.text(max_size=60))
def test_only_the_minted_shape_looks_like_a_token(text: str) -> None:
    shaped = len(text) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)
    assert looks_like_token(text) == shaped
