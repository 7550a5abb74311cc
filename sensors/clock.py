"""The shell's clock: the one place a sensor process reads the time.

Pure code never reads a clock; the shells (sensor nodes, the server) read it
through a ``Clock`` so a simulation can run the whole system faster than real
time: ``ScaledClock(origin_s, speed)`` runs ``speed`` times faster than the
wall clock from ``origin_s`` on. Every process of one demo shares the same
scaled clock through the ``TRACKSIDE_CLOCK`` environment variable
(``scaled:<speed>:<origin_s>``), so reader arrival times, link timestamps and
the server agree.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Protocol

ENV_VAR = "TRACKSIDE_CLOCK"


class Clock(Protocol):
    """Something that says what time it is on the session clock (Unix epoch seconds)."""

    speed: float

    def now(self) -> float: ...


@dataclass(frozen=True, slots=True)
class WallClock:
    """The real clock."""

    speed: float = 1.0

    def now(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class ScaledClock:
    """A clock that runs ``speed`` times faster than real time from ``origin_s`` on."""

    origin_s: float
    speed: float

    def now(self) -> float:
        return self.origin_s + (time.time() - self.origin_s) * self.speed

    def __call__(self) -> float:
        return self.now()

    def sleep_until(self, when_s: float) -> None:
        """Sleep (in real time) until the scaled clock reads ``when_s``."""
        delay = (when_s - self.now()) / self.speed
        if delay > 0:
            time.sleep(delay)

    def to_env(self) -> str:
        """The ``TRACKSIDE_CLOCK`` value that makes another process share this clock."""
        return f"scaled:{self.speed!r}:{self.origin_s!r}"


def clock_from_env(environ: dict[str, str] | None = None) -> WallClock | ScaledClock:
    """The clock ``TRACKSIDE_CLOCK`` names, or the wall clock; a bad value is a ``ValueError``."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not value:
        return WallClock()
    kind, _, rest = value.partition(":")
    speed_text, _, origin_text = rest.partition(":")
    try:
        speed, origin = float(speed_text), float(origin_text)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={value!r}: write scaled:<speed>:<origin_s>") from None
    if kind != "scaled" or not speed > 0:
        raise ValueError(f"{ENV_VAR}={value!r}: write scaled:<speed>:<origin_s>, speed > 0")
    return ScaledClock(origin, speed)
