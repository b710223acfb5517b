"""The reference player behind ``matinee play``: real downloads, a trace throttle, any ABR.

| usage | does |
|---|---|
| ``Player(http, gateway, token, create("bola")).play(title_id, profile_id)`` | one session |
| ``Throttle.from_file("trace.json")`` | shape downloads to a Sabre trace |
| ``parse_master(text, base)``, ``parse_media(text, base)`` | the HLS it reads |
"""

from matinee.services.playback.player.hls import parse_master, parse_media
from matinee.services.playback.player.session import AllNodesFailed, Player, PlayRefused, Qoe
from matinee.services.playback.player.throttle import Throttle, load_trace

__all__ = [
    "AllNodesFailed",
    "PlayRefused",
    "Player",
    "Qoe",
    "Throttle",
    "load_trace",
    "parse_master",
    "parse_media",
]
