"""Playback's rules: what a viewer is allowed, where they are steered, how they start."""

from __future__ import annotations

from matinee.services.playback.domain.model import Asset, Device, NodeState, Rung
from matinee.services.playback.domain.rules import (
    DEFAULT_START_KBPS,
    allowed_ladder,
    blend_prior,
    initial_bitrate,
    plan_of,
    resume_at,
    steer,
)

RUNGS = tuple(
    Rung(f"{h}p", h * 16 // 9, h, kbps, kbps * 0.8, "avc1.64001f,mp4a.40.2")
    for h, kbps in ((240, 450), (360, 900), (480, 1500), (720, 3000), (1080, 5500), (2160, 16000))
)
ASSET = Asset("a1b2c3d4e5f60718", 1, 600.0, RUNGS)


def node(node_id: str, **kw) -> NodeState:
    return NodeState(node_id=node_id, url=f"http://{node_id}", **kw)


def test_the_plan_caps_the_picture_and_a_bigger_device_is_capped_not_refused():
    basic = allowed_ladder(ASSET, Device(max_height=2160), plan_of("basic"))
    assert [r.height for r in basic] == [240, 360, 480, 720]
    premium = allowed_ladder(ASSET, Device(max_height=1080), plan_of("premium"))
    assert premium[-1].height == 1080


def test_an_unknown_plan_claim_gets_the_default_plan():
    assert plan_of("").name == "standard"
    assert plan_of("gold").max_streams == 2


def test_codecs_filter_the_ladder_but_never_empty_it():
    assert allowed_ladder(ASSET, Device(1080, ("avc1",)), plan_of("premium"))
    assert allowed_ladder(ASSET, Device(1080, ("hvc1",)), plan_of("premium"))


def test_a_tiny_device_still_gets_the_smallest_rung():
    assert [r.height for r in allowed_ladder(ASSET, Device(144), plan_of("premium"))] == [240]


def test_steering_prefers_region_then_isp_then_content_then_load():
    nodes = [
        node("far-busy", region="us-east", isp="isp-b", active_requests=50),
        node("near-other-isp", region="eu-west", isp="isp-b", assets=frozenset({"x"})),
        node("near-same-isp", region="eu-west", isp="isp-a", active_requests=9),
        node("far-idle", region="us-east", isp="isp-a"),
    ]
    order = [n.node_id for n in steer(nodes, "x", region="eu-west", isp="isp-a")]
    assert order == ["near-same-isp", "near-other-isp", "far-idle", "far-busy"]


def test_steering_puts_nodes_holding_the_asset_first_among_equals():
    nodes = [node("cold", region="r"), node("warm", region="r", assets=frozenset({"x"}))]
    assert [n.node_id for n in steer(nodes, "x", region="r")] == ["warm", "cold"]


def test_unhealthy_nodes_are_left_out_unless_nothing_else_is_left():
    nodes = [node("sick", healthy=False), node("ok")]
    assert [n.node_id for n in steer(nodes, "x")] == ["ok"]
    assert [n.node_id for n in steer([node("sick", healthy=False)], "x")] == ["sick"]


def test_an_overloaded_node_goes_last_even_in_the_clients_region():
    nodes = [node("near", region="r", active_requests=10_000), node("far", region="q")]
    assert [n.node_id for n in steer(nodes, "x", region="r")] == ["far", "near"]


def test_initial_bitrate_takes_the_more_cautious_of_hint_and_history():
    assert initial_bitrate(RUNGS, 10_000, None) == 5500
    assert initial_bitrate(RUNGS, 10_000, 2000) == 1500
    assert initial_bitrate(RUNGS, None, None) == max(
        r.bitrate_kbps for r in RUNGS if r.bitrate_kbps <= DEFAULT_START_KBPS * 0.8
    )
    assert initial_bitrate(RUNGS, 100, None) == 450  # nothing fits: the lowest rung


def test_resume_where_left_but_start_over_after_the_credits():
    assert resume_at(None, 600) == 0
    assert resume_at(125.5, 600) == 125.5
    assert resume_at(590, 600) == 0


def test_history_moves_towards_new_samples():
    assert blend_prior(None, 4000) == 4000
    assert 1000 < blend_prior(1000, 4000) < 4000
