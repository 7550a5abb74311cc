"""Tracks of bodies along the line, frame by frame, and the pure helpers on them.

A ``Track`` is one body seen in consecutive frames (``Sample`` per frame: its
torso observation and the leading-edge distances past the line). The
helpers answer the questions the detector asks of a track: which way it
moves, in which frame its front reached the line, whether it is steady
enough to be one runner. No clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensors.camera.robust import median, theil_sen
from sensors.camera.torso import FRAGMENT_RADIUS_FRACTION, TorsoObservation


@dataclass(slots=True)
class Sample:
    frame: int
    time_s: float
    obs: TorsoObservation
    e_plus_px: float
    e_minus_px: float
    t_plus_s: float
    t_minus_s: float
    clip_plus: bool
    clip_minus: bool
    #: Signed distance past the line (px) of the body's leading edge per strip
    #: column, moving towards +d and towards -d (NaN: not seen).
    edges_plus_px: np.ndarray
    edges_minus_px: np.ndarray


@dataclass(slots=True)
class Track:
    track_id: int
    samples: list[Sample] = field(default_factory=list)
    missed: int = 0
    radius: float = 0.0
    #: Frames in which this track and another one ran into the same body (blob).
    merge_frames: list[int] = field(default_factory=list)
    #: Frames in which this track took a torso far along the line from its own, in
    #: the same body (two runners in one blob, the larger torso swapping between them).
    swaps: list[int] = field(default_factory=list)
    crossing_frame: int | None = None
    done: bool = False
    #: False for a track born beside another one (a body splitting in two):
    #: such a track may not report a crossing it was never seen before.
    alone: bool = True
    #: True for a track born within another track's body (the same blob along the
    #: line): with two runners merged, the torso piece tracked can swap between
    #: them, and a crossing such a track times soon after its birth may be either.
    beside: bool = False
    #: Where ``sign_change_frame`` stopped: (direction, samples scanned, last edge).
    #: Reset whenever samples are dropped from the front.
    scan: tuple[int, int, float | None] | None = field(default=None, repr=False)
    #: The last solve that found no crossing: (crossing frame, samples then).
    unsolved: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def last(self) -> TorsoObservation:
        return self.samples[-1].obs

    def direction(self) -> int:
        """+1 or -1 from the centroid's motion, 0 while unknown.

        Samples of a body cut by the strip's edge are left out while there are
        enough others: a body leaving the strip is cut more each frame, and its
        centroid halts there. Asked again after the crossing (which is solved
        0.2 s later), a fast runner's halted centroid read as "unknown" and the
        crossing was lost.
        """
        if len(self.samples) < 3:
            return 0
        recent = self.samples[-16:]
        whole = [s for s in recent if not (s.clip_plus or s.clip_minus)]
        rows = np.array([s.obs.centroid_row for s in (whole if len(whole) >= 3 else recent)[-8:]])
        steps = np.diff(rows)
        moved = rows[-1] - rows[0]
        if abs(moved) < 2.0 or np.sign(median(steps)) != np.sign(moved):
            return 0
        return 1 if moved > 0 else -1


def along_overlap(a: TorsoObservation, b: TorsoObservation) -> float:
    inter = min(a.col_hi, b.col_hi) - max(a.col_lo, b.col_lo) + 1
    if inter <= 0:
        return 0.0
    shorter = min(a.col_hi - a.col_lo, b.col_hi - b.col_lo) + 1
    return inter / shorter


#: A piece at least this tall (along the line) relative to the other, and at least
#: ``FRAGMENT_RADIUS_FRACTION`` as thick, can be a second runner: runners in lanes
#: seen from the side differ in size by far less, a loose arm, leg or shadow is
#: shorter or thinner.
BODY_HEIGHT_FRACTION = 0.5


def body_sized(piece: TorsoObservation, body: TorsoObservation) -> bool:
    """Could ``piece`` be a second runner next to ``body`` (not a limb or a shadow)?"""
    return (piece.height >= BODY_HEIGHT_FRACTION * body.height
            and piece.radius >= FRAGMENT_RADIUS_FRACTION * body.radius)


#: A body at most this tall, relative to another one, lying at that one's feet
#: around its crossing, is its shadow or a foot (runners in lanes differ far less).
SHADOW_HEIGHT_FRACTION = 0.35
#: "At the feet": reaching within this fraction of the tall body's height of its
#: feet, and lying wholly within this lowest fraction of it.
SHADOW_REACH, SHADOW_BAND = 0.1, 0.4


def shadow_of(track: Track, others: list[Track], around_frame: int,
              head_first: bool | None) -> Track | None:
    """The track whose feet ``track`` lies at, much shorter, within 2 frames of ``around_frame``.

    A shadow on grey ground (or on any ground seen by a monochrome camera,
    where colour cannot tell it from a dark shirt) is a flat blob at the
    runner's feet moving with the runner; it reaches the line up to a few
    tenths of a second before or after the torso and would be timed as a
    runner. A second runner is never that short beside another, nor wholly
    at its feet (a farther lane stands higher in the picture). Without an
    upright line (``head_first`` None) the feet are unknown: None.
    """
    if head_first is None:
        return None
    mine = {s.frame: s.obs for s in track.samples if abs(s.frame - around_frame) <= 2}
    for other in others:
        if other is track:
            continue
        common = hits = 0
        for s in other.samples:
            obs = mine.get(s.frame)
            if obs is None:
                continue
            common += 1
            tall = s.obs
            if obs.height > SHADOW_HEIGHT_FRACTION * tall.height:
                continue
            lo, hi = obs.body_lo, obs.body_lo + obs.height - 1
            reach, band = SHADOW_REACH * tall.height, SHADOW_BAND * tall.height
            if head_first:  # feet at the high columns
                feet = tall.body_lo + tall.height - 1
                hits += hi >= feet - reach and lo >= feet - band
            else:
                feet = tall.body_lo
                hits += lo <= feet + reach and hi <= feet + band
        if common and hits >= min(2, common):
            return other
    return None


def body_overlap(a: TorsoObservation, b: TorsoObservation) -> float:
    """Overlap of two whole bodies' extents along the line, over the shorter one."""
    inter = min(a.body_lo + a.height, b.body_lo + b.height) - max(a.body_lo, b.body_lo)
    return max(0, inter) / max(1, min(a.height, b.height))


