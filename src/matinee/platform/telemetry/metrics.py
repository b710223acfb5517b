"""Prometheus metrics, one registry per app so apps built in one process never collide.

| usage | effect |
|---|---|
| ``m = Metrics()`` | a fresh registry |
| ``m.counter("fills_total", "Origin fills", ["result"]).labels("ok").inc()`` | define, reuse |
| ``m.render()`` | Prometheus text exposition |
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "FastCounter", "FastHistogram", "Metrics", "Series"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Service latencies sit between 100 us and a few seconds; the defaults start at 5 ms.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip

# The *_created series double every sample and no Matinee dashboard reads them.
disable_created_metrics()

M = TypeVar("M", bound=MetricWrapperBase)


class Metrics:
    """A registry plus get-or-create helpers, so instruments are defined where used."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._instruments: dict[str, MetricWrapperBase] = {}

    def _get(self, kind: type[M], name: str, doc: str, labels: Sequence[str], **kw: object) -> M:
        existing = self._instruments.get(name)
        if existing is not None:
            if not isinstance(existing, kind):
                raise TypeError(f"metric {name} already defined as {type(existing).__name__}")
            return existing
        metric = kind(name, doc, labelnames=list(labels), registry=self.registry, **kw)  # type: ignore[arg-type]
        self._instruments[name] = metric
        return metric

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """Return the counter ``name``, creating it on first use."""
        return self._get(Counter, name, doc, labels)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        """Return the gauge ``name``, creating it on first use."""
        return self._get(Gauge, name, doc, labels)

    def histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        """Return the histogram ``name``, creating it on first use."""
        return self._get(Histogram, name, doc, labels, buckets=tuple(buckets))

    def fast_histogram(
        self,
        name: str,
        doc: str,
        labels: Sequence[str],
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> FastHistogram:
        """Return a lock-free histogram for hot paths (one event-loop thread only)."""
        histogram = FastHistogram(name, doc, labels, buckets)
        self.registry.register(histogram)
        return histogram

    def fast_counter(self, name: str, doc: str, labels: Sequence[str]) -> FastCounter:
        """Return a lock-free counter for hot paths (one event-loop thread only)."""
        counter = FastCounter(name, doc, labels)
        self.registry.register(counter)
        return counter

    def render(self) -> bytes:
        """Return every metric in Prometheus text format."""
        return generate_latest(self.registry)


class Series:
    """One label set of a :class:`FastHistogram`: bucket counts and a sum."""

    __slots__ = ("_bounds", "counts", "total")

    def __init__(self, bounds: list[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect_left(self._bounds, value)] += 1
        self.total += value


class FastHistogram(Collector):
    """A histogram without locks: prometheus_client's takes one per observation.

    Safe because every observation happens on the event loop's thread; scrapes run
    there too and read plain ints.
    """

    def __init__(self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]):
        self.name = name
        self.doc = doc
        self.labels = list(labels)
        self._bounds = sorted(buckets)
        self._series: dict[tuple[str, ...], Series] = {}

    def child(self, *values: str) -> Series:
        """Return the series of one label set, creating it on first use."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = Series(self._bounds)
        return series

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """Yield the histogram in Prometheus's model (cumulative buckets)."""
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for values, series in list(self._series.items()):
            cumulative, buckets = 0, []
            for bound, count in zip([*self._bounds, float("inf")], series.counts, strict=True):
                cumulative += count
                buckets.append((str(bound) if bound != float("inf") else "+Inf", cumulative))
            family.add_metric(list(values), buckets, series.total)
        yield family


class FastCounter(Collector):
    """A counter without locks, for the same reason and on the same terms as FastHistogram.

    ``name`` is given without ``_total``; the exposition adds it, as Prometheus expects.
    """

    def __init__(self, name: str, doc: str, labels: Sequence[str]):
        self.name = name.removesuffix("_total")
        self.doc = doc
        self.labels = list(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, values: tuple[str, ...], amount: float = 1.0) -> None:
        """Add ``amount`` to the series of one label set."""
        self.values[values] = self.values.get(values, 0.0) + amount

    def collect(self) -> Iterator[CounterMetricFamily]:
        """Yield the counter in Prometheus's model."""
        family = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for values, total in list(self.values.items()):
            family.add_metric(list(values), total)
        yield family
