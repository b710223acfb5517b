"""Settings of the users service.

| setting | default | meaning |
|---|---|---|
| ``MATINEE_USERS_DATABASE_URL`` | unset: SQLite in the data dir | its own PostgreSQL database |
| ``MATINEE_USERS_KEY_SECRET`` | the internal secret (development only) | seals private keys |
| ``MATINEE_USERS_ACCESS_TTL`` / ``_REFRESH_TTL`` | 900 s / 30 days | token lifetimes |
| ``MATINEE_USERS_LOCKOUT_DELAY_AFTER`` / ``_LOCK_AFTER`` | 5 / 10 failures | slow down, lock |
| ``MATINEE_USERS_LOCKOUT_LOCK_SECONDS`` | 900 | how long a lock lasts |
| ``MATINEE_USERS_ARGON2_TIME_COST`` / ``_MEMORY_KIB`` | 2 / 24576 | ~25 ms per hash here |
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, model_validator

from matinee.platform.settings import ServiceSettings

__all__ = ["UsersSettings"]

_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret"})


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"MATINEE_USERS_{name}")


def _alias(name: str, alias: object) -> str:
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return name


class UsersSettings(ServiceSettings):
    """Users settings: its database, key sealing, token lifetimes, lockout, hashing cost."""

    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    key_secret: str = Field(default="", validation_alias=_env("KEY_SECRET"))
    access_ttl: float = Field(default=900.0, gt=0, le=86400, validation_alias=_env("ACCESS_TTL"))
    refresh_ttl: float = Field(default=30 * 86400.0, gt=0, validation_alias=_env("REFRESH_TTL"))
    key_cache_ttl: float = Field(default=30.0, ge=0, validation_alias=_env("KEY_CACHE_TTL"))
    max_profiles: int = Field(default=5, ge=1, le=20, validation_alias=_env("MAX_PROFILES"))
    lockout_delay_after: int = Field(default=5, ge=1, validation_alias=_env("LOCKOUT_DELAY_AFTER"))
    lockout_lock_after: int = Field(default=10, ge=1, validation_alias=_env("LOCKOUT_LOCK_AFTER"))
    lockout_base_delay: float = Field(
        default=1.0, ge=0, validation_alias=_env("LOCKOUT_BASE_DELAY")
    )
    lockout_max_delay: float = Field(default=60.0, ge=0, validation_alias=_env("LOCKOUT_MAX_DELAY"))
    lockout_lock_seconds: float = Field(
        default=900.0, ge=0, validation_alias=_env("LOCKOUT_LOCK_SECONDS")
    )
    lockout_forget_after: float = Field(
        default=3600.0, gt=0, validation_alias=_env("LOCKOUT_FORGET_AFTER")
    )
    # OWASP's argon2id floor is 19 MiB, t=2; 24 MiB costs about 25 ms on a 2-core box.
    argon2_time_cost: int = Field(default=2, ge=1, validation_alias=_env("ARGON2_TIME_COST"))
    argon2_memory_kib: int = Field(
        default=24576, ge=1024, validation_alias=_env("ARGON2_MEMORY_KIB")
    )
    argon2_parallelism: int = Field(default=1, ge=1, validation_alias=_env("ARGON2_PARALLELISM"))

    @model_validator(mode="after")
    def _refuse_weak_key_secret(self) -> UsersSettings:
        if self.lockout_delay_after > self.lockout_lock_after:
            raise ValueError("MATINEE_USERS_LOCKOUT_DELAY_AFTER must not exceed _LOCK_AFTER")
        if self.environment != "development" and self.key_secret in _PLACEHOLDER_SECRETS:
            raise ValueError("set MATINEE_USERS_KEY_SECRET to a real secret outside development")
        return self

    @classmethod
    def of(cls, **fields: object) -> UsersSettings:
        """Build settings from field names (``of(access_ttl=60)``), for tests and tools."""
        aliased = {
            _alias(name, cls.model_fields[name].validation_alias): value
            for name, value in fields.items()
        }
        return cls.model_validate(aliased)

    @property
    def sealing_secret(self) -> str:
        """Return the secret that seals private keys (the internal secret in development)."""
        return self.key_secret or f"matinee-users-dev:{self.internal_secret}"
