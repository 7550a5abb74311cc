"""The physical shape of a pass, fitted to one burst's RSSI (pure numpy).

Why not a parabola: a tag passing an antenna at closest distance ``d`` and
speed ``v`` is at range ``r^2 = v^2 (w^2 + (t - t0)^2)`` with ``w = d / v``,
and backscatter power (with the antenna pattern) falls as a power of that
range. Once past the antenna the runner's body shadows the tag (the bib
faces forward): a loss of ``S`` dB that sets in as the viewing angle
``atan((t - t0) / w)`` turns through zero. In dB the curve is

    RSSI(t) = A - B * log10(w^2 + (t - t0)^2) - S * sigma(atan((t - t0) / w) / turn)

flat-topped near the crossing ``t0``, with long log-shaped flanks that
carry most of the timing information, the falling one lower by ``S``.
Left out, the shadow pulls the fitted peak 20-35 ms early.

For fixed ``(t0, w)`` the model is linear in ``(A, B, S)``, so each
candidate is a small closed-form weighted least-squares solve; a grid of
candidates is solved at once, then refined around the best. ``B`` is
fitted, not assumed (antenna patterns differ), but must be positive: the
curve has to be a peak. ``S`` trades against ``t0`` (a deeper shadow and a
later crossing look alike on a noisy burst; fitted freely it doubles the
scatter), so it carries a ridge prior centred on ``SHADOW_PRIOR_DB`` and is
bounded to ``[0, SHADOW_MAX_DB]``: a burst with a clear shadow moves it a
little, a noisy one leaves it near the prior. The shadow's turn
(``SHADOW_TURN_RAD``) need not be exact: half or twice it changes the p95 by
1-3 ms on simulated passes.

Robust, asymmetric loss: multipath fades only pull reads *down* (and the
deepest fades drop reads altogether). Reads below the curve get Huber's
bounded influence (``LOW_HUBER`` scales): the simulated residuals' lower
tail is exponential (log-density falling ~0.3 per dB from -4 to -14 dB),
for which a constant pull is the maximum-likelihood influence, where a
Tukey cut at 4 scales (the previous loss) treated fades down to -16 dB as
Gaussian. Reads above the curve keep a least-squares weight (Huber only
for gross outliers): the Rician channel's upper tail is short. Reads within ``FLOOR_DB`` of the
weakest read are dropped first: near the reader's sensitivity only the
lucky (constructively faded) reads succeed, which would flatten the fit.

``None`` means "does not look like a pass" (too few reads, flat RSSI, no
peak inside the burst): the caller falls back to a simpler method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Reads this close (dB) to the weakest read of the burst are near the sensitivity floor.
FLOOR_DB = 3.0
#: Fewest reads the fit needs (three parameters plus margin).
MIN_READS = 6
#: Candidate closest-approach times w = distance / speed (s): 0.5 m at 12 m/s to 6 m at 4 m/s.
W_GRID_S = np.geomspace(0.04, 1.5, 24)
COARSE_STEP_S = 0.02
FINE_STEP_S = 0.001
#: The crossing is searched among reads this close (dB) to the strongest one: the
#: curve's top; its flanks still shape the fit, they just cannot hold the peak.
SEARCH_DB = 15.0
#: Below-curve residuals pull with a bounded force beyond this many scales (Huber's
#: usual constant). Against the previous Tukey cut at 4 scales: p95 -1 ms on whole
#: bursts, -0.4 ms on early-cut ones (4 seeds x 300 passes at 40 reads/s): weak.
LOW_HUBER = 1.345
#: Above-curve residuals beyond this many scales are down-weighted (Huber).
HIGH_CUT = 6.0
#: The body shadow's expected depth (dB) once the tag is past: the prior's centre.
#: Chosen on simulated passes (1-4 dB shadows): 2.5 left +4 ms of bias, 1.5 -6 ms.
SHADOW_PRIOR_DB = 2.0
#: Weight of that prior (squared dB of residual per squared dB of shadow off it).
#: 3, 10, 30, 1000 gave p95 33, 30.5, 30, 30.5 ms at 40 reads/s: noisy bursts
#: hardly identify S, so in practice this is an expected shadow the data nudge.
SHADOW_PRIOR_WEIGHT = 30.0
#: The shadow is bounded: never a gain, never deeper than this (dB).
SHADOW_MAX_DB = 6.0
#: Angle (rad) over which the shadow sets in as the tag turns past the antenna.
SHADOW_TURN_RAD = 0.25


def _shadow(dt: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fraction (0..1) of the body shadow at time ``dt`` from the crossing.

    The tag is seen at angle ``atan(dt / w)`` off boresight; the shadow sets
    in smoothly as that angle passes zero (the bib faces forward).
    """
    return 1.0 / (1.0 + np.exp(-np.arctan2(dt, w) / SHADOW_TURN_RAD))


