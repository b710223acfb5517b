"""Users data in SQL (SQLite by default, PostgreSQL when configured), through SQLAlchemy Core.

Each port method is one transaction. Read-modify-write steps (sign-in counters,
profile limit, refresh rotation) lock the row they decide on (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` from ``Database.write`` serialises writers),
so several instances of users can serve the same account at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from matinee.platform.storage import Database, Migration
from matinee.services.users.domain.model import (
    Account,
    AccountExists,
    AccountNotFound,
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

__all__ = ["MIGRATIONS", "SqlUsersStore", "metadata"]

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("plan", sa.String(16), nullable=False),
    # A JSON array as text: portable across SQLite and PostgreSQL, read whole every time.
    sa.Column("roles", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.Float, nullable=False),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("maturity", sa.String(8), nullable=False),
    sa.Column("language", sa.String(35), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Keyed by a digest of the email, so unknown emails are throttled alike (and not stored).
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("email_key", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.String(36), nullable=False, index=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("rotated_at", sa.Float, nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=False),
    # AES-GCM sealed (crypto.KeySealer); never returned by any API.
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
)


async def _create_tables(conn: AsyncConnection) -> None:
    await conn.run_sync(lambda sync: metadata.create_all(sync, checkfirst=True))


MIGRATIONS = [Migration(1, "create accounts, profiles, tokens, keys", _create_tables)]


def _account(row: sa.Row[Any]) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        plan=row.plan,
        roles=tuple(orjson.loads(row.roles)),
        created_at=row.created_at,
    )


def _profile(row: sa.Row[Any]) -> Profile:
    return Profile(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        maturity=row.maturity,
        language=row.language,
        created_at=row.created_at,
    )


def _refresh(row: sa.Row[Any]) -> RefreshRecord:
    return RefreshRecord(
        token_hash=row.token_hash,
        family_id=row.family_id,
        account_id=row.account_id,
        generation=row.generation,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked=bool(row.revoked),
    )


def _key(row: sa.Row[Any]) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        algorithm=row.algorithm,
        created_at=row.created_at,
        public_jwk=orjson.loads(row.public_jwk),
        sealed_private_key=bytes(row.sealed_private_key),
    )


def _insert_ignoring_duplicates(conn: AsyncConnection, table: sa.Table, **values: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()


class SqlUsersStore:
    """UsersStore on a platform Database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._engine = database.engine

    # -- accounts -------------------------------------------------------------------------

    async def add_account(self, account: Account, first_profile: Profile) -> None:
        async with self._db.write() as conn:
            taken = await conn.execute(
                sa.select(accounts.c.id).where(accounts.c.email == account.email)
            )
            if taken.first() is not None:
                raise AccountExists(account.email)
            try:
                # A savepoint, so losing a race with another instance is a clean 409.
                async with conn.begin_nested():
                    await conn.execute(
                        sa.insert(accounts).values(
                            id=account.id,
                            email=account.email,
                            password_hash=account.password_hash,
                            plan=account.plan,
                            roles=orjson.dumps(list(account.roles)).decode(),
                            created_at=account.created_at,
                        )
                    )
            except sa.exc.IntegrityError:
                raise AccountExists(account.email) from None
            await conn.execute(sa.insert(profiles).values(**_profile_values(first_profile)))

    async def account_by_email(self, email: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(accounts).where(accounts.c.email == email))).first()
        return None if row is None else _account(row)

    async def account_by_id(self, account_id: str) -> Account | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(accounts).where(accounts.c.id == account_id))
            ).first()
        return None if row is None else _account(row)

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                sa.update(accounts)
                .where(accounts.c.id == account_id)
                .values(password_hash=password_hash)
            )

    # -- sign-in attempts -----------------------------------------------------------------

    async def update_attempts(
        self, email_key: str, change: Callable[[AttemptState | None], AttemptState | None]
    ) -> AttemptState | None:
        async with self._db.write() as conn:
            # Make sure a row exists so FOR UPDATE has something to lock: otherwise two
            # first attempts on PostgreSQL would both see nothing and both insert.
            await conn.execute(
                _insert_ignoring_duplicates(
                    conn,
                    login_attempts,
                    email_key=email_key,
                    failures=0,
                    last_failure_at=0.0,
                    locked_until=0.0,
                )
            )
            row = (
                await conn.execute(
                    sa.select(login_attempts)
                    .where(login_attempts.c.email_key == email_key)
                    .with_for_update()
                )
            ).one()
            state = AttemptState(row.failures, row.last_failure_at, row.locked_until)
            # ``change`` may raise (throttled): the transaction rolls back, nothing changes.
            new = change(None if state == AttemptState() else state)
            where = login_attempts.c.email_key == email_key
            if new is None:
                await conn.execute(sa.delete(login_attempts).where(where))
            else:
                await conn.execute(
                    sa.update(login_attempts)
                    .where(where)
                    .values(
                        failures=new.failures,
                        last_failure_at=new.last_failure_at,
                        locked_until=new.locked_until,
                    )
                )
            return new

    # -- profiles -------------------------------------------------------------------------

    async def add_profile(self, profile: Profile, *, limit: int) -> None:
        async with self._db.write() as conn:
            # Lock the account: concurrent additions queue here and count one another.
            owner = await conn.execute(
                sa.select(accounts.c.id)
                .where(accounts.c.id == profile.account_id)
                .with_for_update()
            )
            if owner.first() is None:
                raise AccountNotFound(profile.account_id)
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(profiles)
                .where(profiles.c.account_id == profile.account_id)
            )
            ensure_room_for_profile(int(count or 0), limit)
            await conn.execute(sa.insert(profiles).values(**_profile_values(profile)))

    async def profiles_of(self, account_id: str) -> Sequence[Profile]:
        query = (
            sa.select(profiles)
            .where(profiles.c.account_id == account_id)
            .order_by(profiles.c.created_at, profiles.c.id)
        )
        async with self._engine.connect() as conn:
            return [_profile(row) for row in await conn.execute(query)]

    async def delete_profile(self, account_id: str, profile_id: str) -> bool:
        async with self._db.write() as conn:
            deleted = await conn.execute(
                sa.delete(profiles).where(
                    profiles.c.id == profile_id, profiles.c.account_id == account_id
                )
            )
        return bool(deleted.rowcount)

    # -- refresh tokens -------------------------------------------------------------------

    async def add_refresh(self, record: RefreshRecord) -> None:
        async with self._db.write() as conn:
            await conn.execute(sa.insert(refresh_tokens).values(**_refresh_values(record)))

    async def rotate_refresh(
        self, token_hash: str, successor: Callable[[RefreshRecord], RefreshRecord], now: float
    ) -> tuple[RefreshVerdict, RefreshRecord | None]:
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    sa.select(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == token_hash)
                    .with_for_update()
                )
            ).first()
            old = None if row is None else _refresh(row)
            verdict = judge_refresh(old, now)
            if old is None or verdict is not RefreshVerdict.VALID:
                if old is not None and verdict is RefreshVerdict.REUSED:
                    await self._revoke(conn, old.family_id)
                return verdict, None
            new = successor(old)
            await conn.execute(
                sa.update(refresh_tokens)
                .where(refresh_tokens.c.token_hash == token_hash)
                .values(rotated_at=now)
            )
            await conn.execute(sa.insert(refresh_tokens).values(**_refresh_values(new)))
            return verdict, new

    async def revoke_family_of(self, token_hash: str) -> bool:
        async with self._db.write() as conn:
            family = await conn.scalar(
                sa.select(refresh_tokens.c.family_id).where(
                    refresh_tokens.c.token_hash == token_hash
                )
            )
            if family is None:
                return False
            await self._revoke(conn, family)
            return True

    @staticmethod
    async def _revoke(conn: AsyncConnection, family_id: str) -> None:
        await conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id)
            .values(revoked=True)
        )

    async def purge(self, now: float, *, forget_attempts_after: float) -> int:
        """Delete expired refresh tokens and stale sign-in counters; return how many."""
        async with self._db.write() as conn:
            tokens = await conn.execute(
                sa.delete(refresh_tokens).where(refresh_tokens.c.expires_at < now)
            )
            attempts = await conn.execute(
                sa.delete(login_attempts).where(
                    login_attempts.c.last_failure_at < now - forget_attempts_after,
                    login_attempts.c.locked_until < now,
                )
            )
        return int(tokens.rowcount or 0) + int(attempts.rowcount or 0)

    # -- signing keys ---------------------------------------------------------------------

    async def signing_keys(self) -> Sequence[SigningKey]:
        async with self._engine.connect() as conn:
            return [_key(row) for row in await conn.execute(sa.select(signing_keys))]

    async def add_signing_key(self, key: SigningKey, *, prune: Sequence[str] = ()) -> None:
        async with self._db.write() as conn:
            if prune:
                await conn.execute(sa.delete(signing_keys).where(signing_keys.c.kid.in_(prune)))
            await conn.execute(
                sa.insert(signing_keys).values(
                    kid=key.kid,
                    algorithm=key.algorithm,
                    created_at=key.created_at,
                    public_jwk=orjson.dumps(key.public_jwk).decode(),
                    sealed_private_key=key.sealed_private_key,
                )
            )


def _profile_values(profile: Profile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "account_id": profile.account_id,
        "name": profile.name,
        "maturity": profile.maturity,
        "language": profile.language,
        "created_at": profile.created_at,
    }


def _refresh_values(record: RefreshRecord) -> dict[str, Any]:
    return {
        "token_hash": record.token_hash,
        "family_id": record.family_id,
        "account_id": record.account_id,
        "generation": record.generation,
        "issued_at": record.issued_at,
        "expires_at": record.expires_at,
        "rotated_at": record.rotated_at,
        "revoked": record.revoked,
    }
