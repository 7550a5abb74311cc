"""Line-crossing detector: frames and their times in, torso crossings out (pure).

Theory of operation. Each frame is reduced to the strip around the line
(``line.py``), compared with the background (``background.py``), and every
blob's torso is measured (``torso.py``). Torsos are tracked from frame to
frame by where they are along the line. For a track moving towards +d (the
line's normal) the signed distance of its leading edge from the line is
``e = front_plus``; towards -d it is ``-front_minus``. When ``e`` changes sign
the torso has reached the line between two frames; once ``after_frames``
more frames are in, a straight line ``e(t) = a + b t`` is fitted by least
squares to the (up to) two frames before and two after, and its root is the
crossing time. Constant speed over a few tens of milliseconds is a very good
model of a runner's torso (arms and legs swing, the torso does not).
The fit, its refinement and the checks that follow live in ``solve.py``.

Each sample's time is the frame's time (the middle of its exposure) plus,
with a rolling shutter, the readout delay of the image row the leading edge
was seen on: ``(y / height - 0.5) * readout_s``.

Crossings that cannot be timed cleanly are flagged rather than dropped:
``occluded`` (two bodies merged in the strip near the crossing),
``same_frame`` (another torso crossed within one frame interval),
``extrapolated`` (the torso was first seen already past the line),
``short_track`` (only one frame on one side). Tracks slower than
``min_speed_heights_per_s`` body heights per second (walkers) are ignored:
a runner at 4 m/s covers 2.3 heights per second, a jog at 2.5 m/s 1.4, a
brisk walk about 0.9.

Nothing here reads a clock or touches a file: time comes in with the frame.
"""

from __future__ import annotations

import logging
from collections import deque
from itertools import islice

import numpy as np

from sensors.camera.background import BackgroundModel
from sensors.camera.line import Line, StripGeometry, strip_geometry
from sensors.camera.solve import CrossingSolver
from sensors.camera.startup import HeldStrip, StartupBuffer
from sensors.camera.torso import TorsoObservation, find_torsos
from sensors.camera.tracks import (
    Sample,
    Track,
    along_overlap,
    body_overlap,
    body_sized,
    expected_crossing_s,
    near_across,
    samples_after,
    sign_change_frame,
)
from sensors.camera.values import DetectorSettings, LineCrossing

__all__ = ["Detector", "DetectorSettings", "LineCrossing"]

log = logging.getLogger(__name__)


#: A track keeps at most this many recent frames while it has not crossed.
MAX_TRACK_SAMPLES = 256
#: Once the start-up background is made, each new frame processes this many
#: strips of the held ones (its own goes to the back of the queue). Processing the
#: whole held second in one call took 0.6 s at 720p and 240 fps, more than the 0.25 s
#: a live source keeps; this way each call costs about two frames' work and the
#: backlog is gone one held span later.
CATCH_UP_STRIPS = 2
#: A body tracked on its own for this many frames keeps its own torso when it
#: touches another body (find_torsos' ``bodies``).
APART_FRAMES = 3
#: A torso no track claimed joins the track whose body (blob) it shares this much of
#: (over the shorter), the blob's height unchanged within as much (``_claim_swapped``).
SWAP_BODY_OVERLAP = 0.8
#: A whole body is at least this many times as tall as its widest part's half
#: depth (about 7 as measured here; an upper body or a pair of legs alone, 3 or 4).
WHOLE_BODY_RADII = 5.5


