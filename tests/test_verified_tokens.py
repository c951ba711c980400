"""Checked token signatures are kept a few minutes (engine.access.identity.VerifiedTokens), never the verdict on
time: expiry and not-before are judged on every request by the engine clock, and a refused token is not kept."""
from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import START, TEST_SECRET

from engine.access.identity import Principal, VerifiedTokens, mint_token, verify_token
from engine.core.clock import ManualClock
from engine.core.errors import Refused
from engine.core.settings import Settings

SETTINGS = Settings(token_secret=TEST_SECRET)
ROTATED = Settings(token_secret="another-secret-after-rotation-0123456789")


def token(clock, user="kim", minutes=60) -> str:
    return mint_token(SETTINGS, clock, Principal(user, "skola", frozenset({"kontaktperson"})), timedelta(minutes=minutes))


def test_a_checked_token_is_served_from_the_cache_while_its_entry_is_fresh():
    clock, verified = ManualClock(START), VerifiedTokens(seconds=300)
    kim = token(clock)
    assert verify_token(SETTINGS, clock, kim, verified).user == "kim"
    # Served from the cache: the signature is not checked again (with the rotated secret it would fail).
    assert verify_token(ROTATED, clock, kim, verified).user == "kim"
    with pytest.raises(Refused, match="invalid token"):
        verify_token(ROTATED, clock, kim, VerifiedTokens(seconds=0))  # an entry past its time is checked again


def test_expiry_is_judged_on_every_request_even_for_a_cached_token():
    clock, verified = ManualClock(START), VerifiedTokens()
    brief = token(clock, minutes=5)
    verify_token(SETTINGS, clock, brief, verified)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(Refused, match="expired"):
        verify_token(SETTINGS, clock, brief, verified)


def test_a_refused_token_is_not_kept_and_the_cache_is_bounded():
    clock, verified = ManualClock(START), VerifiedTokens(size=2)
    forged = token(clock)[:-4] + "AAAA"
    with pytest.raises(Refused):
        verify_token(SETTINGS, clock, forged, verified)
    assert forged not in verified._entries
    tokens = [token(clock, user) for user in ("a", "b", "c")]
    for each in tokens:
        verify_token(SETTINGS, clock, each, verified)
    assert list(verified._entries) == tokens[1:], "the least recently used goes first"
