"""Replays of published mile splits (shared/data/reference_races.json) against a plan.

Expected values come from the published splits and the plan's own segment
targets, computed here, never from the core's output: lap deviation = lap
split - the lap's planned time; cumulative deviation = published time at the
line - the plan's cumulative target there. Checked to 0.01 s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_core_support import T0, feed, make_athlete, started_core

from timing.values import Crossing

DATA = Path(__file__).resolve().parent / "data" / "reference_races.json"
RACES = {r["name"].split(",")[0]: r for r in json.loads(DATA.read_text())["races"]}

# (race key, 5K time the plan is built from); the plan is scaled to the race's final time
CASES = [
    ("Hicham El Guerrouj", 780.0),
    ("Roger Bannister", 800.0),
    ("Bowerman Mile 2023", 780.0),
    ("an amateur mile of 5:17.1", 1140.0),
]


def published(race: dict) -> tuple[float | None, list[float]]:
    """(time at the 9.344 m line if published, cumulative times at each lap end)."""
    if "cumulative_s" in race:
        return None, [float(x) for x in race["cumulative_s"]]
    first = float(race["first_9m_s"])
    cum, out = first, []
    for lap in race["lap_s"]:
        cum += float(lap)
        out.append(cum)
    return first, out


@pytest.mark.parametrize("key, five_k_s", CASES)
def test_reference_race_deviations_match_the_published_splits(key, five_k_s):
    race = RACES[key]
    a = make_athlete("r", five_k_s=five_k_s, target_s=race["final_s"])
    segs = a.plan.segments
    assert a.plan.total_s == pytest.approx(race["final_s"], abs=1e-6)
    first, cums = published(race)
    lap_end = {lap: max(k for k, s in enumerate(segs) if s.lap == lap) for lap in (1, 2, 3, 4)}
    events = []
    if first is not None:
        events.append(Crossing("finish", T0 + first, athlete="r", source="tap"))
    events += [Crossing("finish", T0 + cums[lap - 1], athlete="r", source="camera")
               for lap in (1, 2, 3, 4)]
    core, _ = started_core(a)
    feed(core, events)
    final = core.splits("r")
    assert [u.index for u in final] == list(range(len(segs)))
    assert core.status("r") == "finished"
    prev_cum = 0.0
    for lap in (1, 2, 3, 4):
        u = final[lap_end[lap]]
        assert u.lap == lap and u.mark == "finish" and "estimated" not in u.flags
        lap_target = sum(s.target_s for s in segs if s.lap == lap)
        lap_s = cums[lap - 1] - prev_cum
        assert u.lap_time_s == pytest.approx(lap_s, abs=0.005)
        assert u.lap_deviation_s == pytest.approx(lap_s - lap_target, abs=0.005)
        assert u.cum_deviation_s == pytest.approx(
            cums[lap - 1] - segs[lap_end[lap]].cum_target_s, abs=0.005)
        prev_cum = cums[lap - 1]
    # marks between lap ends were not timed: they are estimates
    timed = set(lap_end.values()) | ({0} if first is not None else set())
    assert all(("estimated" in u.flags) == (u.index not in timed) for u in final)
    # at the bell: the plan's last lap scaled by the runner's ratio over lap 3
    bell = final[lap_end[3]]
    lap3_target = sum(s.target_s for s in segs if s.lap == 3)
    ratio = (cums[2] - cums[1]) / lap3_target
    assert bell.projected_finish_s == pytest.approx(
        cums[2] + (a.plan.total_s - segs[lap_end[3]].cum_target_s) * ratio, abs=0.005)
    assert final[-1].cum_s == pytest.approx(race["final_s"], abs=0.005)
    if first is not None:
        assert final[0].deviation_s == pytest.approx(first - segs[0].target_s, abs=0.005)


def test_el_guerrouj_against_a_slower_runner_plan_keeps_laps_right():
    """A plan far from the race (a 20:00 5K runner): placement must still find the laps."""
    race = RACES["Hicham El Guerrouj"]
    a = make_athlete("r", five_k_s=1200.0)
    segs = a.plan.segments
    core, _ = started_core(a)
    feed(core, [Crossing("finish", T0 + t, athlete="r", source="camera")
                for t in race["cumulative_s"]])
    laps = [u for u in core.splits("r") if u.lap_time_s is not None]
    assert [u.lap for u in laps] == [1, 2, 3, 4]
    end = max(k for k, s in enumerate(segs) if s.lap == 4)
    assert laps[-1].cum_deviation_s == pytest.approx(
        race["final_s"] - segs[end].cum_target_s, abs=0.005)
    assert laps[-1].ghost_gap_m > 0  # far ahead of a 6:01 ghost
