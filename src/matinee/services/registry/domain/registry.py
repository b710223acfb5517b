"""The lease table: register, renew, cancel, override, evict, with self-preservation.

Eureka's semantics, kept pure so tests drive time with a fake clock:

| call | effect |
|---|---|
| ``reg.register(record)`` | adds or replaces the instance; its lease starts now |
| ``reg.renew("CATALOG", "catalog-1")`` | extends the lease; ``False``: re-register |
| ``reg.set_override(app, id, Status.OUT_OF_SERVICE)`` | clients see it until cleared |
| ``reg.evict()`` | drops expired leases, unless self-preservation holds them (bounded) |
| ``reg.delta()`` | the instances changed within the retention window, each with its action |

Self-preservation: when the renewals of the last window fall below a threshold of
those expected, the registry assumes a network problem on its side rather than a
mass death, and keeps expired leases; but only up to ``max_lease_multiple`` lease
durations of silence, so a real mass death is cleaned up eventually.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from matinee.platform.discovery import Status
from matinee.services.registry.domain.model import Action, InstanceRecord, Lease

__all__ = ["Change", "PreservationPolicy", "PreservationState", "Registry"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the recent-changes log that the delta endpoint serves."""

    version: int
    at: float
    record: InstanceRecord


@dataclass(frozen=True, slots=True)
class PreservationPolicy:
    """When self-preservation engages and how long it may keep a silent lease."""

    enabled: bool = True
    renewal_threshold: float = 0.85
    window: float = 60.0
    max_lease_multiple: float = 3.0


@dataclass(frozen=True, slots=True)
class PreservationState:
    """Self-preservation as of now, for /eureka/status and metrics."""

    enabled: bool
    engaged: bool
    expected_renewals: float
    threshold: int
    renewals_last_window: int
    window: float

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "enabled": self.enabled,
            "engaged": self.engaged,
            "expected_renewals_per_window": round(self.expected_renewals, 3),
            "renewal_threshold": self.threshold,
            "renewals_last_window": self.renewals_last_window,
            "window_seconds": self.window,
        }


