"""Playback domain: pure rules, no web, HTTP or SQL."""
