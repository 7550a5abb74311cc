"""Placing an athlete's readings on their plan: which lap, which mark, duplicate or not.

Theory of operation. An athlete's readings are folded in canonical time order
(``dedup.reading_key``) by ``Fold.step``; each step sees only the readings
before it, so the result is a function of the *set* of readings. A reading in
order costs one step; a late one makes the core rebuild the fold from scratch
(at most a few dozen steps). Each step:

1. Dedup: the same mark within ``dedup_window_s`` of the group's first
   reading joins that occurrence; the best source wins (``dedup.better``).
2. Candidates: later occurrences of the mark (``finish`` recurs every lap).
3. Plausibility: rejected if even the nearest candidate needs more than
   ``max_speed_mps`` from the last placed mark, both ends granted their
   source's timing tolerance; also rejected before the start or after a
   DNF/session end, and after the last mark of the plan.
4. Choice: the candidate closest to the predicted arrival, i.e. the last
   placed time plus the planned time in between scaled by the runner's
   recent ratio to plan. Missing a finish-line read therefore never shifts the
   lap count: the next reading is still placed by time, not by counting.
"""

from __future__ import annotations

from timing.dedup import Reading, better
from timing.progress import RATIO_SEGMENTS, PlanIndex
from timing.rules import CoreConfig


