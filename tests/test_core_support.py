"""Helpers shared by the core, store and replay tests (no tests here).

Runners are simulated from the real plan (``timing.plan.build_plan``): a
runner's actual cumulative time at each mark is the plan's cumulative target
times a per-segment ratio, so expected values can be derived independently
of the core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from timing.core import Core
from timing.events import SessionSetup, Start
from timing.plan import build_plan
from timing.values import Athlete, Crossing, Plan, Session, SplitUpdate

T0 = 1_750_000_000.0  # a Unix epoch time, so float precision is the real one


def make_athlete(aid: str, five_k_s: float = 1200.0, lane: int = 1,
                 variant: str = "standard", tags: tuple[str, ...] | None = None,
                 **plan_kw: object) -> Athlete:
    plan = build_plan(five_k_s, lane=lane, variant=variant, **plan_kw)  # type: ignore[arg-type]
    return Athlete(aid, f"Runner {aid}", lane, variant, plan,
                   tags=(f"tag-{aid}",) if tags is None else tags)


def make_session(*athletes: Athlete) -> Session:
    return Session("s1", "Tuesday intervals", tuple(athletes))


def mark_times(plan: Plan, start_s: float, ratios: Sequence[float] | float = 1.0
               ) -> list[float]:
    """Epoch time of each segment's end mark: each segment takes target * ratio."""
    if isinstance(ratios, int | float):
        ratios = [float(ratios)] * len(plan.segments)
    out, t = [], start_s
    for seg, r in zip(plan.segments, ratios, strict=True):
        t += seg.target_s * r
        out.append(t)
    return out


def crossings_for(athlete: Athlete, times: Sequence[float], *, source: str = "rfid",
                  by: str = "tag", sensor: str = "", skip: Iterable[int] = ()) -> list[Crossing]:
    skip = set(skip)
    out = []
    for k, (seg, t) in enumerate(zip(athlete.plan.segments, times, strict=True)):
        if k in skip:
            continue
        who = {"tag": {"tag": athlete.tags[0]}, "athlete": {"athlete": athlete.id},
               "anonymous": {}}[by]
        out.append(Crossing(seg.to_mark, t, source=source, sensor_id=sensor or f"{source}-1",
                            **who))
    return out


def started_core(*athletes: Athlete, start_s: float = T0) -> tuple[Core, list]:
    core = Core()
    outs = core.handle(SessionSetup(make_session(*athletes)))
    outs += core.handle(Start(start_s))
    return core, outs


def feed(core: Core, events: Iterable) -> list:
    outs: list = []
    for e in events:
        outs.extend(core.handle(e))
    return outs


def splits_of(outs: Iterable) -> list[SplitUpdate]:
    return [o for o in outs if isinstance(o, SplitUpdate)]


def final_state(core: Core) -> dict[str, list[SplitUpdate]]:
    """Each athlete's final updates, stripped of delivery details (seq, correction)."""
    return {aid: [replace(u, seq=0, correction=False,
                          flags=tuple(f for f in u.flags if f != "correction"))
                  for u in core.splits(aid)]
            for aid in core.athlete_ids()}
