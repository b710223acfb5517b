"""Settings: the process environment, read once when an app is built.

Settings are not config (DESIGN.md rule 5): they never change while a process
runs. Every field reads ``MATINEE_<FIELD>``; a service adds its own fields by
subclassing :class:`ServiceSettings`.

| usage | reads |
|---|---|
| ``ServiceSettings()`` | ``MATINEE_DATA_DIR``, ``MATINEE_REGISTRY_URL`` (one or more), ... |
| ``CatalogSettings()`` | the above plus ``MATINEE_CATALOG_DATABASE_URL`` |
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings", "default_data_dir"]

# Secrets that ship in examples and must never reach a non-development deployment.
_PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "dev-internal-secret", "dev-url-secret"}
)


def default_data_dir() -> Path:
    """Return the data dir: ``MATINEE_DATA_DIR`` or ``./.matinee``."""
    return Path(os.environ.get("MATINEE_DATA_DIR", ".matinee")).resolve()


class ServiceSettings(BaseSettings):
    """What every service process needs to know about where it runs."""

    # populate_by_name: a field with an env alias (MATINEE_CATALOG_DATABASE_URL) can still
    # be set by name in code, e.g. CatalogSettings(database_url=...) in tests.
    model_config = SettingsConfigDict(
        env_prefix="MATINEE_", extra="ignore", frozen=True, populate_by_name=True
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    # 0 asks the OS for a free port; the instance registers the port it really got.
    port: int = Field(default=0, ge=0, le=65535)
    instance_id: str = ""
    version: str = "0.1.0"
    region: str = "local-1"
    zone: str = "local-1a"
    # One registry URL, or several comma-separated peers (Eureka's defaultZone style):
    # clients use the one that answers and come back to the first after FAILBACK_AFTER s.
    registry_url: str = "http://127.0.0.1:8761/eureka"
    registry_failback_after: float = Field(default=30.0, gt=0)
    # Empty means: run without an event bus (unit tests, a lone service).
    nats_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    # Seconds between heartbeats, and how long the registry waits before eviction.
    lease_renewal_interval: float = Field(default=30.0, gt=0)
    lease_duration: float = Field(default=90.0, gt=0)
    # How often a discovery cache refreshes from the registry.
    registry_fetch_interval: float = Field(default=5.0, gt=0)
    # How often the chassis re-runs readiness checks to advertise UP or DOWN.
    readiness_interval: float = Field(default=5.0, gt=0)
    # Shared by the fleet to sign internal headers (the gateway's identity header).
    internal_secret: str = "dev-internal-secret"
    # Shared by playback (mints) and CDN nodes (verify) for signed media URLs.
    url_secret: str = "dev-url-secret"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment != "development":
            for name in ("internal_secret", "url_secret"):
                if getattr(self, name) in _PLACEHOLDER_SECRETS:
                    raise ValueError(
                        f"MATINEE_{name.upper()} is a placeholder; set a real secret outside"
                        " development"
                    )
        return self

    def resolved_instance_id(self, service: str) -> str:
        """Return the instance id, inventing a stable-looking one when unset."""
        if self.instance_id:
            return self.instance_id
        return f"{service}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"

    def service_dir(self, service: str) -> Path:
        """Return (and create) the directory where a service keeps its files."""
        path = self.data_dir / "services" / service
        path.mkdir(parents=True, exist_ok=True)
        return path
