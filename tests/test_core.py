"""The event core: splits, deviations, cues, ghost, duplicates, missed marks, plausibility."""

from __future__ import annotations

import json

import pytest
from test_core_support import (
    T0,
    crossings_for,
    feed,
    final_state,
    make_athlete,
    mark_times,
    splits_of,
    started_core,
)

from timing.core import Core
from timing.events import SessionSetup
from timing.plan import cue_for
from timing.values import Crossing, Notice, Rejected, SplitUpdate


def test_run_exactly_on_plan_has_zero_deviation_and_zero_ghost_gap():
    a = make_athlete("a")
    core, _ = started_core(a)
    times = mark_times(a.plan, T0)
    ups = splits_of(feed(core, crossings_for(a, times)))
    assert [u.index for u in ups] == list(range(len(a.plan.segments)))
    for u, seg in zip(ups, a.plan.segments, strict=True):
        assert (u.lap, u.segment, u.mark) == (seg.lap, seg.segment, seg.to_mark)
        assert abs(u.deviation_s) < 1e-5 and abs(u.cum_deviation_s) < 1e-5
        assert abs(u.ghost_gap_m) < 1e-3
        assert abs(u.projected_finish_s - a.plan.total_s) < 1e-3  # epoch float resolution
        assert abs(u.pace_s_per_400m - seg.pace_s_per_400m) < 1e-4
    assert core.status("a") == "finished"


def test_deviations_laps_pace_cue_and_projection_follow_the_plan():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    ratios = [1.0 + 0.01 * (k % 5) - 0.015 for k in range(len(segs))]
    times = mark_times(a.plan, T0, ratios)
    ups = splits_of(feed(core, crossings_for(a, times)))
    prev = T0
    for k, (u, seg) in enumerate(zip(ups, segs, strict=True)):
        split = times[k] - prev
        prev = times[k]
        assert u.split_s == pytest.approx(split, abs=1e-5)
        assert u.deviation_s == pytest.approx(split - seg.target_s, abs=1e-5)
        assert u.cum_deviation_s == pytest.approx(times[k] - T0 - seg.cum_target_s, abs=1e-5)
        assert u.pace_s_per_400m == pytest.approx(split / seg.distance_m * 400, abs=1e-5)
        expected_cue = cue_for(segs[k + 1]) if k + 1 < len(segs) else None
        assert u.next_cue == expected_cue
        # projection: plan remaining scaled by the ratio over the last 4 segments
        j = k - 4
        t_j = T0 if j < 0 else times[j]
        planned = seg.cum_target_s - (0.0 if j < 0 else segs[j].cum_target_s)
        ratio = (times[k] - t_j) / planned
        assert u.projected_finish_s == pytest.approx(
            times[k] - T0 + (a.plan.total_s - seg.cum_target_s) * ratio, abs=1e-3)
    lap_ends = [u for u in ups if u.lap_time_s is not None]
    assert [u.lap for u in lap_ends] == [1, 2, 3, 4]
    for u in lap_ends:
        lap_segs = [s for s in segs if s.lap == u.lap]
        last_before = max((i for i, s in enumerate(segs) if s.lap < u.lap), default=None)
        lap_start = T0 if last_before is None else times[last_before]
        assert u.lap_time_s == pytest.approx(u.time_s - lap_start, abs=1e-5)
        assert u.lap_target_s == pytest.approx(sum(s.target_s for s in lap_segs), abs=1e-5)
    assert [u for u in ups if u.lap_time_s is None and u.lap_target_s is not None] == []


def test_ghost_gap_is_distance_to_a_plan_pace_runner():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    # 3 s late at the first backstretch mark: the ghost is 3 s of turn1 pace further
    t1 = T0 + segs[0].target_s
    t2 = T0 + segs[1].cum_target_s + 3.0
    ups = splits_of(feed(core, [Crossing(segs[0].to_mark, t1, tag="tag-a", source="rfid"),
                                Crossing(segs[1].to_mark, t2, tag="tag-a", source="rfid")]))
    speed_next = segs[2].distance_m / segs[2].target_s
    assert ups[-1].ghost_gap_m == pytest.approx(-3.0 * speed_next, abs=1e-5)
    assert ups[-1].ghost_gap_m < 0  # behind the ghost