def _solve_grid(t: np.ndarray, y: np.ndarray, weights: np.ndarray, t0s: np.ndarray,
                ws: np.ndarray, shadow_db: float = SHADOW_PRIOR_DB,
                ) -> tuple[float, float, np.ndarray] | None:
    """Best (t0, w, residuals) over the grid by weighted, shadow-regularised least squares.

    For each (t0, w) the model is linear in (A, B, S): A is eliminated by
    weighted centring, (B, S) solved in closed form with the prior's ridge on
    S, S clipped to [0, SHADOW_MAX_DB] (B re-solved then), and the weighted
    SSE plus the prior's penalty computed from the moments, so no per-read
    residual array is built for the whole grid.
    """
    dt = t[None, None, :] - t0s[:, None, None]                      # (T, 1, n)
    w3 = ws[None, :, None]                                          # (1, W, 1)
    x1 = -np.log10(w3 * w3 + dt * dt)                               # (T, W, n)
    x2 = -_shadow(dt, w3)
    sw = float(weights.sum())
    ybar = float(weights @ y) / sw
    yc = y - ybar
    m1 = (x1 @ weights) / sw
    m2 = (x2 @ weights) / sw
    x1 -= m1[..., None]
    x2 -= m2[..., None]
    wx1, wx2 = x1 * weights, x2 * weights
    c11 = np.einsum("twn,twn->tw", wx1, x1)
    c22 = np.einsum("twn,twn->tw", wx2, x2)
    c12 = np.einsum("twn,twn->tw", wx1, x2)
    c1y = wx1 @ yc
    c2y = wx2 @ yc
    cyy = float(weights @ (yc * yc))
    with np.errstate(divide="ignore", invalid="ignore"):
        p22 = c22 + SHADOW_PRIOR_WEIGHT
        det = c11 * p22 - c12 * c12
        slope = (p22 * c1y - c12 * (c2y + SHADOW_PRIOR_WEIGHT * shadow_db)) / det
        shadow = (c11 * (c2y + SHADOW_PRIOR_WEIGHT * shadow_db) - c12 * c1y) / det
        clipped = np.clip(shadow, 0.0, SHADOW_MAX_DB)
        slope = np.where(clipped == shadow, slope, (c1y - clipped * c12) / c11)
    shadow = clipped
    sse = (cyy - 2.0 * slope * c1y - 2.0 * shadow * c2y + slope * slope * c11
           + 2.0 * slope * shadow * c12 + shadow * shadow * c22
           + SHADOW_PRIOR_WEIGHT * (shadow - shadow_db) ** 2)
    sse = np.where((slope > 0.0) & np.isfinite(sse) & (c11 > 1e-12), sse, np.inf)
    flat = int(np.argmin(sse))
    if not np.isfinite(sse.flat[flat]):
        return None
    i, j = np.unravel_index(flat, sse.shape)
    resid = yc - slope[i, j] * x1[i, j] - shadow[i, j] * x2[i, j]
    return float(t0s[i]), float(ws[j]), resid


def _reweight(resid: np.ndarray) -> np.ndarray:
    """IRLS weights: Huber below the curve (fades), least squares above it (see module note)."""
    scale = max(1.0, 1.4826 * float(np.median(np.abs(resid))))
    u = resid / scale
    low = np.minimum(1.0, LOW_HUBER / np.maximum(-u, 1e-9))
    high = np.where(u < HIGH_CUT, 1.0, HIGH_CUT / np.maximum(u, 1e-9))
    return np.where(u >= 0.0, high, low)


def shape_fit(times_s: Sequence[float], rssis: Sequence[float], iterations: int = 4,
              shadow_db: float = SHADOW_PRIOR_DB) -> tuple[float, float] | None:
    """(crossing time t0, w) of the pass shape fitted to one burst, or None (see module note).

    ``shadow_db`` is the prior's centre: the mounting's expected body shadow
    (0 for a tag with no body behind it, e.g. on a shoe or a test rig).
    """
    if len(times_s) < MIN_READS:
        return None
    t_all = np.asarray(times_s, dtype=float)
    y_all = np.asarray(rssis, dtype=float)
    if not (np.all(np.isfinite(t_all)) and np.all(np.isfinite(y_all))):
        return None
    keep = y_all >= y_all.min() + FLOOR_DB
    if np.count_nonzero(keep) < MIN_READS:
        keep = np.ones_like(keep)
    origin = float(t_all[int(np.argmax(y_all))])
    t, y = t_all[keep] - origin, y_all[keep]
    if float(y.max() - y.min()) < 2.0 or t[-1] - t[0] <= 0.0:
        return None  # flat: no shape to fit
    top = t[y >= y.max() - SEARCH_DB]
    t0s = np.arange(top[0], top[-1] + COARSE_STEP_S / 2, COARSE_STEP_S)
    weights = np.ones_like(t)
    best = None
    for _ in range(iterations):
        best = _solve_grid(t, y, weights, t0s, W_GRID_S, shadow_db)
        if best is None:
            return None
        weights = _reweight(best[2])  # never zero: a fade keeps a bounded pull
        # later rounds search near the last best only: coarse to fine, same answer
        t0s = np.arange(best[0] - 2 * COARSE_STEP_S, best[0] + 2.5 * COARSE_STEP_S,
                        COARSE_STEP_S)
    t0, w, _ = best  # type: ignore[misc]
    span = COARSE_STEP_S + 0.002
    fine = _solve_grid(t, y, weights,
                       np.arange(t0 - span, t0 + span + FINE_STEP_S / 2, FINE_STEP_S),
                       w * np.geomspace(0.88, 1.14, 9), shadow_db)
    if fine is None:
        return None
    t0, w, _ = fine
    if not t[0] < t0 < t[-1]:
        return None  # the peak is not inside the burst: half a pass
    return origin + t0, w
