"""The CDN node's pure logic: safe keys, LRU accounting, single flight, pacing, ports."""

from matinee.services.cdn.domain.flight import SingleFlight
from matinee.services.cdn.domain.load import LoadMeter
from matinee.services.cdn.domain.lru import ByteLru
from matinee.services.cdn.domain.paths import ASSET_ID, UnsafePath, object_key
from matinee.services.cdn.domain.ports import Origin, OriginUnavailable
from matinee.services.cdn.domain.prefill import Pacer, prefill_plan

__all__ = [
    "ASSET_ID",
    "ByteLru",
    "LoadMeter",
    "Origin",
    "OriginUnavailable",
    "Pacer",
    "SingleFlight",
    "UnsafePath",
    "object_key",
    "prefill_plan",
]
