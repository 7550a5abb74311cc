"""The event core: session events and crossings in, split updates out. Pure.

Theory of operation. ``Core.handle(event)`` is the one entry point; it never
reads a clock, a file or a socket, and the same events always give the same
outputs (sort before emitting; no set or dict order of strings leaks out).

- A crossing is first resolved to an athlete: by ``athlete`` id, by RFID tag
  (or ``marker:<id>`` for a camera reading a bib marker), or, if anonymous,
  by predicted arrival (``association``). Unknown tags are kept and reported,
  and replayed if a later roster knows them.
- The athlete's readings are placed on the plan by ``placement.Fold``:
  duplicates merge (best source wins), implausible readings are rejected with
  a reason, missed marks are interpolated (``progress.fill_times``).
- ``AthleteTrack.refresh`` emits only updates that changed; a changed one is a
  correction. Outputs of one event: notices and rejections first, then the
  updates sorted by (time, athlete, segment), then finish notices; each output
  gets the next ``seq``.
- The lifecycle (waiting, running, finished, dnf) goes through the table in
  ``states``; the session events that drive it (start, recall, DNF, end) are
  handled in ``lifecycle``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from timing.anonymous import AnonCrossing, AnonymousMixin
from timing.athlete import AthleteTrack
from timing.checks import crossing_problem, event_time_problem, roster_problem
from timing.dedup import make_reading
from timing.events import Dnf, EndSession, Event, FalseStart, SessionSetup, Start
from timing.lifecycle import LifecycleMixin
from timing.outputs import snapshot
from timing.rules import CoreConfig
from timing.values import MARKS, Athlete, Crossing, Notice, Rejected, Session, SplitUpdate

Output = SplitUpdate | Rejected | Notice


def _stamp(output: Output, seq: int) -> None:
    """Give a new output its sequence number, once, before it leaves the core.

    Outputs are frozen for everyone else; stamping in place (instead of
    ``dataclasses.replace``) saves a copy of a 30-field value per update on the
    hot path. ``seq`` does not take part in equality.
    """
    object.__setattr__(output, "seq", seq)


class Core(LifecycleMixin, AnonymousMixin):
    """The pure event core. One instance per session; feed it with ``handle``."""

    def __init__(self, config: CoreConfig | None = None) -> None:
        self.rules = config or CoreConfig()
        self.session: Session | None = None
        self._rid = 0
        self._seq = 0
        self._clear_session_state()

    def _clear_session_state(self) -> None:
        """Everything one session owns; a new session id starts from here again."""
        self._tracks: dict[str, AthleteTrack] = {}
        self._order: list[str] = []
        self._pos: dict[str, int] = {}
        self._tags: dict[str, str] = {}
        self._anon: dict[tuple[str, str], list[AnonCrossing]] = {}
        self._unknown: list[Crossing] = []
        self._unknown_tags: dict[str, dict[str, Any]] = {}
        self._ingest_rejects: Counter[str] = Counter()
        self._ended_s: float | None = None
        self._crossings = 0
        self._corrections = 0
        self._last_update: SplitUpdate | None = None

    # ----------------------------------------------------------------- entry points
    def handle(self, event: Event) -> list[Output]:
        """Apply one event; return what to publish, in order, each with its ``seq``."""
        pre: list[Notice | Rejected] = []
        updates: list[SplitUpdate] = []
        post: list[Notice] = []
        problem = "" if isinstance(event, Crossing | SessionSetup) else \
            event_time_problem(event)
        if problem:
            pre.append(Notice("ignored", None, None, problem))
        elif isinstance(event, Crossing):
            self._crossing(event, pre, updates, post)
        elif isinstance(event, Start):
            self._start_event(event, pre, updates, post)
        elif isinstance(event, SessionSetup):
            self._setup(event.session, pre, updates, post)
        elif isinstance(event, FalseStart):
            self._false_start(event, pre)
        elif isinstance(event, Dnf):
            self._dnf(event, pre, updates, post)
        elif isinstance(event, EndSession):
            self._end(event, pre, updates, post)
        else:
            raise TypeError(f"the core does not handle {type(event).__name__} events")
        if len(updates) > 1:
            updates.sort(key=lambda u: (u.time_s, self._rank(u.athlete), u.index))
        out: list[Output] = [*pre, *updates, *post]
        seq = self._seq
        for o in out:
            seq += 1
            _stamp(o, seq)
        self._seq = seq
        for u in updates:
            if u.correction:
                self._corrections += 1
        if updates:
            self._last_update = updates[-1]
        return out

    def ingest(self, crossing: Crossing) -> list[Output]:
        """``handle`` for a crossing (the name sensors-side code reads best)."""
        return self.handle(crossing)

    # ------------------------------------------------------------------ accessors
    def athlete_ids(self) -> list[str]:
        """Athlete ids in roster order."""
        return list(self._order)

    def athlete(self, athlete_id: str) -> Athlete:
        return self._tracks[athlete_id].athlete

    def status(self, athlete_id: str) -> str:
        return self._tracks[athlete_id].status

    def start_s(self, athlete_id: str) -> float | None:
        return self._tracks[athlete_id].start_s

    def splits(self, athlete_id: str) -> list[SplitUpdate]:
        """The athlete's current update per segment reached, in plan order."""
        track = self._tracks[athlete_id]
        return [track.latest[k] for k in sorted(track.latest)]

    def track(self, athlete_id: str) -> AthleteTrack:
        """Internal state of one athlete (read-only use: tests, export)."""
        return self._tracks[athlete_id]

    @property
    def last_update(self) -> SplitUpdate | None:
        return self._last_update

    @property
    def ended_s(self) -> float | None:
        return self._ended_s

    @property
    def seq(self) -> int:
        return self._seq

    def counters(self) -> dict[str, Any]:
        """Counts for health and the snapshot (derived from state: replay-stable)."""
        rejected: Counter[str] = Counter(self._ingest_rejects)
        duplicates = estimated = ambiguous = 0
        for t in self._tracks.values():
            if t.fold is None:
                continue
            rejected.update(code for code, _ in t.fold.rejected.values())
            duplicates += sum(max(0, len(m) - 1) for m in t.fold.members)
            estimated += sum(1 for u in t.emitted.values() if "estimated" in u.flags)
            ambiguous += sum(1 for u in t.emitted.values() if "ambiguous" in u.flags)
        anonymous = unassigned = 0
        for group in self._anon.values():
            anonymous += len(group)
            unassigned += sum(1 for e in group if e.owner is None)
        if unassigned:
            rejected["unassigned"] += unassigned
        return {
            "crossings": self._crossings,
            "rejected": sum(rejected.values()),
            "rejected_by_reason": dict(sorted(rejected.items())),
            "duplicates": duplicates,
            "estimated": estimated,
            "ambiguous": ambiguous,
            "anonymous": anonymous,
            "unknown_tag_crossings": len(self._unknown),
            "corrections": self._corrections,
        }

    def unknown_tags(self) -> dict[str, dict[str, Any]]:
        """Tags seen but not on the roster: count, first/last time, marks."""
        return {tag: dict(v, marks=sorted(v["marks"]))
                for tag, v in sorted(self._unknown_tags.items())}

    def snapshot(self) -> dict[str, Any]:
        """The whole session as JSON-able values, for a client that (re)connects."""
        return snapshot(self)

    # ------------------------------------------------------------------- roster
    def _rank(self, athlete_id: str) -> int:
        return self._pos.get(athlete_id, len(self._order))

    def _setup(self, session: Session, pre: list, updates: list, post: list) -> None:
        # A bad roster entry is refused with a reason, never raised: the event is
        # already in the log, and a replay must get through it the same way.
        seen: set[str] = set()
        kept: list[Athlete] = []
        for a in session.athletes:
            problem = roster_problem(a, seen)
            if problem:
                pre.append(Notice("ignored", None, str(getattr(a, "id", "?")), problem))
                continue
            seen.add(a.id)
            kept.append(a)
        session = Session(session.id, session.name, tuple(kept))
        if self.session is not None and session.id != self.session.id:
            self._new_session(pre)
        for gone in [aid for aid in self._order if aid not in seen]:
            del self._tracks[gone]
            pre.append(Notice("ignored", None, gone, f"athlete {gone} left the roster"))
        self._order = [a.id for a in session.athletes]
        self._pos = {aid: i for i, aid in enumerate(self._order)}
        self._tags = {}
        for a in session.athletes:
            names = (*a.tags, *((f"marker:{a.marker_id}",) if a.marker_id is not None else ()))
            for tag in names:
                owner = self._tags.setdefault(tag, a.id)
                if owner != a.id:
                    pre.append(Notice("ignored", None, a.id,
                                      f"tag {tag} is already {owner}'s; kept on {owner}"))
            track = self._tracks.get(a.id)
            if track is None:
                self._tracks[a.id] = AthleteTrack(a, self.rules)
            elif track.athlete != a:
                replan = track.athlete.plan != a.plan
                track.set_plan(a)
                if replan:
                    track.rebuild()
                    self._refresh(track, 0, pre, updates, post)
        self.session = session
        pre.append(Notice("session", None, None,
                          f"session {session.name!r}: {len(session.athletes)} athletes"))
        waiting, self._unknown = self._unknown, []
        for c in waiting:
            if c.tag in self._tags:
                self._crossing(c, pre, updates, post, count=False)
            else:
                self._unknown.append(c)

    def _new_session(self, pre: list) -> None:
        # Another session id is another race: the same athlete ids run it from
        # scratch, so nothing of the previous one (tracks, packs, unknown tags,
        # counters, end) may leak into its splits. Sequence numbers go on.
        self._clear_session_state()
        pre.append(Notice("session", None, None, "a new session starts from a clean slate"))

    def _refresh(self, track: AthleteTrack, from_k: int, pre: list, updates: list,
                 post: list) -> None:
        track.refresh(from_k, updates, post)

    # ---------------------------------------------------------------- crossings
    def _reject(self, c: Crossing, code: str, reason: str, pre: list,
                athlete: str | None = None) -> None:
        self._ingest_rejects[code] += 1
        pre.append(Rejected(reason=reason, crossing=c, code=code, athlete=athlete))

    def _crossing(self, c: Crossing, pre: list, updates: list, post: list,
                  count: bool = True) -> None:
        if count:
            self._crossings += 1
        t = c.time_s
        problem = crossing_problem(c)
        if problem:
            self._reject(c, "invalid", problem, pre)
            return
        if c.mark not in MARKS:
            self._reject(c, "unknown_mark", f"unknown mark {c.mark!r} (one of "
                         f"{', '.join(MARKS)})", pre)
            return
        if self._ended_s is not None and t > self._ended_s:
            self._reject(c, "session_ended", f"{c.mark} at {t:.3f} is after the session "
                         f"ended at {self._ended_s:.3f}", pre)
            return
        if c.athlete is not None:
            track = self._tracks.get(c.athlete)
            if track is None:
                self._reject(c, "unknown_athlete", f"athlete {c.athlete!r} is not on the "
                             "roster", pre)
                return
        elif c.tag is not None:
            aid = self._tags.get(c.tag)
            if aid is None:
                self._keep_unknown(c, pre)
                return
            track = self._tracks[aid]
        else:
            self._anonymous(c, pre, updates, post)
            return
        self._identified(track, c, (), pre, updates, post)

    def _keep_unknown(self, c: Crossing, pre: list) -> None:
        tag = c.tag or ""
        self._unknown.append(c)
        info = self._unknown_tags.get(tag)
        if info is None:
            self._unknown_tags[tag] = {"count": 1, "first_s": c.time_s, "last_s": c.time_s,
                                       "marks": {c.mark}}
            pre.append(Notice("unknown_tag", c.time_s, None,
                              f"tag {tag} at {c.mark} is not on the roster; kept"))
        else:
            info["count"] += 1
            info["first_s"] = min(info["first_s"], c.time_s)
            info["last_s"] = max(info["last_s"], c.time_s)
            info["marks"].add(c.mark)

    def _identified(self, track: AthleteTrack, c: Crossing, flags: tuple[str, ...],
                    pre: list, updates: list, post: list) -> None:
        idx = track.idx
        if track.start_s is None:
            if c.mark == idx.start_mark:
                if self._start_track(track, c.time_s, "start_line",
                                     self.rules.tolerance_for(c.source), "detected_start",
                                     pre, updates, post):
                    return
            elif c.mark == idx.marks[0] and idx.dist[0] <= self.rules.detect_start_max_m:
                # The first mark is near the start: its time less the planned segment is
                # the start. The reading itself is then kept below, like any other.
                self._start_track(track, c.time_s - idx.target[0], "detected",
                                  self.rules.tolerance_for("detected"), "detected_start",
                                  pre, updates, post)
            if track.start_s is None:
                self._reject(c, "not_started", f"{track.athlete.name} has not started (no gun "
                             "and no start-line crossing yet)", pre, track.id)
                return
        records = track.records
        if records and c.time_s < records[-1].time_s - self.rules.reorder_window_s:
            self._reject(c, "stale", f"{c.mark} at {c.time_s:.3f} is more than "
                         f"{self.rules.reorder_window_s:.0f} s older than "
                         f"{track.athlete.name}'s newest reading", pre, track.id)
            return
        self._rid += 1
        from_k, _ = track.add(make_reading(self._rid, track.id, c, flags))
        pre.extend(track.new_rejections())
        self._refresh(track, from_k, pre, updates, post)
