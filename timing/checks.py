"""Well-formedness checks of core inputs, answered in plain words.

The core refuses a malformed input with a reason instead of raising: by the
time it sees an event, the event is already in the log, and a replay must
get through it exactly the same way.
"""

from __future__ import annotations

import math

from timing.values import Athlete, Crossing


def roster_problem(a: Athlete, seen: set[str]) -> str:
    """Why roster entry ``a`` cannot be timed ("" if it can)."""
    if not isinstance(a, Athlete) or not isinstance(a.id, str) or not a.id:
        return "a roster entry without an athlete id was ignored"
    if a.id in seen:
        return f"athlete id {a.id!r} appears twice in the roster; the first is kept"
    segs = a.plan.segments
    if not segs:
        return f"athlete {a.id} has an empty plan; not timed"
    for seg in segs:
        if not (seg.distance_m > 0 and seg.target_s > 0):
            return (f"athlete {a.id}'s plan has a segment ({seg.lap}:{seg.segment}) "
                    "without a positive distance and target time; not timed")
    return ""


def crossing_problem(c: Crossing) -> str:
    """Why crossing ``c`` is malformed ("" if it is well formed)."""
    t = c.time_s
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return f"time_s must be a finite number of seconds, got {t!r}"
    for name in ("mark", "source", "sensor_id"):
        if not isinstance(getattr(c, name), str):
            return f"{name} must be text, got {getattr(c, name)!r}"
    for name in ("athlete", "tag"):
        v = getattr(c, name)
        if v is not None and not isinstance(v, str):
            return f"{name} must be text or null, got {v!r}"
    conf = c.confidence
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not math.isfinite(conf):
        return f"confidence must be a number from 0 to 1, got {conf!r}"
    pos = c.position
    if pos is not None and (isinstance(pos, bool) or not isinstance(pos, int | float)
                            or not math.isfinite(pos)):
        return f"position must be a number or null, got {pos!r}"
    if not isinstance(c.flags, tuple) or not all(isinstance(f, str) for f in c.flags):
        return f"flags must be a list of text, got {c.flags!r}"
    return ""


def event_time_problem(event: object) -> str:
    t = getattr(event, "time_s", 0.0)
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return f"{type(event).__name__} needs a finite time_s, got {t!r}"
    return ""
