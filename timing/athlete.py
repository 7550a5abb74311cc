"""One athlete's timing state inside the core: readings, placement, emitted updates.

``AthleteTrack`` owns the athlete's readings (kept in canonical order), their
``Fold`` and the last update emitted per segment. After any change it
recomputes the updates that may have changed and returns only those that
differ from what was emitted (re-emitted ones are marked ``correction``), so
the dashboard never sees the same update twice and always ends up with the
state a clean replay gives.
"""

from __future__ import annotations

from bisect import insort

from timing import states
from timing.dedup import Reading
from timing.placement import Fold
from timing.progress import PlanIndex, as_correction, build_update, fill_times, index_plan
from timing.rules import CoreConfig
from timing.values import Athlete, Notice, Rejected, SplitUpdate


class AthleteTrack:
    """Mutable per-athlete state; only the core touches it."""

    __slots__ = ("athlete", "idx", "rules", "status", "start_s", "start_source", "start_tol_s",
                 "limit_s", "limit_code", "records", "fold", "emitted", "latest", "announced")

    def __init__(self, athlete: Athlete, rules: CoreConfig) -> None:
        self.athlete = athlete
        self.idx: PlanIndex = index_plan(athlete.plan)
        self.rules = rules
        self.status = states.WAITING
        self.start_s: float | None = None
        self.start_source = ""
        self.start_tol_s = 0.0
        self.limit_s: float | None = None
        self.limit_code = "after_dnf"
        self.records: list[Reading] = []
        self.fold: Fold | None = None
        #: segment index -> the update as last emitted (without seq / correction marks)
        self.emitted: dict[int, SplitUpdate] = {}
        #: segment index -> the update as last published (with seq and correction marks)
        self.latest: dict[int, SplitUpdate] = {}
        #: rids whose rejection was already reported
        self.announced: set[int] = set()

    @property
    def id(self) -> str:
        return self.athlete.id

    def trigger(self, trigger: str) -> bool:
        """Apply a lifecycle trigger through the table; False if the table forbids it."""
        nxt = states.next_status(self.status, trigger)
        if nxt is None:
            return False
        self.status = nxt
        return True

    def set_plan(self, athlete: Athlete) -> None:
        """A roster edit: new name/tags keep the state; a new plan re-places everything."""
        plan_changed = athlete.plan != self.athlete.plan
        self.athlete = athlete
        if plan_changed:
            self.idx = index_plan(athlete.plan)
            self.emitted.clear()
            self.latest.clear()

    def rebuild(self) -> None:
        """Fold every reading again from the start (after a late reading or a new start)."""
        if self.start_s is None:
            self.fold = None
            return
        fold = Fold(self.idx, self.rules, self.start_s, self.start_tol_s,
                    self.limit_s, self.limit_code)
        for r in self.records:
            fold.step(r)
        self.fold = fold

    def add(self, reading: Reading) -> tuple[int, bool]:
        """Add a reading. Returns (first segment index whose update may change, rebuilt?);
        the index is ``n`` when nothing changed."""
        fold = self.fold
        assert fold is not None, "readings are only added to a started athlete"
        if not self.records or reading.key >= self.records[-1].key:
            self.records.append(reading)
            before = fold.last_occ
            k = fold.step(reading)
            if k < 0:
                return self.idx.n, False
            return (k if k <= before else before + 1), False
        insort(self.records, reading, key=lambda r: r.key)
        self.rebuild()
        return 0, True

    def remove(self, rid: int) -> None:
        """Take a reading away (an anonymous crossing moved to someone else)."""
        self.records = [r for r in self.records if r.rid != rid]
        self.announced.discard(rid)
        self.rebuild()

    def forget(self) -> None:
        """A recall: no start, no readings, nothing emitted."""
        self.start_s = None
        self.start_source = ""
        self.records.clear()
        self.fold = None
        self.emitted.clear()
        self.latest.clear()
        self.announced.clear()

    def new_rejections(self) -> list[Rejected]:
        """Rejections of readings not reported yet, in canonical order."""
        fold = self.fold
        if fold is None or all(rid in self.announced for rid in fold.rejected):
            return []
        out: list[Rejected] = []
        for r in self.records:
            why = fold.rejected.get(r.rid)
            if why is not None and r.rid not in self.announced:
                self.announced.add(r.rid)
                out.append(Rejected(reason=why[1], crossing=r.crossing, code=why[0],
                                    athlete=self.id))
        return out

    def refresh(self, from_k: int, updates: list[SplitUpdate], notices: list[Notice]) -> None:
        """Recompute updates from segment ``from_k`` on; append the changed ones.

        Also retracts updates beyond the last placed mark and moves the status
        to finished (or back) through the table.
        """
        fold = self.fold
        last = fold.last_occ if fold is not None else -1
        if fold is not None and last >= 0 and from_k <= last:
            start = self.start_s
            assert start is not None
            times = fill_times(self.idx, start, fold.time, last)
            extra = ("detected_start",) if self.start_source == "detected" else ()
            for k in range(from_k, last + 1):
                best = fold.best[k]
                if best is None:
                    source, sensor, flags = "estimated", "", ("estimated",) + extra
                else:
                    c = best.crossing
                    source, sensor, flags = c.source, c.sensor_id, best.flags + extra
                u = build_update(self.idx, self.id, start, times, k,
                                 source=source, sensor_id=sensor, flags=flags)
                old = self.emitted.get(k)
                if old != u:
                    self.emitted[k] = u
                    if old is not None:
                        u = as_correction(u)
                    self.latest[k] = u
                    updates.append(u)
        stale = sorted(k for k in self.emitted if k > last) if len(self.emitted) > last + 1 else ()
        for k in stale:
            old = self.emitted.pop(k)
            self.latest.pop(k, None)
            notices.append(Notice("retracted", old.time_s, self.id,
                                  f"{old.segment} of lap {old.lap} no longer holds",
                                  lap=old.lap, segment=old.segment))
        finished = last == self.idx.n - 1
        if finished and self.status != states.FINISHED and self.trigger("finish"):
            notices.append(Notice("finished", fold.time[last] if fold else None, self.id,
                                  f"{self.athlete.name} finished"))
        elif not finished and self.status == states.FINISHED and self.trigger("unfinish"):
            notices.append(Notice("unfinished", None, self.id,
                                  f"{self.athlete.name}'s finish no longer holds"))
