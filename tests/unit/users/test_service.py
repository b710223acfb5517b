"""Users use cases over the in-memory store, a fake hasher and a hand-moved clock."""

from __future__ import annotations

import jwt
import pytest

from matinee.services.users.domain import (
    AccountExists,
    InvalidCredentials,
    InvalidInput,
    InvalidRefreshToken,
    LockoutPolicy,
    LoginThrottled,
    ProfileLimitReached,
    ProfileNotFound,
    RefreshReused,
)
from matinee.services.users.tokens import AccessTokenVerifier, TokenRejected, UnknownSigningKey
from tests.unit.users.fakes import FakeHasher, make_service

PASSWORD = "correct horse battery"


async def test_signup_creates_account_with_default_profile_and_valid_tokens():
    users, store, *_ = make_service()
    pair = await users.signup(" Ada.Lovelace+films@Example.com", PASSWORD, "premium")
    account, plan = await users.account(pair.account_id)
    assert account.email == "ada.lovelace+films@example.com"
    assert (plan.max_streams, plan.max_height) == (4, 2160)
    assert [p.name for p in await users.profiles(account.id)] == ["ada.lovelace"]
    assert pair.expires_in == 900
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert claims["sub"] == account.id and claims["plan"] == "premium" and claims["roles"] == []
    assert claims["exp"] - claims["iat"] == 900
    # The refresh token is stored only as a digest.
    assert pair.refresh_token not in store.refresh


async def test_duplicate_email_conflicts_whatever_its_case():
    users, *_ = make_service()
    await users.signup("bo@example.com", PASSWORD, "basic")
    with pytest.raises(AccountExists):
        await users.signup("  BO@example.COM", "another password", "basic")


async def test_signup_refuses_bad_input_naming_the_field():
    users, *_ = make_service()
    for email, password, plan, field in [
        ("nope", PASSWORD, "basic", "email"),
        ("a@example.com", "short", "basic", "password"),
        ("a@example.com", PASSWORD, "gold", "plan"),
    ]:
        with pytest.raises(InvalidInput) as info:
            await users.signup(email, password, plan)
        assert info.value.field == field


async def test_wrong_password_and_unknown_email_fail_alike_and_cost_alike():
    users, _, hasher, _ = make_service()
    await users.signup("cy@example.com", PASSWORD, "standard")
    with pytest.raises(InvalidCredentials) as wrong:
        await users.login("cy@example.com", "not the password")
    with pytest.raises(InvalidCredentials) as unknown:
        await users.login("nobody@example.com", PASSWORD)
    assert str(wrong.value) == str(unknown.value)
    # The unknown email still paid for one hash check.
    assert hasher.verified == 1 and hasher.burned == 1


async def test_repeated_failures_slow_down_then_lock_and_success_resets():
    users, *_, clock = make_service(
        lockout=LockoutPolicy(delay_after=5, lock_after=10, base_delay=1, lock_seconds=900)
    )
    await users.signup("di@example.com", PASSWORD, "standard")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await users.login("di@example.com", "wrong password")
    # Even the right password waits now: nothing is checked during the delay.
    with pytest.raises(LoginThrottled) as throttled:
        await users.login("di@example.com", PASSWORD)
    assert throttled.value.retry_after == 1.0 and not throttled.value.locked
    clock.advance(1)
    await users.login("di@example.com", PASSWORD)  # success forgets the failures
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await users.login("di@example.com", "wrong password")
    for _ in range(5):
        clock.advance(60)
        with pytest.raises(InvalidCredentials):
            await users.login("di@example.com", "wrong password")
    with pytest.raises(LoginThrottled) as locked:
        await users.login("di@example.com", PASSWORD)
    assert locked.value.locked and locked.value.retry_after == 900
    clock.advance(900)
    await users.login("di@example.com", PASSWORD)


async def test_unknown_emails_are_throttled_like_real_ones():
    users, *_ = make_service(lockout=LockoutPolicy(delay_after=2, lock_after=3, base_delay=0))
    for email in ("ghost@example.com", "real@example.com"):
        if email == "real@example.com":
            await users.signup(email, PASSWORD, "basic")
        for _ in range(3):
            with pytest.raises(InvalidCredentials):
                await users.login(email, "wrong password")
        with pytest.raises(LoginThrottled) as info:
            await users.login(email, "wrong password")
        assert info.value.locked


async def test_old_hashes_are_upgraded_on_sign_in():
    users, store, hasher, _ = make_service()
    pair = await users.signup("ed@example.com", PASSWORD, "basic")
    hasher.scheme = "v2"
    await users.login("ed@example.com", PASSWORD)
    assert store.accounts[pair.account_id].password_hash.startswith("v2$")


async def test_refresh_rotates_and_reuse_revokes_the_whole_family():
    users, *_ = make_service()
    first = await users.signup("fe@example.com", PASSWORD, "standard")
    second = await users.refresh(first.refresh_token)
    third = await users.refresh(second.refresh_token)
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    # A thief replays the first token: refused, and the legitimate latest token dies too.
    with pytest.raises(RefreshReused):
        await users.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await users.refresh(third.refresh_token)
    # Another sign-in (another family) is untouched.
    other = await users.login("fe@example.com", PASSWORD)
    assert (await users.refresh(other.refresh_token)).account_id == first.account_id


