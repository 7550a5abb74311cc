"""Track geometry against the published World Athletics figures (MILE_PLAN.md)."""

import math

import pytest

from timing.track import (
    LANE_WIDTH_42_IN_M,
    MILE_M,
    STANDARD_TRACK,
    Track,
    TrackError,
    track_from_mapping,
)

# Published lap lengths (m) of lanes 1-8 and their 400 m staggers.
PUBLISHED_LAP_M = [400.00, 407.04, 414.70, 422.37, 430.03, 437.70, 445.37, 453.03]


@pytest.mark.parametrize("lane", range(1, 9))
def test_lap_lengths_match_published_figures(lane):
    assert STANDARD_TRACK.lap_m(lane) == pytest.approx(PUBLISHED_LAP_M[lane - 1], abs=0.01)


def test_staggers_run_from_7_04_to_53_03():
    assert STANDARD_TRACK.stagger_m(2) == pytest.approx(7.04, abs=0.01)
    assert STANDARD_TRACK.stagger_m(8) == pytest.approx(53.03, abs=0.01)
    steps = [STANDARD_TRACK.stagger_m(n + 1) - STANDARD_TRACK.stagger_m(n) for n in range(2, 8)]
    assert all(step == pytest.approx(7.67, abs=0.01) for step in steps)


def test_mark_positions_in_lane_1_match_the_table():
    expected = {"finish": 0.0, "backstretch": 115.61, "back_turn": 200.00, "home_straight": 315.61}
    for mark, position in expected.items():
        assert STANDARD_TRACK.mark_position_m(mark, 1) == pytest.approx(position, abs=0.01)


@pytest.mark.parametrize("lane", range(1, 9))
def test_mark_positions_in_lane_n_follow_the_radius(lane):
    r = STANDARD_TRACK.radius_m(lane)
    assert STANDARD_TRACK.mark_position_m("backstretch", lane) == pytest.approx(math.pi * r)
    assert STANDARD_TRACK.mark_position_m("home_straight", lane) == pytest.approx(
        2 * math.pi * r + 84.39)


def test_distance_between_marks_wraps_round_the_lap():
    t = STANDARD_TRACK
    assert t.distance_between_m("home_straight", "backstretch", 1) == pytest.approx(
        84.39 + 115.61, abs=0.01)
    assert t.distance_between_m("finish", "finish", 2) == pytest.approx(407.04, abs=0.01)


def test_mile_start_cumulative_mark_distances_in_lane_1():
    start = STANDARD_TRACK.mile_start_behind_finish_m()
    assert start == pytest.approx(9.344)
    marks = ["finish", "backstretch", "back_turn", "home_straight"]
    cum = [start + STANDARD_TRACK.mark_position_m(m, 1) for m in marks] + [start + 400.0]
    assert [round(c, 2) for c in cum] == pytest.approx([9.34, 124.95, 209.34, 324.96, 409.34],
                                                       abs=0.01)


def test_exit_distance_from_lane_8_is_9_66_m():
    assert STANDARD_TRACK.exit_distance_m(8) == pytest.approx(9.66, abs=0.01)
    # 3.5 laps of lane 8 leave 23.73 m of the mile
    assert MILE_M - 3.5 * STANDARD_TRACK.lap_m(8) == pytest.approx(23.73, abs=0.01)


def test_narrow_lanes_shorten_the_outer_laps():
    narrow = Track(lane_width_m=LANE_WIDTH_42_IN_M)
    assert narrow.lap_m(1) == pytest.approx(400.0, abs=0.01)
    assert narrow.lap_m(8) < STANDARD_TRACK.lap_m(8) - 5


def test_unknown_lane_is_named():
    with pytest.raises(TrackError, match="lane") as info:
        STANDARD_TRACK.lap_m(9)
    assert info.value.field == "lane"
    assert Track(lanes=9).lap_m(9) > STANDARD_TRACK.lap_m(8)


def test_track_from_toml_mapping_for_a_non_standard_track():
    track = track_from_mapping({"straight_m": 80.0, "bend_radius_m": 38.0, "lanes": 6})
    assert track.lap_m(1) == pytest.approx(160 + 2 * math.pi * 38.3)
    # the mile start is derived for a track whose lap is not 400 m
    assert 4 * track.lap_m(1) + track.mile_start_behind_finish_m() == pytest.approx(MILE_M)
    assert track_from_mapping({"standard": True}) == STANDARD_TRACK
    assert track_from_mapping({"lane_width_m": "42in"}).lane_width_m == LANE_WIDTH_42_IN_M


@pytest.mark.parametrize("bad, field", [
    ({"lanes": 5}, "lanes"), ({"straight": 80}, "straight"), ({"bend_radius_m": -1.0},
                                                               "bend_radius_m"),
    ({"lanes": "8"}, "lanes"),
])
def test_invalid_track_settings_name_the_key(bad, field):
    with pytest.raises(TrackError) as info:
        track_from_mapping(bad)
    assert info.value.field == field
