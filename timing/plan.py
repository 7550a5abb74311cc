"""The pacing plan: a mile on a 400 m track, built from the runner's 5K pace.

Theory of operation (see MILE_PLAN.md). The mile is cut at every mark into
segments; each segment gets an effort from a fixed table (5k, surge, max,
kick) and each effort a pace in seconds per 400 m of the runner's own lane.
Paces come from the 5K pace: surges at 11/12 of it (88 s at a 96 s 5K pace,
"about 8% faster", Daniels' R pace) and lap 4 at 7/8 (12.5% faster). A target
mile time scales the surge and lap-4 speed-ups together by one factor ``s``
(the plan's time is linear in ``s``, so it is solved exactly); a coach may fix
either pace, or any single segment's effort or pace, and the rest follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from timing.track import MILE_M, STANDARD_TRACK, Track, TrackError
from timing.values import (
    BACK_TURN,
    BACKSTRETCH,
    EFFORTS,
    FINISH,
    HOME_STRAIGHT,
    MILE_END,
    MILE_START,
    SEGMENTS,
    Cue,
    Plan,
    PlanSegment,
)

VARIANTS: tuple[str, ...] = ("standard", "lane8", "lane8_exit")
#: Surge pace / 5K pace at the default scale (s = 1).
SURGE_SPEEDUP = 1 / 12
#: Lap-4 pace / 5K pace at the default scale.
MAX_SPEEDUP = 1 / 8
#: Men's 5000 m world record (Cheptegei, 2020): nobody's 5K is faster.
FIVE_K_WORLD_RECORD_S = 12 * 60 + 35.36
#: The 400 m world record as an average pace: no planned pace may beat it.
FASTEST_PACE_S_PER_400M = 43.03
RIEGEL_EXPONENT = 1.06

#: The coaching table of MILE_PLAN.md: lap -> efforts of (turn1, backstretch, turn2, home).
EFFORT_TABLE: dict[int, tuple[str, str, str, str]] = {
    1: ("5k", "surge", "5k", "5k"),
    2: ("surge", "5k", "surge", "5k"),
    3: ("surge", "surge", "surge", "5k"),
    4: ("max", "max", "max", "kick"),
}
LAP_SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("turn1", FINISH, BACKSTRETCH),
    ("backstretch", BACKSTRETCH, BACK_TURN),
    ("turn2", BACK_TURN, HOME_STRAIGHT),
    ("home", HOME_STRAIGHT, FINISH),
)

CUE_TEXT: dict[str, str] = {
    "5k": "COAST — 5K pace",
    "surge": "SURGE — faster, shorter, quicker",
    "max": "ALL OUT",
    "kick": "KICK",
}


class PlanError(ValueError):
    """A plan that cannot be built; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class _Piece:
    lap: int
    segment: str
    from_mark: str
    to_mark: str
    distance_m: float
    effort: str


def cue_for(segment: PlanSegment) -> Cue:
    """The cue a runner sees before ``segment`` (the first turn of lap 1 says "settle")."""
    if segment.lap == 1 and segment.segment in ("start", "turn1") and segment.effort == "5k":
        return Cue("5k", "SETTLE — 5K pace")
    return Cue(segment.effort, CUE_TEXT[segment.effort])


def riegel_s(time_s: float, from_m: float, to_m: float) -> float:
    """Riegel's prediction T2 = T1 (D2 / D1) ** 1.06."""
    return time_s * (to_m / from_m) ** RIEGEL_EXPONENT


def _layout(track: Track, lane: int, variant: str, lap3_turn2_5k: bool) -> list[_Piece]:
    """The segments of the run, with the table's efforts, before any pace is known."""
    bend, straight = track.bend_m(lane), track.straight_m
    lengths = {"turn1": bend, "backstretch": straight, "turn2": bend, "home": straight}
    pieces: list[_Piece] = []
    first_lap_from = 0
    if variant == "standard":
        pieces.append(_Piece(1, "start", MILE_START, FINISH,
                             track.mile_start_behind_finish_m(), "5k"))
    else:
        first_lap_from = 2  # lap 1 is only the back turn and home straight
        half_lap_m = track.lap_m(lane) - track.mark_position_m(BACK_TURN, lane)
        short_m = MILE_M - 3 * track.lap_m(lane) - half_lap_m
        if variant == "lane8_exit":
            exit_m = track.exit_distance_m(lane)
            pieces.append(_Piece(1, "start", MILE_START, BACK_TURN, short_m - exit_m, "5k"))
            runoff_m = exit_m
        else:
            runoff_m = short_m
    for lap, efforts in EFFORT_TABLE.items():
        for index, (name, from_mark, to_mark) in enumerate(LAP_SEGMENTS):
            if lap == 1 and index < first_lap_from:
                continue
            effort = efforts[index]
            if lap == 1 and variant != "standard":
                effort = "5k"
            if lap == 3 and name == "turn2" and lap3_turn2_5k:
                effort = "5k"
            pieces.append(_Piece(lap, name, from_mark, to_mark, lengths[name], effort))
    if variant != "standard":
        pieces.append(_Piece(4, "runoff", FINISH, MILE_END, runoff_m, "kick"))
    return pieces


