"""The gateway's HTTP side: the edge filter chain, the proxy, the edge metrics."""

from matinee.services.gateway.api.edge import EDGE_IDENTITY_HEADER_KEY, Edge, security_headers
from matinee.services.gateway.api.proxy import Exchange, ServiceTargets, Upstreams
from matinee.services.gateway.api.stats import EdgeStats

__all__ = [
    "EDGE_IDENTITY_HEADER_KEY",
    "Edge",
    "EdgeStats",
    "Exchange",
    "ServiceTargets",
    "Upstreams",
    "security_headers",
]
