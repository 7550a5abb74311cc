"""A line-oriented ASCII tag format for DIY readers and gates: a sans-IO codec.

One tag read per line, fields in the order a *pattern* gives. The default
pattern is ``TAG,EPOCH_MS,RSSI``, e.g. ``E2801160600002040A1B2C3D,1712345678123,-52``.
Pattern tokens:

=========  ==================================================
TAG        the tag id (any text without the separator)
EPOCH_MS   read time, integer or decimal ms since the Unix epoch
EPOCH_S    read time, decimal seconds since the Unix epoch
RSSI       signal strength, a number (higher is stronger)
ANT        antenna number (1..)
SKIP       a field to ignore
=========  ==================================================

The separator is whatever stands between the tokens (``,``, ``;``, ``|``,
a tab; a space means any run of whitespace). Lines end in LF, CRLF or a
bare CR (some gates and terminal-style firmwares send only CR); blank
lines and lines starting with ``#`` are skipped. Without a time token a
read is stamped with its arrival time. A line that does not fit becomes a
``FrameError`` quoting it, and the next line is read as usual.
"""

from __future__ import annotations

import re

from .codec import BufferedCodec
from .events import Event, FrameError, TagRead

DEFAULT_PATTERN = "TAG,EPOCH_MS,RSSI"
TOKENS = ("TAG", "EPOCH_MS", "EPOCH_S", "RSSI", "ANT", "SKIP")
#: Longest line accepted; a longer run without a newline is garbage.
MAX_LINE = 512


def parse_pattern(pattern: str) -> tuple[tuple[str, ...], str]:
    """Split a pattern like ``TAG;EPOCH_S;RSSI`` into its tokens and separator.

    Raises ``ValueError`` in plain words for unknown tokens, mixed
    separators, a missing ``TAG`` or two time fields.
    """
    parts = re.split(r"([A-Z_]+)", pattern.strip())
    tokens = tuple(parts[1::2])
    seps = {p for p in parts[2:-1:2]}
    if parts[0] or parts[-1]:
        raise ValueError(f"pattern {pattern!r} must start and end with a field name")
    unknown = [t for t in tokens if t not in TOKENS]
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} in pattern {pattern!r}; use {TOKENS}")
    if "TAG" not in tokens:
        raise ValueError(f"pattern {pattern!r} has no TAG field")
    if ("EPOCH_MS" in tokens) + ("EPOCH_S" in tokens) > 1 or len(set(tokens) - {"SKIP"}) != len(
        [t for t in tokens if t != "SKIP"]
    ):
        raise ValueError(f"pattern {pattern!r} repeats a field or has two time fields")
    if len(seps) > 1:
        raise ValueError(f"pattern {pattern!r} mixes separators {sorted(seps)}")
    sep = seps.pop() if seps else ","
    if not sep.strip():
        sep = " "
    if len(sep) != 1:
        raise ValueError(f"pattern {pattern!r}: the separator must be one character, not {sep!r}")
    if len(tokens) > 1 and sep in "0123456789.-+":
        raise ValueError(f"separator {sep!r} would clash with numbers")
    return tokens, sep


def format_line(tag: str, time_s: float, rssi: float | None = None, antenna: int = 1,
                pattern: str = DEFAULT_PATTERN) -> bytes:
    """One line for ``pattern`` (what a DIY reader would print), with CRLF."""
    tokens, sep = parse_pattern(pattern)
    values = {
        "TAG": tag, "EPOCH_MS": f"{time_s * 1000.0:.0f}", "EPOCH_S": f"{time_s:.3f}",
        "RSSI": "" if rssi is None else f"{rssi:g}", "ANT": str(antenna), "SKIP": "-",
    }
    return (sep.join(values[t] for t in tokens) + "\r\n").encode("ascii")


class AsciiCodec(BufferedCodec):
    """Lines in, ``TagRead`` out, for the configured ``pattern``."""

    def __init__(self, pattern: str = DEFAULT_PATTERN) -> None:
        super().__init__()
        self.pattern = pattern
        self._tokens, self._sep = parse_pattern(pattern)

    def _step(self) -> bool:
        ends = [i for i in (self._buf.find(b"\n"), self._buf.find(b"\r")) if i >= 0]
        end = min(ends) if ends else -1
        if end < 0:
            if len(self._buf) <= MAX_LINE:
                return False
            skipped = len(self._buf)
            self._buf.clear()
            self._events.append(FrameError(f"no line end within {MAX_LINE} bytes", skipped,
                                           self._at_s))
            return True
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        event = self._parse(line)
        if event is not None:
            self._events.append(event)
        return True

    def _parse(self, raw: bytes) -> Event | None:
        size = len(raw) + 1
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return FrameError(f"line is not ASCII text: {raw[:60]!r}", size, self._at_s)
        if not line or line.startswith("#"):
            return None
        if len(raw) > MAX_LINE:
            return FrameError(f"line longer than {MAX_LINE} bytes", size, self._at_s)
        parts = line.split() if self._sep == " " else [p.strip() for p in line.split(self._sep)]
        if len(parts) != len(self._tokens):
            return FrameError(
                f"expected {len(self._tokens)} fields ({self.pattern}), got {len(parts)}: "
                f"{line[:80]!r}", size, self._at_s)
        fields = dict(zip(self._tokens, parts, strict=True))
        tag = fields["TAG"]
        if not tag:
            return FrameError(f"empty tag in line {line[:80]!r}", size, self._at_s)
        try:
            time_s = self._at_s
            if "EPOCH_MS" in fields:
                time_s = float(fields["EPOCH_MS"]) / 1000.0
            elif "EPOCH_S" in fields:
                time_s = float(fields["EPOCH_S"])
            rssi = float(fields["RSSI"]) if fields.get("RSSI") else None
            antenna = int(fields.get("ANT", "1"))
        except ValueError:
            return FrameError(f"a number field does not parse in line {line[:80]!r}", size,
                              self._at_s)
        if time_s != time_s or abs(time_s) == float("inf") or (rssi is not None and (
                rssi != rssi or abs(rssi) == float("inf"))):
            return FrameError(f"time or RSSI is not a finite number in {line[:80]!r}", size,
                              self._at_s)
        return TagRead(tag, time_s, rssi, max(antenna, 1), 1, self._at_s)
