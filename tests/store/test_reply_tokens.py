"""Reply tokens: opaque, compact, naming tender and recipient, impossible to guess or alter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.reply_tokens import (
    InvalidToken,
    ReplyTokens,
    reply_address,
    token_in,
)

TOKENS = ReplyTokens("token-test-secret-0123456789")
ANNA = "anna@makler-adler.example"


def test_it_names_the_tender_and_the_recipient_in_a_short_lower_case_token() -> None:
    token = TOKENS.issue("AS-2026-0001", ANNA)

    claim = TOKENS.read(token)

    assert claim.reference == "AS-2026-0001"
    assert TOKENS.names(claim, ANNA)
    assert TOKENS.names(claim, " Anna@Makler-Adler.example ")
    assert not TOKENS.names(claim, "assistenz@makler-adler.example")
    assert token == token.lower() and len(token) <= 32
    assert "2026" not in token and "anna" not in token
    assert len(reply_address(token, "antwort.example.org").split("@")[0]) <= 64


def test_it_refuses_a_token_signed_with_another_secret() -> None:
    forged = ReplyTokens("someone-elses-secret-000").issue("AS-2026-0001", ANNA)

    with pytest.raises(InvalidToken):
        TOKENS.read(forged)


@given(position=st.integers(min_value=0, max_value=27), replacement=st.sampled_from("a2z7qk"))
def test_it_refuses_every_altered_character(position: int, replacement: str) -> None:
    token = TOKENS.issue("AS-2026-0042", ANNA)
    altered = token[:position] + replacement + token[position + 1 :]
    if altered == token:
        return

    with pytest.raises(InvalidToken):
        TOKENS.read(altered)


@pytest.mark.parametrize("token", ["", "abc", "not a token", "a" * 28, "é" * 28, "0" * 28])
def test_it_refuses_garbage(token: str) -> None:
    with pytest.raises(InvalidToken):
        TOKENS.read(token)


def test_it_keeps_large_sequence_numbers_and_their_spelling() -> None:
    for reference in ("AS-2026-0007", "AS-2031-12345"):
        assert TOKENS.read(TOKENS.issue(reference, ANNA)).reference == reference


def test_it_finds_the_token_only_in_reply_addresses_of_its_domain() -> None:
    domain = "antwort.example.org"

    assert token_in("antwort+abc234@antwort.example.org", domain) == "abc234"
    assert token_in("<Antwort+ABC234@Antwort.Example.org>", domain) == "abc234"
    assert token_in("antwort+abc234@example.org", domain) is None
    assert token_in("info@antwort.example.org", domain) is None
    assert token_in("antwort@antwort.example.org", domain) is None


def test_it_keeps_the_secret_out_of_its_repr() -> None:
    assert "token-test-secret" not in repr(TOKENS)


def test_it_wants_a_secret_of_some_length() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        ReplyTokens("short")
