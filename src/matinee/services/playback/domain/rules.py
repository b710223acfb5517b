"""Playback's rules: entitlement, steering, the first bitrate and where to resume.

| rule | decides |
|---|---|
| ``plan_of("basic")`` | streams at once and the tallest picture (users' plan table) |
| ``allowed_ladder(asset, device, plan)`` | rungs the device decodes and the plan allows |
| ``steer(nodes, asset_id, region=..., isp=...)`` | healthy nodes, best first, for failover |
| ``initial_bitrate(ladder, hint_kbps, prior_kbps)`` | the rung to start on |
| ``resume_at(position_s, duration_s)`` | where a new session starts |
| ``blend_prior(old, samples, new)`` | the account's throughput history after a heartbeat |
"""

from __future__ import annotations

from collections.abc import Sequence

from matinee.services.playback.domain.model import (
    Asset,
    Device,
    NodeState,
    Rung,
    codec_family,
    rungs_at_most,
)
from matinee.services.users.domain.model import DEFAULT_PLAN, PLANS, Plan

__all__ = [
    "DEFAULT_START_KBPS",
    "allowed_ladder",
    "blend_prior",
    "initial_bitrate",
    "plan_of",
    "resume_at",
    "steer",
]

# With no hint and no history, start where a typical home connection surely holds.
DEFAULT_START_KBPS = 1500.0
# Start a little under the estimate: the first segments also carry the playlists and init.
_START_SAFETY = 0.8
# A node busier than this many requests in flight goes behind every calmer node.
_OVERLOADED = 512
# The last few seconds of a title are credits: a viewer who got there starts over.
_END_MARGIN_S = 30.0
_END_FRACTION = 0.95
# Weight of a new throughput sample in the account's history.
_PRIOR_ALPHA = 0.3


def plan_of(name: str) -> Plan:
    """Return the plan called ``name``; an unknown or missing claim gets the default plan."""
    return PLANS.get(name) or PLANS[DEFAULT_PLAN]


def allowed_ladder(asset: Asset, device: Device, plan: Plan) -> tuple[Rung, ...]:
    """Return the rungs the device can decode and the plan allows, smallest first.

    A device asking above the plan's height is capped, not refused; a device that names
    no codec this asset has still gets the ladder (codec lists are a hint, not a gate).
    """
    height = min(device.max_height, plan.max_height)
    rungs: Sequence[Rung] = asset.rungs
    if device.codecs:
        wanted = {c.split(".", 1)[0].lower() for c in device.codecs}
        decodable = [r for r in rungs if codec_family(r.codecs) in wanted]
        rungs = decodable or rungs
    return rungs_at_most(rungs, height)


def _rank(node: NodeState, asset_id: str, region: str, isp: str) -> tuple[object, ...]:
    overloaded = node.active_requests > _OVERLOADED
    return (
        overloaded,
        not (region and node.region == region),
        not (isp and node.isp == isp),
        asset_id not in node.assets,
        # Load: requests in flight first, then bytes sent (a busy node of big segments).
        node.active_requests,
        node.bytes_per_s,
        node.node_id,
    )


def steer(
    nodes: Sequence[NodeState], asset_id: str, *, region: str = "", isp: str = ""
) -> list[NodeState]:
    """Return every healthy node, the best for this client first.

    Order: not overloaded, same region, same ISP, already holds the asset, least loaded.
    When no node reports healthy, every node is returned: a possibly-sick node beats none.
    """
    healthy = [n for n in nodes if n.healthy]
    pool = healthy or list(nodes)
    return sorted(pool, key=lambda n: _rank(n, asset_id, region, isp))


def initial_bitrate(
    ladder: Sequence[Rung], hint_kbps: float | None, prior_kbps: float | None
) -> float:
    """Return the bitrate of the rung to start on, from the network hint and the history.

    With both, the more cautious wins; with neither, a conservative default.
    """
    if not ladder:
        return 0.0
    estimates = [e for e in (hint_kbps, prior_kbps) if e is not None and e > 0]
    estimate = min(estimates) if estimates else DEFAULT_START_KBPS
    budget = estimate * _START_SAFETY
    fitting = [r.bitrate_kbps for r in ladder if r.bitrate_kbps <= budget]
    return max(fitting) if fitting else ladder[0].bitrate_kbps


def resume_at(position_s: float | None, duration_s: float) -> float:
    """Return where a new session of a title starts, given the last position there."""
    if position_s is None or position_s <= 0 or duration_s <= 0:
        return 0.0
    near_end = max(duration_s - _END_MARGIN_S, duration_s * _END_FRACTION)
    if position_s >= near_end:
        return 0.0
    return round(position_s, 3)


def blend_prior(old_kbps: float | None, new_kbps: float) -> float:
    """Return the account's throughput estimate after one more measured sample."""
    if old_kbps is None or old_kbps <= 0:
        return new_kbps
    return (1 - _PRIOR_ALPHA) * old_kbps + _PRIOR_ALPHA * new_kbps
