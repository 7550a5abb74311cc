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

Looking further down (to the thighs, for a nearer runner whose upper body
lies below the far runner's hips) was measured and dropped: a single
runner's hips and legs can move as a coherent group up to 90 % faster or
slower than the torso over a short window (2 false flags in 32 harsh clips).

These are ratios of speeds and fractions of the body's own height: nothing
depends on the camera, the lanes or the scale.

Two runners whose pixel speeds differ by less than 10 % are not told apart
here (a single runner's upper body can show that much); docs/camera.md says so.

Pure numpy, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.camera.tracks import theil_sen

#: A height's speed needs at least this many frames with an edge.
MIN_FRAMES = 5


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


#: The upper body only. A single runner's hip joint is at about 48 % of stature
#: below the head's top, but hands swing down to it and the pelvis moves with
#: the legs: stop well above it. A forearm in front of the chest covers about
#: 4 % of the height; the running median takes that out. On 180 rendered single
#: runners (30-240 fps, harsh light included) the largest difference was 9.5 %.
UPPER_BODY = SplitRule(reach=0.42, min_group=0.10, min_relative_difference=0.10,
                       min_difference_per_scatter=2.0)


@dataclass(frozen=True, slots=True)
class SpeedSplit:
    """The best two-group fit of a body's per-height speeds."""

    #: |speed_a - speed_b| / the slower of the two.
    relative_difference: float
    #: Median deviation inside the more coherent group, relative to the slower
    #: speed (the other group may mix one runner's legs with the other's body).
    scatter: float
    #: Where the groups meet, as a fraction of the body's height from the head end.
    at_fraction: float

    def two_bodies(self, rule: SplitRule) -> bool:
        return (
            self.relative_difference > rule.min_relative_difference
            and self.relative_difference > rule.min_difference_per_scatter * self.scatter
        )


def speed_split(times_s: np.ndarray, edges_px: np.ndarray, head_col: int, height_cols: int,
                head_first: bool | None, rule: SplitRule = UPPER_BODY) -> SpeedSplit | None:
    """Split the upper body's per-height speeds into two contiguous groups (best fit).

    ``times_s`` (F,) are frame times, ``edges_px`` (F, C) the leading edge per
    strip column (NaN: unseen), ``head_col`` the strip column of the top of the
    head and ``height_cols`` the body's extent along the line. ``head_first``
    as in ``envelope.torso_band``; None (a line closer to horizontal, no "up")
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
    speeds = _running_median5(np.array([_height_speed(times_s, edges_px[:, j]) for j in cols]))
    m = max(3, int(rule.min_group * height_cols))
    best: SpeedSplit | None = None
    best_cost = np.inf
    for k in range(m, len(speeds) - m + 1):
        a, b = speeds[:k], speeds[k:]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) < m // 2 or len(b) < m // 2:
            continue
        va, vb = float(np.median(a)), float(np.median(b))
        slow = min(va, vb)
        if slow <= 0:
            continue
        # Two-segment fit: the split that leaves the least deviation inside the groups.
        dev_a, dev_b = np.abs(a - va), np.abs(b - vb)
        cost = float(dev_a.sum() + dev_b.sum())
        if cost < best_cost:
            best_cost = cost
            scatter = min(float(np.median(dev_a)), float(np.median(dev_b)))
            best = SpeedSplit(abs(va - vb) / slow, scatter / slow, k / height_cols)
    return best


def _height_speed(times_s: np.ndarray, edge_px: np.ndarray) -> float:
    """Theil-Sen speed (px/s) of one height's leading edge; NaN with too few frames."""
    ok = np.isfinite(edge_px)
    if ok.sum() < MIN_FRAMES:
        return float("nan")
    return theil_sen(times_s[ok], edge_px[ok])


def _running_median5(a: np.ndarray) -> np.ndarray:
    """Median of each value and up to two neighbours per side (needs 3 finite values)."""
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        w = a[max(0, i - 2) : i + 3]
        w = w[np.isfinite(w)]
        if len(w) >= 3:
            out[i] = np.median(w)
    return out
