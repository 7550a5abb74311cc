"""Virtual runners for the demo and the end-to-end tests: who runs, and when they cross.

Pure and seeded: given runners and their plans, ``simulate_heat`` returns the
ground truth, every mark crossing with its exact time. The shell in
``sensors/sim.py`` then turns that truth into sensor input (bytes from a reader
emulator, rendered frames, plain crossings), so the tests can compare what the
screens show with what really happened.

Runners are not metronomes: each has a style that bends the plan the way real
milers do (surges that come late, a fading last lap, going out too fast), plus
a little per-segment noise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from timing.values import Plan

#: style -> (lap -> time factor), applied on top of per-segment noise.
STYLE_LAP_FACTORS: dict[str, dict[int, float]] = {
    "steady": {},
    "late_surger": {},
    "fader": {3: 1.02, 4: 1.07},
    "fast_starter": {1: 0.93, 2: 0.98, 3: 1.04, 4: 1.08},
}
#: A late surger loses this fraction of every surge segment (the stride starts late).
LATE_SURGE_PENALTY = 0.05
STYLES = tuple(STYLE_LAP_FACTORS)


@dataclass(frozen=True, slots=True)
class SimRunner:
    """One virtual runner: identity, lane, start variant, 5K time, RFID tag, style."""

    id: str
    name: str
    lane: int
    variant: str
    five_k_s: float
    tag: str
    style: str = "steady"


@dataclass(frozen=True, slots=True)
class TruthCrossing:
    """What really happened: ``athlete`` crossed ``mark`` at ``time_s`` (session clock)."""

    athlete: str
    tag: str
    mark: str
    time_s: float
    lap: int
    segment: str
    lane: int
    speed_mps: float


def default_runners(count: int = 4) -> list[SimRunner]:
    """The demo heat: different 5K times, lanes and styles; the fourth runs the lane-8 variant."""
    base = [
        SimRunner("ana", "Ana", 1, "standard", 20 * 60.0, "E2000017221101441890A001", "steady"),
        SimRunner("ben", "Ben", 2, "standard", 18 * 60 + 30.0, "E2000017221101441890A002",
                  "late_surger"),
        SimRunner("cleo", "Cleo", 3, "standard", 22 * 60.0, "E2000017221101441890A003",
                  "fast_starter"),
        SimRunner("dev", "Dev", 8, "lane8", 19 * 60 + 15.0, "E2000017221101441890A004",
                  "fader"),
    ]
    runners = base[:count]
    for i in range(len(base), count):
        lane = 4 + (i - len(base)) % 4
        runners.append(SimRunner(f"r{i + 1}", f"Runner {i + 1}", lane, "standard",
                                 17 * 60 + 45.0 * i, f"E2000017221101441890A{i + 1:03d}",
                                 STYLES[i % len(STYLES)]))
    return runners


def simulate_heat(runners: list[SimRunner], plans: dict[str, Plan], gun_time_s: float,
                  seed: int = 0, noise: float = 0.015) -> list[TruthCrossing]:
    """Every mark crossing of every runner after the gun, sorted by time.

    ``noise`` is the standard deviation of each segment's time as a fraction
    of its target. Deterministic for a given ``seed``.
    """
    rng = random.Random(seed)
    truth: list[TruthCrossing] = []
    for runner in runners:
        plan = plans[runner.id]
        laps = STYLE_LAP_FACTORS[runner.style]
        clock_s = gun_time_s
        for segment in plan.segments:
            factor = laps.get(segment.lap, 1.0) * (1.0 + rng.gauss(0.0, noise))
            if runner.style == "late_surger" and segment.effort == "surge":
                factor *= 1.0 + LATE_SURGE_PENALTY
            split_s = segment.target_s * factor
            clock_s += split_s
            truth.append(TruthCrossing(runner.id, runner.tag, segment.to_mark, clock_s,
                                       segment.lap, segment.segment, runner.lane,
                                       segment.distance_m / split_s))
    truth.sort(key=lambda c: (c.time_s, c.athlete))
    return truth
