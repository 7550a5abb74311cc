"""The pacing plan of MILE_PLAN.md, its scaling to a target, and its errors."""

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from dashboard.cli import main
from timing.paces import format_clock, parse_clock_s, parse_pace_s_per_400m
from timing.plan import PlanError, build_plan, cue_for, lap_totals_s, true_mile_s
from timing.track import MILE_M, STANDARD_TRACK

EXPECTED_EFFORTS = {
    1: ["5k", "5k", "surge", "5k", "5k"],
    2: ["surge", "5k", "surge", "5k"],
    3: ["surge", "surge", "surge", "5k"],
    4: ["max", "max", "max", "kick"],
}


def laps_of(plan):
    return lap_totals_s(plan)


def test_default_plan_for_a_20_minute_5k():
    plan = build_plan(parse_clock_s("20:00"))
    assert plan.paces_s_per_400m["5k"] == pytest.approx(96.0)
    assert plan.paces_s_per_400m["surge"] == pytest.approx(88.0)
    assert plan.paces_s_per_400m["max"] == pytest.approx(84.0)
    laps = laps_of(plan)
    start = plan.segments[0]
    assert start.segment == "start" and start.target_s == pytest.approx(2.24, abs=0.01)
    assert laps[1] - start.target_s == pytest.approx(94.3, abs=0.05)
    assert laps[2] == pytest.approx(91.4, abs=0.05)
    assert laps[3] == pytest.approx(89.7, abs=0.05)
    assert laps[4] == pytest.approx(84.0, abs=0.05)
    assert format_clock(plan.total_s) == "6:01.6"
    assert plan.riegel_mile_s == pytest.approx(360.85, abs=0.05)
    for lap, efforts in EXPECTED_EFFORTS.items():
        assert [s.effort for s in plan.segments if s.lap == lap] == efforts


def test_segments_are_contiguous_and_cumulative():
    plan = build_plan(1500.0, lane=3)
    cum = 0.0
    for before, after in zip(plan.segments, plan.segments[1:], strict=False):
        assert before.to_mark == after.from_mark
    for s in plan.segments:
        cum += s.target_s
        assert s.cum_target_s == pytest.approx(cum)
        assert s.target_s == pytest.approx(s.distance_m * s.pace_s_per_400m / 400)
    assert plan.distance_m == pytest.approx(9.344 + 4 * STANDARD_TRACK.lap_m(3))
    assert true_mile_s(plan) < plan.total_s


@pytest.mark.parametrize("variant, first, runoff_m", [("lane8", "turn2", 23.73),
                                                      ("lane8_exit", "start", 9.66)])
def test_lane8_variants_run_a_true_mile(variant, first, runoff_m):
    plan = build_plan(1200.0, lane=8, variant=variant)
    assert plan.distance_m == pytest.approx(MILE_M, abs=0.01)
    assert plan.segments[0].segment == first
    assert plan.segments[-1].segment == "runoff" and plan.segments[-1].effort == "kick"
    assert plan.segments[-1].distance_m == pytest.approx(runoff_m, abs=0.01)
    assert all(s.effort == "5k" for s in plan.segments if s.lap == 1)
    if variant == "lane8_exit":
        assert plan.segments[0].distance_m == pytest.approx(14.07, abs=0.01)


@given(five_k=st.floats(14 * 60, 40 * 60), ratio=st.floats(0.93, 0.995))
def test_target_scales_surge_and_max_together_and_sums_exactly(five_k, ratio):
    default = build_plan(five_k)
    target = default.total_s * ratio
    plan = build_plan(five_k, target_s=target)
    assert plan.total_s == pytest.approx(target, abs=1e-6)
    p5k = plan.paces_s_per_400m["5k"]
    surge_cut = 1 - plan.paces_s_per_400m["surge"] / p5k
    max_cut = 1 - plan.paces_s_per_400m["max"] / p5k
    assert surge_cut / max_cut == pytest.approx((1 / 12) / (1 / 8))
    assert plan.paces_s_per_400m["5k"] == default.paces_s_per_400m["5k"]