def leading_edge(sample: Sample, direction: int) -> tuple[float, float, bool]:
    if direction > 0:
        return sample.t_plus_s, sample.e_plus_px, sample.clip_plus
    return sample.t_minus_s, sample.e_minus_px, sample.clip_minus


def sign_change_frame(track: Track) -> int | None:
    """Frame index of the first sample at/after the line, once the direction is known.

    Asked again every frame: a scan that found every edge still before the
    line goes on from where it stopped (``track.scan``) instead of from the
    first sample, or a track standing in the strip would cost its length
    each frame.
    """
    direction = track.direction() or entry_direction(track)
    if direction == 0:
        return None
    samples = track.samples
    start, prev = 0, None
    if track.scan is not None and track.scan[0] == direction:
        _, start, prev = track.scan
    for k in range(start, len(samples)):
        s = samples[k]
        _, e, clipped = leading_edge(s, direction)
        if clipped:
            continue
        if e >= 0 and (prev is None or prev < 0):
            if prev is None and (len(samples) < 2 or not track.alone):
                return None
            return s.frame
        prev = e
    track.scan = (direction, len(samples), prev)
    return None


def entry_direction(track: Track) -> int:
    """Direction guessed from the strip edge a torso is entering through (first sample)."""
    s = track.samples[0]
    if s.clip_minus and not s.clip_plus and s.e_plus_px < 0:
        return 1
    if s.clip_plus and not s.clip_minus and s.e_minus_px < 0:
        return -1
    return 0


def samples_after(track: Track) -> int:
    if track.crossing_frame is None:
        return 0
    return sum(1 for s in track.samples if s.frame >= track.crossing_frame)


def fit_points(track: Track, direction: int) -> list[tuple[float, float]]:
    pts = []
    for s in track.samples:
        t, e, clipped = leading_edge(s, direction)
        if not clipped:
            pts.append((t, e))
    return pts


def near_across(track: Track, obs: TorsoObservation) -> bool:
    """Is ``obs`` where this track's torso should be now (across the line)?

    Along-line overlap alone would let a second runner in the same lane join
    the track of the one ahead of it while that one's legs are still in the
    strip.
    """
    last = track.samples[-1].obs
    step = 0.0
    if len(track.samples) >= 2:
        step = last.centroid_row - track.samples[-2].obs.centroid_row
    predicted = last.centroid_row + step * (1 + track.missed)
    allowed = 3.0 * max(last.radius, 2.0) + 1.5 * abs(step)
    return abs(obs.centroid_row - predicted) <= allowed


def jumped(track: Track, reach: int = 3) -> bool:
    """Did the body's centre leap near the crossing (two bodies swapped in the track)?

    A runner's centre moves by about the same amount every frame; a step far
    beyond the track's usual one (more than three times it, plus half the
    torso's thickness for a torso that is still entering the strip) within
    ``reach`` frames of the crossing means the track switched bodies.
    """
    if track.crossing_frame is None or len(track.samples) < 3:
        return False
    frames = np.array([s.frame for s in track.samples], dtype=float)
    rows = np.array([s.obs.centroid_row for s in track.samples])
    per_frame = np.abs(np.diff(rows)) / np.diff(frames)
    usual = float(np.median(per_frame))
    near = np.abs(frames[1:] - track.crossing_frame) <= reach
    limit = 3.0 * usual + 0.5 * max(track.radius, 2.0)
    return bool(np.any(per_frame[near] > limit))


