"""The pure rules of users: emails, passwords, lockout, refresh verdicts, keys, plans."""

from __future__ import annotations

import pytest

from matinee.services.users.domain import PLANS, AttemptState, InvalidInput, RefreshRecord
from matinee.services.users.domain.model import ProfileLimitReached, SigningKey, plan_named
from matinee.services.users.domain.rules import (
    LockoutPolicy,
    RefreshVerdict,
    active_key,
    check_password,
    ensure_room_for_profile,
    judge_refresh,
    normalize_email,
    published_keys,
)


def test_plans_match_the_offer():
    assert {(p.name, p.max_streams, p.max_height) for p in PLANS.values()} == {
        ("basic", 1, 720),
        ("standard", 2, 1080),
        ("premium", 4, 2160),
    }
    with pytest.raises(InvalidInput) as info:
        plan_named("platinum")
    assert info.value.field == "plan"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [(" Alice@Example.COM ", "alice@example.com"), ("a.b+tag@mail.co.uk", "a.b+tag@mail.co.uk")],
)
def test_emails_are_stripped_and_lower_cased(raw, normalized):
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "bad",
    ["", "plain", "a@b", "a@@b.com", "a b@c.com", "a@b..com", "@b.com", "a@.com", "a@b.com\x00",
     "x" * 65 + "@example.com", "a@" + "b" * 250 + ".com"],
)  # fmt: skip
def test_malformed_emails_are_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as info:
        normalize_email(bad)
    assert info.value.field == "email"


def test_password_policy():
    assert check_password("correct horse") == "correct horse"
    # NFKC: the same typed text always gives the same password (full-width digits here).
    assert check_password("passw\uff10rd!") == "passw0rd!"
    for bad in ("short", "x" * 129, " " * 12):
        with pytest.raises(InvalidInput) as info:
            check_password(bad)
        assert info.value.field == "password"
    with pytest.raises(InvalidInput):
        check_password("Me@Example.com", email="me@example.com")


def test_lockout_slows_down_then_locks_then_forgets():
    policy = LockoutPolicy(delay_after=5, lock_after=10, base_delay=1, max_delay=60,
                           lock_seconds=900, forget_after=3600)  # fmt: skip
    now, state = 1000.0, None
    for _ in range(5):
        assert policy.wait(state, now) == 0
        state = policy.failed(state, now)
    # Five failures: the next attempt waits 1 s, then 2 s, 4 s, ...
    assert policy.wait(state, now) == 1.0
    assert policy.wait(state, now + 1.0) == 0
    state = policy.failed(state, now + 1.0)
    assert policy.wait(state, now + 1.0) == 2.0
    for _ in range(4):
        now += 100
        state = policy.failed(state, now)
    assert state.failures == 10
    assert policy.wait(state, now) == 900.0
    assert policy.wait(state, now + 899) == 1.0
    # The lock expires and with it the count.
    assert policy.wait(state, now + 900) == 0
    assert policy.failed(state, now + 900).failures == 1
    # Old failures stop counting.
    few = AttemptState(failures=7, last_failure_at=0.0)
    assert policy.wait(few, 3600.0) == 0


def test_lockout_delay_is_capped():
    policy = LockoutPolicy(delay_after=1, lock_after=100, base_delay=1, max_delay=30)
    state = AttemptState(failures=50, last_failure_at=10.0)
    assert policy.wait(state, 10.0) == 30.0
    assert LockoutPolicy.retry_after_header(0.2) == "1"
    assert LockoutPolicy.retry_after_header(29.01) == "30"


def _record(**kw) -> RefreshRecord:
    base = dict(token_hash="h", family_id="f", account_id="a", generation=0,
                issued_at=0.0, expires_at=100.0)  # fmt: skip
    return RefreshRecord(**{**base, **kw})


def test_refresh_verdicts():
    assert judge_refresh(None, 1) is RefreshVerdict.UNKNOWN
    assert judge_refresh(_record(), 1) is RefreshVerdict.VALID
    assert judge_refresh(_record(), 100) is RefreshVerdict.EXPIRED
    assert judge_refresh(_record(rotated_at=5.0), 6) is RefreshVerdict.REUSED
    assert judge_refresh(_record(rotated_at=5.0, revoked=True), 6) is RefreshVerdict.REVOKED


def test_profile_room():
    ensure_room_for_profile(4, 5)
    with pytest.raises(ProfileLimitReached):
        ensure_room_for_profile(5, 5)


def test_retired_keys_stay_published_while_their_tokens_live():
    old = SigningKey("old", "EdDSA", created_at=0.0)
    new = SigningKey("new", "EdDSA", created_at=1000.0)
    assert active_key([old, new]) is new
    assert active_key([]) is None
    ttl = 900.0
    assert [k.kid for k in published_keys([old, new], 1000.0, ttl)] == ["new", "old"]
    assert [k.kid for k in published_keys([old, new], 1000.0 + ttl + 59, ttl)] == ["new", "old"]
    assert [k.kid for k in published_keys([old, new], 1000.0 + ttl + 60, ttl)] == ["new"]
