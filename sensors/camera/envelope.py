"""The torso's crossing instant from the body's leading-edge profile over many frames.

Theory of operation. For every frame, every column of the strip (a point
along the line, i.e. a height on the body) has a leading edge: how far the
front of the body's silhouette is past the line at that height. The torso is
rigid and moves at constant speed ``v``, so at each torso height the torso's
own edge follows ``e_j(t) = v (t - t*) + c_j``. Arms, hands, a thigh or a
loose shirt can only *add* to the silhouette, never take the torso away, so
the measured edge is at or ahead of the torso's; it equals it in the frames
where nothing leads at that height. Hence, per height, the torso is the
*lower envelope* of ``edge_j(t) - v (t - t_ref)`` over the frames around the
crossing (a low quantile, so a frame where the shirt blended into the
background cannot drag it), and the torso's front is the most advanced of
these over the torso's heights. The head and the legs are excluded by height:
the torso band runs from 14 % to 50 % of the body's height below the top of
the head (shoulders are at about 18 %, the hip joint at about 48 % of stature).

This replaces a per-frame "frontmost torso pixel", which an arm crossing the
chest, the head of a leaning runner or a fillet of the opened silhouette
could move by several pixels in any single frame.

Pure numpy, no clock: times come in with the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensors.camera.robust import median, theil_sen

#: The torso's heights, as fractions of the body's height below the top of the head.
TORSO_BAND = (0.14, 0.50)
#: The lower envelope per height is the k-th smallest value, k = this x frames
#: (0 = the minimum): one frame in twelve may have lost the torso to the
#: background. Arms swing in front of the chest for most of a stride (the far
#: arm forward while the near one is back, and forearms flexed forward in
#: between), so only a low order statistic finds the moments the chest is clear.
ENVELOPE_RANK = 1.0 / 12.0
#: An envelope bump narrower than this fraction of the body's height that stands
#: out from the heights on both sides is a forearm held in front of the chest for
#: the whole window, not the torso (a forearm is about 4 % of stature thick).
PROTRUSION_MAX_HEIGHT = 0.1
#: A step between neighbouring heights larger than this many strip samples
#: breaks the profile (the torso's own outline changes far more gently).
JUMP_SAMPLES = 1.5
#: A height counts only when seen in at least this many frames.
MIN_FRAMES_PER_HEIGHT = 3


@dataclass(frozen=True, slots=True)
class EnvelopeFit:
    """A crossing solved from the leading-edge profiles of one track."""

    time_s: float
    speed_px_s: float
    #: Strip column (along the line) of the torso's front.
    column: int
    frames: int
    #: Median distance of the front column's edges above its envelope (px): how
    #: much limbs and noise moved the silhouette there.
    spread_px: float


def torso_band(head_col: float, height_cols: float, head_first: bool | None,
               n_cols: int) -> tuple[int, int]:
    """Strip columns [lo, hi) of the torso for a body whose head is at ``head_col``.

    ``head_first`` says whether the head is at the low column end (the line
    runs downwards in the image), at the high end (False) or unknown (None:
    the line is closer to horizontal than vertical; the middle of the body is
    taken).
    """
    if head_first is None:
        mid = head_col
        lo, hi = mid - 0.18 * height_cols, mid + 0.18 * height_cols
    elif head_first:
        lo = head_col + TORSO_BAND[0] * height_cols
        hi = head_col + TORSO_BAND[1] * height_cols
    else:
        lo = head_col - TORSO_BAND[1] * height_cols
        hi = head_col - TORSO_BAND[0] * height_cols
    a = int(np.clip(np.floor(lo), 0, n_cols))
    b = int(np.clip(np.ceil(hi) + 1, 0, n_cols))
    return a, b


def fit_crossing(
    times_s: np.ndarray,
    edges_px: np.ndarray,
    band: tuple[int, int],
    t_ref_s: float,
    delays_s: np.ndarray | None = None,
    sample_px: float = 1.0,
    rank: float = ENVELOPE_RANK,
) -> EnvelopeFit | None:
    """Solve the instant the torso front reaches the line.

    ``times_s`` (F,) are the frames' times, ``edges_px`` (F, C) the signed
    distance past the line of the body's leading edge per strip column (NaN:
    nothing seen, or cut by the strip's edge), ``band`` the torso's columns,
    ``t_ref_s`` a first guess of the crossing (any frame time near it), and
    ``delays_s`` (C,) the rolling-shutter delay of each column, ``sample_px``
    the strip's sample spacing in pixels. Returns None
    when there is too little to go on.
    """
    lo, hi = band
    if hi - lo < 2 or len(times_s) < 3:
        return None
    e = edges_px[:, lo:hi]
    t = times_s[:, None] - t_ref_s
    if delays_s is not None:
        t = t + delays_s[None, lo:hi]
    else:
        t = np.broadcast_to(t, e.shape)
    valid = np.isfinite(e)
    speed = _speed(times_s, e, valid)
    if speed is None:
        return None
    g = np.where(valid, e - speed * t, np.nan)
    counts = valid.sum(axis=0)
    usable = counts >= MIN_FRAMES_PER_HEIGHT
    if not usable.any():
        return None
    env = np.full(g.shape[1], np.nan)
    env[usable] = _low_order(g[:, usable], rank)
    jump_px = JUMP_SAMPLES * sample_px
    band_height = TORSO_BAND[1] - TORSO_BAND[0]
    min_run = max(3, int(round(PROTRUSION_MAX_HEIGHT / band_height * (hi - lo))))
    smooth = _median3(_without_protrusions(env, jump_px, min_run))
    if not np.isfinite(smooth).any():
        return None
    j = int(np.nanargmax(smooth))
    front = float(smooth[j])
    above = g[:, j] - env[j]
    spread = float(np.nanmedian(above[np.isfinite(above)])) if np.isfinite(above).any() else 0.0
    return EnvelopeFit(
        time_s=t_ref_s - front / speed,
        speed_px_s=speed,
        column=lo + j,
        frames=int(valid.any(axis=1).sum()),
        spread_px=spread,
    )


def _speed(times_s: np.ndarray, e: np.ndarray, valid: np.ndarray) -> float | None:
    """Body speed (px/s): the median over heights of each height's Theil-Sen slope.

    A swinging arm bends one height's series for a few frames; the median of
    pairwise slopes ignores that, and the median over heights ignores the
    heights an arm covered most of the time.
    """
    slopes = []
    for j in range(e.shape[1]):
        ok = valid[:, j]
        if ok.sum() < 5:
            continue
        t = times_s[ok]
        if t[-1] > t[0]:  # frame times increase: some pair is ordered
            slopes.append(theil_sen(t, e[ok, j]))
    if not slopes:
        return None
    speed = median(np.array(slopes))
    return speed if speed > 0 else None


def _without_protrusions(env: np.ndarray, jump_px: float, min_run: int) -> np.ndarray:
    """``env`` with narrow bumps that stand out from both sides set to NaN.

    The profile is cut where neighbouring heights differ by more than
    ``jump_px`` (or a height is missing); a run shorter than ``min_run`` that
    is higher than the runs on each side it has is a protrusion. Repeated
    until nothing changes, so a bump in two steps (elbow, then hand) goes too.
    """
    out = env.copy()
    while True:
        runs = _runs(out, jump_px)
        removed = False
        for i, (a, b) in enumerate(runs):
            if b - a >= min_run or len(runs) == 1:
                continue
            top = float(np.nanmax(out[a:b]))
            sides = []
            if i > 0:
                sides.append(float(out[runs[i - 1][1] - 1]))
            if i + 1 < len(runs):
                sides.append(float(out[runs[i + 1][0]]))
            if all(top - side > jump_px for side in sides):
                out[a:b] = np.nan
                removed = True
                break
        if not removed:
            return out


def _runs(env: np.ndarray, jump_px: float) -> list[tuple[int, int]]:
    """[start, end) of the stretches of finite heights without a jump inside."""
    runs: list[tuple[int, int]] = []
    start = None
    for j, value in enumerate(env):
        if not np.isfinite(value):
            if start is not None:
                runs.append((start, j))
            start = None
        elif start is None:
            start = j
        elif abs(value - env[j - 1]) > jump_px:
            runs.append((start, j))
            start = j
    if start is not None:
        runs.append((start, len(env)))
    return runs


def _low_order(g: np.ndarray, rank: float) -> np.ndarray:
    """Per column, the k-th smallest finite value, k = rank x (finite values in it)."""
    filled = np.where(np.isfinite(g), g, np.inf)
    ordered = np.sort(filled, axis=0)
    counts = np.isfinite(g).sum(axis=0)
    k = np.floor(rank * counts).astype(int)
    return ordered[k, np.arange(g.shape[1])]


def _median3(a: np.ndarray) -> np.ndarray:
    """Median of each value and its two neighbours (NaN-aware): one noisy height cannot win."""
    if len(a) < 3:
        return a.copy()
    padded = np.concatenate(([np.nan], a, [np.nan]))
    stack = np.stack([padded[:-2], padded[1:-1], padded[2:]])
    out = np.full(len(a), np.nan)
    finite = np.isfinite(stack).sum(axis=0)
    ok = (finite >= 2) & np.isfinite(a)
    if ok.any():
        out[ok] = np.nanmedian(stack[:, ok], axis=0)
    return out
