"""Composition root of users: wiring only (DESIGN.md, one composition root)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from matinee.platform.discovery import Discovery, RegistryDiscovery
from matinee.platform.service import ReadinessCheck, create_service_app
from matinee.platform.storage import Database
from matinee.services.users import SPEC
from matinee.services.users.api import build_router
from matinee.services.users.crypto import Argon2Hasher, JwtSigner, KeySealer
from matinee.services.users.domain import (
    AccessTokenSigner,
    Clock,
    LockoutPolicy,
    PasswordHasher,
    TokenPolicy,
    UsersService,
    UsersStore,
)
from matinee.services.users.settings import UsersSettings
from matinee.services.users.storage import MIGRATIONS, SqlUsersStore

__all__ = ["create_app"]

log = logging.getLogger("matinee.users")

# Expired refresh tokens and stale sign-in counters are swept this often.
_PURGE_INTERVAL = 3600.0


def create_app(
    settings: UsersSettings | None = None,
    *,
    store: UsersStore | None = None,
    hasher: PasswordHasher | None = None,
    signer: AccessTokenSigner | None = None,
    clock: Clock = time.time,
    discovery: Discovery | None = None,
) -> Starlette:
    """Build users; tests pass fakes (``store``, ``hasher``, ``clock``) for the real adapters."""
    settings = settings or UsersSettings()
    database: Database | None = None
    if store is None:
        database = Database.for_service(
            SPEC.name, database_url=settings.database_url, data_dir=settings.data_dir
        )
        store = SqlUsersStore(database)
    argon2 = hasher or Argon2Hasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    users = UsersService(
        store,
        argon2,
        signer or JwtSigner(KeySealer(settings.sealing_secret)),
        lockout=LockoutPolicy(
            delay_after=settings.lockout_delay_after,
            lock_after=settings.lockout_lock_after,
            base_delay=settings.lockout_base_delay,
            max_delay=settings.lockout_max_delay,
            lock_seconds=settings.lockout_lock_seconds,
            forget_after=settings.lockout_forget_after,
        ),
        tokens=TokenPolicy(
            access_ttl=settings.access_ttl,
            refresh_ttl=settings.refresh_ttl,
            key_cache_ttl=settings.key_cache_ttl,
        ),
        max_profiles=settings.max_profiles,
        clock=clock,
    )
    if discovery is None and settings.port:
        discovery = RegistryDiscovery.from_settings(settings)
    readiness: dict[str, ReadinessCheck] = {}
    if database is not None:
        readiness["database"] = database.check
    readiness["signing_key"] = users.check_signing

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if database is not None:
            await database.start(MIGRATIONS)
        try:
            await users.ensure_signing_key()
        except Exception as exc:  # reported by /readyz (signing_key) until it works
            log.error("no signing key yet: %s", exc)
        if isinstance(argon2, Argon2Hasher):
            await argon2.warm()
        sweeper = asyncio.create_task(_sweep(users))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if database is not None:
                await database.close()

    app = create_service_app(
        SPEC,
        settings,
        routers=[build_router(users)],
        lifespan=lifespan,
        readiness=readiness,
        discovery=discovery,
    )
    app.state.users = users
    return app


async def _sweep(users: UsersService) -> None:
    while True:
        await asyncio.sleep(_PURGE_INTERVAL)
        try:
            purged = await users.purge_expired()
        except Exception as exc:  # the next sweep tries again
            log.warning("purge failed: %s", exc)
        else:
            if purged:
                log.info("purged %d expired tokens and counters", purged)
