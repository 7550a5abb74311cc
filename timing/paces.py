"""Reading and writing times and paces as people write them ("20:00", "4:00/km").

Pure string <-> seconds conversions, so the CLI, the REST API and the config
files all accept the same notations.
"""

from __future__ import annotations

import math
import re

#: metres per unit a pace may be given in.
PACE_UNITS_M: dict[str, float] = {"km": 1000.0, "mi": 1609.344, "mile": 1609.344, "400": 400.0,
                                  "400m": 400.0}

_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)\s*$|^\s*(\d+(?:\.\d*)?)\s*s?\s*$")


def parse_clock_s(text: str) -> float:
    """Parse ``"h:mm:ss.s"``, ``"m:ss.s"`` or plain seconds (``"96"``, ``"96.5s"``).

    Raises ``ValueError`` with the offending text when it is not a time.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _CLOCK.match(str(text))
        if not match:
            raise ValueError(f"{text!r} is not a time (write m:ss, h:mm:ss or seconds)")
        hours, minutes, seconds, plain = match.groups()
        if plain is not None:
            value = float(plain)
        else:
            if float(seconds) >= 60:
                raise ValueError(f"{text!r} has {seconds} seconds in a minute")
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a time")
    return value


def parse_pace_s_per_400m(text: str) -> float:
    """Parse a pace such as ``"4:00/km"``, ``"6:26/mi"``, ``"96/400"`` into s per 400 m.

    A bare time is taken as seconds per 400 m.
    """
    value, _, unit = str(text).partition("/")
    unit = unit.strip().lower() or "400"
    if unit not in PACE_UNITS_M:
        raise ValueError(f"{text!r}: unknown pace unit {unit!r} (use /km, /mi or /400)")
    return parse_clock_s(value) * 400.0 / PACE_UNITS_M[unit]


def format_clock(seconds: float, decimals: int = 1) -> str:
    """Format seconds as ``m:ss.s`` (or ``h:mm:ss.s``); negative gets a minus sign."""
    sign = "-" if seconds < 0 else ""
    scale = 10**decimals
    total = round(abs(seconds) * scale)
    whole, frac = divmod(total, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    tail = f".{frac:0{decimals}d}" if decimals else ""
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}{tail}"
    return f"{sign}{minutes}:{secs:02d}{tail}"


def format_deviation(seconds: float) -> str:
    """Format a deviation from plan with its sign, as the screens show it: ``+1.4``, ``-0.3``."""
    return f"{seconds:+.1f}"
