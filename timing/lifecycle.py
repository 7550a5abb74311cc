"""Session events that move athletes through their lifecycle: gun, recall, DNF, end.

Every transition goes through the table in ``states`` (``AthleteTrack.trigger``);
this mixin decides which athletes an event applies to, says in a ``Notice``
why one was ignored, and re-derives an athlete's updates when the transition
changes which of their readings count (a DNF or the session end cuts them
off). ``Core`` inherits it; the per-athlete state lives in ``AthleteTrack``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from timing import states
from timing.athlete import AthleteTrack
from timing.events import Dnf, EndSession, FalseStart, Start
from timing.values import Notice

if TYPE_CHECKING:
    from timing.anonymous import AnonCrossing
    from timing.rules import CoreConfig


class LifecycleMixin:
    """Core methods for start, false start, DNF and session end (see the module note)."""

    rules: CoreConfig
    _tracks: dict[str, AthleteTrack]
    _order: list[str]
    _anon: dict[tuple[str, str], list[AnonCrossing]]
    _ended_s: float | None
    # and from Core: _rank(athlete_id) and _refresh(track, from_k, pre, updates, post)

    def _targets(self, athletes: tuple[str, ...] | None, pre: list) -> list[AthleteTrack]:
        if athletes is None:
            return [self._tracks[a] for a in self._order]
        out = []
        for aid in athletes:
            track = self._tracks.get(aid)
            if track is None:
                pre.append(Notice("ignored", None, aid, f"athlete {aid} is not on the roster"))
            else:
                out.append(track)
        return sorted(out, key=lambda t: self._rank(t.id))

    def _start_track(self, track: AthleteTrack, time_s: float, source: str, tol_s: float,
                     trigger: str, pre: list, updates: list, post: list) -> bool:
        if not track.trigger(trigger):
            return False
        track.start_s = time_s
        track.start_source = source
        track.start_tol_s = tol_s
        track.rebuild()
        pre.append(Notice(trigger, time_s, track.id,
                          f"{track.athlete.name} started ({source})"))
        self._refresh(track, 0, pre, updates, post)
        return True

    def _start_event(self, event: Start, pre: list, updates: list, post: list) -> None:
        everyone = event.athletes is None
        for track in self._targets(event.athletes, pre):
            detected = track.status == states.RUNNING and track.start_source != "gun"
            if everyone and track.status != states.WAITING and not detected:
                continue
            if track.status == states.RUNNING and track.start_source == "gun":
                pre.append(Notice("ignored", event.time_s, track.id,
                                  f"{track.athlete.name} is already running "
                                  f"(gun at {track.start_s:.3f}); recall first"))
                continue
            if not self._start_track(track, event.time_s, "gun", self.rules.tolerance_for("gun"),
                                     "start", pre, updates, post):
                pre.append(Notice("ignored", event.time_s, track.id,
                                  f"{track.athlete.name} cannot start while {track.status}"))

    def _false_start(self, event: FalseStart, pre: list) -> None:
        for track in self._targets(event.athletes, pre):
            if track.start_s is None or not track.trigger("false_start"):
                continue
            track.forget()
            track.limit_s = None
            for group in self._anon.values():
                for e in group:
                    if e.owner == track.id:
                        e.owner, e.flags, e.reported = None, (), True
            pre.append(Notice("false_start", event.time_s, track.id,
                              f"{track.athlete.name} recalled: splits cleared, waiting"))

    def _dnf(self, event: Dnf, pre: list, updates: list, post: list) -> None:
        track = self._tracks.get(event.athlete)
        if track is None:
            pre.append(Notice("ignored", event.time_s, event.athlete,
                              f"athlete {event.athlete} is not on the roster"))
            return
        if not track.trigger("dnf"):
            pre.append(Notice("ignored", event.time_s, track.id,
                              f"{track.athlete.name} is {track.status}: no DNF"))
            return
        track.limit_s, track.limit_code = event.time_s, "after_dnf"
        pre.append(Notice("dnf", event.time_s, track.id, f"{track.athlete.name} did not finish"))
        if track.start_s is not None:
            track.rebuild()
            pre.extend(track.new_rejections())
            self._refresh(track, 0, pre, updates, post)

    def _end(self, event: EndSession, pre: list, updates: list, post: list) -> None:
        self._ended_s = event.time_s
        pre.append(Notice("session_end", event.time_s, None, "session ended"))
        for aid in self._order:
            track = self._tracks[aid]
            was = track.status
            track.trigger("session_end")
            if was == states.RUNNING and track.status == states.DNF:
                track.limit_s, track.limit_code = event.time_s, "session_ended"
                pre.append(Notice("dnf", event.time_s, aid,
                                  f"{track.athlete.name} was still running at the end"))
                track.rebuild()
                pre.extend(track.new_rejections())
                self._refresh(track, 0, pre, updates, post)
