"""Live events (starts, recalls, DNF, session end), anonymous crossings, the lifecycle table."""

from __future__ import annotations

import pytest
from test_core_support import (
    T0,
    crossings_for,
    feed,
    make_athlete,
    make_session,
    mark_times,
    splits_of,
    started_core,
)

from timing import states
from timing.core import Core
from timing.events import (
    Dnf,
    EndSession,
    EventFormatError,
    FalseStart,
    SessionSetup,
    Start,
    event_from_dict,
    event_to_dict,
)
from timing.values import Crossing, Notice, Rejected


def kinds(outs):
    return [o.kind for o in outs if isinstance(o, Notice)]


def codes(outs):
    return [o.code for o in outs if isinstance(o, Rejected)]


# ---------------------------------------------------------------- starts
def test_crossings_before_any_start_are_rejected_as_not_started():
    a = make_athlete("a")
    core = Core()
    core.handle(SessionSetup(make_session(a)))
    outs = core.handle(Crossing("backstretch", T0 + 30, tag="tag-a", source="rfid"))
    assert codes(outs) == ["not_started"] and core.status("a") == "waiting"


def test_start_line_crossing_detects_the_start_exactly():
    a = make_athlete("a")
    core = Core()
    core.handle(SessionSetup(make_session(a)))
    outs = core.handle(Crossing("mile_start", T0 + 0.4, athlete="a", source="camera"))
    assert kinds(outs) == ["detected_start"]
    assert core.status("a") == "running" and core.start_s("a") == T0 + 0.4
    up = splits_of(core.handle(Crossing("finish", T0 + 0.4 + 2.3, tag="tag-a", source="rfid")))
    assert up[0].cum_s == pytest.approx(2.3, abs=1e-5) and "detected_start" not in up[0].flags


def test_first_mark_near_the_start_detects_the_start_from_the_plan():
    a = make_athlete("a")
    core = Core()
    core.handle(SessionSetup(make_session(a)))
    t = T0 + 5.0
    outs = core.handle(Crossing("finish", t, tag="tag-a", source="rfid"))
    assert kinds(outs) == ["detected_start"]
    seg0 = a.plan.segments[0]
    assert core.start_s("a") == pytest.approx(t - seg0.target_s)
    ups = splits_of(outs)
    assert len(ups) == 1 and "detected_start" in ups[0].flags
    # a gun time arriving afterwards replaces the detected start: corrections follow
    outs = core.handle(Start(t - 2.5))
    assert kinds(outs) == ["start"]
    fixed = splits_of(outs)
    assert fixed[0].correction and fixed[0].split_s == pytest.approx(2.5, abs=1e-5)


def test_anonymous_start_line_crossing_starts_every_waiting_athlete():
    a, b = make_athlete("a"), make_athlete("b")
    core = Core()
    core.handle(SessionSetup(make_session(a, b)))
    outs = core.handle(Crossing("mile_start", T0, source="camera"))
    assert kinds(outs) == ["detected_start", "detected_start"]
    assert core.start_s("a") == core.start_s("b") == T0


def test_staggered_starts_time_each_athlete_from_their_own_gun():
    a, b = make_athlete("a"), make_athlete("b")
    core = Core()
    core.handle(SessionSetup(make_session(a, b)))
    core.handle(Start(T0, ("a",)))
    core.handle(Start(T0 + 10, ("b",)))
    ta = mark_times(a.plan, T0)
    tb = mark_times(b.plan, T0 + 10)
    events = sorted(crossings_for(a, ta) + crossings_for(b, tb), key=lambda c: c.time_s)
    feed(core, events)
    for aid in ("a", "b"):
        assert all(abs(u.cum_deviation_s) < 1e-5 for u in core.splits(aid))
    # a second gun for a running athlete is ignored with a reason
    outs = core.handle(Start(T0 + 20, ("a",)))
    assert kinds(outs) == ["ignored"] and core.start_s("a") == T0


def test_false_start_clears_splits_and_the_restart_times_from_the_new_gun():
    a = make_athlete("a")
    core, _ = started_core(a)
    feed(core, crossings_for(a, mark_times(a.plan, T0))[:2])
    assert len(core.splits("a")) == 2
    outs = core.handle(FalseStart(T0 + 3))
    assert kinds(outs) == ["false_start"]
    assert core.status("a") == "waiting" and core.splits("a") == []
    restart = T0 + 60
    assert kinds(core.handle(Start(restart))) == ["start"]
    ups = splits_of(feed(core, crossings_for(a, mark_times(a.plan, restart))[:2]))
    assert [u.index for u in ups] == [0, 1]
    assert all(abs(u.cum_deviation_s) < 1e-5 and not u.correction for u in ups)


