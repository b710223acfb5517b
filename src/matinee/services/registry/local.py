"""The registry's own discovery: it registers itself in its own table, not over HTTP.

It goes through the same Eureka documents as remote clients (registration body
in, instance document out), so the registry's own record looks like any other.
With peers, the record is replicated to them like a client's, so every registry
of a cluster lists every other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from matinee.platform.discovery import Instance, Status, eureka_registration, parse_instance
from matinee.services.registry.api import Replication
from matinee.services.registry.api.schemas import InstanceIn
from matinee.services.registry.api.wire import instance_doc
from matinee.services.registry.domain import Registry

__all__ = ["LocalDiscovery"]


class LocalDiscovery:
    """A :class:`~matinee.platform.discovery.Discovery` backed by the in-process table."""

    def __init__(self, registry: Registry, *, replication: Replication | None = None) -> None:
        self.registry = registry
        self.replication = replication
        self._own: Instance | None = None

    async def start(self, own: Instance | None) -> None:
        """Register ``own`` as a pinned record: the registry renews it itself."""
        if own is None:
            return
        body = eureka_registration(
            own,
            renewal_interval=self.registry.renewal_interval,
            lease_duration=self.registry.lease_duration,
        )
        record = InstanceIn.model_validate(body["instance"]).to_record(own.service)
        stored = self.registry.register(record.evolve(pinned=True))
        self._own = own
        if self.replication is not None:
            self.replication.register(stored)

    async def stop(self) -> None:
        """Remove the registry's own record."""
        if self._own is not None:
            removed = self.registry.cancel(self._own.service, self._own.instance_id)
            if removed is not None and self.replication is not None:
                self.replication.cancel(removed.app, removed.instance_id)
            self._own = None

    async def set_status(self, status: Status) -> None:
        """Register again with the new status (the registry has no readiness checks today)."""
        if self._own is not None and self._own.status != status:
            await self.start(dataclasses.replace(self._own, status=status))

    def instances(self, service: str) -> Sequence[Instance]:
        """Return the UP instances of ``service`` straight from the table."""
        records = self.registry.applications().get(service.upper(), ())
        found = (parse_instance(instance_doc(r)) for r in records)
        return tuple(i for i in found if i is not None and i.status is Status.UP)
