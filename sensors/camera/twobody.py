"""Two bodies in one blob, told apart by the speeds of their heights.

Theory of operation. When two runners in different lanes overlap along the
line (the far one higher and smaller in a side view) and reach it within the
same frames, their silhouettes merge into one blob and one track; the
silhouette alone (size, proportions) does not separate them reliably. Their
*motion* does: every height of one runner's head, neck and upper torso moves
at the runner's own speed (the upper body is nearly rigid; arms add brief
bumps), while the two halves of a merged blob move at two runners' speeds.

So, over the upper part of the body (``UPPER_BODY.reach`` of its height
from the head end, where a single runner has no legs), each height's leading
edge gets its own speed (Theil-Sen over the frames around the crossing, then
a running median over 5 heights so one arm-covered height cannot count). The
profile is split into two contiguous groups, each at least ``min_group`` of
the body's height, where the groups' speeds scatter least about their medians
(a two-segment fit). A
difference over ``min_relative_difference`` (and well above the scatter
inside the more coherent group) is two bodies.

A nearer runner whose upper body lies below the far runner's hips (two or
more lanes apart, or overtaking at the line) is not in that upper part. So a
second rule (``RIGID_BODY``) looks down to 70 % of the blob's height, but
only at *rigid* heights: those whose leading edge stays on a straight line
in time (median residual under 1.5 % of the body's height). A head, neck or
torso is rigid; a swinging thigh or shin is not, and a foot planted on the
ground (rigid but standing still) lies in the bottom 30 %, which is left out:
a nearer runner's torso ends at least half its own height above its feet,
and it is at least half as tall as the blob, so its torso is always inside
the 70 %. Short windows at low frame rates make the rigid heights' speeds
noisier than the upper body's (up to 9.8 % on single runners at 30 fps),
hence this rule's higher threshold (12 %).

These are ratios of speeds and fractions of the body's own height: nothing
depends on the camera, the lanes or the scale.

The solver (solve.py) runs these rules over the frames within 0.12 s of
the crossing and again within 0.2 s, where arm swing averages out and the
upper-body threshold is 9 %. Two runners whose pixel speeds differ by less
than that are not told apart here (a single runner's upper body can show
nearly as much); docs/camera.md says so.

Pure numpy, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sensors.camera.robust import median, theil_sen

#: A height's speed needs at least this many frames with an edge.
MIN_FRAMES = 5
#: Residuals under this fraction of a strip sample are edge noise, never "swinging".
RESIDUAL_FLOOR = 0.25


@dataclass(frozen=True, slots=True)
class SplitRule:
    """Where to look along the body and how different two groups must be to be two bodies."""

    #: Heights looked at: this fraction of the body's height from the head end.
    reach: float
    #: Each group must cover at least this fraction of the body's height.
    min_group: float
    #: Two groups whose median speeds differ by more than this (relative) are two bodies...
    min_relative_difference: float
    #: ... if the difference is also this many times the scatter inside a group.
    min_difference_per_scatter: float
    #: Only heights whose edge stays this close to a straight line in time (median
    #: absolute residual, fraction of the body's height) count; None: all heights.
    max_residual: float | None = None
    #: Only heights whose residual is at most this many times the median residual
    #: of the heights looked at count; None: no such limit.
    max_residual_vs_median: float | None = None


#: The upper body only. A single runner's hip joint is at about 48 % of stature
#: below the head's top, but hands swing down to it and the pelvis moves with
#: the legs: stop well above it. A forearm in front of the chest covers about
#: 4 % of the height; the running median takes that out. On 180 rendered single
#: runners (30-240 fps, harsh light included) the largest difference was 9.5 %.
#: Heights whose edge swings (median residual over 4 times the typical height's)
#: are left out: a straight arm sweeping across the chest from the shoulder
#: covers a quarter of the height and read as a second speed (3 of 13 figures
#: drawn unlike the renderer's; tests/test_camera_other_figures.py).
UPPER_BODY = SplitRule(reach=0.42, min_group=0.10, min_relative_difference=0.10,
                       min_difference_per_scatter=2.0, max_residual_vs_median=4.0)

#: The same over every height, swinging or not, for a body cut from a blob it
#: shared with another tracked body: there the swinging heights may be the other
#: runner's legs, evidence of two bodies, not an arm.
UPPER_BODY_ALL_HEIGHTS = replace(UPPER_BODY, max_residual_vs_median=None)

#: Rigid heights down to 70 % of the blob (a nearer runner's head and torso below
#: the far runner's hips); each group at least 6 % of the blob's height in rigid
#: heights (the far runner's legs can hide most of the nearer one's torso). On 220
#: rendered single runners (30-240 fps, 60 in harsh light) the largest difference
#: was 9.8 % (30 fps: 7 frames per window); on 290 others (session 8) 6.7 % at
#: 30 fps and 5.7 % above, one clip aside (a shirt the track's colour, 23 %, also
#: flagged at 20 %). 12 % flags two runners in lanes apart whose speeds differ by
#: 14-20 % (4 of 80 fresh same-frame pairs that 20 % left silent) and no single
#: runner more; a runner overtaking at 8.5 m/s past one at 6 m/s shows about 60 %.
RIGID_BODY = SplitRule(reach=0.70, min_group=0.06, min_relative_difference=0.12,
                       min_difference_per_scatter=2.0, max_residual=0.015)


@dataclass(frozen=True, slots=True)
class SpeedSplit:
    """The best two-group fit of a body's per-height speeds."""

    #: |speed_a - speed_b| / the slower of the two.
    relative_difference: float
    #: Median deviation inside the more coherent group, relative to the slower
    #: speed (the other group may mix one runner's legs with the other's body).
    scatter: float
    #: Where the second group starts, as a fraction of the body's height from the head end.
    at_fraction: float

    def two_bodies(self, rule: SplitRule) -> bool:
        return (
            self.relative_difference > rule.min_relative_difference
            and self.relative_difference > rule.min_difference_per_scatter * self.scatter
        )


