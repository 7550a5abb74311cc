"""Per-column leading edges of a body's silhouette, to sub-sample precision.

For each strip column (a height on the body) the leading edge towards +rows
is the last row of the body's mask, refined to where the difference profile
falls through half of the local contrast: the 50 % point of a blurred edge is
where the edge is at mid-exposure, whatever the contrast, while the mask's
own edge sits wherever the threshold happened to cut. All columns at once,
with numpy (a loop over columns costs more than the whole background model).
"""

from __future__ import annotations

import numpy as np

#: Rows looked at on each side of the mask's edge.
_REACH = 3
_OFFSETS = np.arange(-_REACH, _REACH + 1)


def both_leading_edges(diff: np.ndarray, *blobs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sub-sample leading edge row per column of each blob, towards +rows and -rows.

    Each blob is a 0/1 mask over ``diff``'s rows and columns (the difference
    image). Per blob, (towards +rows, towards -rows): one float per column
    (NaN where the column is empty), in the rows of the blob; an edge at
    ``r + f`` lies between rows ``r`` and ``r + 1``.

    All in one pass: each problem towards -rows is flipped, and all are set
    side by side, so every numpy step runs once over all the columns instead
    of once per problem (per-call overhead is most of the cost on a small blob).
    """
    n_rows, n_cols = diff.shape
    flipped = diff[::-1]
    edges = _towards_last_row(
        np.hstack([m for b in blobs for m in (b, b[::-1])]),
        np.hstack([d for _ in blobs for d in (diff, flipped)]),
    )
    out = []
    for k in range(len(blobs)):
        at = 2 * k * n_cols
        out.append((edges[at : at + n_cols], n_rows - 1 - edges[at + n_cols : at + 2 * n_cols]))
    return out


def _towards_last_row(blob: np.ndarray, diff: np.ndarray) -> np.ndarray:
    n_rows, n_cols = blob.shape
    # One more than each column's last row (0: empty column), as a max over
    # rows: numpy's argmax along axis 0 of a reversed view costs several times more.
    ends = ((blob != 0) * np.arange(1, n_rows + 1, dtype=_row_type(n_rows))[:, None]).max(axis=0)
    has = ends > 0
    last = np.where(has, ends.astype(np.intp) - 1, n_rows - 1)
    cols = np.arange(n_cols)
    idx = last[None, :] + _OFFSETS[:, None]
    np.clip(idx, 0, n_rows - 1, out=idx)
    win = diff[idx, cols[None, :]].astype(np.float32, copy=False)
    # Local contrast: the strongest of the samples just inside the edge.
    m = np.argmax(win[: _REACH + 1], axis=0)
    half = 0.5 * win[m, cols]
    above = win >= half[None, :]
    above[_OFFSETS[:, None] + _REACH <= m[None, :]] = True
    k = np.where(above.all(axis=0), len(_OFFSETS) - 1, np.argmin(above, axis=0))
    a = win[k - 1, cols]
    b = win[k, cols]
    frac = np.clip((a - half) / np.maximum(a - b, 1e-6), 0.0, 1.0)
    edge = last.astype(np.float64) - _REACH + (k - 1) + frac
    edge[~has] = np.nan
    return edge


def _row_type(n_rows: int) -> type:
    return np.uint8 if n_rows < 255 else np.int32