class Fold:
    """The placement of one athlete's readings; ``step`` them in canonical order."""

    __slots__ = ("idx", "rules", "start_s", "start_tol_s", "limit_s", "limit_code",
                 "best", "time", "first_t", "members", "placed", "last_occ", "last_t",
                 "last_tol", "rejected")

    def __init__(self, idx: PlanIndex, rules: CoreConfig, start_s: float, start_tol_s: float,
                 limit_s: float | None = None, limit_code: str = "after_dnf") -> None:
        self.idx = idx
        self.rules = rules
        self.start_s = start_s
        self.start_tol_s = start_tol_s
        self.limit_s = limit_s
        self.limit_code = limit_code
        n = idx.n
        self.best: list[Reading | None] = [None] * n
        self.time: list[float | None] = [None] * n
        self.first_t: list[float] = [0.0] * n
        self.members: list[list[int]] = [[] for _ in range(n)]
        self.placed: list[int] = []
        self.last_occ = -1
        self.last_t = start_s
        self.last_tol = start_tol_s
        #: rid -> (code, reason in plain words)
        self.rejected: dict[int, tuple[str, str]] = {}

    def ratio(self) -> float:
        """The runner's recent actual/planned time (1.0 before any mark)."""
        if not self.placed:
            return 1.0
        idx = self.idx
        last = self.placed[-1]
        if len(self.placed) > RATIO_SEGMENTS - 1:
            j = self.placed[-RATIO_SEGMENTS]
            t_j = self.time[j]
        else:
            j, t_j = -1, self.start_s
        planned = idx.cum_t[last] - idx.cum_t_at(j)
        r = (self.last_t - t_j) / planned if planned > 0 else 1.0  # type: ignore[operator]
        return min(max(r, self.rules.ratio_min), self.rules.ratio_max)

    def predict(self, mark: str) -> tuple[int, float] | None:
        """The next occurrence of ``mark`` and its predicted time (None if none is left)."""
        occs = self.idx.occ_by_mark.get(mark, ())
        r = self.ratio()
        base = self.idx.cum_t_at(self.last_occ)
        for k in occs:
            if k > self.last_occ:
                return k, self.last_t + (self.idx.cum_t[k] - base) * r
        return None

    def _reject(self, r: Reading, code: str, reason: str) -> int:
        self.rejected[r.rid] = (code, reason)
        return -1

    def step(self, r: Reading) -> int:
        """Place reading ``r`` (the next in canonical order) or record why not.

        Returns the occurrence it was placed on or merged into, or -1 if rejected.
        """
        idx, rules = self.idx, self.rules
        t = r.time_s
        mark = r.mark
        if t < self.start_s:
            return self._reject(r, "before_start", f"{mark} at {t:.3f} is before the athlete's "
                         f"start at {self.start_s:.3f}")
        if self.limit_s is not None and t > self.limit_s:
            what = "the session ended" if self.limit_code == "session_ended" else "the DNF"
            return self._reject(r, self.limit_code, f"{mark} at {t:.3f} is after {what} "
                         f"at {self.limit_s:.3f}")
        for k in self.placed[-2:][::-1]:
            if idx.marks[k] == mark and t - self.first_t[k] <= rules.dedup_window_s:
                self.members[k].append(r.rid)
                if better(r, self.best[k]):  # type: ignore[arg-type]
                    self.best[k] = r
                    self.time[k] = t
                    if k == self.last_occ:
                        self.last_t = t
                        self.last_tol = rules.tolerance_for(r.crossing.source)
                return k
        occs = idx.occ_by_mark.get(mark)
        if mark == idx.start_mark and (
                not occs or t - self.start_s < 0.5 * idx.cum_t[occs[0]]):
            return self._reject(r, "start_line", f"{mark} crossing at {t:.3f} is the start line, "
                         f"after the start at {self.start_s:.3f}")
        if not occs:
            return self._reject(r, "unknown_mark", f"mark {mark!r} is not on this athlete's plan "
                         f"({idx.plan.variant}, lane {idx.plan.lane})")
        cands = [k for k in occs if k > self.last_occ]
        if not cands:
            return self._reject(r, "after_finish", f"{mark} at {t:.3f} comes after the athlete's "
                         "last mark of the plan")
        dt = t - self.last_t
        slack = rules.max_speed_mps * (dt + self.last_tol + rules.tolerance_for(r.crossing.source))
        base_d = idx.cum_d_at(self.last_occ)
        plausible = [k for k in cands if idx.cum_d[k] - base_d <= slack]
        if not plausible:
            k = cands[0]
            dist = idx.cum_d[k] - base_d
            speed = dist / dt if dt > 0 else float("inf")
            return self._reject(r, "too_fast", f"{dist:.1f} m to {mark} in {dt:.2f} s is "
                         f"{speed:.1f} m/s, faster than the {rules.max_speed_mps} m/s limit "
                         "(world-record pace)")
        if len(plausible) == 1:  # the usual case: only the next occurrence is reachable
            best_k = plausible[0]
        else:
            ratio = self.ratio()
            base_t = idx.cum_t_at(self.last_occ)
            best_k = min(plausible, key=lambda k: (
                abs(t - (self.last_t + (idx.cum_t[k] - base_t) * ratio)), k))
        self.best[best_k] = r
        self.time[best_k] = t
        self.first_t[best_k] = t
        self.members[best_k].append(r.rid)
        self.placed.append(best_k)
        self.last_occ = best_k
        self.last_t = t
        self.last_tol = rules.tolerance_for(r.crossing.source)
        return best_k

    def state_before(self, time_s: float, exclude: frozenset[int]) -> tuple[int, float, float]:
        """(last occurrence, its time, ratio) from readings before ``time_s``, ignoring
        occurrences made only of readings in ``exclude`` (used to predict anonymous
        arrivals without counting the crossings being assigned). Scans backwards:
        usually it stops after one or two occurrences."""
        kept: list[int] = []
        for k in reversed(self.placed):
            t = self.time[k]
            if t is None or t >= time_s or all(rid in exclude for rid in self.members[k]):
                continue
            kept.append(k)
            if len(kept) == RATIO_SEGMENTS:
                break
        if not kept:
            return -1, self.start_s, 1.0
        last = kept[0]
        last_t: float = self.time[last]  # type: ignore[assignment]
        if len(kept) == RATIO_SEGMENTS:
            j = kept[-1]
            t_j: float = self.time[j]  # type: ignore[assignment]
        else:
            j, t_j = -1, self.start_s
        planned = self.idx.cum_t[last] - self.idx.cum_t_at(j)
        r = (last_t - t_j) / planned if planned > 0 else 1.0
        return last, last_t, min(max(r, self.rules.ratio_min), self.rules.ratio_max)