def speed_split(times_s: np.ndarray, edges_px: np.ndarray, head_col: int, height_cols: int,
                head_first: bool | None, rule: SplitRule = UPPER_BODY,
                sample_px: float = 1.0) -> SpeedSplit | None:
    """Split the per-height speeds within ``rule.reach`` into two contiguous groups (best fit).

    ``times_s`` (F,) are frame times, ``edges_px`` (F, C) the leading edge per
    strip column (NaN: unseen), ``head_col`` the strip column of the top of the
    head and ``height_cols`` the body's extent along the line, ``sample_px``
    the strip's sample spacing (pixels per column). ``head_first`` as in
    ``envelope.torso_band``; None (a line closer to horizontal, no "up")
    gives None, as does too little data.
    """
    if head_first is None or height_cols < 8 or len(times_s) < MIN_FRAMES:
        return None
    reach = int(rule.reach * height_cols)
    if head_first:
        cols = np.arange(head_col, head_col + reach)
    else:
        cols = np.arange(head_col, head_col - reach, -1)
    cols = cols[(cols >= 0) & (cols < edges_px.shape[1])]
    fits = np.array([_height_fit(times_s, edges_px[:, j]) for j in cols]).reshape(-1, 2)
    speeds, offsets = fits[:, 0], np.arange(len(cols))
    if rule.max_residual is not None:
        limit_px = max(rule.max_residual * height_cols * sample_px, sample_px)
        rigid = fits[:, 1] <= limit_px
        speeds, offsets = speeds[rigid], offsets[rigid]
    elif rule.max_residual_vs_median is not None and np.isfinite(fits[:, 1]).any():
        typical_px = float(np.nanmedian(fits[:, 1]))
        limit_px = max(rule.max_residual_vs_median * typical_px, RESIDUAL_FLOOR * sample_px)
        steady = ~(fits[:, 1] > limit_px)  # heights without a fit stay (as NaN)
        speeds, offsets = speeds[steady], offsets[steady]
    speeds = _running_median5(speeds)
    m = max(3, int(rule.min_group * height_cols))
    need = m // 2 if rule.max_residual is None else m
    best: SpeedSplit | None = None
    best_cost = np.inf
    for k in range(m, len(speeds) - m + 1):
        a, b = speeds[:k], speeds[k:]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) < need or len(b) < need:
            continue
        va, vb = median(a), median(b)
        slow = min(va, vb)
        if slow <= 0:
            continue
        # Two-segment fit: the split that leaves the least deviation inside the groups.
        dev_a, dev_b = np.abs(a - va), np.abs(b - vb)
        cost = float(dev_a.sum() + dev_b.sum())
        if cost < best_cost:
            best_cost = cost
            scatter = min(median(dev_a), median(dev_b))
            best = SpeedSplit(abs(va - vb) / slow, scatter / slow, offsets[k] / height_cols)
    return best


def _height_fit(times_s: np.ndarray, edge_px: np.ndarray) -> tuple[float, float]:
    """Theil-Sen speed (px/s) of one height's leading edge and the median absolute
    residual (px) about that straight line; NaNs with too few frames."""
    ok = np.isfinite(edge_px)
    if ok.sum() < MIN_FRAMES:
        return float("nan"), float("nan")
    t, e = times_s[ok], edge_px[ok]
    v = theil_sen(t, e)
    r = e - v * t
    return v, median(np.abs(r - median(r)))


def _running_median5(a: np.ndarray) -> np.ndarray:
    """Median of each value and up to two neighbours per side (needs 3 finite values)."""
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        w = a[max(0, i - 2) : i + 3]
        w = w[np.isfinite(w)]
        if len(w) >= 3:
            out[i] = median(w)
    return out