class Registry:
    """Every instance's lease, the recent-changes log and the eviction policy."""

    def __init__(
        self,
        *,
        clock: Clock,
        lease_duration: float = 90.0,
        renewal_interval: float = 30.0,
        policy: PreservationPolicy | None = None,
        delta_retention: float = 180.0,
    ) -> None:
        self._clock = clock
        self.lease_duration = lease_duration
        self.renewal_interval = renewal_interval
        self.policy = policy or PreservationPolicy()
        self.delta_retention = delta_retention
        self._records: dict[str, InstanceRecord] = {}
        # Overrides outlive a re-registration (Eureka keeps them by id) but not a cancel.
        self._overrides: dict[str, Status] = {}
        self._changes: deque[Change] = deque()
        self._renewals: deque[float] = deque()
        self._started = clock()
        self.version = 0

    # -- reads ---------------------------------------------------------------

    def now(self) -> float:
        """Return the registry clock's time (epoch seconds)."""
        return self._clock()

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[InstanceRecord]:
        """Return every record, ordered by app then instance id."""
        return sorted(self._records.values(), key=lambda r: (r.app, r.instance_id))

    def applications(self) -> dict[str, list[InstanceRecord]]:
        """Return records grouped by app name, both in a stable order."""
        apps: dict[str, list[InstanceRecord]] = {}
        for record in self.records():
            apps.setdefault(record.app, []).append(record)
        return apps

    def get(self, app: str, instance_id: str) -> InstanceRecord | None:
        """Return the record of ``instance_id`` if it is registered under ``app``."""
        record = self._records.get(instance_id)
        if record is None or record.app != app.upper():
            return None
        return record

    def find(self, instance_id: str) -> InstanceRecord | None:
        """Return the record of ``instance_id`` under any app."""
        return self._records.get(instance_id)

    def hashcode(self) -> str:
        """Return Eureka's apps hashcode: ``STATUS_count_`` per status, sorted."""
        counts: dict[str, int] = {}
        for record in self._records.values():
            status = record.effective_status.value
            counts[status] = counts.get(status, 0) + 1
        return "".join(f"{status}_{counts[status]}_" for status in sorted(counts))

    def delta(self) -> list[InstanceRecord]:
        """Return the latest state of each instance changed within the retention window."""
        self._prune_changes()
        latest: dict[str, Change] = {}
        for change in self._changes:
            latest[change.record.instance_id] = change
        return [c.record for c in sorted(latest.values(), key=lambda c: c.version)]

    def preservation(self) -> PreservationState:
        """Tell whether self-preservation holds expired leases right now."""
        now = self._clock()
        self._prune_renewals(now)
        policy = self.policy
        expected = sum(
            policy.window / r.lease.renewal_interval
            for r in self._records.values()
            if not r.pinned and r.lease.renewal_interval > 0
        )
        threshold = math.floor(expected * policy.renewal_threshold)
        renewals = len(self._renewals)
        engaged = (
            policy.enabled
            and threshold > 0
            and now - self._started >= policy.window
            and renewals < threshold
        )
        return PreservationState(
            policy.enabled, engaged, expected, threshold, renewals, policy.window
        )

    # -- writes --------------------------------------------------------------

    def register(
        self,
        record: InstanceRecord,
        *,
        duration: float | None = None,
        renewal_interval: float | None = None,
    ) -> InstanceRecord:
        """Add or replace an instance; its lease starts now."""
        now = self._clock()
        previous = self._records.get(record.instance_id)
        up_since = now
        if previous is not None and previous.lease.up_since:
            up_since = previous.lease.up_since
        lease = Lease(
            renewal_interval=(
                renewal_interval or record.lease.renewal_interval or self.renewal_interval
            ),
            duration=duration or record.lease.duration or self.lease_duration,
            registered_at=now,
            renewed_at=now,
            up_since=up_since if record.status is Status.UP else 0.0,
        )
        override = self._overrides.get(record.instance_id, record.overridden_status)
        if override is not Status.UNKNOWN:
            self._overrides[record.instance_id] = override
        stored = record.evolve(
            app=record.app.upper(),
            overridden_status=override,
            lease=lease,
            last_updated=now,
            last_dirty=record.last_dirty or now,
            action=Action.ADDED,
        )
        self._store(stored)
        return stored

    def register_replica(self, record: InstanceRecord) -> InstanceRecord | None:
        """Apply a registration a peer replicated; ``None`` when ours is newer and stays.

        Eureka's rule: the copy whose state changed last (``last_dirty``) wins, so a
        late or repeated replication never rolls an instance back. A peer never
        replaces this registry's own record.
        """
        existing = self._records.get(record.instance_id)
        if existing is not None and (
            existing.pinned or _ms(existing.last_dirty) > _ms(record.last_dirty)
        ):
            return None
        return self.register(record)

    def renew(self, app: str, instance_id: str) -> bool:
        """Extend a lease; ``False`` when the instance is unknown (it should re-register)."""
        record = self.get(app, instance_id)
        if record is None:
            return False
        now = self._clock()
        # A renewal changes no state clients see, so it is not a delta entry.
        self._records[instance_id] = record.evolve(lease=_renewed(record.lease, now))
        if not record.pinned:
            self._renewals.append(now)
        return True

    def cancel(self, app: str, instance_id: str) -> InstanceRecord | None:
        """Remove an instance (it is shutting down); return what was removed."""
        record = self.get(app, instance_id)
        if record is None:
            return None
        return self._remove(record)

    def set_override(self, app: str, instance_id: str, status: Status) -> InstanceRecord | None:
        """Force the status clients see (OUT_OF_SERVICE takes it out of rotation)."""
        record = self.get(app, instance_id)
        if record is None:
            return None
        self._overrides[instance_id] = status
        return self._modify(record, overridden_status=status)

    def clear_override(
        self, app: str, instance_id: str, status: Status | None = None
    ) -> InstanceRecord | None:
        """Drop an override; optionally set the reported status at the same time."""
        record = self.get(app, instance_id)
        if record is None:
            return None
        self._overrides.pop(instance_id, None)
        return self._modify(
            record, overridden_status=Status.UNKNOWN, status=status or record.status
        )

    def evict(self) -> list[InstanceRecord]:
        """Drop leases that expired; under self-preservation only those past the bound."""
        now = self._clock()
        state = self.preservation()
        extra = 0.0
        evicted = []
        for record in list(self._records.values()):
            if record.pinned:
                continue
            if state.engaged:
                extra = record.lease.duration * (self.policy.max_lease_multiple - 1.0)
            if record.lease.expired(now, extra):
                evicted.append(self._remove(record, evicted_at=now))
        return evicted

    def renew_pinned(self) -> None:
        """Renew the registry's own record(s), which no heartbeat reaches."""
        now = self._clock()
        for record in list(self._records.values()):
            if record.pinned:
                self._records[record.instance_id] = record.evolve(lease=_renewed(record.lease, now))

    # -- snapshots -----------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """Return every lease except the registry's own, as JSON-ready dicts."""
        return [r.to_dict() for r in self.records() if not r.pinned]

    def restore(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Load a snapshot; every lease gets a fresh grace period. Return how many loaded."""
        loaded = 0
        now = self._clock()
        for entry in entries:
            try:
                record = InstanceRecord.from_dict(entry)
            except (KeyError, TypeError, ValueError):
                continue  # one damaged entry must not lose the rest of the fleet
            if record.instance_id in self._records:
                continue
            if record.overridden_status is not Status.UNKNOWN:
                self._overrides[record.instance_id] = record.overridden_status
            self._store(record.evolve(lease=_renewed(record.lease, now), action=Action.ADDED))
            loaded += 1
        # Clients that were silent while the registry was down get a full window to renew
        # before self-preservation may judge them.
        self._started = now
        self._renewals.clear()
        return loaded

    def adopt(self, records: Iterable[InstanceRecord]) -> int:
        """Take a peer's registry at start-up; return how many records were taken.

        A record is taken when this registry lacks it or holds an older state of it;
        its lease starts afresh, as a restored one does. The window self-preservation
        judges starts now, too: the fleet's heartbeats are only beginning to arrive.
        """
        now = self._clock()
        taken = 0
        for record in records:
            existing = self._records.get(record.instance_id)
            if existing is not None and (
                existing.pinned or _ms(existing.last_dirty) >= _ms(record.last_dirty)
            ):
                continue
            if record.overridden_status is not Status.UNKNOWN:
                self._overrides[record.instance_id] = record.overridden_status
            lease = record.lease
            lease = Lease(
                lease.renewal_interval or self.renewal_interval,
                lease.duration or self.lease_duration,
                lease.registered_at or now,
                now,
                lease.up_since,
                0.0,
            )
            self._store(
                record.evolve(
                    app=record.app.upper(), lease=lease, action=Action.ADDED, pinned=False
                )
            )
            taken += 1
        self._started = now
        self._renewals.clear()
        return taken

    # -- internals -----------------------------------------------------------

    def _modify(self, record: InstanceRecord, **changes: Any) -> InstanceRecord:
        now = self._clock()
        updated = record.evolve(**changes, last_updated=now, last_dirty=now, action=Action.MODIFIED)
        self._store(updated)
        return updated

    def _remove(self, record: InstanceRecord, evicted_at: float = 0.0) -> InstanceRecord:
        now = self._clock()
        del self._records[record.instance_id]
        self._overrides.pop(record.instance_id, None)
        lease = record.lease
        if evicted_at:
            lease = Lease(
                lease.renewal_interval,
                lease.duration,
                lease.registered_at,
                lease.renewed_at,
                lease.up_since,
                evicted_at,
            )
        removed = record.evolve(lease=lease, last_updated=now, action=Action.DELETED)
        self._log(removed)
        return removed

    def _store(self, record: InstanceRecord) -> None:
        self._records[record.instance_id] = record
        self._log(record)

    def _log(self, record: InstanceRecord) -> None:
        self.version += 1
        self._changes.append(Change(self.version, self._clock(), record))
        self._prune_changes()

    def _prune_changes(self) -> None:
        horizon = self._clock() - self.delta_retention
        while self._changes and self._changes[0].at < horizon:
            self._changes.popleft()

    def _prune_renewals(self, now: float) -> None:
        horizon = now - self.policy.window
        while self._renewals and self._renewals[0] < horizon:
            self._renewals.popleft()


def _ms(seconds: float) -> int:
    # Eureka's timestamps are milliseconds; a replica's went through that rounding.
    return int(seconds * 1000)


def _renewed(lease: Lease, now: float) -> Lease:
    return Lease(
        lease.renewal_interval,
        lease.duration,
        lease.registered_at,
        now,
        lease.up_since,
        0.0,
    )
