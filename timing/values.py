"""Value types shared by every layer: frozen, slotted, units in the names.

These are the vocabulary of the whole system. Sensors produce ``Crossing``
values; the core turns them into ``SplitUpdate`` values; the dashboard turns
those into wire messages. Times are Unix epoch seconds as floats on the one
session clock, distances are metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Marks, in the order a runner meets them on a lap (the mile start is only met once).
MILE_START = "mile_start"
FINISH = "finish"
BACKSTRETCH = "backstretch"
BACK_TURN = "back_turn"
HOME_STRAIGHT = "home_straight"
#: The end of the lane-8 variants: straight on past the finish line, off the track.
MILE_END = "mile_end"
LAP_MARKS: tuple[str, ...] = (FINISH, BACKSTRETCH, BACK_TURN, HOME_STRAIGHT)
MARKS: tuple[str, ...] = (MILE_START, *LAP_MARKS, MILE_END)

#: Segment names; a segment runs from one mark to the next.
SEGMENTS: tuple[str, ...] = ("start", "turn1", "backstretch", "turn2", "home", "runoff")

#: Efforts, from easiest to hardest.
EFFORTS: tuple[str, ...] = ("5k", "surge", "max", "kick")

#: Flag prefix of a camera's lane estimate for an anonymous crossing ("lane=3.25"): the
#: camera node turns the crossing's ``position`` along its line into a lane with the
#: camera's ``lanes`` setting; the core weighs it when assigning the crossing. A flag,
#: not a field, so that it travels the sensor link and the event log unchanged.
LANE_FLAG = "lane="

#: Source kinds, best timing precision first: when one mark is seen by several
#: sensors the core keeps the reading from the most precise kind.
SOURCE_PRECISION: tuple[str, ...] = ("camera", "rfid", "tap")


@dataclass(frozen=True, slots=True)
class Crossing:
    """One sensor's report that someone crossed a mark.

    ``athlete`` or ``tag`` say who; both ``None`` means anonymous (a camera
    that cannot identify), and the core assigns it by predicted arrival.
    ``source`` is the sensor kind (see ``SOURCE_PRECISION``); ``sensor_id``
    names the physical sensor; ``confidence`` is 0..1; ``position`` is where
    along a camera's line the crossing happened (0..1, which lane), if known.
    """

    mark: str
    time_s: float
    athlete: str | None = None
    tag: str | None = None
    source: str = "tap"
    sensor_id: str = ""
    confidence: float = 1.0
    position: float | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Cue:
    """What the runner should do on the segment ahead, for the screen and speech."""

    effort: str
    text: str


@dataclass(frozen=True, slots=True)
class PlanSegment:
    """One segment of a pacing plan: where, how far in the runner's lane, how hard, how long."""

    lap: int
    segment: str
    from_mark: str
    to_mark: str
    distance_m: float
    effort: str
    pace_s_per_400m: float
    target_s: float
    cum_target_s: float
    cum_distance_m: float


@dataclass(frozen=True, slots=True)
class Plan:
    """A whole pacing plan for one runner in one lane and start variant."""

    lane: int
    variant: str
    five_k_s: float
    paces_s_per_400m: dict[str, float]
    segments: tuple[PlanSegment, ...]
    riegel_mile_s: float
    distance_m: float = field(default=0.0)

    @property
    def total_s(self) -> float:
        """The plan's finish time (sum of its segment targets)."""
        return self.segments[-1].cum_target_s if self.segments else 0.0


@dataclass(frozen=True, slots=True)
class SplitUpdate:
    """What the core says after a crossing: one segment's split against the plan.

    ``correction`` is true when this replaces an update already emitted for
    the same athlete and segment (a late or better reading arrived).
    ``flags`` may hold ``estimated`` (interpolated from neighbours),
    ``ambiguous`` (anonymous crossing assigned with doubt), ``anonymous``
    (assigned by predicted arrival), ``detected_start`` (no gun: the start was
    taken from the first crossing), ``correction``.

    Times: ``time_s`` is the epoch time of the mark; ``split_s``, ``lap_time_s``
    and ``cum_s`` are durations; ``projected_finish_s`` is the projected race
    time (seconds from the athlete's start to the end of the plan), not an
    epoch time. ``ghost_gap_m`` is how far the runner is ahead (positive) or
    behind (negative) a runner exactly on plan at the instant ``time_s``.
    """

    athlete: str
    lap: int
    segment: str
    mark: str
    time_s: float
    split_s: float
    target_s: float
    deviation_s: float
    lap_time_s: float | None
    lap_target_s: float | None
    lap_deviation_s: float | None
    cum_s: float
    cum_target_s: float
    cum_deviation_s: float
    pace_s_per_400m: float
    plan_pace_s_per_400m: float
    surge_faster: bool | None
    projected_finish_s: float
    next_cue: Cue | None
    ghost_gap_m: float
    source: str = "tap"
    flags: tuple[str, ...] = ()
    #: Delivery details, not content: two updates that say the same are equal
    #: whatever their sequence number.
    correction: bool = field(default=False, compare=False)
    seq: int = field(default=0, compare=False)
    #: Index of the segment in the athlete's plan (0-based).
    index: int = 0
    #: Distance from the athlete's start to this mark in their lane.
    cum_distance_m: float = 0.0
    #: The physical sensor whose reading was kept ("" for estimated marks).
    sensor_id: str = ""


@dataclass(frozen=True, slots=True)
class Athlete:
    """One runner on the roster: who, where they start, their plan and how sensors know them.

    ``tags`` are the RFID tag ids (any reader's spelling, compared as strings);
    ``marker_id`` is the ArUco bib marker a camera may read (a crossing may then
    carry ``tag="marker:<id>"``).
    """

    id: str
    name: str
    lane: int
    variant: str
    plan: Plan
    tags: tuple[str, ...] = ()
    marker_id: int | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A training session: the roster the core times against."""

    id: str
    name: str
    athletes: tuple[Athlete, ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A crossing the core did not accept, with the reason in plain words.

    ``code`` is a short stable key for counting (``too_fast``, ``before_start``,
    ``not_started``, ``after_finish``, ``after_dnf``, ``unknown_mark``,
    ``unknown_athlete``, ``stale``, ``unassigned``, ``invalid``, ...).
    """

    reason: str
    crossing: Crossing
    code: str = "invalid"
    athlete: str | None = None
    seq: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the dashboard should know that is not a split.

    ``kind``: ``session``, ``start``, ``detected_start``, ``false_start``,
    ``dnf``, ``finished``, ``session_end``, ``unknown_tag``, ``retracted``
    (an update emitted earlier no longer holds), ``ignored`` (an input that
    changed nothing, with ``text`` saying why).
    """

    kind: str
    time_s: float | None
    athlete: str | None = None
    text: str = ""
    lap: int | None = None
    segment: str | None = None
    seq: int = field(default=0, compare=False)


def lane_flag(lane: float) -> str:
    """The flag that carries a lane estimate (see ``LANE_FLAG``), to a hundredth of a lane."""
    return f"{LANE_FLAG}{lane:.2f}"


def flagged_lane(flags: tuple[str, ...]) -> float | None:
    """The lane estimate among ``flags``; ``None`` when there is none or it is not a number.

    A malformed estimate is only a missing hint: the crossing is still timed, by time alone.
    """
    for flag in flags:
        if isinstance(flag, str) and flag.startswith(LANE_FLAG):
            try:
                lane = float(flag[len(LANE_FLAG):])
            except ValueError:
                return None
            return lane if math.isfinite(lane) else None
    return None
