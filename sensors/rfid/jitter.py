"""How late reads can arrive on this link: the floor under a burst's quiet time.

Why: a burst is closed when no read has *arrived* for a quiet time, but a
read that happened may still be on its way: in a pty or socket buffer, in a
reader thread the OS has not run yet, or behind a host loop that stalled
under CPU load. With a fast session clock (a demo at 4x) every real
millisecond of that is four session milliseconds, so a fixed quiet time that
is fine at 1x cuts passes in two. The tracker measures the link's own
lateness in session seconds and the burst estimator waits that much longer:

* latency: ``arrival - read time`` of recent reads, the largest minus the
  median (a constant offset between the reader's clock and the host's
  cancels; a reader thread or emulator that stalled shows as a late read);
* host stalls: the gaps between the host's polls of the estimator, the
  largest minus the median (the nominal loop period is not jitter).

The largest, not a p95: stalls are rare (a 100 ms pause once a second is
under 1 % of a 120 Hz loop's gaps) but each one is exactly what cuts a
burst. The window is short (256 samples, seconds at typical rates), so one
stall stretches the quiet times only for a while.

Pure: times come in with the calls. Bounded memory.
"""

from __future__ import annotations

from collections import deque

#: Samples kept per measure (a few seconds of reads at typical rates).
WINDOW = 256
#: Fewest samples before a measure counts (a couple of passes' worth of reads).
MIN_SAMPLES = 16
#: Poll gaps longer than this are an idle or stopped loop, not jitter.
MAX_GAP_S = 5.0


def _excess(values: deque[float]) -> float:
    """Largest minus median, 0 until there are enough samples."""
    if len(values) < MIN_SAMPLES:
        return 0.0
    ordered = sorted(values)
    return ordered[-1] - ordered[len(ordered) // 2]


class ArrivalJitter:
    """Tracks read latencies and host poll gaps; ``jitter_s`` is the extra wait they call for."""

    def __init__(self) -> None:
        self._latencies_s: deque[float] = deque(maxlen=WINDOW)
        self._poll_gaps_s: deque[float] = deque(maxlen=WINDOW)
        self._last_poll_s: float | None = None

    def read(self, time_s: float, arrival_s: float) -> None:
        """A read seen at ``time_s`` (its own clock) arrived at ``arrival_s`` (host clock)."""
        self._latencies_s.append(arrival_s - time_s)

    def poll(self, now_s: float) -> None:
        """The host looked at ``now_s``."""
        if self._last_poll_s is not None and 0.0 <= now_s - self._last_poll_s <= MAX_GAP_S:
            self._poll_gaps_s.append(now_s - self._last_poll_s)
        self._last_poll_s = now_s

    @property
    def jitter_s(self) -> float:
        """Session seconds a read may arrive later than usual (0 until enough samples)."""
        return max(_excess(self._latencies_s), _excess(self._poll_gaps_s))
