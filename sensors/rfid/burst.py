"""Bursts of tag reads to one crossing each (pure: time comes in with the calls).

Theory of operation. A tag in a reader's field is read many times. Reads are
grouped per (tag, mark) into a *burst*; a burst is over once no read of it
has arrived for ``quiet_s``, and is then reduced to one crossing time by the
configured method (``estimate.py``). After a crossing, the same tag at the
same mark is in *dead time*: its reads are absorbed until it has been silent
for ``dead_time_s`` (a sliding window, so a tag lying by the track stays
absorbed however long it lies there). A tag seen continuously at a mark for
longer than ``stray_after_s`` (a runner passes in well under two seconds) is
a *stray*: a bag or a spare bib in the field. It is reported once, flagged
``stray``, and never as a crossing while it stays.

Two clocks: ``time_s`` of a read is when the tag was seen (the decoder's
clock or the arrival time), and dead time and stray use it; ``arrival_s`` is
the host clock when it arrived, and the quiet-time decision compares it with
``now_s`` given to ``poll``, so a decoder clock that is off never delays a
decision.

Two rules decide a burst. The *early* rule (methods that use RSSI): once
the tag is clearly past the antenna, its reads for ``early_hold_s`` all
``early_drop_db`` or more below the burst's strongest read (and at least
three reads, for slow readers) and the estimate falls before them, and two
such estimates ``early_check_s`` apart agree within ``early_agree_s``, the
crossing is emitted then, ~0.5 s (p50) after the true crossing instead of
~0.9 s; the rest of the burst (the tag is in the field another half
second) is absorbed by dead time, never a second crossing. Why the
agreement: a burst cut right where its reads first look 10 dB down is cut
where they happen to be low (a fade), which pulls the fit early; two
agreeing estimates mean the falling side seen so far no longer moves it.
The *quiet* rule is the fallback (no RSSI, a burst that never fades, a tag
that vanishes at its peak). Quiet times
are stretched by the link's measured arrival jitter (``jitter.py``) so a
slow or loaded host, or a fast session clock, does not cut a pass in two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .estimate import METHODS, estimate_used
from .jitter import ArrivalJitter
from .shapefit import SHADOW_MAX_DB, SHADOW_PRIOR_DB

#: Methods whose estimate needs the RSSI curve (and so can decide early).
RSSI_METHODS = frozenset({"fit", "shape", "strongest"})


@dataclass(frozen=True, slots=True)
class BurstConfig:
    """How bursts are cut and reduced.

    ``quiet_s`` of silence ends a burst whose last reads are ``tail_drop_db``
    below its peak (the tag is leaving the field); a burst that goes silent
    while still strong (a weak first cluster as the tag enters, a reader
    hiccup) waits up to ``max_quiet_s`` so the pass is not cut in two.
    Without RSSI the wait is three typical read gaps, within the same bounds.
    A burst of fewer than ``sparse_reads`` reads waits ``sparse_quiet_s``: a
    lone read at the field's edge comes up to half a second before the rest
    of the pass (1.6 % of simulated passes at 20-40 reads/s).
    ``offset_s`` is a per-mark calibration added to every estimate (a
    reader cable or a tag placement that shifts the peak; measure it once).
    ``shadow_db`` is the body shadow the ``shape`` fit expects once the tag
    is past the antenna: 2 dB for a bib on the chest (the default); 0 for a
    tag with no body behind it (a shoe or ankle tag, a tag on a stick), where
    the default would read 10-35 ms late.
    ``early`` turns on the early rule (see the module note);
    ``early_agree_s`` is how close two consecutive early estimates
    (``early_check_s`` of reads apart) must be (``None``: the first
    estimate decides, the session-3 rule); ``max_jitter_s`` caps how far
    measured arrival jitter may stretch the quiet times.
    """

    method: str = "fit"
    quiet_s: float = 0.2
    max_quiet_s: float = 0.28
    sparse_reads: int = 3
    sparse_quiet_s: float = 0.8
    tail_drop_db: float = 10.0
    dead_time_s: float = 8.0
    stray_after_s: float = 5.0
    offset_s: float = 0.0
    early: bool = True
    early_drop_db: float = 10.0
    early_hold_s: float = 0.2
    early_min_reads: int = 8
    max_jitter_s: float = 1.0
    early_agree_s: float | None = 0.004
    early_check_s: float = 0.05
    shadow_db: float = SHADOW_PRIOR_DB

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {METHODS}")
        if self.quiet_s <= 0 or self.dead_time_s < 0 or self.stray_after_s <= 0:
            raise ValueError("quiet_s and stray_after_s must be > 0, dead_time_s >= 0")
        if self.sparse_quiet_s < self.max_quiet_s:
            raise ValueError(f"sparse_quiet_s ({self.sparse_quiet_s:g} s) must not be under "
                             f"max_quiet_s ({self.max_quiet_s:g} s)")
        if self.max_quiet_s < self.quiet_s:
            raise ValueError(f"max_quiet_s ({self.max_quiet_s:g} s) must not be under quiet_s "
                             f"({self.quiet_s:g} s); BurstConfig.with_quiet sets both")
        if not 0.0 <= self.shadow_db <= SHADOW_MAX_DB:
            raise ValueError(f"shadow_db must be between 0 and {SHADOW_MAX_DB:g} dB, "
                             f"got {self.shadow_db}")

    def with_quiet(self, quiet_s: float) -> BurstConfig:
        """This configuration with another quiet time, ``max_quiet_s`` keeping its 1.4x room."""
        max_quiet_s = max(self.max_quiet_s, 1.4 * quiet_s)
        return replace(self, quiet_s=quiet_s, max_quiet_s=max_quiet_s,
                       sparse_quiet_s=max(self.sparse_quiet_s, max_quiet_s))


@dataclass(frozen=True, slots=True)
class BurstResult:
    """One decided burst: a crossing, or (``stray``) a tag sitting in the field.

    ``decided_s`` is the host-clock time the decision was made, so
    ``decided_after_s`` says how long after the estimated crossing the
    screen could know. ``method`` is the method that produced ``time_s``
    (a fallback shows: ``midpoint`` for a flat burst, ``single`` for one
    read); ``rule`` is ``early``, ``quiet``, ``flush``, ``decoder`` or
    ``stray``.
    """

    tag: str
    mark: str
    time_s: float
    reads: int
    rssi_peak: float | None
    method: str
    first_s: float
    last_s: float
    decided_s: float
    stray: bool = False
    antenna: int = 1
    rule: str = "quiet"

    @property
    def decided_after_s(self) -> float:
        """Decision time minus estimated crossing time (seconds)."""
        return self.decided_s - self.time_s


@dataclass(slots=True)
class _Burst:
    first_s: float
    last_s: float
    last_arrival_s: float
    antenna: int
    times_s: list[float] = field(default_factory=list)
    rssis: list[float | None] = field(default_factory=list)
    hits: int = 0
    early_checked_s: float = float("-inf")
    early_estimate_s: float | None = None


@dataclass(slots=True)
class _Dead:
    since_s: float
    last_s: float
    stray_reported: bool = False


class BurstEstimator:
    """Reads in (``add``), ``BurstResult`` values out (``add`` and ``poll``)."""

    def __init__(self, config: BurstConfig | None = None) -> None:
        self.config = config or BurstConfig()
        self._open: dict[tuple[str, str], _Burst] = {}
        self._dead: dict[tuple[str, str], _Dead] = {}
        self.jitter = ArrivalJitter()

    @property
    def open_bursts(self) -> int:
        """How many bursts are still collecting reads."""
        return len(self._open)

    def add(self, tag: str, mark: str, time_s: float, rssi: float | None = None, *,
            hits: int = 1, antenna: int = 1, arrival_s: float | None = None) -> list[BurstResult]:
        """Take one read; returns a stray report or a decoder crossing when one is due."""
        cfg = self.config
        key = (tag, mark)
        arrival = time_s if arrival_s is None else arrival_s
        self.jitter.read(time_s, arrival)
        dead = self._dead.get(key)
        if dead is not None:
            if time_s - dead.last_s < cfg.dead_time_s and key not in self._open:
                dead.last_s = max(dead.last_s, time_s)
                if not dead.stray_reported and dead.last_s - dead.since_s > cfg.stray_after_s:
                    dead.stray_reported = True
                    return [self._stray(tag, mark, dead.since_s, dead.last_s, arrival, rssi,
                                        antenna)]
                return []
            del self._dead[key]
        if cfg.method == "decoder":
            self._dead[key] = _Dead(time_s, time_s)
            return [BurstResult(tag, mark, time_s + cfg.offset_s, hits, rssi, "decoder",
                                time_s, time_s, arrival, antenna=antenna, rule="decoder")]
        burst = self._open.get(key)
        if burst is None:
            burst = self._open[key] = _Burst(time_s, time_s, arrival, antenna)
        if time_s < burst.last_s:  # out of order: keep the lists sorted
            index = len([t for t in burst.times_s if t <= time_s])
            burst.times_s.insert(index, time_s)
            burst.rssis.insert(index, rssi)
        else:
            burst.times_s.append(time_s)
            burst.rssis.append(rssi)
        burst.first_s = min(burst.first_s, time_s)
        burst.last_s = max(burst.last_s, time_s)
        burst.last_arrival_s = max(burst.last_arrival_s, arrival)
        burst.hits += hits
        if burst.last_s - burst.first_s > cfg.stray_after_s:
            del self._open[key]
            self._dead[key] = _Dead(burst.first_s, burst.last_s, stray_reported=True)
            peak = _peak(burst.rssis)
            return [self._stray(tag, mark, burst.first_s, burst.last_s, arrival, peak,
                                burst.antenna, burst.hits)]
        early = self._early_estimate(burst)
        if early is not None:
            return [self._decide(key, arrival, "early", early)]
        return []

    def _early_estimate(self, burst: _Burst) -> tuple[float, str] | None:
        """The early rule: the tag's RSSI has stayed well below its peak, after the estimate."""
        cfg = self.config
        if not cfg.early or cfg.method not in RSSI_METHODS or len(burst.times_s) < max(
                cfg.early_min_reads, 3) or burst.rssis[-1] is None:
            return None
        times, rssis = burst.times_s, burst.rssis
        if times[-1] - burst.early_checked_s < cfg.early_check_s:
            return None  # the fit is not cheap: look once per check interval of reads
        hold_from_s = times[-1] - cfg.early_hold_s
        recent = [i for i in range(len(times) - 1, -1, -1)
                  if times[i] >= hold_from_s or i >= len(times) - 3]  # at least three reads
        if len(recent) == len(times) or any(r is None for r in rssis):
            return None
        peak = max(rssis)  # type: ignore[type-var]
        if max(rssis[i] for i in recent) > peak - cfg.early_drop_db:  # type: ignore[operator]
            return None
        burst.early_checked_s = times[-1]
        time_s, used = estimate_used(cfg.method, times, rssis, cfg.shadow_db)
        if used not in RSSI_METHODS or time_s >= times[recent[-1]]:
            return None
        previous, burst.early_estimate_s = burst.early_estimate_s, time_s
        if cfg.early_agree_s is None or (
                previous is not None and abs(time_s - previous) <= cfg.early_agree_s):
            return time_s, used
        return None

    def _stray(self, tag: str, mark: str, first_s: float, last_s: float, now_s: float,
               rssi: float | None, antenna: int, reads: int = 0) -> BurstResult:
        return BurstResult(tag, mark, first_s, reads, rssi, self.config.method, first_s,
                           last_s, now_s, stray=True, antenna=antenna, rule="stray")

    def poll(self, now_s: float) -> list[BurstResult]:
        """Decide every burst that has been quiet long enough at host time ``now_s``."""
        self.jitter.poll(now_s)
        done = [key for key, b in self._open.items() if self._is_over(b, now_s)]
        return [self._decide(key, now_s, "quiet") for key in sorted(done)]

    def _is_over(self, burst: _Burst, now_s: float) -> bool:
        cfg = self.config
        quiet_s = now_s - burst.last_arrival_s - min(self.jitter.jitter_s, cfg.max_jitter_s)
        if quiet_s < cfg.quiet_s:
            return False
        if len(burst.times_s) < cfg.sparse_reads:
            # A read or two, then silence: most often a tag at the edge of the field
            # on its way in, the pass's main burst still to come (closed now, that
            # lone read would be the crossing, ~1 s early, and dead time would
            # swallow the real burst). A pass read only once still ends, later.
            return quiet_s >= cfg.sparse_quiet_s
        if quiet_s >= cfg.max_quiet_s:
            return True
        rssis = burst.rssis
        if all(r is not None for r in rssis):
            peak = max(rssis)  # type: ignore[type-var]
            recent = max(rssis[-3:])  # type: ignore[type-var]
            return peak - recent >= cfg.tail_drop_db  # type: ignore[operator]
        times = burst.times_s
        if len(times) < 3:
            return False
        gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
        return quiet_s >= 3.0 * gaps[len(gaps) // 2]

    def flush(self, now_s: float) -> list[BurstResult]:
        """Decide every open burst now (end of a session or of a capture)."""
        return [self._decide(key, now_s, "flush") for key in sorted(self._open)]

    def _decide(self, key: tuple[str, str], now_s: float, rule: str,
                estimate: tuple[float, str] | None = None) -> BurstResult:
        burst = self._open.pop(key)
        cfg = self.config
        time_s, used = estimate or estimate_used(cfg.method, burst.times_s, burst.rssis,
                                                   cfg.shadow_db)
        self._dead[key] = _Dead(burst.first_s, burst.last_s)
        return BurstResult(key[0], key[1], time_s + cfg.offset_s, burst.hits,
                           _peak(burst.rssis), used, burst.first_s, burst.last_s, now_s,
                           antenna=burst.antenna, rule=rule)

    def forget_before(self, time_s: float) -> None:
        """Drop dead-time records last seen before ``time_s`` (keeps memory bounded)."""
        for key in [k for k, d in self._dead.items() if d.last_s < time_s]:
            del self._dead[key]


def _peak(rssis: list[float | None]) -> float | None:
    values = [r for r in rssis if r is not None]
    return max(values) if values else None
