"""The core's tunable rules, in one frozen value with the reasoning beside each number.

Plausibility: the mile world record (3:43.13) averages 7.21 m/s, the 400 m
record 9.30 m/s, and a miler's last 100 m is about 8.5-9 m/s. Nobody runs a
track segment (at least 9.3 m, from a standing or rolling start) above
``max_speed_mps`` = 10.5 m/s, a sprinter's speed. The check allows each end
of a segment its source's timing error (``tolerance_s``), so a hand tap that
is 0.3 s late never turns a fast but real split into a rejection.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _default_tolerances() -> dict[str, float]:
    return {"camera": 0.02, "rfid": 0.15, "tap": 0.35, "gun": 0.05, "detected": 0.5}


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Rules of the event core. Every field has a unit in its name."""

    #: Faster than this between two marks is rejected as implausible.
    max_speed_mps: float = 10.5
    #: Timing error allowed per source kind ("gun" and "detected" are starts).
    tolerance_s: dict[str, float] = field(default_factory=_default_tolerances)
    #: Readings of the same mark this close together are one crossing (the next
    #: pass of a mark is at least a lap, about 45 s, later).
    dedup_window_s: float = 5.0
    #: A crossing older than the athlete's newest reading by more than this is
    #: rejected as stale. Anything younger lands in its place and corrections follow.
    reorder_window_s: float = 120.0
    #: An anonymous crossing further than this from every athlete's predicted
    #: arrival (plus 10% of the predicted interval) is left unassigned.
    association_gate_s: float = 8.0
    #: An assignment whose best alternative costs less than this more is "ambiguous".
    ambiguity_margin_s: float = 0.5
    #: Anonymous crossings of one sensor and mark closer than this are assigned together.
    cluster_gap_s: float = 2.0
    #: Largest group of anonymous crossings assigned jointly (a cost bound).
    max_cluster: int = 24
    #: Lane evidence for anonymous crossings (a camera's lane estimate, ``LANE_FLAG``):
    #: each lane between the estimate and the athlete's lane adds this many seconds to
    #: the pairing's cost, at most ``lane_cost_max_s``. The cap keeps time in charge: a
    #: lane decides between arrivals less than a second apart (a pack), never against a
    #: time match better by more than the cap.
    lane_cost_s_per_lane: float = 0.5
    lane_cost_max_s: float = 1.0
    #: A waiting athlete's first mark no further than this from the start may
    #: detect the start (start = crossing time - planned time of that segment).
    detect_start_max_m: float = 30.0
    #: The ratio to plan used for predictions is clamped to this range.
    ratio_min: float = 0.5
    ratio_max: float = 2.0

    def tolerance_for(self, source: str) -> float:
        """Timing error allowed for ``source`` (an unknown kind gets the largest)."""
        tol = self.tolerance_s.get(source)
        return tol if tol is not None else max(self.tolerance_s.values())
