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

import numpy as np

from sensors.camera.association import associate, bodies_apart, stacked_last
from sensors.camera.background import BackgroundModel
from sensors.camera.line import Line, StripGeometry, strip_geometry
from sensors.camera.solve import CrossingSolver
from sensors.camera.startup import HeldStrip, StartupBuffer
from sensors.camera.torso import TorsoObservation, find_torsos
from sensors.camera.tracks import (
    Sample,
    Track,
    expected_crossing_s,
    samples_after,
)
from sensors.camera.values import DetectorSettings, LineCrossing

__all__ = ["Detector", "DetectorSettings", "LineCrossing"]

log = logging.getLogger(__name__)


#: Once the start-up background is made, each new frame processes this many
#: strips of the held ones (its own goes to the back of the queue). Processing the
#: whole held second in one call took 0.6 s at 720p and 240 fps, more than the 0.25 s
#: a live source keeps; this way each call costs about two frames' work and the
#: backlog is gone one held span later.
CATCH_UP_STRIPS = 2


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
                _colour(strip), bodies_apart(self._tracks), stacked_last(self._tracks),
            )
        else:
            torsos = []
        self._next_id = associate(self._tracks, torsos, index,
                                  lambda obs: self._sample(obs, index, t_s), self._next_id)
        return self._harvest(index)

    # -- samples --------------------------------------------------------------

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
            lost_nothing = False
            if waiting and (
                index - track.crossing_frame >= self.settings.after_frames - 1
                and samples_after(track) >= self.settings.after_frames
                and self._window_complete(track)
                and _worth_solving_again(track)
                or track.missed > 1
            ):
                c = self._solve(track)
                if c is None:
                    track.unsolved = (track.crossing_frame, len(track.samples))
                if c is not None or track.missed > 1:
                    track.done = True
                if c is not None:
                    out.append(c)
                # Lost with nothing crossed (its sign change was false: an entering
                # torso's direction misread): let it go, so that the body, seen again,
                # starts a track that can still cross; kept, it held the runner done.
                lost_nothing = c is None and track.missed > 1
            if track.missed <= 2 and not lost_nothing:
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


def _worth_solving_again(track: Track) -> bool:
    """Solve a track again only once its crossing moved or its samples grew by a quarter.

    A track that gave no crossing while still seen (two runners merged: the
    torso leapt, or the pair looked like a walker) was solved again every
    frame, 5-7 ms each, for as long as the merge lasted: a quarter of the
    detector's time over such a clip at 120 fps, at the busiest moment. More
    footage can still change the answer, so it is asked again as the track
    grows, a quarter at a time (a few times per merge, not every frame).
    """
    if track.unsolved is None or track.unsolved[0] != track.crossing_frame:
        return True
    return len(track.samples) >= max(track.unsolved[1] + 2, 1.25 * track.unsolved[1])


def _with_flag(c: LineCrossing, flag: str) -> LineCrossing:
    from dataclasses import replace

    return replace(c, flags=(*c.flags, flag), confidence=round(c.confidence * 0.7, 3))


def _colour(strip: np.ndarray) -> np.ndarray | None:
    """The strip's BGR colours for the shirt test; None for a monochrome camera."""
    if strip.ndim == 2 or strip.shape[2] == 1:
        return None
    return strip if strip.shape[2] == 3 else np.ascontiguousarray(strip[:, :, :3])
