"""Anonymous crossings inside the core: grouping a sensor's pack and assigning it.

The algorithm (cost = distance to the predicted arrival, Hungarian assignment,
the "ambiguous" test) is in ``association``; this mixin holds the core-side
bookkeeping: which anonymous crossing is currently given to whom, re-solving
a pack when a new crossing joins it, and moving readings between athletes
(which re-emits the changed updates as corrections). ``Core`` inherits it.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from typing import TYPE_CHECKING

from timing import states
from timing.association import IMPOSSIBLE, assign, lane_cost_s
from timing.athlete import AthleteTrack
from timing.dedup import make_reading, reading_key
from timing.values import Crossing, Rejected, flagged_lane

if TYPE_CHECKING:
    from timing.rules import CoreConfig


@dataclass(slots=True)
class AnonCrossing:
    """An anonymous crossing and who it is currently given to."""

    key: tuple
    rid: int
    crossing: Crossing
    owner: str | None = None
    flags: tuple[str, ...] = ()
    reported: bool = False


class AnonymousMixin:
    """Core methods for anonymous crossings (see the module note)."""

    rules: CoreConfig
    _tracks: dict[str, AthleteTrack]
    _order: list[str]
    _anon: dict[tuple[str, str], list[AnonCrossing]]
    _rid: int

    # ---------------------------------------------------------------- anonymous
    def _anonymous(self, c: Crossing, pre: list, updates: list, post: list) -> None:
        waiting = [self._tracks[a] for a in self._order
                   if self._tracks[a].status == states.WAITING
                   and self._tracks[a].idx.start_mark == c.mark]
        if waiting:
            tol = self.rules.tolerance_for(c.source)
            for track in waiting:
                self._start_track(track, c.time_s, "start_line", tol, "detected_start",
                                  pre, updates, post)
            return
        self._rid += 1
        entry = AnonCrossing(reading_key(c), self._rid, c)
        group = self._anon.setdefault((c.mark, c.sensor_id), [])
        insort(group, entry, key=lambda e: e.key)
        self._solve(self._cluster(group, entry), pre, updates, post)

    def _cluster(self, group: list[AnonCrossing], entry: AnonCrossing) -> list[AnonCrossing]:
        """The run of this sensor's crossings of this mark around ``entry``."""
        i = group.index(entry)
        lo = hi = i
        gap = self.rules.cluster_gap_s
        times = [e.crossing.time_s for e in group]
        while lo > 0 and times[lo] - times[lo - 1] <= gap:
            lo -= 1
        while hi + 1 < len(group) and times[hi + 1] - times[hi] <= gap:
            hi += 1
        cluster = group[lo:hi + 1]
        cap = self.rules.max_cluster
        if len(cluster) > cap:
            t = entry.crossing.time_s
            cluster = sorted(sorted(cluster, key=lambda e: (abs(e.crossing.time_s - t), e.key))
                             [:cap], key=lambda e: e.key)
        return cluster

    def _cost(self, track: AthleteTrack, c: Crossing, t0: float, rids: frozenset[int]) -> float:
        """Seconds of evidence against ``track`` for ``c``: time, plus lane when known."""
        cost = self._time_cost(track, c, t0, rids)
        if cost >= IMPOSSIBLE:
            return cost
        rules = self.rules
        return cost + lane_cost_s(flagged_lane(c.flags), track.athlete.lane,
                                  rules.lane_cost_s_per_lane, rules.lane_cost_max_s)

    def _time_cost(self, track: AthleteTrack, c: Crossing, t0: float,
                   rids: frozenset[int]) -> float:
        fold = track.fold
        t = c.time_s
        if fold is None or track.start_s is None or t <= track.start_s:
            return IMPOSSIBLE
        if track.limit_s is not None and t > track.limit_s:
            return IMPOSSIBLE
        idx, rules = track.idx, self.rules
        occs = idx.occ_by_mark.get(c.mark)
        if not occs:
            return IMPOSSIBLE
        for k in occs:  # the athlete's own reading of this mark: a duplicate
            tk = fold.time[k]
            if (tk is not None and abs(t - tk) <= rules.dedup_window_s
                    and not all(rid in rids for rid in fold.members[k])):
                return abs(t - tk)
        last, last_t, ratio = fold.state_before(t0, rids)
        base_t, base_d = idx.cum_t_at(last), idx.cum_d_at(last)
        reach = rules.max_speed_mps * (t - last_t + rules.tolerance_for(c.source) + 0.5)
        best = IMPOSSIBLE
        for k in occs:
            if k <= last or idx.cum_d[k] - base_d > reach:
                continue
            interval = (idx.cum_t[k] - base_t) * ratio
            cost = abs(t - (last_t + interval))
            if cost <= rules.association_gate_s + 0.1 * interval and cost < best:
                best = cost
        return best

    def _solve(self, cluster: list[AnonCrossing], pre: list, updates: list, post: list) -> None:
        rids = frozenset(e.rid for e in cluster)
        t0 = cluster[0].crossing.time_s
        cands: list[AthleteTrack] = []
        rows: list[list[float]] = [[] for _ in cluster]
        for aid in self._order:
            track = self._tracks[aid]
            if track.fold is None:
                continue
            col = [self._cost(track, e.crossing, t0, rids) for e in cluster]
            if min(col) < IMPOSSIBLE:
                cands.append(track)
                for row, v in zip(rows, col, strict=True):
                    row.append(v)
        result = assign(rows, self.rules.ambiguity_margin_s) if cands else [
            (None, False) for _ in cluster]
        touched: dict[str, list] = {}
        for e, (col, ambiguous) in zip(cluster, result, strict=True):
            owner = cands[col].id if col is not None else None
            flags = ("anonymous", "ambiguous") if ambiguous else ("anonymous",)
            if owner is None:
                flags = ()
            if (owner, flags) != (e.owner, e.flags):
                if e.owner is not None:
                    touched.setdefault(e.owner, []).append(("remove", e.rid))
                if owner is not None:
                    touched.setdefault(owner, []).append(("add", e))
                e.owner, e.flags = owner, flags
            if owner is None and not e.reported:
                e.reported = True
                pre.append(Rejected(reason=f"anonymous crossing of {e.crossing.mark} at "
                                    f"{e.crossing.time_s:.3f} matches no athlete's predicted "
                                    "arrival", crossing=e.crossing, code="unassigned"))
        for aid in sorted(touched, key=self._rank):
            track = self._tracks[aid]
            changes = touched[aid]
            if len(changes) == 1 and changes[0][0] == "add":
                e = changes[0][1]
                from_k, _ = track.add(make_reading(e.rid, aid, e.crossing, e.flags))
            else:
                for op, item in changes:
                    if op == "remove":
                        track.records = [r for r in track.records if r.rid != item]
                        track.announced.discard(item)
                for op, item in changes:
                    if op == "add":
                        insort(track.records, make_reading(item.rid, aid, item.crossing,
                                                           item.flags), key=lambda r: r.key)
                track.rebuild()
                from_k = 0
            pre.extend(track.new_rejections())
            self._refresh(track, from_k, pre, updates, post)
