"""The physical shape of a pass, fitted to one burst's RSSI (pure numpy).

Why not a parabola: a tag passing an antenna at closest distance ``d`` and
speed ``v`` is at range ``r^2 = v^2 (w^2 + (t - t0)^2)`` with ``w = d / v``,
and backscatter power (with the antenna pattern) falls as a power of that
range, so in dB the curve is

    RSSI(t) = A - B * log10(w^2 + (t - t0)^2)

flat-topped near the crossing ``t0`` and with long log-shaped flanks that
carry most of the timing information. A parabola only fits the top, where
the curve is flattest and multipath fades hide the peak.

For fixed ``(t0, w)`` the model is linear in ``(A, B)``, so each candidate
is a 2x2 weighted least-squares solve; a grid of candidates is solved at
once, then refined around the best. ``B`` is fitted, not assumed (antenna
patterns differ), but must be positive: the curve has to be a peak.

Robust, asymmetric loss: multipath fades only pull reads *down* (and the
deepest fades drop reads altogether), so reads far below the curve lose
their weight (Tukey biweight) while reads above it keep a least-squares
weight (Huber only for gross outliers). Reads within ``FLOOR_DB`` of the
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
#: Below-curve residuals beyond this many scales weigh nothing (a fade).
LOW_CUT = 4.0
#: Above-curve residuals beyond this many scales are down-weighted (Huber).
HIGH_CUT = 6.0


def _solve_grid(t: np.ndarray, y: np.ndarray, weights: np.ndarray, t0s: np.ndarray,
                ws: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """Best (t0, w, residuals) over the grid by weighted least squares, or None."""
    dt = t[None, :] - t0s[:, None]                                  # (T, n)
    x = -np.log10(ws[None, :, None] ** 2 + dt[:, None, :] ** 2)     # (T, W, n)
    sw = float(weights.sum())
    swx = x @ weights
    swxx = (x * x) @ weights
    swy = float(weights @ y)
    swxy = x @ (weights * y)
    det = sw * swxx - swx * swx
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sw * swxy - swx * swy) / det
        level = (swy - slope * swx) / sw
    resid = y[None, None, :] - (level[..., None] + slope[..., None] * x)
    sse = (resid * resid) @ weights
    sse = np.where((slope > 0.0) & np.isfinite(sse) & (det > 1e-12), sse, np.inf)
    flat = int(np.argmin(sse))
    if not np.isfinite(sse.flat[flat]):
        return None
    i, j = np.unravel_index(flat, sse.shape)
    return float(t0s[i]), float(ws[j]), resid[i, j]


def _reweight(resid: np.ndarray) -> np.ndarray:
    scale = max(1.0, 1.4826 * float(np.median(np.abs(resid))))
    u = resid / scale
    low = np.where(-u < LOW_CUT, (1.0 - (u / LOW_CUT) ** 2) ** 2, 0.0)
    high = np.where(u < HIGH_CUT, 1.0, HIGH_CUT / np.maximum(u, 1e-9))
    return np.where(u >= 0.0, high, low)


def shape_fit(times_s: Sequence[float], rssis: Sequence[float],
              iterations: int = 4) -> tuple[float, float] | None:
    """(crossing time t0, w) of the pass shape fitted to one burst, or None (see module note)."""
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
        best = _solve_grid(t, y, weights, t0s, W_GRID_S)
        if best is None:
            return None
        weights = _reweight(best[2])
        if np.count_nonzero(weights) < MIN_READS:
            return None
    t0, w, _ = best  # type: ignore[misc]
    span = COARSE_STEP_S + 0.002
    fine = _solve_grid(t, y, weights, np.arange(t0 - span, t0 + span + FINE_STEP_S / 2,
                                                FINE_STEP_S), w * np.geomspace(0.88, 1.14, 9))
    if fine is None:
        return None
    t0, w, _ = fine
    if not t[0] < t0 < t[-1]:
        return None  # the peak is not inside the burst: half a pass
    return origin + t0, w