def test_dnf_rejects_later_crossings_but_keeps_earlier_late_ones():
    a = make_athlete("a")
    core, _ = started_core(a)
    times = mark_times(a.plan, T0)
    sent = crossings_for(a, times)
    feed(core, sent[:4])
    outs = core.handle(Dnf("a", times[5] + 1))
    assert kinds(outs) == ["dnf"] and core.status("a") == "dnf"
    assert len(splits_of(core.handle(sent[4]))) == 1  # before the DNF time: accepted
    assert codes(core.handle(sent[6])) == ["after_dnf"]


def test_a_late_finish_reading_turns_a_dnf_into_finished():
    a = make_athlete("a")
    core, _ = started_core(a)
    times = mark_times(a.plan, T0)
    sent = crossings_for(a, times)
    feed(core, sent[:-1])
    core.handle(Dnf("a", times[-1] + 5))
    outs = core.handle(sent[-1])
    assert kinds(outs) == ["finished"] and core.status("a") == "finished"


def test_session_end_turns_runners_into_dnf_and_rejects_later_crossings():
    a, b = make_athlete("a"), make_athlete("b")
    core, _ = started_core(a, b)
    ta = mark_times(a.plan, T0)
    feed(core, crossings_for(a, ta))
    feed(core, crossings_for(b, mark_times(b.plan, T0))[:5])
    outs = core.handle(EndSession(ta[-1] + 1))
    assert kinds(outs) == ["session_end", "dnf"]
    assert core.status("a") == "finished" and core.status("b") == "dnf"
    assert codes(core.handle(Crossing("finish", ta[-1] + 50, tag="tag-b"))) == ["session_ended"]


def test_lifecycle_table_drives_every_status_and_draws_the_diagram():
    assert states.next_status("waiting", "start") == "running"
    assert states.next_status("finished", "dnf") is None
    assert states.next_status("dnf", "finish") == "finished"
    with pytest.raises(ValueError, match="unknown lifecycle trigger"):
        states.next_status("waiting", "teleport")
    diagram = states.mermaid()
    for (src, trig), dst in states.TRANSITIONS.items():
        assert f"{src} --> {dst}: {trig}" in diagram
    # the core refuses a DNF for a finished athlete through the table
    a = make_athlete("a")
    core, _ = started_core(a)
    feed(core, crossings_for(a, mark_times(a.plan, T0)))
    assert kinds(core.handle(Dnf("a", T0 + 999))) == ["ignored"]


# ---------------------------------------------------------------- anonymous
def test_anonymous_camera_crossing_of_one_runner_is_assigned_to_them():
    a = make_athlete("a")
    core, _ = started_core(a)
    times = mark_times(a.plan, T0, 1.04)
    ups = splits_of(feed(core, crossings_for(a, times, by="anonymous", source="camera")))
    assert [u.index for u in ups] == list(range(len(times)))
    assert all(u.athlete == "a" and "anonymous" in u.flags for u in ups)
    assert not any("ambiguous" in u.flags for u in ups)


def test_anonymous_pack_is_assigned_by_predicted_arrival():
    a, b, c = make_athlete("a"), make_athlete("b"), make_athlete("c")
    core, _ = started_core(a, b, c)
    ratios = {"a": 0.95, "b": 1.0, "c": 1.05}
    # identified by RFID for two marks, then only an anonymous camera at the finish
    events = []
    for ath in (a, b, c):
        times = mark_times(ath.plan, T0, ratios[ath.id])
        events += crossings_for(ath, times)[:4]
        events.append(Crossing("finish", times[4], source="camera", sensor_id="cam-1"))
    events.sort(key=lambda e: e.time_s)
    feed(core, events)
    for ath in (a, b, c):
        final = core.splits(ath.id)
        assert final[4].source == "camera" and "anonymous" in final[4].flags
        expected = mark_times(ath.plan, T0, ratios[ath.id])[4]
        assert final[4].time_s == expected