def test_explicit_paces_and_overrides_are_kept():
    plan = build_plan(1200.0, surge_pace_s_per_400m=90.0, max_pace_s_per_400m=80.0,
                      overrides={(2, "backstretch"): "surge", (4, "home"): 70.0})
    seg = {(s.lap, s.segment): s for s in plan.segments}
    assert seg[(1, "backstretch")].pace_s_per_400m == 90.0
    assert seg[(2, "backstretch")].effort == "surge"
    assert seg[(4, "turn1")].pace_s_per_400m == 80.0
    assert seg[(4, "home")].pace_s_per_400m == 70.0
    lap3 = build_plan(1200.0, lap3_turn2_5k=True)
    assert {(s.lap, s.segment): s.effort for s in lap3.segments}[(3, "turn2")] == "5k"


def test_target_with_fixed_surge_solves_the_lap4_pace():
    plan = build_plan(1200.0, target_s=358.0, surge_pace_s_per_400m=88.0)
    assert plan.total_s == pytest.approx(358.0)
    assert plan.paces_s_per_400m["surge"] == 88.0
    assert plan.paces_s_per_400m["max"] < 84.0


@pytest.mark.parametrize("kwargs, field", [
    ({"five_k_s": 0.0}, "5k"),
    ({"five_k_s": 700.0}, "5k"),
    ({"five_k_s": 1200.0, "lane": 9}, "lane"),
    ({"five_k_s": 1200.0, "variant": "lane9"}, "variant"),
    ({"five_k_s": 1200.0, "variant": "lane8", "lane": 3}, "lane"),
    ({"five_k_s": 1200.0, "target_s": 400.0}, "target"),
    ({"five_k_s": 1200.0, "target_s": 352.0, "max_pace_s_per_400m": 86.0}, "target"),
    ({"five_k_s": 1200.0, "overrides": {(5, "turn1"): "surge"}}, "override 5:turn1"),
    ({"five_k_s": 1200.0, "overrides": {(2, "turn1"): "sprint"}}, "override 2:turn1"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(PlanError) as info:
        build_plan(**kwargs)
    assert info.value.field == field


def test_cues_follow_the_effort():
    plan = build_plan(1200.0)
    cues = {(s.lap, s.segment): cue_for(s) for s in plan.segments}
    assert cues[(1, "backstretch")].text.startswith("SURGE")
    assert cues[(2, "backstretch")].text.startswith("COAST")
    assert cues[(4, "turn1")].text == "ALL OUT"
    assert cues[(4, "home")].text == "KICK"


@pytest.mark.parametrize("text, seconds", [("4:00/km", 96.0), ("96/400", 96.0),
                                           ("6:26/mi", 386 * 400 / 1609.344)])
def test_pace_notations(text, seconds):
    assert parse_pace_s_per_400m(text) == pytest.approx(seconds)


def test_cli_json_and_table():
    runner = CliRunner()
    result = runner.invoke(main, ["plan", "--5k", "20:00", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"distance_m", "total_s", "riegel_mile_s", "lane", "variant", "segments"}
    assert math.isclose(data["total_s"], 361.62, abs_tol=0.01)
    assert set(data["segments"][0]) >= {"lap", "segment", "from_mark", "to_mark", "distance_m",
                                        "effort", "target_s", "cum_target_s"}
    table = runner.invoke(main, ["plan", "--pace", "4:00/km"]).output
    assert "lap 4: 84.0 s" in table and "Total 6:01.6" in table
    csv_out = runner.invoke(main, ["plan", "--5k", "20:00", "--format", "csv"]).output
    assert csv_out.splitlines()[0].startswith("lap,segment,from_mark")
    assert len(csv_out.splitlines()) == 1 + len(data["segments"])


def test_cli_errors_name_the_option():
    runner = CliRunner()
    result = runner.invoke(main, ["plan", "--5k", "0:00"])
    assert result.exit_code == 2 and "--5k" in result.output
    result = runner.invoke(main, ["plan", "--5k", "20:00", "--target", "6:30"])
    assert result.exit_code == 2 and "--target" in result.output
    result = runner.invoke(main, ["plan", "--5k", "20:00", "--lane", "0"])
    assert result.exit_code == 2 and "--lane" in result.output
