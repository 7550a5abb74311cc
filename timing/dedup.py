"""Readings, their canonical order, and which of several readings of one mark wins.

A ``Reading`` is a crossing the core has attributed to an athlete. Readings
are kept sorted by ``reading_key``, which uses only what the reading says
(time, source, mark, sensor...), never when it arrived: that is what makes
the final splits independent of arrival order. Two readings with the same
key say the same thing, so which of them comes first changes nothing.

When several readings fall on one occurrence of a mark (two antennas, a
reader and a camera, a reader's repeated reads), the best is kept: the most
precise source kind (``SOURCE_PRECISION``: camera > rfid > tap), then the
higher confidence, then the earlier time, then the sensor id.
"""

from __future__ import annotations

from dataclasses import dataclass

from timing.values import SOURCE_PRECISION, Crossing

_RANK = {name: i for i, name in enumerate(SOURCE_PRECISION)}
#: Rank of a source kind not in ``SOURCE_PRECISION``: below every known kind.
UNKNOWN_RANK = len(SOURCE_PRECISION)


def source_rank(source: str) -> int:
    """0 for the most precise source kind; unknown kinds rank last."""
    return _RANK.get(source, UNKNOWN_RANK)


def reading_key(c: Crossing) -> tuple:
    """The canonical sort key of a crossing (content only, no arrival order)."""
    return (c.time_s, source_rank(c.source), c.mark, c.sensor_id, c.source,
            -c.confidence, c.tag or "", c.athlete or "", c.position or 0.0, c.flags)


@dataclass(frozen=True, slots=True)
class Reading:
    """A crossing attributed to ``athlete``; ``rid`` identifies it inside the core."""

    key: tuple
    rid: int
    athlete: str
    crossing: Crossing
    rank: int
    flags: tuple[str, ...] = ()

    @property
    def time_s(self) -> float:
        return self.crossing.time_s

    @property
    def mark(self) -> str:
        return self.crossing.mark


def make_reading(rid: int, athlete: str, crossing: Crossing,
                 flags: tuple[str, ...] = ()) -> Reading:
    """Wrap ``crossing`` as a reading of ``athlete``."""
    return Reading(key=reading_key(crossing) + (flags,), rid=rid, athlete=athlete,
                   crossing=crossing, rank=source_rank(crossing.source), flags=flags)


def preference(r: Reading) -> tuple:
    """Sort key of readings of one occurrence: the first is the one to keep."""
    c = r.crossing
    return (r.rank, -c.confidence, c.time_s, c.sensor_id, r.key)


def better(a: Reading, b: Reading) -> bool:
    """True if ``a`` should replace ``b`` as the reading of an occurrence."""
    return preference(a) < preference(b)
