"""Lane evidence when anonymous crossings are assigned: lanes split a pack, time stays in charge."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from test_core_support import T0, crossings_for, make_athlete, make_session, mark_times

from timing.association import assign, lane_cost_s
from timing.core import Core
from timing.events import SessionSetup, Start
from timing.rules import CoreConfig
from timing.values import Crossing, flagged_lane, lane_flag

RULES = CoreConfig()
PER_LANE_S, MAX_S = RULES.lane_cost_s_per_lane, RULES.lane_cost_max_s
K = 2  # the mark where the pack arrives (back turn)


def test_lane_cost_is_zero_without_an_estimate_then_grows_per_lane_up_to_the_cap():
    assert lane_cost_s(None, 3, 0.5, 1.0) == 0.0
    assert lane_cost_s(3.0, 3, 0.5, 1.0) == 0.0
    assert lane_cost_s(3.5, 3, 0.5, 1.0) == 0.25
    assert lane_cost_s(1.0, 2, 0.5, 1.0) == 0.5
    assert lane_cost_s(8.0, 1, 0.5, 1.0) == 1.0


def test_lane_flag_round_trips_and_a_malformed_one_is_no_evidence():
    assert flagged_lane((lane_flag(3.256),)) == 3.26
    assert flagged_lane(("anonymous", lane_flag(7))) == 7.0
    assert flagged_lane(()) is None
    assert flagged_lane(("lane=three",)) is None
    assert flagged_lane(("lane=nan",)) is None


def _pack(offset_b_s: float):
    """Runners a (lane 1) and b (lane 3), b started so its predicted arrival at mark K
    is ``offset_b_s`` after a's; both identified by RFID on plan up to mark K-1."""
    a, b = make_athlete("a"), make_athlete("b", lane=3)
    start_b = T0 + offset_b_s - (mark_times(b.plan, T0)[K] - mark_times(a.plan, T0)[K])
    core = Core()
    core.handle(SessionSetup(make_session(a, b)))
    core.handle(Start(T0, ("a",)))
    core.handle(Start(start_b, ("b",)))
    ta, tb = mark_times(a.plan, T0), mark_times(b.plan, start_b)
    for c in sorted(crossings_for(a, ta)[:K] + crossings_for(b, tb)[:K], key=lambda c: c.time_s):
        core.handle(c)
    return core, ta[K], tb[K]


def _camera(time_s: float, lane: float | None) -> Crossing:
    flags = () if lane is None else (lane_flag(lane),)
    return Crossing("back_turn", time_s, source="camera", sensor_id="cam", position=0.5,
                    flags=flags)


def _owners(core: Core) -> dict[float, str]:
    return {core.splits(aid)[K].time_s: aid for aid in ("a", "b")}


def test_lanes_split_a_pack_whose_runners_swapped_against_their_predictions():
    # a was predicted 0.3 s ahead of b, but b surged and a faded: each crossed at the
    # other's predicted time. By time alone the two are swapped; the lanes say who is who.
    core, pred_a, pred_b = _pack(0.3)
    true_b, true_a = pred_a, pred_b
    for c in sorted([_camera(true_a, None), _camera(true_b, None)], key=lambda c: c.time_s):
        core.handle(c)
    assert _owners(core) == {true_a: "b", true_b: "a"}  # time alone gets it wrong

    core, pred_a, pred_b = _pack(0.3)
    for c in sorted([_camera(pred_b, 1.3), _camera(pred_a, 2.8)], key=lambda c: c.time_s):
        core.handle(c)
    assert _owners(core) == {pred_b: "a", pred_a: "b"}
    assert not any("ambiguous" in core.splits(aid)[K].flags for aid in ("a", "b"))


def test_a_clear_time_match_is_kept_against_a_wrong_lane():
    # b is predicted 3 s after a; a crossing right on a's prediction says "lane 3":
    # the lane estimate (or the camera's lane mapping) is wrong, the time is not.
    core, pred_a, _ = _pack(3.0)
    core.handle(_camera(pred_a + 0.05, 3.0))
    assert core.splits("a")[K].source == "camera"
    assert core.splits("a")[K].time_s == pred_a + 0.05
    assert len(core.splits("b")) == K  # nothing of b's at mark K yet


def _best_permutation(cost: list[list[float]]) -> tuple[int, ...]:
    n = len(cost)
    return min(itertools.permutations(range(n)),
               key=lambda p: (sum(cost[i][p[i]] for i in range(n)), p))


packs = st.integers(2, 4).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.0, 0.15), min_size=n * n, max_size=n * n),
    st.permutations([1, 2, 3, 4, 5, 6, 7, 8]).map(lambda lanes: lanes[:n]),
    st.lists(st.floats(-0.25, 0.25), min_size=n, max_size=n)))


@given(packs)
@settings(max_examples=150, deadline=None)
def test_lane_estimates_within_a_quarter_lane_decide_a_tight_pack(case):
    # Times within 0.15 s of every prediction say little; lanes (estimates off by at most
    # a quarter lane) then give each crossing to its own runner: a wrong pairing costs at
    # least 0.375 s of lane against at most 0.125 s for the right one, more than the
    # 0.15 s any time preference can pay back.
    noise, lanes, errors = case
    n = len(lanes)
    cost = [[noise[i * n + j] + lane_cost_s(lanes[i] + errors[i], lanes[j], PER_LANE_S, MAX_S)
             for j in range(n)] for i in range(n)]
    chosen = [col for col, _ in assign(cost, RULES.ambiguity_margin_s)]
    assert chosen == list(range(n))


@given(st.integers(2, 4).flatmap(lambda n: st.tuples(
    st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n),
    st.lists(st.floats(0.0, 4.0), min_size=n * n, max_size=n * n),
    st.lists(st.one_of(st.none(), st.floats(-2.0, 12.0)), min_size=n, max_size=n))))
@settings(max_examples=150, deadline=None)
def test_whatever_the_lanes_say_a_time_match_better_by_more_than_the_cap_wins(case):
    # Row i's own runner is i; every other runner's predicted arrival is worse by more
    # than the lane cap. No lane estimate, right or wrong, may move the crossing.
    own, extra, estimates = case
    n = len(own)
    lanes = list(range(1, n + 1))
    cost = [[(own[i] if i == j else own[i] + MAX_S + 0.01 + extra[i * n + j])
             + lane_cost_s(estimates[i], lanes[j], PER_LANE_S, MAX_S)
             for j in range(n)] for i in range(n)]
    chosen = [col for col, _ in assign(cost, RULES.ambiguity_margin_s)]
    assert chosen == list(range(n)) == list(_best_permutation(cost))


@given(st.lists(st.floats(0.0, 3.0), min_size=4, max_size=4))
@settings(max_examples=50, deadline=None)
def test_without_lane_estimates_the_assignment_is_by_time_alone(times):
    cost = [times[:2], times[2:]]
    with_none = [[c + lane_cost_s(None, j + 1, PER_LANE_S, MAX_S) for j, c in enumerate(row)]
                 for row in cost]
    assert assign(with_none, 0.5) == assign(cost, 0.5)
