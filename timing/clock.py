"""Clock-offset arithmetic for remote sensor nodes (NTP-style, four timestamps).

Pure: the shell reads the clocks and passes the numbers in. One exchange:

    t0  node sends a request          (node clock)
    t1  server receives it            (server clock)
    t2  server sends its answer       (server clock)
    t3  node receives the answer      (node clock)

    offset_s = ((t1 - t0) + (t2 - t3)) / 2   server clock - node clock
    delay_s  = (t3 - t0) - (t2 - t1)         round trip spent on the wire

A node time ``t`` is ``t + offset_s`` on the server (session) clock. The
offset is exact when the two legs take equal time; otherwise it is off by at
most ``delay_s / 2``, which is why ``OffsetFilter`` trusts the exchanges with
the smallest delay (as NTP's clock filter does).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One exchange's result: offset (server - node) and round-trip delay, seconds."""

    offset_s: float
    delay_s: float

    @property
    def error_bound_s(self) -> float:
        """The offset is within this of the truth, whatever the asymmetry."""
        return self.delay_s / 2.0


#: Timestamps this close are equal: clock resolution and float rounding, not time running back.
RESOLUTION_S = 1e-6


def offset_delay(t0: float, t1: float, t2: float, t3: float) -> ClockSample:
    """Offset and delay from the four timestamps of one exchange.

    Raises ``ValueError`` if a timestamp is not finite or if the node or the
    server saw time run backwards within the exchange. A delay a little below
    zero (clock resolution) is reported as zero.
    """
    for name, v in (("t0", t0), ("t1", t1), ("t2", t2), ("t3", t3)):
        if not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite time in seconds, got {v!r}")
    if t3 < t0 - RESOLUTION_S:
        raise ValueError(f"the node's answer arrived before its request was sent "
                         f"(t3 {t3!r} < t0 {t0!r})")
    if t2 < t1 - RESOLUTION_S:
        raise ValueError(f"the server answered before it received the request "
                         f"(t2 {t2!r} < t1 {t1!r})")
    return clock_sample(t0, t1, t2, t3)


def clock_sample(t0_s: float, t1_s: float, t2_s: float, t3_s: float) -> ClockSample:
    """Offset and delay of one exchange, without validation (a negative delay is 0).

    For callers that already checked their inputs; ``offset_delay`` raises on
    inconsistent timestamps instead.
    """
    offset = ((t1_s - t0_s) + (t2_s - t3_s)) / 2.0
    delay = (t3_s - t0_s) - (t2_s - t1_s)
    return ClockSample(offset_s=offset, delay_s=max(delay, 0.0))


def best_sample(samples: Iterable[ClockSample]) -> ClockSample | None:
    """The lowest-delay sample (the tightest error bound), or ``None`` if there are none."""
    return min(samples, key=lambda s: s.delay_s, default=None)


def to_server_time(node_time_s: float, offset_s: float) -> float:
    """A node clock reading on the server (session) clock."""
    return node_time_s + offset_s


class OffsetFilter:
    """Keeps the last ``window`` samples and answers with the lowest-delay one's offset.

    Lowest delay = least room for asymmetry. ``step_s``: if a new low-delay
    sample disagrees with the current estimate by more than this, the node's
    clock stepped (NTP sync, user change) and older samples are dropped.
    """

    def __init__(self, window: int = 8, step_s: float = 0.5) -> None:
        if window < 1:
            raise ValueError("window must hold at least one sample")
        self._samples: deque[ClockSample] = deque(maxlen=window)
        self.step_s = step_s
        self.steps = 0

    def add(self, sample: ClockSample) -> ClockSample:
        """Add a sample; return the current best sample."""
        if self._samples:
            best = self.best()
            if (abs(sample.offset_s - best.offset_s) > self.step_s + sample.error_bound_s
                    + best.error_bound_s):
                self._samples.clear()
                self.steps += 1
        self._samples.append(sample)
        return self.best()

    def best(self) -> ClockSample:
        """The sample with the smallest delay (raises ``LookupError`` when empty)."""
        if not self._samples:
            raise LookupError("no clock samples yet")
        return min(self._samples, key=lambda s: (s.delay_s, s.offset_s))

    @property
    def offset_s(self) -> float:
        return self.best().offset_s
