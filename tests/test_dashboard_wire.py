"""The wire format: pure, versioned, JSON-safe (no server needed)."""

from __future__ import annotations

import json
import math

from dashboard import wire
from timing.values import Crossing, Cue, SplitUpdate


def make_update(**changes) -> SplitUpdate:
    base = dict(athlete="a1", lap=2, segment="backstretch", mark="back_turn",
                time_s=1_700_000_123.25,
                split_s=13.4, target_s=12.0, deviation_s=1.4, lap_time_s=None, lap_target_s=None,
                lap_deviation_s=None, cum_s=140.2, cum_target_s=139.0, cum_deviation_s=1.2,
                pace_s_per_400m=63.0, plan_pace_s_per_400m=60.0, surge_faster=False,
                projected_finish_s=362.5, next_cue=Cue("surge", "SURGE — faster, shorter, quicker"),
                ghost_gap_m=-7.5, flags=("estimated",), seq=9)
    base.update(changes)
    return SplitUpdate(**base)


def test_split_message_carries_every_contract_field():
    msg = wire.split_message(make_update())
    for key in ("athlete", "lap", "segment", "mark", "time_s", "split_s", "target_s",
                "deviation_s", "cum_deviation_s", "projected_finish_s", "next_cue", "flags"):
        assert key in msg, key
    assert msg["v"] == wire.WIRE_VERSION and msg["type"] == "split"
    assert msg["next_cue"] == {"effort": "surge", "text": "SURGE — faster, shorter, quicker"}
    assert msg["flags"] == ["estimated"]
    assert msg["deviation_s"] == 1.4 and msg["ghost_gap_m"] == -7.5
    # every field of the value is there, nothing is invented
    assert set(msg) - {"v", "type"} == set(SplitUpdate.__dataclass_fields__)


def test_messages_survive_strict_json():
    msg = wire.split_message(make_update(next_cue=None, projected_finish_s=math.nan,
                                         lap_time_s=math.inf))
    text = json.dumps(msg, allow_nan=False)
    back = json.loads(text)
    assert back["next_cue"] is None
    assert back["projected_finish_s"] is None and back["lap_time_s"] is None


def test_other_outputs_become_rejected_or_notice():
    from timing.values import Rejected

    crossing = Crossing(mark="finish", time_s=10.0, athlete="a1")
    rej = wire.output_message(Rejected(reason="before the start", crossing=crossing,
                                       code="before_start"))
    assert rej["type"] == "rejected" and rej["reason"] == "before the start"
    assert rej["crossing"]["mark"] == "finish"
    assert wire.output_message(make_update())["type"] == "split"


def test_coalesce_keys():
    a = wire.split_message(make_update())
    b = wire.split_message(make_update(split_s=13.0, correction=True))
    c = wire.split_message(make_update(segment="turn2"))
    assert wire.coalesce_key(a) == wire.coalesce_key(b) != wire.coalesce_key(c)
    h = wire.health_message("cam", {"fps": 30.0}, received_s=1.0)
    assert wire.coalesce_key(h) == ("health", "cam")
    assert wire.coalesce_key({"type": "rejected"}) is None


def test_snapshot_message_is_json_safe():
    msg = wire.snapshot_message({"athletes": ({"id": "a"},), "x": math.nan}, server_time_s=5.0,
                                extra={"nodes": {"cam": {"ok": True}}})
    assert json.loads(json.dumps(msg, allow_nan=False))["state"]["x"] is None
    assert msg["nodes"] == {"cam": {"ok": True}} and msg["type"] == "snapshot"
