"""Where a runner is in the plan, and what each mark's update says.

Theory of operation. A plan's segments end at marks; the k-th segment ends at
the k-th *occurrence* of a mark (``finish`` recurs once a lap), so a runner's
progress is the list of occurrence times ``T[k]`` measured from their start.
``PlanIndex`` precomputes everything about a plan that does not depend on the
runner (cumulative targets, lap boundaries, the 5K segment a surge is judged
against, the next cue), so building an update is a few arithmetic operations.

An update for occurrence k depends only on the start and ``T[0..k]``: what a
runner saw live is what a replay shows, and a later reading can only change
earlier updates through ``T`` itself (a better or an interpolated time).

Projection: the plan's remaining time scaled by the runner's recent ratio to
plan (actual / planned time over the last ``RATIO_SEGMENTS`` segments, about
one lap; since the start while fewer are known). The ghost runs each segment
at its planned pace, so its distance is piecewise linear in time.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from timing.plan import cue_for
from timing.values import Cue, Plan, SplitUpdate

#: How many segments back the recent ratio to plan looks (one lap).
RATIO_SEGMENTS = 4


@dataclass(frozen=True, slots=True)
class PlanIndex:
    """Per-plan lookup tables; index k is the k-th segment (ending at occurrence k)."""

    plan: Plan
    n: int
    start_mark: str
    marks: tuple[str, ...]
    laps: tuple[int, ...]
    names: tuple[str, ...]
    cum_t: tuple[float, ...]
    cum_d: tuple[float, ...]
    target: tuple[float, ...]
    dist: tuple[float, ...]
    plan_pace: tuple[float, ...]
    lap_first: tuple[int, ...]
    lap_end: tuple[bool, ...]
    lap_target: tuple[float, ...]
    surge_ref: tuple[int, ...]
    next_cue: tuple[Cue | None, ...]
    occ_by_mark: dict[str, tuple[int, ...]]
    total_s: float
    total_d: float

    def cum_t_at(self, k: int) -> float:
        """Planned time from the start to occurrence ``k`` (``-1`` is the start)."""
        return 0.0 if k < 0 else self.cum_t[k]

    def cum_d_at(self, k: int) -> float:
        """Distance from the start to occurrence ``k`` (``-1`` is the start)."""
        return 0.0 if k < 0 else self.cum_d[k]

    def ghost_distance_m(self, elapsed_s: float) -> float:
        """Where a runner exactly on plan is ``elapsed_s`` after the start."""
        if elapsed_s <= 0.0:
            return 0.0
        if elapsed_s >= self.total_s:
            last = self.n - 1
            return self.total_d + (elapsed_s - self.total_s) * self.dist[last] / self.target[last]
        k = bisect_left(self.cum_t, elapsed_s)
        before_t = self.cum_t_at(k - 1)
        return self.cum_d_at(k - 1) + (elapsed_s - before_t) / self.target[k] * self.dist[k]


def index_plan(plan: Plan) -> PlanIndex:
    """Precompute the lookup tables of ``plan`` (raises ``ValueError`` on an empty plan)."""
    segs = plan.segments
    if not segs:
        raise ValueError("a plan needs at least one segment")
    n = len(segs)
    lap_first: list[int] = []
    first = 0
    for k, s in enumerate(segs):
        if k > 0 and s.lap != segs[k - 1].lap:
            first = k
        lap_first.append(first)
    lap_end = [k == n - 1 or segs[k + 1].lap != s.lap for k, s in enumerate(segs)]
    lap_target = [sum(segs[j].target_s for j in range(lap_first[k], k + 1)) for k in range(n)]
    surge_ref: list[int] = []
    for k, s in enumerate(segs):
        ref = -1
        if s.effort == "surge":
            for j in range(k - 1, -1, -1):
                if segs[j].effort == "5k":
                    ref = j
                    break
        surge_ref.append(ref)
    occ: dict[str, list[int]] = {}
    for k, s in enumerate(segs):
        occ.setdefault(s.to_mark, []).append(k)
    return PlanIndex(
        plan=plan, n=n, start_mark=segs[0].from_mark,
        marks=tuple(s.to_mark for s in segs),
        laps=tuple(s.lap for s in segs), names=tuple(s.segment for s in segs),
        cum_t=tuple(s.cum_target_s for s in segs),
        cum_d=tuple(s.cum_distance_m for s in segs),
        target=tuple(s.target_s for s in segs),
        dist=tuple(s.distance_m for s in segs),
        plan_pace=tuple(s.target_s / s.distance_m * 400.0 for s in segs),
        lap_first=tuple(lap_first), lap_end=tuple(lap_end), lap_target=tuple(lap_target),
        surge_ref=tuple(surge_ref),
        next_cue=tuple(cue_for(segs[k + 1]) if k + 1 < n else None for k in range(n)),
        occ_by_mark={m: tuple(v) for m, v in occ.items()},
        total_s=segs[-1].cum_target_s, total_d=segs[-1].cum_distance_m,
    )


def fill_times(idx: PlanIndex, start_s: float, real: list[float | None],
               last_occ: int) -> list[float]:
    """Occurrence times up to ``last_occ``: real ones kept, gaps interpolated in plan time.

    A missed mark between two known times gets the time at which the runner,
    running the gap at a constant ratio to plan, would have passed it: this
    respects surges and 5K segments of different pace inside the gap.
    """
    out: list[float] = []
    prev_k, prev_t = -1, start_s
    gap: list[int] = []
    for k in range(last_occ + 1):
        t = real[k]
        if t is None:
            gap.append(k)
            out.append(0.0)
            continue
        if gap:
            span_t = idx.cum_t[k] - idx.cum_t_at(prev_k)
            for g in gap:
                frac = (idx.cum_t[g] - idx.cum_t_at(prev_k)) / span_t
                out[g] = prev_t + frac * (t - prev_t)
            gap = []
        out.append(t)
        prev_k, prev_t = k, t
    return out


def ratio_to_plan(idx: PlanIndex, start_s: float, times: list[float], k: int) -> float:
    """Actual / planned time over the last ``RATIO_SEGMENTS`` segments up to ``k``."""
    j = k - RATIO_SEGMENTS
    t_j = start_s if j < 0 else times[j]
    planned = idx.cum_t[k] - idx.cum_t_at(j)
    return (times[k] - t_j) / planned if planned > 0 else 1.0


def build_update(idx: PlanIndex, athlete: str, start_s: float, times: list[float], k: int,
                 *, source: str, sensor_id: str, flags: tuple[str, ...]) -> SplitUpdate:
    """The update for occurrence ``k`` given occurrence times ``times[0..k]``.

    On the hot path (once per accepted crossing): plain arithmetic over the
    precomputed tables, and the value built positionally.
    """
    t = times[k]
    split = t - (start_s if k == 0 else times[k - 1])
    target = idx.target[k]
    pace = split / idx.dist[k] * 400.0
    if idx.lap_end[k]:
        first = idx.lap_first[k]
        lap_time: float | None = t - (start_s if first == 0 else times[first - 1])
        lap_target: float | None = idx.lap_target[k]
        lap_dev: float | None = lap_time - lap_target  # type: ignore[operator]
    else:
        lap_time = lap_target = lap_dev = None
    cum = t - start_s
    cum_t = idx.cum_t
    cum_target = cum_t[k]
    surge_faster: bool | None = None
    ref = idx.surge_ref[k]
    if ref >= 0:
        ref_prev = start_s if ref == 0 else times[ref - 1]
        surge_faster = pace < (times[ref] - ref_prev) / idx.dist[ref] * 400.0
    j = k - RATIO_SEGMENTS  # the recent ratio to plan, over about one lap
    if j < 0:
        ratio = cum / cum_target if cum_target > 0 else 1.0
    else:
        planned = cum_target - cum_t[j]
        ratio = (t - times[j]) / planned if planned > 0 else 1.0
    cum_d = idx.cum_d[k]
    return SplitUpdate(
        athlete, idx.laps[k], idx.names[k], idx.marks[k], t, split, target, split - target,
        lap_time, lap_target, lap_dev, cum, cum_target, cum - cum_target,
        pace, idx.plan_pace[k], surge_faster, cum + (idx.total_s - cum_target) * ratio,
        idx.next_cue[k], cum_d - idx.ghost_distance_m(cum), source, flags, False, 0, k,
        cum_d, sensor_id,
    )


def as_correction(u: SplitUpdate) -> SplitUpdate:
    """``u`` marked as a correction (the ``correction`` field and flag).

    Same as ``dataclasses.replace(u, correction=True, flags=u.flags +
    ("correction",))`` (a test holds them equal), several times faster.
    """
    return SplitUpdate(
        u.athlete, u.lap, u.segment, u.mark, u.time_s, u.split_s, u.target_s, u.deviation_s,
        u.lap_time_s, u.lap_target_s, u.lap_deviation_s, u.cum_s, u.cum_target_s,
        u.cum_deviation_s, u.pace_s_per_400m, u.plan_pace_s_per_400m, u.surge_faster,
        u.projected_finish_s, u.next_cue, u.ghost_gap_m, u.source, u.flags + ("correction",),
        True, u.seq, u.index, u.cum_distance_m, u.sensor_id,
    )