def _apply_overrides(pieces: list[_Piece], overrides: Mapping[tuple[int, str], str | float]
                     ) -> tuple[list[_Piece], dict[int, float]]:
    """Apply per-segment overrides: an effort name, or a fixed pace in s/400 m."""
    fixed: dict[int, float] = {}
    keys = {(p.lap, p.segment): i for i, p in enumerate(pieces)}
    for (lap, segment), value in overrides.items():
        field = f"override {lap}:{segment}"
        if (lap, segment) not in keys:
            raise PlanError(field, "no such segment in this plan "
                            f"(laps 1-4, segments {', '.join(SEGMENTS)})")
        i = keys[(lap, segment)]
        if isinstance(value, str):
            if value not in EFFORTS:
                raise PlanError(field, f"unknown effort {value!r} (one of {', '.join(EFFORTS)})")
            p = pieces[i]
            pieces[i] = _Piece(p.lap, p.segment, p.from_mark, p.to_mark, p.distance_m, value)
        else:
            fixed[i] = _check_pace(field, float(value))
    return pieces, fixed


def _check_pace(field: str, pace: float) -> float:
    if not pace > 0:
        raise PlanError(field, f"a pace must be positive (got {pace!r} s/400 m)")
    if pace < FASTEST_PACE_S_PER_400M:
        raise PlanError(field, f"{pace:.2f} s/400 m is faster than the 400 m world record")
    return pace


