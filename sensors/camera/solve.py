"""One track's crossing: its time, its flags, and whether it was a runner at all (pure).

The detector (detector.py) tracks torsos from frame to frame; once a track
has crossed the line and enough frames after it are in, it hands the track
here. The leading edge's frames nearest the line give a first time (a
straight-line fit: constant speed over a few tens of milliseconds), the
body's per-height edges refine it (envelope.py), and the checks decide what
to report: a track that leapt or skipped the line, appeared past it out of
nothing, moved like a walker, or held two bodies (twobody.py) gives no
crossing or a flagged one. See detector.py for the flags.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from sensors.camera.envelope import fit_crossing, torso_band
from sensors.camera.line import Line, StripGeometry
from sensors.camera.robust import theil_sen
from sensors.camera.tracks import (
    Track,
    body_head,
    body_overlap,
    centre_speed_px_s,
    claimed_in_turn,
    entry_direction,
    fit_points,
    gap_at_line,
    jumped,
    leading_edge,
    shadow_of,
)
from sensors.camera.twobody import RIGID_BODY, UPPER_BODY, UPPER_BODY_ALL_HEIGHTS, speed_split
from sensors.camera.values import DetectorSettings, LineCrossing

__all__ = ["CrossingSolver"]

log = logging.getLogger("sensors.camera.detector")

#: Frames within these times of the crossing give each height's speed (two-body
#: check; either window can tell), with the upper-body rule's threshold there.
#: The longer one averages a single runner's arm swing out (largest upper-body
#: difference on 320 rendered single runners 6.8 % against 9.5 % at 0.12 s, so
#: 9 % keeps the same proportional margin) and lets a small speed difference add
#: up; the shorter one sees two bodies merged only briefly (an overtaking runner).
SPLIT_WINDOWS_S = ((0.12, UPPER_BODY.min_relative_difference), (0.2, 0.09))
#: Two torsos stacked in one blob (torso.py ``_stacked``) in at least this many of
#: the frames within this many of the crossing: two bodies. (0 of 145 rendered
#: single runners ever showed it; two runners touching all the way 2 to 12 times.)
STACKED_WINDOW_FRAMES = 8
STACKED_MIN_FRAMES = 2
#: Each frame near the line says when the leading edge reaches it; a crossing whose
#: estimates lie further than this many strip samples (median, times the speed)
#: from its time is flagged: the edge leapt between bodies. One runner's torso
#: moves steadily: 95 % of 380 rendered single runners within 3.5 samples, 99 %
#: within 5.5; two runners in one blob, about half of their silent pairs above 5.5.
SPREAD_SAMPLES = 5.5


class CrossingSolver:
    """Times tracks that crossed ``line``, seen through ``geometry``'s strip."""

    def __init__(self, line: Line, geometry: StripGeometry, settings: DetectorSettings) -> None:
        self.line = line
        self.geometry = geometry
        self.settings = settings

    def solve(self, track: Track, dt_s: float | None, image_height: int | None,
              neighbours: list[Track]) -> LineCrossing | None:
        """The crossing of ``track`` (None: nothing a runner's torso did).

        ``dt_s`` is the frame interval, ``image_height`` the frame's (for the
        rolling shutter), ``neighbours`` every other track seen lately (live
        or just dropped: ``claimed_in_turn`` looks at them).
        """
        direction = track.direction() or entry_direction(track)
        if direction == 0:
            return None
        pts = fit_points(track, direction)
        before = [p for p in pts if p[1] < 0]
        after = [p for p in pts if p[1] >= 0]
        flags: list[str] = []
        if not after or len(pts) < 2:
            return None
        slope = theil_sen(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
        if not before:
            # Seen first already past the line: only believable if it got there
            # within the last frame and could not have been seen before it, in
            # the strip on the near side (the strip is narrower than a frame's
            # travel). A body that appears past the line out of nothing is a
            # background ghost or a part coming loose, not a crossing; one that
            # appears in the body of a track lost a frame or two before, short of
            # the line, is that body (two runners merged, the torso measured moved
            # from one to the other and both tracks were lost): its crossing,
            # flagged.
            travel_px = slope * (dt_s or 0.0)
            took_over = _took_over(track, neighbours, direction)
            if not took_over and (dt_s is None or after[0][1] > 1.5 * travel_px
                                  or after[0][1] - travel_px > -0.8 * self.geometry.half_width_px):
                log.debug("track %d appeared past the line: no crossing", track.track_id)
                return None
            flags.append("extrapolated")
            if took_over:
                flags.append("occluded")
        elif len(before) < 2 or len(after) < 2:
            if not track.alone:
                # Born beside another body (two walkers parting, a limb or a
                # shadow coming loose) and seen once on one side: no history.
                log.debug("track %d: split-off body seen once at the line", track.track_id)
                return None
            flags.append("short_track")
        cross_frame = track.crossing_frame if track.crossing_frame is not None else 0
        # The track took a torso swapped in from the other body of its blob near
        # the line (association.py): two runners in one blob.
        swapped = any(abs(f - cross_frame) <= STACKED_WINDOW_FRAMES for f in track.swaps)
        if jumped(track) or (before and gap_at_line(track, direction) > 2):
            # The track leapt near the line, or skipped it (two walkers parting, a
            # body lost for frames): nothing to time - unless another track took
            # its body in the frames it missed there: two merged runners claimed in
            # turn, or two runners in one blob whose larger torso swapped between
            # them (``Track.swaps``): somebody crossed, so it is reported, flagged
            # (runner speed is still checked below, so two walkers parting still
            # give nothing).
            if not swapped and not claimed_in_turn(track, neighbours, self.geometry.step_px,
                                                   self.settings.min_speed_heights_per_s):
                log.debug("track %d leapt at or over the line: no crossing", track.track_id)
                return None
            log.debug("track %d shared its body with another at the line: flagged",
                      track.track_id)
            flags.append("occluded")
        # Only the frames nearest the line: far from it the torso is partly outside
        # the strip and the constant-speed model is stretched.
        near_line = sorted(pts, key=lambda p: abs(p[1]))[: self.settings.fit_frames]
        near_line.sort()
        t = np.array([p[0] for p in near_line])
        e = np.array([p[1] for p in near_line])
        if slope <= 0:
            return None
        # Each frame says when its leading edge would reach the line at the common
        # speed. Limbs and junctions can only make the silhouette lead the torso,
        # never trail it, so the torso is the late side of these estimates.
        estimates = t - e / slope
        q = self.settings.envelope_quantile
        time_s = float(np.quantile(estimates, q)) if len(estimates) >= 4 else float(
            np.median(estimates)
        )
        fit = self._envelope(track, direction, time_s, dt_s, image_height)
        if fit is not None:
            time_s, slope = fit.time_s, fit.speed_px_s
        height_px = float(np.median([s.obs.height for s in track.samples])) * self.geometry.step_px
        spread_px = float(np.median(np.abs(estimates - time_s))) * slope
        speed = float(slope)
        tall = shadow_of(track, neighbours, cross_frame, self.head_first)
        if tall is not None:
            log.debug("track %d lies at the feet of track %d: a shadow, not a runner",
                      track.track_id, tall.track_id)
            return None
        near = [s for s in track.samples if abs(s.frame - cross_frame) <= 2]
        # Two bodies at the crossing: two body-sized tracks ran into one blob (or one
        # came apart into two), the blob's heights move at two speeds (twobody.py),
        # its leading edge leapt between them (``SPREAD_SAMPLES``), or it held two
        # torsos far apart along the line in a few frames (torso.py).
        stacked = (sum(s.obs.stacked for s in track.samples
                       if abs(s.frame - cross_frame) <= STACKED_WINDOW_FRAMES)
                   >= STACKED_MIN_FRAMES)
        two_bodies = (any(abs(f - cross_frame) <= 3 for f in track.merge_frames)
                      or swapped
                      or self._two_bodies(track, direction, time_s, dt_s)
                      or spread_px > SPREAD_SAMPLES * self.geometry.step_px
                      or stacked)
        if track.beside and ("short_track" in flags or "extrapolated" in flags):
            # Born inside another track's body just before the line: the torso
            # tracked swapped between two merged runners (or one was lost).
            two_bodies = True
        if two_bodies and "occluded" not in flags:
            flags.append("occluded")
        # Runner or walker: the edge's speed and the body's own (its centre over
        # the whole track) must both be a runner's; a swinging limb or a light
        # change can fake the first, not the second. Measured in the blob's
        # height even for two bodies told by their speeds (a walker's slow legs
        # can look like a second body to twobody.py, and must not make it a
        # runner), but in half of it for two torsos seen stacked in the blob: one
        # runner is at most that tall, and the far one's feet on the near one's
        # head made a slow pair look like a walker (two stacked walkers, 1.5 m/s
        # at most, stay under the threshold either way).
        body_speed = direction * self._body_speed(track)
        body_px = height_px / 2 if stacked else height_px
        if body_px > 0 and min(speed, body_speed) / body_px < (
            self.settings.min_speed_heights_per_s
        ):
            log.debug("track %d too slow (%.2f heights/s): not a runner", track.track_id,
                      min(speed, body_speed) / body_px)
            return None
        obs = min(near or track.samples, key=lambda s: abs(s.frame - cross_frame)).obs
        position = float(np.clip(obs.centroid_col * self.geometry.step_px / self.line.length_px,
                                 0.0, 1.0))
        confidence = 0.95 if len(pts) >= 4 else 0.8
        if "extrapolated" in flags:
            confidence = 0.5
        if "occluded" in flags:
            confidence *= 0.5
        confidence *= float(np.exp(-spread_px / (8.0 * self.geometry.step_px)))
        return LineCrossing(
            time_s=time_s,
            frame=cross_frame,
            position=position,
            direction=direction,
            direction_name=self.line.direction_name(direction),
            confidence=round(confidence, 3),
            flags=tuple(flags),
            speed_px_s=speed,
            height_px=height_px,
            track_id=track.track_id,
        )

    def _body_speed(self, track: Track) -> float:
        """Speed of the body's centre across the line (px/s, signed along +d)."""
        # A body cut by the strip's edges (entering, leaving) drags its centre
        # at a fraction of its speed; wide, near bodies are cut most of the time.
        whole = [s for s in track.samples if not (s.clip_plus or s.clip_minus)]
        use = whole if len(whole) >= 3 else track.samples
        return centre_speed_px_s(use, self.geometry.step_px) if len(use) >= 3 else 0.0

    def _envelope(self, track: Track, direction: int, guess_s: float,
                  dt_s: float | None, image_height: int | None):
        """Refine ``guess_s`` from the body's leading-edge profiles (see envelope.py)."""
        window = max(self.settings.envelope_window_s, 3.5 * (dt_s or 0.0))
        near = [s for s in track.samples if abs(s.time_s - guess_s) <= window]
        if len(near) < 4:
            return None
        head, height = body_head(near, self.head_first)
        band = torso_band(head, height, self.head_first, self.geometry.shape[1])
        edges = np.stack([s.edges_plus_px if direction > 0 else s.edges_minus_px for s in near])
        times = np.array([s.time_s for s in near])
        return fit_crossing(times, edges, band, guess_s, self._column_delays(image_height),
                            self.geometry.step_px)

    def _two_bodies(self, track: Track, direction: int, time_s: float,
                    dt_s: float | None) -> bool:
        """Do the body's heights move at two speeds (two runners merged; twobody.py)?"""
        return any(self._two_speeds(track, direction, time_s, max(w, 3.5 * (dt_s or 0.0)),
                                    upper_difference)
                   for w, upper_difference in SPLIT_WINDOWS_S)

    def _two_speeds(self, track: Track, direction: int, time_s: float, window: float,
                    upper_difference: float) -> bool:
        near = [s for s in track.samples if abs(s.time_s - time_s) <= window]
        if len(near) < 5:
            return False
        head, height = body_head(near, self.head_first)
        edges = np.stack([s.edges_plus_px if direction > 0 else s.edges_minus_px for s in near])
        times = np.array([s.time_s for s in near])
        shared = any(s.obs.cut for s in near)
        upper = replace(UPPER_BODY_ALL_HEIGHTS if shared else UPPER_BODY,
                        min_relative_difference=upper_difference)
        for rule in (upper, RIGID_BODY):
            split = speed_split(times, edges, int(round(head)), int(height), self.head_first,
                                rule, self.geometry.step_px)
            if split is not None and split.two_bodies(rule):
                log.info("track %d: heights move at two speeds (%.0f %% apart from %.0f %% of "
                         "its height): two bodies, flagged", track.track_id,
                         100 * split.relative_difference, 100 * split.at_fraction)
                return True
        return False

    @property
    def head_first(self) -> bool | None:
        """Is the runners' head at the line's first point (None: the line is not upright)?"""
        dx, dy = self.line.x2 - self.line.x1, self.line.y2 - self.line.y1
        if abs(dy) < abs(dx):
            return None
        return dy > 0

    def _column_delays(self, image_height: int | None) -> np.ndarray | None:
        """Rolling-shutter delay of each strip column where it meets the line."""
        if not self.settings.readout_s or not image_height:
            return None
        g = self.geometry
        cols = np.arange(g.shape[1], dtype=np.float64)
        y = g.image_y(np.full_like(cols, g.center_row), cols)
        return (y / image_height - 0.5) * self.settings.readout_s


def _took_over(track: Track, others: list[Track], direction: int) -> bool:
    """Did this track appear in the body of another one lost just before, short of the line?"""
    first = track.samples[0]
    for other in others:
        if other is track or not other.samples or other.crossing_frame is not None:
            continue
        last = other.samples[-1]
        if not 0 < first.frame - last.frame <= 2 or body_overlap(first.obs, last.obs) < 0.5:
            continue
        if other.direction() not in (0, direction):
            continue
        _, e, clipped = leading_edge(last, direction)
        if not clipped and e < 0:
            return True
    return False