def gap_at_line(track: Track, direction: int) -> int:
    """Frames between the last sample before the line and the first one past it."""
    prev = None
    for s in track.samples:
        _, e, clipped = leading_edge(s, direction)
        if clipped:
            continue
        if e >= 0 and prev is not None and prev[1] < 0:
            return s.frame - prev[0]
        prev = (s.frame, e)
    return 1


def _edge_root(a: Sample, b: Sample, direction: int) -> float | None:
    """When the leading edge meets the line, on the straight line through two frames.

    None when the edge does not move towards the line between them.
    """
    ta, ea, _ = leading_edge(a, direction)
    tb, eb, _ = leading_edge(b, direction)
    if tb <= ta or eb <= ea:
        return None
    return ta - ea * (tb - ta) / (eb - ea)


def expected_crossing_s(track: Track) -> float | None:
    """Roughly when this track's torso reaches (or reached) the line; None if unknown.

    Not across yet: extrapolated from its last two frames. Across but waiting
    for frames to be solved: interpolated between the two frames around the
    line. Good to a fraction of a frame, enough to tell whether two crossings
    share one.
    """
    direction = track.direction() or entry_direction(track)
    if direction == 0 or track.done or len(track.samples) < 2:
        return None
    if track.crossing_frame is None:
        return _edge_root(track.samples[-2], track.samples[-1], direction)
    for a, b in zip(track.samples, track.samples[1:], strict=False):
        if b.frame >= track.crossing_frame:
            root = _edge_root(a, b, direction) if leading_edge(a, direction)[1] <= 0 else None
            return leading_edge(b, direction)[0] if root is None else root
    return None


def body_head(samples: list[Sample], head_first: bool | None) -> tuple[float, float]:
    """Strip column of the top of the head, and the body's height (columns), over ``samples``.

    The height is the 0.8 quantile (a frame that lost the feet or the head to
    the strip's edge cannot shrink it), and only frames where the body is
    nearly whole (at least 0.8 of that) say where the head is. Measured from
    the tallest frame instead, a few frames whose blob grew a spur along the
    line (a painted line flickering into the foreground as the camera shook)
    put the head far above the runner's: the torso band then lay on the head
    and the time came out 54 ms late. A line closer to horizontal
    (``head_first`` None) gives the body's middle instead.
    """
    heights = np.array([s.obs.height for s in samples])
    height = float(np.quantile(heights, 0.8))
    full = [s for s in samples if s.obs.height >= 0.8 * height]
    if head_first is None:
        head = float(np.median([s.obs.body_lo + 0.5 * (s.obs.height - 1) for s in full]))
    elif head_first:
        head = float(np.median([s.obs.body_lo for s in full]))
    else:
        head = float(np.median([s.obs.body_lo + s.obs.height - 1 for s in full]))
    return head, height


def centre_speed_px_s(samples: list[Sample], step_px: float) -> float:
    """Theil-Sen speed of the body's centre across the line (px/s, signed along +d)."""
    return theil_sen(np.array([s.time_s for s in samples]),
                     np.array([s.obs.centroid_row for s in samples]) * step_px)


def claimed_in_turn(track: Track, others: list[Track], step_px: float,
                    min_heights_per_s: float, reach: int = 4) -> bool:
    """Did another track take this one's body in the frames it missed at the line?

    Two runners whose blobs touch and part at the line can be claimed by two
    tracks in turn, each skipping the frames the other took, so neither sees
    its body reach the line. The track's own motion before the turns began
    must already be a runner's: leaps between two bodies fake a speed, and
    two walkers parting leap too.
    """
    cross = track.crossing_frame or 0
    mine = {s.frame for s in track.samples}
    missing = {f for f in range(max(min(mine), cross - reach), min(max(mine), cross + reach) + 1)
               if f not in mine}
    if not missing:
        return False
    steady = [s for s in track.samples if s.frame < min(missing)]
    if len(steady) < 3:
        return False
    # In half the blob's height: it holds the two bodies the tracks took in turn,
    # the far runner's feet on the near one's head made a slow pair two runners
    # tall (lanes 1 and 3 at 60 fps gave nothing); two walkers parting still fail
    # the runner check every crossing gets (solve.py).
    height_px = float(np.median([s.obs.height for s in steady])) * step_px / 2
    if abs(centre_speed_px_s(steady, step_px)) < min_heights_per_s * height_px:
        return False
    near = [s.obs for s in track.samples if abs(s.frame - cross) <= reach]
    return any(s.frame in missing and any(along_overlap(s.obs, o) > 0.3 for o in near)
               for other in others if other is not track for s in other.samples)