def test_anonymous_duplicate_of_an_rfid_reading_improves_its_time():
    a, b = make_athlete("a"), make_athlete("b")
    core, _ = started_core(a, b)
    ta, tb = mark_times(a.plan, T0, 1.0), mark_times(b.plan, T0, 1.01)
    feed(core, sorted(crossings_for(a, ta)[:3] + crossings_for(b, tb)[:3],
                      key=lambda e: e.time_s))
    cam = splits_of(core.handle(Crossing(a.plan.segments[2].to_mark, ta[2] - 0.03,
                                         source="camera")))
    assert [(u.athlete, u.index, u.correction) for u in cam] == [("a", 2, True)]
    assert core.splits("a")[2].time_s == ta[2] - 0.03
    assert core.splits("b")[2].source == "rfid"


def test_close_anonymous_crossings_are_flagged_ambiguous():
    a, b = make_athlete("a"), make_athlete("b")
    core, _ = started_core(a, b)
    t = mark_times(a.plan, T0)
    feed(core, [Crossing("finish", t[0], athlete="a", source="rfid"),
                Crossing("finish", t[0] + 0.1, athlete="b", source="rfid")])
    outs = feed(core, [Crossing("backstretch", t[1] + 0.05, source="camera"),
                       Crossing("backstretch", t[1] + 0.2, source="camera")])
    final = {aid: core.splits(aid)[1] for aid in ("a", "b")}
    assert {u.athlete for u in final.values()} == {"a", "b"}
    assert all("ambiguous" in u.flags for u in final.values())
    assert len({u.time_s for u in final.values()}) == 2
    assert splits_of(outs)


def test_anonymous_crossing_far_from_every_prediction_is_rejected_unassigned():
    a = make_athlete("a")
    core, _ = started_core(a)
    feed(core, crossings_for(a, mark_times(a.plan, T0))[:2])
    outs = core.handle(Crossing("home_straight", T0 + 300, source="camera"))
    assert codes(outs) == ["unassigned"]
    assert core.counters()["rejected_by_reason"]["unassigned"] == 1


# ---------------------------------------------------------------- events codec
def test_every_event_round_trips_through_its_dict_form():
    a = make_athlete("a", tags=("E200-1", "E200-2"))
    events = [SessionSetup(make_session(a)), Start(T0), Start(T0, ("a",)),
              Crossing("finish", T0 + 2.2, tag="E200-1", source="rfid", sensor_id="r1",
                       confidence=0.8, position=0.3, flags=("x",)),
              FalseStart(T0 + 1), Dnf("a", T0 + 50), EndSession(T0 + 400)]
    for e in events:
        d = event_to_dict(e)
        assert d["v"] == 1 and isinstance(d["type"], str)
        import json
        assert event_from_dict(json.loads(json.dumps(d))) == e


@pytest.mark.parametrize("bad, message", [
    ({"v": 2, "type": "start", "time_s": 1.0}, "version"),
    ({"v": 1, "type": "warp", "time_s": 1.0}, "unknown event type"),
    ({"v": 1, "type": "start", "time_s": 1.0, "speed": 3}, "unknown fields"),
    ({"v": 1, "type": "dnf", "time_s": 1.0}, "malformed"),
    ({"v": 1, "type": "start", "time_s": "soon"}, "finite time"),
    ([1, 2], "JSON object"),
])
def test_bad_event_dicts_raise_a_clear_error(bad, message):
    with pytest.raises(EventFormatError, match=message):
        event_from_dict(bad)


def test_docs_diagram_is_the_table():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[1] / "docs" / "core.md").read_text()
    assert states.mermaid() in doc


def test_bad_roster_entries_and_malformed_events_are_refused_not_raised():
    from dataclasses import replace as dc_replace
    a, b = make_athlete("a"), make_athlete("b")
    empty = dc_replace(make_athlete("c"), plan=dc_replace(a.plan, segments=()))
    core = Core()
    outs = core.handle(SessionSetup(make_session(a, dc_replace(b, id="a"), empty, b)))
    ignored = [o.text for o in outs if isinstance(o, Notice) and o.kind == "ignored"]
    assert len(ignored) == 2 and "twice" in ignored[0] and "empty plan" in ignored[1]
    assert core.athlete_ids() == ["a", "b"] and core.athlete("a") == a
    assert kinds(core.handle(Start(float("nan")))) == ["ignored"]
    assert core.status("a") == "waiting"
    core.handle(Start(T0))
    for bad in (Crossing("finish", T0 + 2.2, athlete="a", confidence="high"),  # type: ignore
                Crossing("finish", T0 + 2.2, athlete=7),  # type: ignore[arg-type]
                Crossing("finish", T0 + 2.2, athlete="a", flags=["x"])):  # type: ignore
        assert codes(core.handle(bad)) == ["invalid"]
    assert core.counters()["rejected_by_reason"]["invalid"] == 3
