"""Payload validation: values out, or an error naming the field (no server needed)."""

from __future__ import annotations

import pytest

from dashboard.validate import ValidationError, crossing_from_payload, session_from_payload


def field_of(fn, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return info.value.field


def test_crossing_ok_and_defaults():
    c = crossing_from_payload({"mark": "finish", "time_s": 1_700_000_000.5, "tag": "E2001",
                               "source": "rfid", "extra": 1})
    assert (c.mark, c.time_s, c.tag, c.athlete, c.source) == (
        "finish", 1_700_000_000.5, "E2001", None, "rfid")
    assert crossing_from_payload({"mark": "finish", "time_s": 5, "athlete": "a1"}).source == "tap"


@pytest.mark.parametrize("payload, field", [
    ([1, 2], "body"),
    ({"time_s": 1.0, "athlete": "a"}, "mark"),
    ({"mark": "nowhere", "time_s": 1.0, "athlete": "a"}, "mark"),
    ({"mark": "finish", "athlete": "a"}, "time_s"),
    ({"mark": "finish", "time_s": "soon", "athlete": "a"}, "time_s"),
    ({"mark": "finish", "time_s": True, "athlete": "a"}, "time_s"),
    ({"mark": "finish", "time_s": float("nan"), "athlete": "a"}, "time_s"),
    ({"mark": "finish", "time_s": 1.0}, "athlete"),
    ({"mark": "finish", "time_s": 1.0, "athlete": 7}, "athlete"),
    ({"mark": "finish", "time_s": 1.0, "athlete": "a", "source": "laser"}, "source"),
    ({"mark": "finish", "time_s": 1.0, "athlete": "a", "confidence": 3}, "confidence"),
    ({"mark": "finish", "time_s": 1.0, "athlete": "a", "flags": "x"}, "flags"),
])
def test_crossing_errors_name_the_field(payload, field):
    assert field_of(crossing_from_payload, payload) == field


def test_anonymous_only_from_a_camera():
    c = crossing_from_payload({"mark": "finish", "time_s": 1.0, "source": "camera",
                               "position": 0.25})
    assert c.athlete is None and c.tag is None and c.position == 0.25


def roster(*athletes, **extra):
    return {"name": "Tue", "athletes": list(athletes), **extra}


def test_session_builds_plans_per_lane_and_variant():
    s = session_from_payload(roster({"name": "Ann", "five_k": "20:00"},
                                    {"id": "bo", "name": "Bo", "five_k_s": 1100, "lane": 4,
                                     "tags": ["E1", "E2"]},
                                    {"name": "Cy", "five_k_s": 1300, "variant": "lane8"}),
                             session_id="s1")
    assert [a.id for a in s.athletes] == ["a1", "bo", "a3"]
    assert s.athletes[1].tags == ("E1", "E2") and s.athletes[1].plan.lane == 4
    assert s.athletes[2].lane == 8 and s.athletes[2].plan.variant == "lane8"
    # a faster 5K gives a faster plan; a wider lane gives a longer one
    assert s.athletes[1].plan.total_s < s.athletes[0].plan.total_s
    assert s.athletes[0].plan.five_k_s == 1200.0


def test_session_plan_options_apply():
    base = session_from_payload(roster({"name": "Ann", "five_k_s": 1200}), session_id="s")
    fast = session_from_payload(roster({"name": "Ann", "five_k_s": 1200}, plan={"target_s": 350}),
                                session_id="s")
    assert abs(fast.athletes[0].plan.total_s - 350) < 0.01
    assert abs(base.athletes[0].plan.total_s - 350) > 5


@pytest.mark.parametrize("payload, field", [
    ({"athletes": []}, "athletes"),
    ({"athletes": "Ann"}, "athletes"),
    (roster({"five_k_s": 1200}), "athletes[0].name"),
    (roster({"name": "A"}), "athletes[0].five_k_s"),
    (roster({"name": "A", "five_k": "fast"}), "athletes[0].five_k"),
    (roster({"name": "A", "five_k_s": 1200, "lane": 0}), "athletes[0].lane"),
    (roster({"name": "A", "five_k_s": 1200, "lane": "2"}), "athletes[0].lane"),
    (roster({"name": "A", "five_k_s": 1200, "variant": "lane3"}), "athletes[0].variant"),
    (roster({"name": "A", "five_k_s": 1200, "lane": 2, "variant": "lane8"}), "athletes[0].lane"),
    (roster({"name": "A", "five_k_s": 1200}, {"name": "B", "five_k_s": 1200, "id": "a1"}),
     "athletes[1].id"),
    (roster({"name": "A", "five_k_s": 1200, "tags": ["T"]},
            {"name": "B", "five_k_s": 1200, "tags": ["T"]}), "athletes[1].tags"),
    (roster({"name": "A", "five_k_s": 1200, "plan": {"target_s": "six"}}),
     "athletes[0].plan.target_s"),
    (roster({"name": "A", "five_k_s": 1200}, plan={"lap3_turn2_5k": "yes"}),
     "plan.lap3_turn2_5k"),
])
def test_session_errors_name_the_field(payload, field):
    assert field_of(session_from_payload, payload, session_id="s") == field
