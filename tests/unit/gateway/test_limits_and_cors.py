"""Token buckets and the CORS allowlist."""

from __future__ import annotations

from matinee.services.gateway.domain.cors import CorsPolicy
from matinee.services.gateway.domain.ratelimit import TokenBuckets


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("ip", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("ip", 100.0)
    assert 0.4 < wait <= 0.5  # one token every half second
    assert buckets.take("other", 100.0) == 0.0  # keys do not share a bucket
    assert buckets.take("ip", 100.6) == 0.0
    assert buckets.take("ip", 100.6) > 0


def test_buckets_forget_idle_clients_instead_of_growing():
    buckets = TokenBuckets(rate=10, burst=10, max_keys=100)
    for i in range(1000):
        buckets.take(i, float(i))
    assert len(buckets) <= 100


def test_cors_exact_origins_and_any_port():
    policy = CorsPolicy(["https://app.example.com", "http://localhost:*"])
    assert policy.allows(b"https://app.example.com")
    assert policy.allows(b"http://localhost:5173")
    assert not policy.allows(b"http://localhost:5173.evil.com")
    assert not policy.allows(b"http://localhost")
    assert not policy.allows(b"https://evil.example.com")
    assert not policy.allows(b"null")