async def test_refresh_tokens_expire_and_logout_revokes():
    users, *_, clock = make_service()
    pair = await users.signup("gi@example.com", PASSWORD, "standard")
    clock.advance(30 * 86400)
    with pytest.raises(InvalidRefreshToken):
        await users.refresh(pair.refresh_token)
    pair = await users.login("gi@example.com", PASSWORD)
    await users.logout(pair.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await users.refresh(pair.refresh_token)
    await users.logout("never issued")  # nothing to revoke, no error
    with pytest.raises(InvalidRefreshToken):
        await users.refresh("never issued")


async def test_five_profiles_at_most_each_account_sees_only_its_own():
    users, *_ = make_service()
    mine = (await users.signup("ha@example.com", PASSWORD, "premium")).account_id
    theirs = (await users.signup("io@example.com", PASSWORD, "premium")).account_id
    added = [await users.add_profile(mine, f"Viewer {i}", "kids", "pt-BR") for i in range(4)]
    with pytest.raises(ProfileLimitReached):
        await users.add_profile(mine, "Sixth")
    assert len(await users.profiles(mine)) == 5
    assert (await users.profile(mine, added[0].id)).language == "pt-BR"
    with pytest.raises(ProfileNotFound):
        await users.profile(theirs, added[0].id)
    with pytest.raises(ProfileNotFound):
        await users.delete_profile(theirs, added[0].id)
    await users.delete_profile(mine, added[0].id)
    assert len(await users.profiles(mine)) == 4
    await users.add_profile(mine, "Room again")


async def test_roles_come_only_from_create_account_with_known_roles():
    users, *_ = make_service()
    admin = await users.create_account("root@example.com", PASSWORD, "premium", ["admin"])
    assert admin.roles == ("admin",)
    pair = await users.login("root@example.com", PASSWORD)
    assert jwt.decode(pair.access_token, options={"verify_signature": False})["roles"] == ["admin"]
    with pytest.raises(InvalidInput) as info:
        await users.create_account("x@example.com", PASSWORD, "basic", ["service"])
    assert info.value.field == "roles"


async def test_key_rotation_keeps_old_tokens_verifiable_until_they_expire():
    users, *_, clock = make_service()
    old = await users.signup("jo@example.com", PASSWORD, "basic")
    old_kid = jwt.get_unverified_header(old.access_token)["kid"]
    new_key = await users.rotate_signing_key()
    new = await users.login("jo@example.com", PASSWORD)
    assert jwt.get_unverified_header(new.access_token)["kid"] == new_key.kid != old_kid
    verifier = AccessTokenVerifier({"keys": await users.jwks()})
    assert verifier.kids == {old_kid, new_key.kid}
    assert verifier.verify(old.access_token).account_id == old.account_id
    assert verifier.verify(new.access_token).account_id == old.account_id
    # Once every token of the old key has expired, the key leaves the JWKS.
    clock.advance(900 + 61)
    later = AccessTokenVerifier({"keys": await users.jwks()})
    assert later.kids == {new_key.kid}
    with pytest.raises(UnknownSigningKey):
        later.verify(old.access_token)
    # A rotation long after prunes it from storage too.
    await users.rotate_signing_key()
    assert old_kid not in {k.kid for k in await users.store.signing_keys()}


async def test_verifier_rejects_forged_none_and_hmac_tokens():
    users, *_ = make_service()
    pair = await users.signup("ka@example.com", PASSWORD, "basic")
    jwks = {"keys": await users.jwks()}
    verifier = AccessTokenVerifier(jwks)
    header = jwt.get_unverified_header(pair.access_token)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    claims["roles"] = ["admin"]
    none_token = jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]})
    # The classic confusion: the public key's bytes used as an HMAC secret.
    hmac_token = jwt.encode(
        claims, jwks["keys"][0]["x"].encode(), algorithm="HS256", headers={"kid": header["kid"]}
    )
    head, _, signature = pair.access_token.rpartition(".")
    tampered = head[:-2] + ("AA" if head[-2:] != "AA" else "BB") + "." + signature
    for token in (none_token, hmac_token, tampered, "not-a-jwt", ""):
        with pytest.raises(TokenRejected):
            verifier.verify(token)
    wrong_audience = AccessTokenVerifier(jwks, audience="someone-else")
    with pytest.raises(TokenRejected):
        wrong_audience.verify(pair.access_token)


async def test_an_instance_picks_up_a_rotation_made_elsewhere():
    users_a, store, _, clock = make_service()
    users_b, *_ = make_service(clock, store=store, hasher=FakeHasher())
    await users_a.signup("lu@example.com", PASSWORD, "basic")
    await users_b.ensure_signing_key()
    rotated = await users_a.rotate_signing_key()
    clock.advance(31)  # past the key cache of instance b
    pair = await users_b.login("lu@example.com", PASSWORD)
    assert jwt.get_unverified_header(pair.access_token)["kid"] == rotated.kid


async def test_expired_tokens_and_stale_counters_are_purged():
    users, store, _, clock = make_service()
    pair = await users.signup("mo@example.com", PASSWORD, "basic")
    with pytest.raises(InvalidCredentials):
        await users.login("nobody@example.com", "wrong password")
    assert await users.purge_expired() == 0
    clock.advance(30 * 86400 + 1)
    assert await users.purge_expired() == 2
    assert not store.refresh and not store.attempts
    with pytest.raises(InvalidRefreshToken):
        await users.refresh(pair.refresh_token)