class Detector:
    """Feed frames in order with their times; get torso crossings back.

    >>> det = Detector(Line(320, 0, 320, 239))
    >>> crossings = det.feed(frame, t_s)   # doctest: +SKIP
    """

    def __init__(self, line: Line, settings: DetectorSettings | None = None) -> None:
        self.line = line
        self.settings = settings or DetectorSettings()
        s = self.settings
        self.geometry: StripGeometry = strip_geometry(
            line, s.half_width_px, max_samples_along=s.max_samples_along
        )
        self.background = BackgroundModel(s.background)
        self._solver = CrossingSolver(line, self.geometry, s)
        self.frames = 0
        self._tracks: list[Track] = []
        self._next_id = 1
        self._recent: list[LineCrossing] = []
        #: The last few tracks dropped (``claimed_in_turn`` looks at them too).
        self._gone: list[Track] = []
        self._last_t: float | None = None
        #: Time of the last frame processed (held start-up strips lag the last fed).
        self._processed_t: float | None = None
        self._startup = StartupBuffer(s.bootstrap_s) if s.bootstrap_s > 0 else None
        #: Strips held at start-up and not processed yet (see CATCH_UP_STRIPS).
        self._backlog: deque[HeldStrip] = deque()
        self._dt_s: float | None = None
        self._image_height: int | None = None
        n_along = self.geometry.shape[1]
        self._min_height = max(4, int(s.min_height_fraction * n_along))
        self._min_area = max(12, self._min_height * 2)
        self.out_of_order = 0

    # -- public ---------------------------------------------------------------

    def feed(self, frame: np.ndarray, t_s: float) -> list[LineCrossing]:
        """Process one frame taken at ``t_s`` (middle of exposure, seconds).

        Returns the crossings that became certain with this frame (usually
        none; a crossing is reported ``after_frames`` frames after it happens,
        and those of the first ``bootstrap_s`` seconds later: the frames are
        held until then to make the first background, startup.py, and worked
        off ``CATCH_UP_STRIPS`` per frame after it).
        Frames must come in time order; a frame older than the last is
        counted in ``out_of_order`` and ignored.
        """
        if frame is None or frame.ndim not in (2, 3) or frame.size == 0:
            raise ValueError("feed() needs an image array (HxW or HxWx3)")
        if self._last_t is not None and t_s <= self._last_t:
            self.out_of_order += 1
            log.warning("frame at %.6f s is not after %.6f s: ignored", t_s, self._last_t)
            return []
        self._last_t = t_s
        held = HeldStrip(self.geometry.sample(frame), t_s, self.frames, frame.shape[0])
        self.frames += 1
        if self._startup is None:
            if not self._backlog:
                return self._process(held)
            self._backlog.append(held)
            return self._catch_up(CATCH_UP_STRIPS)
        if self._startup.held and held.strip.shape != self._startup.held[0].strip.shape:
            # The camera changed its picture format (colour to infrared, say) meanwhile.
            self._start()
            self._backlog.append(held)
            return self._catch_up(len(self._backlog))
        if not self._startup.add(held):
            return []
        self._start()
        return self._catch_up(CATCH_UP_STRIPS)

    def flush(self) -> list[LineCrossing]:
        """End of footage: solve crossings still waiting for frames after them."""
        # Footage shorter than the start-up time: start from what there is.
        if self._startup is not None and self._startup.held:
            self._start()
        early = self._catch_up(len(self._backlog))
        out = []
        for track in self._tracks:
            if track.crossing_frame is not None and not track.done:
                c = self._solve(track)
                track.done = True
                if c is not None:
                    out.append(c)
        self._tracks = []
        return early + self._finish(out)

    @property
    def frame_interval_s(self) -> float | None:
        return self._dt_s

    # -- per frame ------------------------------------------------------------

    def _start(self) -> None:
        """Start the background from what the held strips agree on; they become the backlog."""
        assert self._startup is not None
        startup, self._startup = self._startup, None
        self.background.start_from(startup.background())
        self._backlog.extend(startup.held)

    def _catch_up(self, n: int) -> list[LineCrossing]:
        """Process up to ``n`` strips of the backlog, oldest first."""
        out: list[LineCrossing] = []
        for _ in range(min(n, len(self._backlog))):
            out += self._process(self._backlog.popleft())
        return out

    def _process(self, held: HeldStrip) -> list[LineCrossing]:
        if self._processed_t is not None:
            dt = held.t_s - self._processed_t
            self._dt_s = dt if self._dt_s is None else 0.9 * self._dt_s + 0.1 * dt
        self._processed_t = held.t_s
        self._image_height = held.image_height
        index, t_s, strip = held.index, held.t_s, held.strip
        fg = self.background.apply(strip)
        if fg.count >= self._min_area:
            hints = {(t.last.col_lo, t.last.col_hi): t.radius for t in self._tracks if t.samples}
            torsos = find_torsos(
                fg.mask, fg.difference, self._min_area, self._min_height, hints,
                _colour(strip), self._apart(), self._stacked_last(),
            )
        else:
            torsos = []
        self._associate(torsos, index, t_s)
        return self._harvest(index)

    # -- tracking -------------------------------------------------------------

    def _associate(self, torsos: list[TorsoObservation], index: int, t_s: float) -> None:
        claims: dict[int, list[int]] = {}
        for i, obs in enumerate(torsos):
            best, best_overlap = None, 0.0
            for k, track in enumerate(self._tracks):
                if not track.samples or not near_across(track, obs):
                    continue
                o = along_overlap(obs, track.last)
                if o > best_overlap:
                    best, best_overlap = k, o
            if best is not None and best_overlap >= 0.3:
                claims.setdefault(best, []).append(i)
        self._claim_swapped(torsos, claims, index)
        claimed_by: dict[int, list[int]] = {}
        for k, idxs in claims.items():
            idxs.sort(key=lambda i: -torsos[i].area)
            claimed_by.setdefault(idxs[0], []).append(k)
            if any(body_sized(torsos[i], torsos[idxs[0]]) for i in idxs[1:]):
                # One body came apart into two body-sized ones (two runners parting);
                # a limb or a shadow coming loose is no second body.
                self._tracks[k].merge_frames.append(index)
        used = set()
        for i, ks in claimed_by.items():
            # Two tracks ran into one blob: two bodies only if both were body-sized.
            lasts = sorted((self._tracks[k].last for k in ks), key=lambda o: -o.area)
            two_bodies = any(body_sized(o, lasts[0]) for o in lasts[1:])
            for k in ks:
                track = self._tracks[k]
                track.samples.append(self._sample(torsos[i], index, t_s))
                if len(track.samples) > MAX_TRACK_SAMPLES and track.crossing_frame is None:
                    # Someone standing in the strip: keep memory and per-frame work bounded.
                    del track.samples[: len(track.samples) - MAX_TRACK_SAMPLES]
                    track.scan = None
                track.missed = 0
                track.radius = max(0.8 * track.radius, torsos[i].radius)
                if two_bodies:
                    track.merge_frames.append(index)
            used.add(i)
        for k, track in enumerate(self._tracks):
            if k not in claims:
                track.missed += 1
        for i, obs in enumerate(torsos):
            if i not in used:
                track = Track(self._next_id, radius=obs.radius)
                track.alone = not any(
                    t.samples and along_overlap(obs, t.last) > 0 for t in self._tracks
                )
                track.beside = any(
                    t.samples and body_overlap(obs, t.last) >= 0.5 for t in self._tracks
                )
                self._next_id += 1
                track.samples.append(self._sample(obs, index, t_s))
                self._tracks.append(track)
        for track in self._tracks:
            if not track.done:
                # Re-decided every frame: the direction firms up as the body moves.
                track.crossing_frame = sign_change_frame(track)

    def _claim_swapped(self, torsos: list[TorsoObservation], claims: dict[int, list[int]],
                       index: int) -> None:
        """Give a torso no track claimed to the track whose whole body it shares.

        Two runners whose bodies merged into one blob before they entered the
        strip are one blob, and the torso measured in it is the larger of their
        two: it swaps between them from frame to frame, far apart along the
        line. Tracked by torsos alone, each swap started a new track and ended
        one, neither saw its runner reach the line, and two runners gave
        nothing. The blob stays where it was: its track keeps it, and the swap
        is noted (``Track.swaps``: the crossing is flagged ``occluded``).
        """
        taken = {i for idxs in claims.values() for i in idxs}
        for i, obs in enumerate(torsos):
            if i in taken:
                continue
            for k, track in enumerate(self._tracks):
                if (k not in claims and track.samples and not track.done
                        and track.missed == 0 and near_across(track, obs)
                        and body_overlap(obs, track.last) >= SWAP_BODY_OVERLAP
                        and abs(obs.height - track.last.height)
                        <= (1 - SWAP_BODY_OVERLAP) * track.last.height):
                    claims[k] = [i]
                    track.swaps.append(index)
                    break

    def _apart(self) -> list[tuple[int, int]]:
        """Torso columns of two or more bodies that were apart in the last frame.

        One is a body tracked for ``APART_FRAMES`` frames; another is anything
        seen last frame wholly outside the extent that body had over those
        frames (a head below a far runner's feet is a nearer runner's head). A
        runner's own head, limbs or entering parts lie inside its extent, and
        two pieces of one runner entering the strip are not yet a tracked body.
        """
        seen = [t for t in self._tracks if t.samples and t.missed == 0 and not t.done]
        if len(seen) < 2:
            return []
        pairs = set()
        # Only what was seen whole speaks: a cut part's extent ends at the cut
        # (not so a part cut between two stacked torsos: each is a whole body).
        whole = {t.track_id: list(islice((x.obs for x in reversed(t.samples)
                                          if not x.obs.cut or x.obs.stacked),
                                         APART_FRAMES)) for t in seen}
        for a in seen:
            recent = whole[a.track_id]
            if len(recent) < APART_FRAMES:
                continue
            lo = min(o.body_lo for o in recent)
            hi = max(o.body_lo + o.height for o in recent)
            if hi - lo < WHOLE_BODY_RADII * max(o.radius for o in recent):
                continue  # a runner's upper body or legs entering the strip, not a whole body
            for b in seen:
                b_last = whole[b.track_id][0] if whole[b.track_id] else None
                if b is not a and b_last is not None and (
                        b_last.body_lo >= hi or b_last.body_lo + b_last.height <= lo):
                    pairs.update((a.track_id, b.track_id))
        return [(t.last.col_lo, t.last.col_hi) for t in seen if t.track_id in pairs]

    def _stacked_last(self) -> list[tuple[int, int]]:
        """Column ranges of the blobs seen holding two stacked torsos in the last frame."""
        return [(t.last.body_lo, t.last.body_lo + t.last.height - 1) for t in self._tracks
                if t.samples and t.missed == 0 and not t.done and t.last.stacked]

    def _sample(self, obs: TorsoObservation, index: int, t_s: float) -> Sample:
        g = self.geometry
        c = g.center_row
        top = len(g.d_px) - 1
        return Sample(
            frame=index,
            time_s=t_s,
            obs=obs,
            e_plus_px=(obs.front_plus - c) * g.step_px,
            e_minus_px=(c - obs.front_minus) * g.step_px,
            t_plus_s=t_s + self._shutter_delay(obs.front_plus, obs.front_plus_col),
            t_minus_s=t_s + self._shutter_delay(obs.front_minus, obs.front_minus_col),
            clip_plus=obs.front_plus >= top - 1.0,
            clip_minus=obs.front_minus <= 1.0,
            edges_plus_px=self._edge_profile(obs, obs.edges_plus, +1),
            edges_minus_px=self._edge_profile(obs, obs.edges_minus, -1),
        )

    def _edge_profile(self, obs: TorsoObservation, rows: np.ndarray | None,
                      sign: int) -> np.ndarray:
        g = self.geometry
        out = np.full(g.shape[1], np.nan)
        if rows is not None:
            out[obs.edges_col0 : obs.edges_col0 + len(rows)] = (
                sign * (rows - g.center_row) * g.step_px
            )
        return out

    def _shutter_delay(self, row: float, col: float) -> float:
        readout = self.settings.readout_s
        if not readout or not self._image_height:
            return 0.0
        y = float(self.geometry.image_y(row, col))
        return (y / self._image_height - 0.5) * readout

    def _harvest(self, index: int) -> list[LineCrossing]:
        out = []
        keep = []
        for track in self._tracks:
            waiting = track.crossing_frame is not None and not track.done
            if waiting and (
                index - track.crossing_frame >= self.settings.after_frames - 1
                and samples_after(track) >= self.settings.after_frames
                and self._window_complete(track)
                or track.missed > 1
            ):
                c = self._solve(track)
                if c is not None or track.missed > 1:
                    track.done = True
                if c is not None:
                    out.append(c)
            if track.missed <= 2:
                keep.append(track)
            else:
                self._gone = (self._gone + [track])[-8:]  # still seen by claimed_in_turn
        self._tracks = keep
        return self._finish(out)

    def _window_complete(self, track: Track) -> bool:
        """Has enough footage after the crossing come in for the envelope?"""
        first_after = next(s for s in track.samples if s.frame >= (track.crossing_frame or 0))
        return track.samples[-1].time_s - first_after.time_s >= self.settings.envelope_window_s

    def _solve(self, track: Track) -> LineCrossing | None:
        return self._solver.solve(track, self._dt_s, self._image_height,
                                  self._tracks + self._gone)

    def _finish(self, crossings: list[LineCrossing]) -> list[LineCrossing]:
        """Flag crossings within one frame interval of another; keep a short memory."""
        if not crossings:
            return []
        dt = self._dt_s or 0.0
        out = []
        for c in crossings:
            others = [o for o in self._recent + crossings if o is not c]
            close = any(abs(o.time_s - c.time_s) < dt for o in others)
            pending = any(
                t.track_id != c.track_id
                and (t_s := expected_crossing_s(t)) is not None and abs(t_s - c.time_s) < dt
                for t in self._tracks
            )
            if (close or pending) and "same_frame" not in c.flags:
                c = _with_flag(c, "same_frame")
            out.append(c)
        self._recent = (self._recent + out)[-8:]
        out.sort(key=lambda c: c.time_s)
        return out


def _with_flag(c: LineCrossing, flag: str) -> LineCrossing:
    from dataclasses import replace

    return replace(c, flags=(*c.flags, flag), confidence=round(c.confidence * 0.7, 3))


def _colour(strip: np.ndarray) -> np.ndarray | None:
    """The strip's BGR colours for the shirt test; None for a monochrome camera."""
    if strip.ndim == 2 or strip.shape[2] == 1:
        return None
    return strip if strip.shape[2] == 3 else np.ascontiguousarray(strip[:, :, :3])