def test_surge_faster_compares_pace_with_the_5k_segment_before_it():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    surge = next(k for k, s in enumerate(segs) if s.effort == "surge")
    assert segs[surge - 1].effort == "5k"
    ratios = [1.0] * len(segs)
    ratios[surge] = 96.0 / 88.0 * 1.01  # surged slower than 5K pace
    times = mark_times(a.plan, T0, ratios)
    ups = splits_of(feed(core, crossings_for(a, times)))
    assert ups[surge].surge_faster is False
    assert all(u.surge_faster is None for u in ups if segs[u.index].effort != "surge")
    later = [u for u in ups if segs[u.index].effort == "surge" and u.index != surge]
    assert later and all(u.surge_faster is True for u in later)


def test_duplicates_keep_the_most_precise_source_and_correct_when_it_arrives_late():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    t = T0 + segs[0].target_s
    first = splits_of(core.handle(Crossing("finish", t + 0.08, tag="tag-a", source="rfid")))
    assert len(first) == 1 and first[0].source == "rfid"
    again = core.handle(Crossing("finish", t + 0.09, tag="tag-a", source="rfid",
                                 sensor_id="rfid-2"))
    assert splits_of(again) == []
    tap = core.handle(Crossing("finish", t + 0.3, athlete="a", source="tap"))
    assert splits_of(tap) == []
    cam = splits_of(core.handle(Crossing("finish", t, athlete="a", source="camera")))
    assert len(cam) == 1 and cam[0].correction and "correction" in cam[0].flags
    assert cam[0].source == "camera" and cam[0].time_s == t
    assert len(core.splits("a")) == 1
    assert core.counters()["duplicates"] == 3
    # a worse source later changes nothing
    assert splits_of(core.handle(Crossing("finish", t + 0.2, tag="tag-a", source="rfid"))) == []


def test_missed_mark_is_interpolated_in_plan_time_then_replaced_by_a_late_reading():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    ratios = [1.0, 1.0, 1.0, 1.1, 0.9, 1.0] + [1.0] * (len(segs) - 6)
    times = mark_times(a.plan, T0, ratios)
    sent = crossings_for(a, times)
    feed(core, sent[:3])
    ups = splits_of(core.handle(sent[4]))
    est = ups[0]
    assert est.index == 3 and "estimated" in est.flags and est.source == "estimated"
    # the gap 2..4 run at one ratio to plan: time at mark 3 by planned-time fraction
    frac = (segs[3].cum_target_s - segs[2].cum_target_s) / (
        segs[4].cum_target_s - segs[2].cum_target_s)
    assert est.time_s == pytest.approx(times[2] + frac * (times[4] - times[2]), abs=1e-5)
    assert ups[1].index == 4 and "estimated" not in ups[1].flags
    late = splits_of(core.handle(Crossing(segs[3].to_mark, times[3], tag="tag-a",
                                          source="rfid")))
    assert [u.index for u in late] == [3, 4]
    assert all(u.correction for u in late)
    assert late[0].time_s == times[3] and "estimated" not in late[0].flags
    assert late[1].split_s == pytest.approx(times[4] - times[3], abs=1e-5)
    assert core.counters()["estimated"] == 0


def test_a_missed_finish_line_read_does_not_shift_the_lap_count():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    times = mark_times(a.plan, T0, 1.03)
    lap2_finish = next(k for k, s in enumerate(segs) if s.lap == 2 and s.to_mark == "finish")
    ups = splits_of(feed(core, crossings_for(a, times, skip=[lap2_finish])))
    final = core.splits("a")
    assert [u.index for u in final] == list(range(len(segs)))
    assert [(u.lap, u.segment) for u in final] == [(s.lap, s.segment) for s in segs]
    assert "estimated" in final[lap2_finish].flags
    assert all(abs(u.cum_deviation_s - 0.03 * segs[u.index].cum_target_s) < 1e-5
               for u in final if u.index != lap2_finish)
    assert core.status("a") == "finished" and len(ups) == len(segs)


def test_finish_line_only_timing_with_a_missed_lap_keeps_laps_right():
    a = make_athlete("a")
    core, _ = started_core(a)
    segs = a.plan.segments
    times = mark_times(a.plan, T0, 0.97)
    finishes = [k for k, s in enumerate(segs) if s.to_mark == "finish"]
    sent = [k for k in finishes if k != finishes[2]]  # lap-2 end missed
    feed(core, [Crossing("finish", times[k], tag="tag-a", source="rfid") for k in sent])
    real = [u for u in core.splits("a") if "estimated" not in u.flags]
    assert [u.index for u in real] == sent
    assert [u.lap for u in real if u.lap_time_s is not None] == [1, 3, 4]
    assert core.status("a") == "finished"


