"""The node's HTTP surface: signed delivery on the fast server, its own API on the chassis."""

from matinee.services.cdn.api.delivery import Delivery, cache_control, content_type
from matinee.services.cdn.api.routes import build_router

__all__ = ["Delivery", "build_router", "cache_control", "content_type"]
