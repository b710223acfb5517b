"""What the registry holds: one record per instance, replaced whole on every change.

Records are immutable so a change log can keep the exact state it announced
(the delta endpoint serves those states) without copying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from matinee.platform.discovery import Status

__all__ = ["DEFAULT_DATA_CENTER_CLASS", "Action", "InstanceRecord", "Lease"]

DEFAULT_DATA_CENTER_CLASS = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"


class Action(StrEnum):
    """How an instance changed, as Eureka's delta reports it."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease an instance holds: times in epoch seconds; 0 means the registry default."""

    renewal_interval: float = 0.0
    duration: float = 0.0
    registered_at: float = 0.0
    renewed_at: float = 0.0
    up_since: float = 0.0
    evicted_at: float = 0.0

    def expired(self, now: float, extra: float = 0.0) -> bool:
        """Tell whether no renewal came within the lease duration (plus ``extra``)."""
        return now > self.renewed_at + self.duration + extra


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """An instance as registered, in Eureka's vocabulary (``app`` is upper-case)."""

    app: str
    instance_id: str
    host_name: str
    ip_addr: str
    port: int
    port_enabled: bool = True
    secure_port: int = 443
    secure_port_enabled: bool = False
    status: Status = Status.UP
    overridden_status: Status = Status.UNKNOWN
    vip_address: str = ""
    secure_vip_address: str = ""
    home_page_url: str = ""
    status_page_url: str = ""
    health_check_url: str = ""
    country_id: int = 1
    data_center_name: str = "MyOwn"
    data_center_class: str = DEFAULT_DATA_CENTER_CLASS
    metadata: Mapping[str, str] = field(default_factory=dict)
    lease: Lease = field(default_factory=Lease)
    last_updated: float = 0.0
    last_dirty: float = 0.0
    action: Action = Action.ADDED
    # The registry's own record: renewed by the registry itself, never evicted or snapshotted.
    pinned: bool = False

    @property
    def effective_status(self) -> Status:
        """Return the status clients see: an override wins over the reported status."""
        if self.overridden_status is not Status.UNKNOWN:
            return self.overridden_status
        return self.status

    def evolve(self, **changes: Any) -> InstanceRecord:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the snapshot format)."""
        lease = self.lease
        return {
            "app": self.app,
            "instance_id": self.instance_id,
            "host_name": self.host_name,
            "ip_addr": self.ip_addr,
            "port": self.port,
            "port_enabled": self.port_enabled,
            "secure_port": self.secure_port,
            "secure_port_enabled": self.secure_port_enabled,
            "status": self.status.value,
            "overridden_status": self.overridden_status.value,
            "vip_address": self.vip_address,
            "secure_vip_address": self.secure_vip_address,
            "home_page_url": self.home_page_url,
            "status_page_url": self.status_page_url,
            "health_check_url": self.health_check_url,
            "country_id": self.country_id,
            "data_center_name": self.data_center_name,
            "data_center_class": self.data_center_class,
            "metadata": dict(self.metadata),
            "lease": {
                "renewal_interval": lease.renewal_interval,
                "duration": lease.duration,
                "registered_at": lease.registered_at,
                "renewed_at": lease.renewed_at,
                "up_since": lease.up_since,
            },
            "last_updated": self.last_updated,
            "last_dirty": self.last_dirty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InstanceRecord:
        """Rebuild a record from :meth:`to_dict` output; raise on a malformed entry."""
        lease = data.get("lease") or {}
        return cls(
            app=str(data["app"]).upper(),
            instance_id=str(data["instance_id"]),
            host_name=str(data["host_name"]),
            ip_addr=str(data.get("ip_addr") or data["host_name"]),
            port=int(data["port"]),
            port_enabled=bool(data.get("port_enabled", True)),
            secure_port=int(data.get("secure_port", 443)),
            secure_port_enabled=bool(data.get("secure_port_enabled", False)),
            status=Status(data.get("status", "UP")),
            overridden_status=Status(data.get("overridden_status", "UNKNOWN")),
            vip_address=str(data.get("vip_address", "")),
            secure_vip_address=str(data.get("secure_vip_address", "")),
            home_page_url=str(data.get("home_page_url", "")),
            status_page_url=str(data.get("status_page_url", "")),
            health_check_url=str(data.get("health_check_url", "")),
            country_id=int(data.get("country_id", 1)),
            data_center_name=str(data.get("data_center_name", "MyOwn")),
            data_center_class=str(data.get("data_center_class", DEFAULT_DATA_CENTER_CLASS)),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            lease=Lease(
                renewal_interval=float(lease.get("renewal_interval", 30.0)),
                duration=float(lease.get("duration", 90.0)),
                registered_at=float(lease.get("registered_at", 0.0)),
                renewed_at=float(lease.get("renewed_at", 0.0)),
                up_since=float(lease.get("up_since", 0.0)),
            ),
            last_updated=float(data.get("last_updated", 0.0)),
            last_dirty=float(data.get("last_dirty", 0.0)),
        )
