"""Find torsos in one frame's foreground mask and measure their leading edges.

Theory of operation. The World Athletics rule times the torso, not the head,
neck, arms, legs, hands or feet. In a side view the torso is the thickest part
of a runner: its largest inscribed circle (found with a distance transform)
has a radius of about half the chest depth, while arms, legs and the neck are
well under two thirds of that. So, per foreground blob:

1. close small holes, then take the distance transform; its maximum ``R`` is
   the half-thickness of the thickest part (the torso), whatever the scale;
2. open the blob with a disc of radius ``0.62 R`` (but at most what the
   blob's height allows: at the hips torso and thighs overlap into a thicker
   part than the chest): limbs and the neck vanish,
   the torso survives, the head survives as a separate, smaller piece;
3. the torso is the largest surviving piece (a second piece is the head, a
   torso cut in two by an arm, or another runner; the detector tells runners
   apart by their motion, twobody.py, not by these pieces), except that a
   blob holding two bodies the detector tracked apart (``bodies``) is first
   cut between them, and each part goes through steps 1-4 on its own;
4. its leading edge in each direction is the extreme row of that piece,
   refined to sub-pixel precision where the difference profile crosses half
   the torso's contrast (the 50 % point of a motion-blurred edge is the
   edge's position at mid-exposure, which is the frame's time).

Everything is in strip coordinates: rows across the line, columns along it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sensors.camera.background import channel_sum
from sensors.camera.edges import both_leading_edges

#: Opening radius as a fraction of the largest inscribed radius.
OPEN_FRACTION = 0.62
#: Half the chest depth relative to the body's height (anthropometry: ~0.13 m / 1.75 m).
HALF_DEPTH_PER_HEIGHT = 0.075
#: Colour distance (sum over B, G, R) within which a pixel counts as the same clothing.
CLOTHING_TOLERANCE = 60.0
#: Pixels deeper than this fraction of the deepest form the core whose colour is the shirt's.
CORE_FRACTION = 0.6
#: A piece thinner than this fraction of a nearby torso is a loose limb or shadow.
FRAGMENT_RADIUS_FRACTION = 0.6
#: Two torsos in one blob (``_stacked``): each at least this fraction of the thickest
#: piece's thickness, this many of its half depths long, with body beyond both its
#: ends at least this fraction of its length, and this many half depths apart.
STACK_RADIUS_FRACTION = 0.8
STACK_ELONGATION = 2.5
STACK_MARGIN = 0.5
STACK_GAP_RADII = 1.5


@dataclass(frozen=True, slots=True)
class TorsoObservation:
    """One torso in one frame, in strip samples (rows across, columns along)."""

    #: Leading edge rows (sub-pixel) for motion towards +rows and towards -rows.
    front_plus: float
    front_minus: float
    #: Column (along the line) where each front was found.
    front_plus_col: float
    front_minus_col: float
    centroid_row: float
    centroid_col: float
    col_lo: int
    col_hi: int
    area: int
    #: Largest inscribed radius of the blob, in samples (half the torso thickness).
    radius: float
    #: Extent of the whole blob along the line, in samples (about the body's height).
    height: int
    #: The whole body's leading edge row per strip column from ``edges_col0``
    #: on (NaN: empty column), towards +rows and towards -rows (see edges.py).
    edges_col0: int = 0
    #: First strip column of the whole body (its extent is ``height``).
    body_lo: int = 0
    #: Measured on a part of a blob cut between two tracked bodies (find_torsos' ``bodies``).
    cut: bool = False
    #: The blob holds two torso-like pieces far apart along the line (``_stacked``).
    stacked: bool = False
    #: Where such a blob parts into two bodies (strip column, midway between the torsos).
    stack_cut: int | None = None
    edges_plus: np.ndarray | None = field(default=None, compare=False)
    edges_minus: np.ndarray | None = field(default=None, compare=False)


def find_torsos(
    mask: np.ndarray,
    difference: np.ndarray,
    min_area: int,
    min_height: int,
    radius_hint: dict[tuple[int, int], float] | None = None,
    colour: np.ndarray | None = None,
    bodies: list[tuple[int, int]] | None = None,
    stacked_before: list[tuple[int, int]] | None = None,
) -> list[TorsoObservation]:
    """All torsos in a strip mask (uint8, rows across x columns along).

    ``radius_hint`` maps a blob's column range to a radius seen earlier for
    the same body (trackers pass the largest recent one), which keeps the
    opening steady while a torso is only partly inside the strip; a blob
    that such an opening erases whole is opened at its own thickness.
    ``bodies`` are the torso column ranges of bodies tracked apart until the
    last frame: a blob that holds two or more of them (a near runner's head
    touching a far runner's legs) is cut between them and each part measured
    as a body of its own, with its own thickness (a far, thinner torso would
    not survive an opening sized for the near one).
    ``stacked_before`` are the column ranges of blobs that held two stacked
    torsos (``_stacked``) in the last frame: a blob that holds two again there
    is cut between them and each part measured as a body. Two runners who
    entered the strip touching were never tracked apart, and in one blob the
    torso measured swapped between them from frame to frame, so neither track
    saw its runner reach the line; a single runner's blob looks stacked in a
    frame now and then, never in two running.
    """
    # Join fragments of one body (a shirt close to the background in places).
    joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out: list[TorsoObservation] = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area or w < min_height:
            continue
        out.extend(_blob_torsos(labels, difference, i, (x, y, w, h), min_area,
                                radius_hint or {}, colour, bodies or [], stacked_before or []))
    return _drop_fragments(out)


def _blob_torsos(
    labels: np.ndarray,
    difference: np.ndarray,
    label: int,
    box: tuple[int, int, int, int],
    min_area: int,
    radius_hint: dict[tuple[int, int], float],
    colour: np.ndarray | None,
    bodies: list[tuple[int, int]],
    stacked_before: list[tuple[int, int]],
) -> list[TorsoObservation]:
    """The torsos of blob ``label`` (bounding ``box``: x, y, w, h): find_torsos per blob."""
    x, y, w, h = box
    rows, cols = labels.shape
    whole = (x, x + w - 1)

    def measure(parts: list[tuple[int, int]], stacked: bool = False) -> list[TorsoObservation]:
        """Each part (a column range of the blob) measured as a body."""
        return [o for lo, hi in parts
                for o in _measure_blob(labels, difference, label, lo, hi, y, h, rows, cols,
                                       min_area, radius_hint, colour, whole, stacked)]

    parts = _parts(x, w, bodies)
    found = measure(parts)
    if len(parts) > 1 and len(found) < len(parts):
        found = measure([whole])
    cut = found[0].stack_cut if len(found) == 1 else None
    if cut is not None and any(lo <= whole[1] and hi >= x for lo, hi in stacked_before):
        halves = measure([(x, cut - 1), (cut, whole[1])], stacked=True)
        found = halves if len(halves) == 2 else found
    return found


def _drop_fragments(torsos: list[TorsoObservation]) -> list[TorsoObservation]:
    """Drop pieces that sit beside a much thicker torso along the line.

    A limb or a shadow that came loose from its body becomes a blob of its
    own; its "torso" is thin next to the real one at the same place along the
    line. Two real bodies side by side (near and far lane) are both thick.
    """
    keep = []
    for a in torsos:
        beaten = any(
            b is not a
            and b.radius * FRAGMENT_RADIUS_FRACTION > a.radius
            and b.area > a.area
            and min(a.col_hi, b.col_hi) >= max(a.col_lo, b.col_lo) - (b.col_hi - b.col_lo) // 2
            for b in torsos
        )
        if not beaten:
            keep.append(a)
    return keep


def _parts(x: int, w: int, bodies: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Column ranges of one blob (columns ``x .. x + w - 1``), one per tracked body in it.

    Cut midway between neighbouring bodies' torsos; bodies whose torsos
    overlap along the line cannot be told apart by columns: one part.
    """
    inside = sorted((lo, hi) for lo, hi in bodies if lo <= x + w - 1 and hi >= x)
    if len(inside) < 2 or any(b[0] <= a[1] for a, b in zip(inside, inside[1:], strict=False)):
        return [(x, x + w - 1)]
    cuts = [x] + [(a[1] + b[0] + 1) // 2 for a, b in zip(inside, inside[1:], strict=False)]
    return [(lo, nxt - 1) for lo, nxt in zip(cuts, cuts[1:] + [x + w], strict=True)]


def _measure_blob(
    labels: np.ndarray,
    difference: np.ndarray,
    label: int,
    lo: int,
    hi: int,
    y: int,
    h: int,
    rows: int,
    cols: int,
    min_area: int,
    radius_hint: dict[tuple[int, int], float],
    colour: np.ndarray | None,
    whole: tuple[int, int],
    stacked: bool = False,
) -> list[TorsoObservation]:
    """Measure the body in columns ``lo .. hi`` of blob ``label`` (``whole``: all its columns).

    ``stacked``: the part is one of two bodies ``_stacked`` found in the blob.
    """
    pad = 2 + max(2, (whole[1] - whole[0] + 1) // 8)
    y0, y1 = max(0, y - pad), min(rows, y + h + pad)
    # Pad only at the blob's own ends: a cut between two bodies is a hard edge.
    x0 = max(0, lo - pad) if lo == whole[0] else lo
    x1 = min(cols, hi + 1 + pad) if hi == whole[1] else hi + 1
    blob = (labels[y0:y1, x0:x1] == label).astype(np.uint8)
    if blob.sum() < min_area:
        return []
    filled = blob.any(axis=0)
    x = lo + int(np.argmax(filled[lo - x0 :]))
    w = hi + 1 - x - int(np.argmax(filled[: hi + 1 - x0][::-1]))
    diff = difference[y0:y1, x0:x1]
    body = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    # Extend blobs cut by the strip's edge, so the edge does not thin them.
    top = pad if y0 == 0 else 0
    bottom = pad if y1 == rows else 0
    if top or bottom:
        blob = cv2.copyMakeBorder(blob, top, bottom, 0, 0, cv2.BORDER_REPLICATE)
    blob = cv2.morphologyEx(blob, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    dist = cv2.distanceTransform(blob, cv2.DIST_L2, 3)
    own = float(dist.max())
    radius = own
    for (hint_lo, hint_hi), hinted in radius_hint.items():
        if hint_lo <= x + w and hint_hi >= x:
            radius = max(radius, min(hinted, 1.5 * radius))
    n, lab, st, cen, r = _open(blob, radius, w, top, bottom)
    best = _torso_label(n, st, min_area)
    if best is None and radius > own:
        # The thickness seen earlier opened away the whole body (its torso
        # covered by an arm in this frame, say): the body's own thickness.
        radius = own
        n, lab, st, cen, r = _open(blob, radius, w, top, bottom)
        best = _torso_label(n, st, min_area)
    if best is None:
        return []
    gap = _stacked(lab, st, dist[top : dist.shape[0] - bottom] if (top or bottom) else dist) if (
        n > 2 and (lo, hi) == whole) else None
    stacked = stacked or gap is not None
    torso = lab == best
    if colour is not None:
        torso = _same_clothing(torso, colour[y0:y1, x0:x1], r)
    (edges_plus, edges_minus), torso_edges = both_leading_edges(diff, body, torso)
    edges_plus += y0
    edges_minus += y0
    # Edges cut by the strip's ends are unknown, not measured.
    edges_plus[edges_plus >= rows - 2] = np.nan
    edges_minus[edges_minus <= 1] = np.nan
    (fp, fpc), (fm, fmc) = _fronts(torso, *torso_edges)
    cx, cy = cen[best]
    tx, tw = int(st[best, cv2.CC_STAT_LEFT]), int(st[best, cv2.CC_STAT_WIDTH])
    return [
        TorsoObservation(
            front_plus=fp + y0,
            front_minus=fm + y0,
            front_plus_col=fpc + x0,
            front_minus_col=fmc + x0,
            centroid_row=float(cy) + y0,
            centroid_col=float(cx) + x0,
            col_lo=tx + x0,
            col_hi=tx + tw - 1 + x0,
            area=int(st[best, cv2.CC_STAT_AREA]),
            radius=radius,
            height=w,
            edges_col0=x0,
            body_lo=x,
            cut=(lo, hi) != whole,
            stacked=stacked,
            stack_cut=None if gap is None else x0 + (gap[0] + gap[1] + 1) // 2,
            edges_plus=edges_plus,
            edges_minus=edges_minus,
        )
    ]


def _open(blob: np.ndarray, radius: float, w: int, top: int,
          bottom: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, int]:
    """The pieces of ``blob`` that survive an opening scaled to ``radius``, and its radius.

    The thickest part can be the hip, where torso and thighs overlap: never open
    with more than a body-height proportion allows (chest half-depth ~ 7 % of height).
    """
    r = max(1, int(round(OPEN_FRACTION * min(radius, HALF_DEPTH_PER_HEIGHT * w))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    opened = cv2.morphologyEx(blob, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    opened = opened[top : opened.shape[0] - bottom] if (top or bottom) else opened
    n, lab, st, cen = cv2.connectedComponentsWithStats(opened, connectivity=8)
    return n, lab, st, cen, r


def _torso_label(n: int, stats: np.ndarray, min_area: int) -> int | None:
    """The largest piece's label, None if there is none big enough to be a torso."""
    if n <= 1:
        return None
    best = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    return best if stats[best, cv2.CC_STAT_AREA] >= max(4, min_area // 4) else None


def _stacked(lab: np.ndarray, stats: np.ndarray, dist: np.ndarray) -> tuple[int, int] | None:
    """Two torso-like pieces, far apart along the line, each with body beyond it?

    Returns the columns (``lab``'s) where the gap between them begins and
    ends, or None.

    Two runners in different lanes who touch in the strip all the way (the far
    one's feet on the near one's head) make one blob with two torsos: thick,
    elongated pieces some torso depths apart, each with more body on both
    sides (a head above, legs below). A single runner's second thick piece is
    its legs, at the blob's end.
    """
    pieces = []
    for k in range(1, len(stats)):
        left, width = int(stats[k, cv2.CC_STAT_LEFT]), int(stats[k, cv2.CC_STAT_WIDTH])
        radius = float(dist[lab == k].max())
        pieces.append((left, left + width - 1, radius))
    thickest = max(p[2] for p in pieces)
    body_cols = np.flatnonzero(dist.max(axis=0) > 0)  # never empty: the pieces lie in it
    first, last = int(body_cols[0]), int(body_cols[-1])
    torsos = sorted(
        (lo, hi, rad) for lo, hi, rad in pieces
        if rad >= STACK_RADIUS_FRACTION * thickest
        and hi - lo + 1 >= STACK_ELONGATION * rad
        and min(lo - first, last - hi) >= STACK_MARGIN * (hi - lo + 1)
    )
    return next(((a[1] + 1, b[0] - 1) for a, b in zip(torsos, torsos[1:], strict=False)
                 if b[0] - a[1] >= STACK_GAP_RADII * thickest), None)


def _same_clothing(torso: np.ndarray, colour: np.ndarray, r: int) -> np.ndarray:
    """Keep the part of ``torso`` dressed like its core (the shirt, not bare arms).

    Where the arms join the shoulders the opened silhouette keeps a fillet of
    arm; if the arms are another colour than the shirt, they go here. The
    shirt colour is the dominant colour of the torso's core; a one-colour
    figure keeps everything and the silhouette alone decides.
    """
    inside = cv2.distanceTransform(torso.astype(np.uint8), cv2.DIST_L2, 3)
    core = inside >= CORE_FRACTION * float(inside.max())
    pix = colour[core]
    if len(pix) < 6:
        return torso
    # The dominant colour (a coarse histogram's fullest bin), not the median: an
    # arm across the chest must not blend into the shirt's colour.
    bins = (pix[:, 0] // 32).astype(np.int32) * 64 + (pix[:, 1] // 32) * 8 + pix[:, 2] // 32
    top = np.bincount(bins, minlength=512).argmax()
    shirt = pix[bins == top]
    # The mean colour (exact sums in double, as np.mean's; cv2.sumElems is cheaper).
    centre = (np.array(cv2.sumElems(shirt.reshape(-1, 1, 3))[:3]) / len(shirt)).astype(np.float32)
    tol = CLOTHING_TOLERANCE
    near = channel_sum(cv2.absdiff(colour.astype(np.float32), (*centre.tolist(), 0.0))) < tol
    kept = (torso & near).astype(np.uint8)
    kept = cv2.morphologyEx(kept, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, st, _ = cv2.connectedComponentsWithStats(kept, connectivity=8)
    if n <= 1:
        return torso
    best = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
    if st[best, cv2.CC_STAT_AREA] < max(0.1 * torso.sum(), 4.0 * r * r):
        return torso
    return lab == best


def _fronts(torso: np.ndarray, plus: np.ndarray,
            minus: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Sub-pixel leading row of ``torso`` and its column, for motion towards +rows and -rows.

    The most advanced of the torso's per-column edges (``plus``/``minus``, see
    edges.py); it only says when the torso reaches the line and gives the
    first guess of the time, which the envelope over the frames then refines.
    """
    if not np.isfinite(plus).any():
        middle = (float(torso.shape[0] // 2), 0.0)
        return middle, middle
    # np.nanargmax/nanargmin without their copies and checks (a NaN never wins).
    col_plus = int(np.argmax(np.where(np.isnan(plus), -np.inf, plus)))
    col_minus = int(np.argmin(np.where(np.isnan(minus), np.inf, minus)))
    return (float(plus[col_plus]), float(col_plus)), (float(minus[col_minus]), float(col_minus))
