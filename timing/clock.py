"""Clock-offset arithmetic for remote sensor clocks (NTP-style, four timestamps).

Pure: the shell reads the clocks and passes the four times in. A node sends a
probe at ``t0`` (its clock), the server receives it at ``t1`` and answers at
``t2`` (server clock), the node gets the answer at ``t3`` (its clock). Then

    offset = ((t1 - t0) + (t2 - t3)) / 2      server time = node time + offset
    delay  = (t3 - t0) - (t2 - t1)            the round trip spent on the wire

The offset is exact when the two legs take equally long; its error is at
most ``delay / 2``. So of several probes the one with the smallest delay is
the best estimate (what NTP's clock filter does).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One exchange: the estimated offset (server minus node) and its round-trip delay."""

    offset_s: float
    delay_s: float

    @property
    def error_bound_s(self) -> float:
        """The most the offset can be wrong by (half the round trip)."""
        return self.delay_s / 2


def clock_sample(t0_s: float, t1_s: float, t2_s: float, t3_s: float) -> ClockSample:
    """The offset and delay of one four-timestamp exchange (see the module note)."""
    offset = ((t1_s - t0_s) + (t2_s - t3_s)) / 2
    delay = (t3_s - t0_s) - (t2_s - t1_s)
    return ClockSample(offset_s=offset, delay_s=max(delay, 0.0))


def best_sample(samples: Iterable[ClockSample]) -> ClockSample | None:
    """The lowest-delay sample (the tightest error bound), or ``None`` if there are none."""
    return min(samples, key=lambda s: s.delay_s, default=None)
