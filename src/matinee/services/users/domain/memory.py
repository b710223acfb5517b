"""An in-memory UsersStore: the fake unit tests pass to ``create_app`` and the service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from matinee.services.users.domain.model import (
    Account,
    AccountExists,
    AttemptState,
    Profile,
    RefreshRecord,
    SigningKey,
)
from matinee.services.users.domain.rules import (
    RefreshVerdict,
    ensure_room_for_profile,
    judge_refresh,
)

__all__ = ["InMemoryUsersStore"]


class InMemoryUsersStore:
    """Dicts behaving like the SQL adapter (each method is atomic: no awaits inside)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.profiles: dict[str, Profile] = {}
        self.attempts: dict[str, AttemptState] = {}
        self.refresh: dict[str, RefreshRecord] = {}
        self.keys: dict[str, SigningKey] = {}

    async def add_account(self, account: Account, first_profile: Profile) -> None:
        if any(a.email == account.email for a in self.accounts.values()):
            raise AccountExists(account.email)
        self.accounts[account.id] = account
        self.profiles[first_profile.id] = first_profile

    async def account_by_email(self, email: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.email == email), None)

    async def account_by_id(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        account = self.accounts.get(account_id)
        if account is not None:
            self.accounts[account_id] = replace(account, password_hash=password_hash)

    async def update_attempts(
        self, email_key: str, change: Callable[[AttemptState | None], AttemptState | None]
    ) -> AttemptState | None:
        new = change(self.attempts.get(email_key))
        if new is None:
            self.attempts.pop(email_key, None)
        else:
            self.attempts[email_key] = new
        return new

    async def add_profile(self, profile: Profile, *, limit: int) -> None:
        ensure_room_for_profile(len(await self.profiles_of(profile.account_id)), limit)
        self.profiles[profile.id] = profile

    async def profiles_of(self, account_id: str) -> Sequence[Profile]:
        mine = [p for p in self.profiles.values() if p.account_id == account_id]
        return sorted(mine, key=lambda p: (p.created_at, p.id))

    async def delete_profile(self, account_id: str, profile_id: str) -> bool:
        profile = self.profiles.get(profile_id)
        if profile is None or profile.account_id != account_id:
            return False
        del self.profiles[profile_id]
        return True

    async def add_refresh(self, record: RefreshRecord) -> None:
        self.refresh[record.token_hash] = record

    async def rotate_refresh(
        self, token_hash: str, successor: Callable[[RefreshRecord], RefreshRecord], now: float
    ) -> tuple[RefreshVerdict, RefreshRecord | None]:
        old = self.refresh.get(token_hash)
        verdict = judge_refresh(old, now)
        if verdict is RefreshVerdict.REUSED and old is not None:
            self._revoke(old.family_id)
        if verdict is not RefreshVerdict.VALID or old is None:
            return verdict, None
        new = successor(old)
        self.refresh[token_hash] = replace(old, rotated_at=now)
        self.refresh[new.token_hash] = new
        return verdict, new

    async def revoke_family_of(self, token_hash: str) -> bool:
        record = self.refresh.get(token_hash)
        if record is None:
            return False
        self._revoke(record.family_id)
        return True

    def _revoke(self, family_id: str) -> None:
        for token_hash, record in list(self.refresh.items()):
            if record.family_id == family_id:
                self.refresh[token_hash] = replace(record, revoked=True)

    async def purge(self, now: float, *, forget_attempts_after: float) -> int:
        tokens = [h for h, r in self.refresh.items() if r.expires_at < now]
        attempts = [
            k
            for k, a in self.attempts.items()
            if a.last_failure_at < now - forget_attempts_after and a.locked_until < now
        ]
        for h in tokens:
            del self.refresh[h]
        for k in attempts:
            del self.attempts[k]
        return len(tokens) + len(attempts)

    async def signing_keys(self) -> Sequence[SigningKey]:
        return list(self.keys.values())

    async def add_signing_key(self, key: SigningKey, *, prune: Sequence[str] = ()) -> None:
        for kid in prune:
            self.keys.pop(kid, None)
        self.keys[key.kid] = key
