"""Edge metrics by route, status and origin service: plain counters, summed at scrape time.

prometheus_client's ``labels().inc()`` takes a lock and a dict lookup on a label
tuple per call; the edge instead bumps list cells hung on each route and a
collector turns them into Prometheus families when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from matinee.platform.telemetry.metrics import LATENCY_BUCKETS
from matinee.services.gateway.domain.routes import Route

__all__ = ["EdgeStats", "RouteStats"]

_BOUNDS = LATENCY_BUCKETS
_N = len(_BOUNDS) + 1  # the last cell counts what is above the largest bound


class RouteStats:
    """Counters of one route: per status a count, and one latency histogram."""

    __slots__ = ("buckets", "by_status", "route_label", "service", "sum")

    def __init__(self, route_label: str, service: str) -> None:
        self.route_label = route_label
        self.service = service
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * _N
        self.sum = 0.0

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered request."""
        by_status = self.by_status
        by_status[status] = by_status.get(status, 0) + 1
        self.buckets[bisect_left(_BOUNDS, seconds)] += 1
        self.sum += seconds


class EdgeStats(Collector):
    """The edge's counters; register on a prometheus registry to expose them."""

    def __init__(self) -> None:
        self.routes: list[RouteStats] = []
        self.rejected: dict[str, int] = {}
        self.retries: dict[str, int] = {}

    def for_route(self, route: Route) -> RouteStats:
        """Return (creating) the counters of ``route``."""
        stats = RouteStats(route.path, route.service)
        self.routes.append(stats)
        return stats

    def reject(self, reason: str) -> None:
        """Count a request the inbound filters refused (for a reason, not a route)."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def retry(self, service: str) -> None:
        """Count a retry on another instance."""
        self.retries[service] = self.retries.get(service, 0) + 1

    def collect(self) -> Iterator[Any]:
        """Yield the Prometheus families (called at scrape time)."""
        requests = CounterMetricFamily(
            "matinee_edge_requests",
            "Requests answered by the edge, by route, origin service and status",
            labels=["route", "service", "status"],
        )
        latency = HistogramMetricFamily(
            "matinee_edge_request_duration_seconds",
            "Edge latency from request head to the end of the answer, by route and service",
            labels=["route", "service"],
        )
        for stats in self.routes:
            for status, count in sorted(stats.by_status.items()):
                requests.add_metric([stats.route_label, stats.service, str(status)], count)
            total = 0
            cumulative = []
            for bound, count in zip((*_BOUNDS, float("inf")), stats.buckets, strict=True):
                total += count
                cumulative.append((_fmt(bound), total))
            if total:
                latency.add_metric([stats.route_label, stats.service], cumulative, stats.sum)
        yield requests
        yield latency
        rejected = CounterMetricFamily(
            "matinee_edge_rejected",
            "Requests refused by an inbound filter, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(self.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        retries = CounterMetricFamily(
            "matinee_edge_retries", "Requests retried on another instance", labels=["service"]
        )
        for service, count in sorted(self.retries.items()):
            retries.add_metric([service], count)
        yield retries


def _fmt(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