@pytest.mark.parametrize("make, code", [
    (lambda segs: Crossing("finish", T0 - 5.0, tag="tag-a", source="rfid"), "before_start"),
    (lambda segs: Crossing("finish", T0 + 0.5, tag="tag-a", source="rfid"), "too_fast"),
    (lambda segs: Crossing("moon", T0 + 10.0, tag="tag-a"), "unknown_mark"),
    (lambda segs: Crossing("finish", T0 + 2.0, athlete="zz"), "unknown_athlete"),
    (lambda segs: Crossing("finish", float("nan"), athlete="a"), "invalid"),
    (lambda segs: Crossing("mile_end", T0 + 10.0, athlete="a"), "unknown_mark"),
])
def test_implausible_and_invalid_crossings_are_rejected_with_a_reason(make, code):
    a = make_athlete("a")
    core, _ = started_core(a)
    outs = core.handle(make(a.plan.segments))
    rejected = [o for o in outs if isinstance(o, Rejected)]
    assert len(rejected) == 1 and rejected[0].code == code and rejected[0].reason
    assert splits_of(outs) == []
    assert core.counters()["rejected_by_reason"].get(code) == 1


def test_world_record_pace_is_accepted_but_faster_is_not():
    a = make_athlete("a", five_k_s=780, target_s=223.13)
    core, _ = started_core(a)
    segs = a.plan.segments
    # 9.5 m/s over the first turn (a fast 400 m runner) is accepted
    t_start = T0 + 1.2
    feed(core, [Crossing("finish", t_start, athlete="a", source="camera")])
    ok = core.handle(Crossing("backstretch", t_start + segs[1].distance_m / 9.5,
                              athlete="a", source="camera"))
    assert len(splits_of(ok)) == 1
    too = core.handle(Crossing("back_turn", t_start + segs[1].distance_m / 9.5
                               + segs[2].distance_m / 12.0, athlete="a", source="camera"))
    assert [o.code for o in too if isinstance(o, Rejected)] == ["too_fast"]


def test_after_finish_and_stale_crossings_are_rejected():
    a = make_athlete("a")
    core, _ = started_core(a)
    times = mark_times(a.plan, T0)
    feed(core, crossings_for(a, times))
    after = core.handle(Crossing("backstretch", times[-1] + 30, tag="tag-a", source="rfid"))
    assert [o.code for o in after if isinstance(o, Rejected)] == ["after_finish"]
    stale = core.handle(Crossing("backstretch", times[1] + 0.2, tag="tag-a", source="tap"))
    assert [o.code for o in stale if isinstance(o, Rejected)] == ["stale"]


def test_unknown_tags_are_kept_reported_and_used_once_the_roster_knows_them():
    a = make_athlete("a")
    b = make_athlete("b")
    core, _ = started_core(a)
    t = T0 + b.plan.segments[0].target_s
    outs = core.handle(Crossing("finish", t, tag="tag-b", source="rfid"))
    notes = [o for o in outs if isinstance(o, Notice)]
    assert [n.kind for n in notes] == ["unknown_tag"] and "tag-b" in notes[0].text
    core.handle(Crossing("finish", t + 0.01, tag="tag-b", source="rfid"))
    assert core.unknown_tags()["tag-b"]["count"] == 2
    assert core.counters()["unknown_tag_crossings"] == 2
    from test_core_support import make_session
    core.handle(SessionSetup(make_session(a, b)))
    from timing.events import Start
    core.handle(Start(T0, ("b",)))
    # kept crossings were replayed when the tag became known (before b's start)
    core2, _ = started_core(a, b)
    core2.handle(Crossing("finish", t, tag="tag-b", source="rfid"))
    assert [u.time_s for u in core2.splits("b")] == [t]


