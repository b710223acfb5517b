"""Playback: sessions, stream leases, steering and adaptive bitrate (issue 4)."""
