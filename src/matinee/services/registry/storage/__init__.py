"""The registry's adapters to disk."""

from matinee.services.registry.storage.snapshot import SnapshotStore

__all__ = ["SnapshotStore"]