def test_same_events_give_identical_outputs_and_snapshots():
    a, b = make_athlete("a"), make_athlete("b", five_k_s=1260, lane=2)
    events = []
    for ath, r in ((a, 1.02), (b, 0.98)):
        events += crossings_for(ath, mark_times(ath.plan, T0, r), skip=[5])
    events.sort(key=lambda c: c.time_s)
    runs = []
    for _ in range(2):
        core, outs = started_core(a, b)
        outs += feed(core, events)
        runs.append((outs, json.dumps(core.snapshot(), sort_keys=True)))
    assert runs[0] == runs[1]
    snap = json.loads(runs[0][1])
    assert [x["status"] for x in snap["athletes"]] == ["finished", "finished"]
    assert len(snap["athletes"][0]["splits"]) == len(a.plan.segments)
    assert snap["counters"]["estimated"] == 2
    assert [o.seq for o in runs[0][0]] == list(range(1, len(runs[0][0]) + 1))


def test_outputs_are_sorted_by_time_then_roster_order():
    a, b = make_athlete("a"), make_athlete("b")
    core, _ = started_core(b, a)  # roster order: b first
    segs = a.plan.segments
    t = T0 + segs[0].target_s
    feed(core, [Crossing("finish", t, athlete="a", source="rfid"),
                Crossing("finish", t, athlete="b", source="rfid")])
    # a late second reading for each that interpolates nothing; both at the same time
    outs = splits_of(core.handle(Crossing("back_turn", T0 + segs[2].cum_target_s,
                                          athlete="a", source="rfid")))
    assert [u.index for u in outs] == [1, 2] and all(u.athlete == "a" for u in outs)
    assert outs[0].time_s < outs[1].time_s


def test_lane8_variant_starts_at_the_back_turn_and_ends_past_the_finish():
    a = make_athlete("a", lane=8, variant="lane8")
    core, _ = started_core(a)
    segs = a.plan.segments
    assert segs[0].from_mark == "back_turn" and segs[-1].to_mark == "mile_end"
    times = mark_times(a.plan, T0, 1.01)
    feed(core, crossings_for(a, times))
    final = core.splits("a")
    assert [u.index for u in final] == list(range(len(segs)))
    assert final[-1].segment == "runoff" and final[-1].lap_time_s is not None
    assert core.status("a") == "finished"
    assert final[-1].cum_deviation_s == pytest.approx(0.01 * a.plan.total_s, abs=1e-5)


def test_final_state_helper_ignores_delivery_details():
    a = make_athlete("a")
    core, _ = started_core(a)
    feed(core, crossings_for(a, mark_times(a.plan, T0), skip=[2]))
    state = final_state(core)["a"]
    assert all(isinstance(u, SplitUpdate) and u.seq == 0 for u in state)


def test_core_rejects_events_it_does_not_know():
    with pytest.raises(TypeError, match="does not handle"):
        Core().handle("finish")  # type: ignore[arg-type]


def test_fast_correction_copy_equals_dataclasses_replace():
    from dataclasses import fields, replace

    from timing.progress import as_correction
    a = make_athlete("a")
    core, _ = started_core(a)
    feed(core, crossings_for(a, mark_times(a.plan, T0, 1.01))[:5])
    u = core.splits("a")[4]
    fast = as_correction(u)
    slow = replace(u, correction=True, flags=u.flags + ("correction",))
    for f in fields(u):  # every field, including those left out of equality
        assert getattr(fast, f.name) == getattr(slow, f.name), f.name


def test_a_new_session_runs_the_same_athletes_from_a_clean_slate():
    """Heats reuse athlete ids: the second heat's splits must not see the first's."""
    from timing.events import Start
    from timing.values import Session

    a = make_athlete("a")
    b = make_athlete("b")
    core, _ = started_core(a, b)
    first = mark_times(a.plan, T0, 1.05)
    feed(core, crossings_for(a, first)[:6])
    core.handle(Crossing("finish", T0 + 5.0, tag="stray-tag", source="rfid"))
    assert core.splits("a") and core.unknown_tags()

    t1 = T0 + 3600.0
    outs = core.handle(SessionSetup(Session("s2", "second heat", (a, b))))
    assert any(isinstance(o, Notice) and "clean slate" in o.text for o in outs)
    assert core.splits("a") == [] and core.unknown_tags() == {}
    assert core.status("a") == "waiting"
    core.handle(Start(t1))
    second = mark_times(a.plan, t1)
    ups = splits_of(feed(core, crossings_for(a, second)))
    assert len(ups) == len(a.plan.segments)
    assert all(abs(u.deviation_s) < 1e-5 for u in ups)

    # the same session id again is a roster edit: history stays
    core.handle(SessionSetup(Session("s2", "second heat", (a, b))))
    assert len(core.splits("a")) == len(a.plan.segments)
