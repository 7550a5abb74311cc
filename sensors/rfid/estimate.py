"""Crossing-time estimates from one burst of reads of one tag (pure functions).

Each takes the read times (seconds) and RSSIs (reader units, higher is
stronger; ``None`` when the reader gives none) of one burst, in time order,
and returns one time:

* ``first``: the first read. What a naive system reports; it fires when the
  tag enters the field, so it is early by a distance that depends on tag
  orientation, speed and range.
* ``midpoint``: halfway between the first and the last read. Needs no RSSI
  (the UHFReader18 gives none); symmetric fields make it unbiased on average.
* ``strongest``: the strongest read. Multipath fades make single reads jump
  by several dB, so it scatters.
* ``fit``: the vertex of a quadratic fitted to RSSI (dB) against time near
  the peak, by iteratively reweighted least squares with Tukey's biweight
  (deep fades are outliers and lose their weight), re-windowed around the
  fitted peak. Falls back to ``midpoint`` when the fit is not a peak.
* ``shape``: the crossing time of the physical pass shape (log-distance
  path loss and the body's shadow once past, ``shapefit.py``) fitted with
  an asymmetric robust loss. Falls
  back to ``fit``, then ``midpoint``, when the burst does not look like a
  pass (few reads, flat RSSI, the peak at an edge).
* ``decoder``: the reader already reduced the burst (a P3 PASSING).

``estimate_used`` also says which method produced the time, so a fallback
is visible in a crossing's ``method`` field (a single read is ``single``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .shapefit import SHADOW_PRIOR_DB, shape_fit

METHODS = ("first", "midpoint", "strongest", "fit", "shape", "decoder")
#: A burst whose RSSI spans less than this (dB) is flat: it has no peak to find.
FLAT_DB = 2.0


def first_read(times_s: Sequence[float], rssis: Sequence[float | None]) -> float:
    """Time of the first read."""
    return float(times_s[0])


def midpoint(times_s: Sequence[float], rssis: Sequence[float | None]) -> float:
    """Halfway between the first and the last read."""
    return (float(times_s[0]) + float(times_s[-1])) / 2.0


def strongest_read(times_s: Sequence[float], rssis: Sequence[float | None]) -> float:
    """Time of the strongest read (the middle one of equal maxima); ``midpoint`` without RSSI."""
    if any(r is None for r in rssis):
        return midpoint(times_s, rssis)
    peak = max(rssis)  # type: ignore[type-var]
    tied = [t for t, r in zip(times_s, rssis, strict=True) if r == peak]
    return float(tied[len(tied) // 2])


def _tukey_quadratic(t: np.ndarray, r: np.ndarray) -> np.ndarray | None:
    """Robust (a, b, c) of r = a t^2 + b t + c, or None if degenerate."""
    design = np.column_stack((t * t, t, np.ones_like(t)))
    weights = np.ones_like(t)
    coef = None
    for _ in range(6):
        sw = np.sqrt(weights)
        try:
            coef, *_ = np.linalg.lstsq(design * sw[:, None], r * sw, rcond=None)
        except np.linalg.LinAlgError:
            return None
        resid = r - design @ coef
        scale = 1.4826 * float(np.median(np.abs(resid)))
        if scale < 1e-6:
            break
        u = resid / (4.685 * scale)
        weights = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        if np.count_nonzero(weights) < 4:
            return None
    return coef


def fitted_peak(times_s: Sequence[float], rssis: Sequence[float | None],
                window_db: float = 16.0) -> float:
    """Vertex of a robust quadratic fit of RSSI against time (see the module note)."""
    vertex = _quadratic_vertex(times_s, rssis, window_db)
    return midpoint(times_s, rssis) if vertex is None else vertex


def _quadratic_vertex(times_s: Sequence[float], rssis: Sequence[float | None],
                      window_db: float = 16.0) -> float | None:
    if len(times_s) < 5 or any(r is None for r in rssis):
        return None
    t_all = np.asarray(times_s, dtype=float)
    r_all = np.asarray(rssis, dtype=float)
    origin = float(t_all[0])
    t_all = t_all - origin
    use = np.ones_like(t_all, dtype=bool)
    vertex = None
    for _ in range(3):
        if np.count_nonzero(use) < 5:
            break
        coef = _tukey_quadratic(t_all[use], r_all[use])
        if coef is None or coef[0] >= 0.0:
            break
        a, b, _c = coef
        vertex = -b / (2.0 * a)
        half_s = math.sqrt(window_db / -a)
        new_use = np.abs(t_all - vertex) <= half_s
        if np.array_equal(new_use, use):
            break
        use = new_use
    if vertex is None or not (t_all[0] <= vertex <= t_all[-1]):
        return None
    return origin + float(vertex)


def _shape(times_s: Sequence[float], rssis: Sequence[float | None]) -> float:
    return estimate_used("shape", times_s, rssis)[0]


ESTIMATORS = {
    "first": first_read,
    "midpoint": midpoint,
    "strongest": strongest_read,
    "fit": fitted_peak,
    "shape": _shape,
    "decoder": first_read,
}


def estimate_used(method: str, times_s: Sequence[float], rssis: Sequence[float | None],
                  shadow_db: float = SHADOW_PRIOR_DB) -> tuple[float, str]:
    """(crossing time, the method that produced it): ``method`` or the fallback taken.

    ``shadow_db`` is the body shadow ``shape`` expects (``shapefit.py``).
    """
    if method not in ESTIMATORS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if len(times_s) == 1 and method != "decoder":
        return float(times_s[0]), "single"
    has_rssi = all(r is not None for r in rssis)
    if method in ("fit", "shape", "strongest") and (
            not has_rssi or max(rssis) - min(rssis) < FLAT_DB):  # type: ignore[type-var,operator]
        return midpoint(times_s, rssis), "midpoint"  # no RSSI or no peak: nothing to fit
    if method == "shape":
        fitted = shape_fit(times_s, rssis, shadow_db=shadow_db)  # type: ignore[arg-type]
        if fitted is not None:
            return fitted[0], "shape"
        method = "fit"
    if method == "fit":
        vertex = _quadratic_vertex(times_s, rssis)
        return (vertex, "fit") if vertex is not None else (midpoint(times_s, rssis), "midpoint")
    return ESTIMATORS[method](times_s, rssis), method


def estimate(method: str, times_s: Sequence[float], rssis: Sequence[float | None]) -> float:
    """The crossing time of one burst by ``method`` (one of ``METHODS``)."""
    return estimate_used(method, times_s, rssis)[0]
