"""Track geometry: lanes, marks, lap lengths and the mile's start variants.

Theory of operation. A 400 m track is two straights joined by two semicircular
bends. Distances in lane n are measured along its *measurement line*: 0.30 m
out from the kerb in lane 1, 0.20 m out from the inside lane line in lanes 2+,
so the measuring radius is r1 = R + 0.30 and rn = R + w (n - 1) + 0.20. Every
mark is a line across all lanes (the finish line straight across, the bend
ends radial), so its position *along* lane n follows from rn alone.

Positions here are metres along a lane from the finish line, in the running
direction, in [0, lap). All functions are pure; a non-standard track is just
another ``Track`` value (see ``track_from_mapping`` for the TOML shape).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from timing.values import BACK_TURN, BACKSTRETCH, FINISH, HOME_STRAIGHT, LAP_MARKS

MILE_M = 1609.344
#: 42-inch lanes of some US high-school tracks, in metres.
LANE_WIDTH_42_IN_M = 1.0668


class TrackError(ValueError):
    """A track description or a lane/mark request that cannot be right; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Track:
    """A running track's geometry. Defaults are the World Athletics standard 400 m track."""

    name: str = "World Athletics standard 400 m"
    straight_m: float = 84.39
    bend_radius_m: float = 36.50
    lane_width_m: float = 1.22
    lanes: int = 8
    lane1_line_offset_m: float = 0.30
    lane_line_offset_m: float = 0.20
    #: How far behind the finish line (on the home straight) the mile start is
    #: marked; ``None`` derives it so that 4 laps of lane 1 plus it make a mile.
    mile_start_m: float | None = 9.344

    def __post_init__(self) -> None:
        checks = (
            ("straight_m", self.straight_m > 0, "must be positive"),
            ("bend_radius_m", self.bend_radius_m > 0, "must be positive"),
            ("lane_width_m", 0.5 <= self.lane_width_m <= 2.0, "must be between 0.5 and 2.0 m"),
            ("lanes", isinstance(self.lanes, int) and 6 <= self.lanes <= 9,
             "must be a whole number from 6 to 9"),
            ("lane1_line_offset_m", 0 <= self.lane1_line_offset_m < self.lane_width_m,
             "must be inside lane 1"),
            ("lane_line_offset_m", 0 <= self.lane_line_offset_m < self.lane_width_m,
             "must be inside the lane"),
        )
        for field, ok, why in checks:
            if not ok:
                raise TrackError(field, f"{why} (got {getattr(self, field)!r})")
        if self.mile_start_m is not None and not 0 <= self.mile_start_m < self.straight_m:
            raise TrackError("mile_start_m", "must lie on the home straight")

    # -- lanes -----------------------------------------------------------------
    def check_lane(self, lane: int) -> int:
        """Return ``lane`` if this track has it, else raise ``TrackError`` naming ``lane``."""
        if not isinstance(lane, int) or isinstance(lane, bool) or not 1 <= lane <= self.lanes:
            raise TrackError("lane", f"{lane!r} is not a lane of this track (1 to {self.lanes})")
        return lane

    def radius_m(self, lane: int) -> float:
        """Radius of lane ``lane``'s measurement line on the bends."""
        self.check_lane(lane)
        if lane == 1:
            return self.bend_radius_m + self.lane1_line_offset_m
        return self.bend_radius_m + self.lane_width_m * (lane - 1) + self.lane_line_offset_m

    def bend_m(self, lane: int) -> float:
        """Length of one bend (half a circle) in ``lane``."""
        return math.pi * self.radius_m(lane)

    def lap_m(self, lane: int) -> float:
        """One lap of ``lane``: two straights and two bends."""
        return 2 * self.straight_m + 2 * self.bend_m(lane)

    def stagger_m(self, lane: int) -> float:
        """Extra distance per lap in ``lane`` over lane 1 (the 400 m stagger)."""
        return self.lap_m(lane) - self.lap_m(1)

    def outer_edge_radius_m(self) -> float:
        """Radius of the track's outside edge on the bends."""
        return self.bend_radius_m + self.lane_width_m * self.lanes

    # -- marks -----------------------------------------------------------------
    def mark_position_m(self, mark: str, lane: int) -> float:
        """Where ``mark`` lies along ``lane``, metres from the finish line."""
        bend = self.bend_m(lane)
        positions = {
            FINISH: 0.0,
            BACKSTRETCH: bend,
            BACK_TURN: bend + self.straight_m,
            HOME_STRAIGHT: 2 * bend + self.straight_m,
        }
        if mark not in positions:
            raise TrackError("mark", f"{mark!r} is not a lap mark (one of {', '.join(LAP_MARKS)})")
        return positions[mark]

    def distance_between_m(self, from_mark: str, to_mark: str, lane: int) -> float:
        """Running distance from ``from_mark`` forward to the next ``to_mark`` in ``lane``.

        The same mark twice means a whole lap.
        """
        gap = self.mark_position_m(to_mark, lane) - self.mark_position_m(from_mark, lane)
        return gap if gap > 0 else gap + self.lap_m(lane)

    def mile_start_behind_finish_m(self) -> float:
        """Distance of the mile start behind the finish line (lane 1, home straight)."""
        if self.mile_start_m is not None:
            return self.mile_start_m
        return MILE_M - 4 * self.lap_m(1)

    def exit_distance_m(self, lane: int) -> float:
        """Straight on past the finish line from ``lane`` until off the track.

        The finish line is where the first bend begins, so running straight on
        is a tangent to the bend: Pythagoras between the lane's radius and the
        track's outer edge.
        """
        outer = self.outer_edge_radius_m()
        return math.sqrt(outer**2 - self.radius_m(lane) ** 2)


STANDARD_TRACK = Track()


def track_from_mapping(data: Mapping[str, Any]) -> Track:
    """Build a ``Track`` from a parsed TOML table (``[track]`` of a config file).

    ``standard = true`` (or no keys) gives the World Athletics track; other keys
    override its fields; ``lane_width = "42in"`` selects 42-inch lanes.
    Raises ``TrackError`` naming the offending key.
    """
    fields = dict(data)
    fields.pop("standard", None)
    known = set(Track.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TrackError(unknown[0], f"unknown track setting (known: {', '.join(sorted(known))})")
    if fields.get("lane_width_m") == "42in":
        fields["lane_width_m"] = LANE_WIDTH_42_IN_M
    for key, value in fields.items():
        expected = str if key == "name" else int if key == "lanes" else float
        if key == "mile_start_m" and value is None:
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            fields[key] = float(value)
        elif not isinstance(fields[key], expected) or isinstance(value, bool):
            raise TrackError(key, f"must be a {expected.__name__} (got {value!r})")
    if "mile_start_m" not in fields and fields.keys() & {"straight_m", "bend_radius_m"}:
        fields["mile_start_m"] = None  # a different lap: derive the mile start
    return Track(**fields)
