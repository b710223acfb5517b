"""Playback's adapters: its SQL tables, the CDN node poller and the event feeds."""

from matinee.services.playback.storage.feeds import follow_assets, follow_titles
from matinee.services.playback.storage.nodes import NodePoller
from matinee.services.playback.storage.sql import MIGRATIONS, SqlPlaybackStore

__all__ = ["MIGRATIONS", "NodePoller", "SqlPlaybackStore", "follow_assets", "follow_titles"]