def build_plan(
    five_k_s: float,
    lane: int = 1,
    variant: str = "standard",
    *,
    track: Track = STANDARD_TRACK,
    target_s: float | None = None,
    surge_pace_s_per_400m: float | None = None,
    max_pace_s_per_400m: float | None = None,
    kick_pace_s_per_400m: float | None = None,
    lap3_turn2_5k: bool = False,
    overrides: Mapping[tuple[int, str], str | float] | None = None,
) -> Plan:
    """Build the mile plan for a runner with 5K time ``five_k_s`` in ``lane``.

    ``variant``: ``standard`` (mile start, 4 laps), ``lane8`` (start at the back
    turn in lane 8, 3.5 laps, finish 23.73 m straight on past the line) or
    ``lane8_exit`` (start 14.07 m further back, finish on leaving the track).
    ``target_s`` scales the surge and lap-4 paces so the plan sums to it
    exactly; explicit paces (s per 400 m of the runner's lane) are kept fixed.
    ``overrides`` maps ``(lap, segment)`` to an effort or a pace.
    Raises ``PlanError`` naming the field at fault.
    """
    if not isinstance(five_k_s, int | float) or not five_k_s > 0:
        raise PlanError("5k", f"a 5K time must be positive (got {five_k_s!r})")
    if five_k_s < FIVE_K_WORLD_RECORD_S:
        raise PlanError("5k", f"{five_k_s:.2f} s is faster than the 5000 m world record (12:35.36)")
    if five_k_s > 3 * 3600:
        raise PlanError("5k", "a 5K slower than 3 hours is not a running pace")
    if variant not in VARIANTS:
        raise PlanError("variant", f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
    try:
        track.check_lane(lane)
    except TrackError as exc:
        raise PlanError("lane", str(exc).removeprefix("lane: ")) from None
    if variant != "standard" and lane != 8:
        raise PlanError("lane", f"the {variant} variant is run in lane 8 (got lane {lane})")

    pieces, fixed = _apply_overrides(_layout(track, lane, variant, lap3_turn2_5k), overrides or {})
    five_k_pace = five_k_s * 400.0 / 5000.0
    given = {"surge": surge_pace_s_per_400m, "max": max_pace_s_per_400m,
             "kick": kick_pace_s_per_400m}
    for effort, pace in given.items():
        if pace is not None:
            _check_pace(f"{effort}_pace", pace)
    speedup = {"5k": 0.0, "surge": SURGE_SPEEDUP, "max": MAX_SPEEDUP, "kick": MAX_SPEEDUP}
    scale = 1.0 if target_s is None else _solve_scale(
        pieces, fixed, given, speedup, five_k_pace, target_s)

    def pace_of(effort: str) -> float:
        explicit = given.get(effort)
        if explicit is None and effort == "kick":
            explicit = given["max"]
        return explicit if explicit is not None else five_k_pace * (1 - scale * speedup[effort])

    paces = {effort: pace_of(effort) for effort in EFFORTS}
    _check_order(paces, five_k_pace, target_s is not None)
    segments: list[PlanSegment] = []
    cum_s = cum_m = 0.0
    for i, piece in enumerate(pieces):
        pace = fixed.get(i, paces[piece.effort])
        target = piece.distance_m * pace / 400.0
        cum_s += target
        cum_m += piece.distance_m
        segments.append(PlanSegment(piece.lap, piece.segment, piece.from_mark, piece.to_mark,
                                    piece.distance_m, piece.effort, pace, target, cum_s, cum_m))
    return Plan(lane=lane, variant=variant, five_k_s=float(five_k_s), paces_s_per_400m=paces,
                segments=tuple(segments), riegel_mile_s=riegel_s(five_k_s, 5000.0, MILE_M),
                distance_m=cum_m)


def _solve_scale(pieces: list[_Piece], fixed: dict[int, float], given: dict[str, float | None],
                 speedup: dict[str, float], five_k_pace: float, target_s: float) -> float:
    """Solve the plan time T(s) = constant - s * slope = target for the speed-up scale s."""
    if not isinstance(target_s, int | float) or not target_s > 0:
        raise PlanError("target", f"a target mile time must be positive (got {target_s!r})")
    constant = slope = 0.0
    for i, piece in enumerate(pieces):
        explicit = given.get(piece.effort)
        if explicit is None and piece.effort == "kick":
            explicit = given["max"]
        if i in fixed or explicit is not None:
            constant += piece.distance_m * (fixed.get(i) or explicit) / 400.0
        else:
            constant += piece.distance_m * five_k_pace / 400.0
            slope += piece.distance_m * five_k_pace * speedup[piece.effort] / 400.0
    if slope == 0:
        raise PlanError("target", "every surge and lap-4 pace is fixed, so nothing is left "
                        "to scale to the target; leave one of them free")
    scale = (constant - target_s) / slope
    if scale <= 0:
        raise PlanError("target", f"{target_s:.1f} s is no faster than running the plan's free "
                        f"segments at 5K pace ({constant:.1f} s); the surges would be slower "
                        "than 5K pace")
    return scale


def _check_order(paces: dict[str, float], five_k_pace: float, from_target: bool) -> None:
    """Surges must beat 5K pace, and lap 4 must be at least as fast as the surges."""
    field = "target" if from_target else "surge_pace"
    for effort in ("surge", "max", "kick"):
        _check_pace("target" if from_target else f"{effort}_pace", paces[effort])
    if paces["surge"] >= five_k_pace:
        raise PlanError(field, f"surges at {paces['surge']:.2f} s/400 m are not faster than "
                        f"5K pace ({five_k_pace:.2f} s/400 m)")
    if paces["surge"] < paces["max"]:
        raise PlanError(field, f"surges at {paces['surge']:.2f} s/400 m would be faster than "
                        f"the lap-4 pace ({paces['max']:.2f} s/400 m)")


def lap_totals_s(plan: Plan) -> dict[int, float]:
    """Planned time of each lap (lap 1 includes the start segment; lap 4 the run-off)."""
    totals: dict[int, float] = {}
    for segment in plan.segments:
        totals[segment.lap] = totals.get(segment.lap, 0.0) + segment.target_s
    return totals


def true_mile_s(plan: Plan) -> float:
    """The plan's time converted to exactly one mile (outer lanes run further)."""
    return plan.total_s * MILE_M / plan.distance_m


def plan_to_dict(plan: Plan, track: Track = STANDARD_TRACK) -> dict[str, object]:
    """The JSON shape of ``trackside plan --format json`` and of the REST API."""
    return {
        "distance_m": round(plan.distance_m, 3),
        "total_s": round(plan.total_s, 3),
        "true_mile_s": round(true_mile_s(plan), 3),
        "riegel_mile_s": round(plan.riegel_mile_s, 3),
        "lane": plan.lane,
        "variant": plan.variant,
        "five_k_s": plan.five_k_s,
        "extra_per_lap_m": round(track.stagger_m(plan.lane), 3),
        "paces_s_per_400m": {k: round(v, 3) for k, v in plan.paces_s_per_400m.items()},
        "lap_totals_s": {str(k): round(v, 3) for k, v in lap_totals_s(plan).items()},
        "segments": [
            {"lap": s.lap, "segment": s.segment, "from_mark": s.from_mark, "to_mark": s.to_mark,
             "distance_m": round(s.distance_m, 3), "effort": s.effort,
             "pace_s_per_400m": round(s.pace_s_per_400m, 3), "target_s": round(s.target_s, 3),
             "cum_target_s": round(s.cum_target_s, 3)}
            for s in plan.segments
        ],
    }
