"""Background model for the strip: what the line looks like with nobody on it.

Theory of operation (per frame, all on the small strip, no clock):

1. *Gain compensation.* Clouds, auto-exposure and mains flicker scale the
   whole picture (rolling-shutter flicker scales it in bands). We estimate a
   gain per strip column (along the line) as the mean ratio frame/background
   over pixels that look like background, reject outliers, fall back to the
   global gain where a column is mostly covered by a runner, smooth it along
   the line, and multiply the background by it before comparing.
2. *Shake tolerance.* A pixel counts as different only by how far it lies
   outside the range of the background in its 3x3 neighbourhood, so a shift
   of a pixel or so does not light up every edge of the scene.
3. *Noise.* The frame is blurred 3x3 first; each pixel keeps a running level
   of its own residual, and the threshold is a floor plus a multiple of it.
4. *Shadows.* Where the background has colour, a pixel that is uniformly
   darker (ratio 0.35..0.92) with the same chromaticity, and through which the
   ground's texture still shows (local correlation with the background), is a
   shadow, not a body. On grey or textureless surfaces a shadow cannot be
   told from a dark shirt, so nothing is suppressed there (a missed shadow is
   safer than a missed runner).
5. *Update.* Background pixels follow the frame quickly (clouds); pixels
   under a runner barely move, so a runner is not learned into the scene,
   while something that stays for many seconds eventually is.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class BackgroundSettings:
    """Tuning of the background model; the defaults suit 8-bit colour video."""

    #: Follow rate of background pixels per frame (clouds pass in seconds).
    rate: float = 0.08
    #: Follow rate of pixels under a foreground object (absorbs parked objects).
    rate_covered: float = 0.002
    #: Difference floor (sum over 3 channels, 0..765) below which nothing is foreground.
    min_contrast: float = 20.0
    #: Threshold = min_contrast + noise_factor * the pixel's running residual level.
    noise_factor: float = 3.0
    #: Shadow test: darker by this ratio range, with this chromaticity tolerance.
    shadow_ratio: tuple[float, float] = (0.35, 0.92)
    shadow_chroma: float = 0.07
    #: Background chromaticity spread needed before shadows are suppressed at all.
    shadow_min_saturation: float = 0.08
    #: Ground texture (std of the 3-channel sum in 5x5) needed to recognise a shadow.
    shadow_min_texture: float = 4.0
    #: A quiet frame (see ``BackgroundModel.apply``) skips the full comparison, but
    #: one frame in this many is always compared in full (1: every frame).
    full_every: int = 8
    #: Room (0..765) kept between a pixel's change and what would flip it.
    quiet_slack: float = 2.0


@dataclass(frozen=True, slots=True)
class Foreground:
    """One frame's comparison with the background (arrays have the strip's shape)."""

    #: How far each pixel lies outside the background range (0..765).
    difference: np.ndarray
    #: 1 where the pixel belongs to something in front of the background.
    mask: np.ndarray
    #: Number of foreground pixels.
    count: int
    #: Mean gain of this frame relative to the background (1.0 = unchanged).
    gain: float


class BackgroundModel:
    """A per-pixel colour background of the strip with gain, shake and shadow handling."""

    def __init__(self, settings: BackgroundSettings | None = None) -> None:
        self.settings = settings or BackgroundSettings()
        self._bg: np.ndarray | None = None
        self._level: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None
        self._surface: tuple[np.ndarray, np.ndarray | None] | None = None
        #: The last frame's foreground mask (for diagnostics and the naive baseline).
        self.last_mask: np.ndarray | None = None
        self.frames = 0
        #: Frames that took the quiet path (no full comparison).
        self.quiet_frames = 0
        self._last_full: _FullFrame | None = None
        self._surface_age = 0

    @property
    def ready(self) -> bool:
        return self._bg is not None

    def start_from(self, strip: np.ndarray) -> None:
        """Start from a picture of the empty strip (uint8, as ``apply`` takes) instead of
        the first frame ``apply`` sees (startup.py makes one from the first strips)."""
        self._init(_blurred_bgr(strip).astype(np.float32))

    def _init(self, img: np.ndarray) -> None:
        self._bg = img.copy()
        self._level = np.full(img.shape[:2], 2.0, np.float32)
        self._prev_mask = np.zeros(img.shape[:2], np.uint8)
        self._surface = None
        self._last_full = None

    def apply(self, strip: np.ndarray) -> Foreground:
        """Compare a strip (uint8, HxWx3 or HxW) with the background, then learn from it.

        Written with OpenCV's whole-array operations where numpy would make a
        temporary per step: this runs for every frame, and its cost is most of
        the detector's.

        A quiet frame skips the comparison. Each pixel's difference moves by
        at most its change in colour (summed over channels) since the last
        full comparison; where every pixel has changed by less than the room
        it had between its difference and its threshold, the comparison
        cannot come out otherwise, so the last full frame's mask stands and
        the frame only teaches the background. Nearly every frame of an empty
        lane is quiet (a camera at the line sees a runner for a few tenths
        of a second per lap); the noise level and the gain are brought up to
        date at the next full frame, one in ``full_every`` at least.
        """
        blurred = _blurred_bgr(strip)
        if self._bg is None or self._bg.shape != blurred.shape:
            self._init(blurred.astype(np.float32))
        quiet = self._quiet(blurred)
        if quiet is not None:
            return quiet
        img = blurred.astype(np.float32)
        bg, level, prev = self._bg, self._level, self._prev_mask
        assert bg is not None and level is not None and prev is not None
        s = self.settings

        sum_i = channel_sum(img, 3.0)
        sum_b = channel_sum(bg, 3.0)
        ratio = cv2.divide(sum_i, sum_b)
        gain_cols, gain = _column_gain(ratio, prev)
        # The surface's chromaticity does not change with gain, so it is
        # recomputed only now and then (before the gain is applied in place).
        if self._surface is None or self.frames - self._surface_age >= _SURFACE_EVERY:
            self._surface = _surface(bg, s.shadow_min_saturation)
            self._surface_age = self.frames
        # Through a (rows, columns x channels) view: numpy broadcasts a row
        # several times faster than a (1, columns, 1) array.
        flat = bg.reshape(bg.shape[0], -1)
        np.multiply(flat, np.repeat(gain_cols, bg.shape[2])[None, :], out=flat)
        hi = cv2.dilate(bg, _KERNEL3)
        lo = cv2.erode(bg, _KERNEL3)
        # How far outside [lo, hi] each pixel lies: |img - clip(img, lo, hi)|.
        diff = channel_sum(cv2.absdiff(img, cv2.min(cv2.max(img, lo), hi)))

        # Shadows: uniformly darker, same chromaticity, on a coloured surface.
        chroma_b, coloured = self._surface
        shadowed = False
        if coloured is not None:
            sum_bc = sum_b * gain_cols[None, :]
            r = cv2.divide(sum_i, sum_bc)
            candidates = cv2.inRange(r, s.shadow_ratio[0], s.shadow_ratio[1]) & coloured
            if cv2.countNonZero(candidates):
                shadowed = _suppress_shadows(diff, candidates, img, sum_i, sum_bc, chroma_b, s)

        threshold = cv2.addWeighted(level, s.noise_factor, level, 0.0, s.min_contrast)
        mask = cv2.compare(diff, threshold, cv2.CMP_GT)
        count = int(cv2.countNonZero(mask))
        mask = cv2.threshold(mask, 0, 1, cv2.THRESH_BINARY)[1]

        # Learn: fast where background, slow under objects (dilated mask).
        covered = cv2.dilate(mask, _KERNEL5) if count else mask
        free = cv2.compare(covered, 0, cv2.CMP_EQ)
        self._learn(img, free, count > 0)
        target = cv2.min(diff, cv2.addWeighted(level, 4.0, level, 0.0, 8.0))
        # The level follows at 5 % per frame, quiet frames included.
        since = 1 if self._last_full is None else self.frames - self._last_full.frame
        cv2.accumulateWeighted(target, level, 0.05 if since == 1 else 1.0 - 0.95**since,
                               mask=free)
        cv2.max(level, 0.5, dst=level)
        self._prev_mask = covered
        self.last_mask = mask
        fg = Foreground(difference=diff, mask=mask, count=count, gain=gain)
        # A suppressed shadow can stop being one (its difference jumps): no quiet frames.
        room = None if shadowed else _room(diff, threshold, s.quiet_slack)
        self._last_full = _FullFrame(self.frames, blurred, room, fg, free, covered)
        self.frames += 1
        return fg

    def _quiet(self, blurred: np.ndarray) -> Foreground | None:
        """The last full frame's result if no pixel can have changed side since; else None.

        In 8 bits throughout (a quarter of the float arrays' memory traffic):
        a change summed over the channels saturates at 255, and the room is
        capped at 254, so a saturated change is never taken for a small one.
        """
        last = self._last_full
        if last is None or last.room is None:
            return None
        if self.frames - last.frame >= self.settings.full_every:
            return None
        change = channel_sum(cv2.absdiff(blurred, last.image))
        if cv2.countNonZero(cv2.compare(change, last.room, cv2.CMP_GE)):
            return None
        self._learn(blurred, last.free, last.result.count > 0)
        self.last_mask = last.result.mask
        self._prev_mask = last.covered
        self.frames += 1
        self.quiet_frames += 1
        return last.result

    def _learn(self, image: np.ndarray, free: np.ndarray, covered: bool) -> None:
        """Follow ``image`` fast where ``free`` (255), slowly elsewhere if anything is covered."""
        assert self._bg is not None
        cv2.accumulateWeighted(image, self._bg, self.settings.rate, mask=free)
        if covered:
            cv2.accumulateWeighted(image, self._bg, self.settings.rate_covered, mask=255 - free)


@dataclass(frozen=True, slots=True)
class _FullFrame:
    """What a quiet frame needs from the last full comparison."""

    frame: int
    #: The frame, blurred (8 bits).
    image: np.ndarray
    #: Per pixel, how far its difference may move before it changes side (None: no room).
    room: np.ndarray | None
    result: Foreground
    free: np.ndarray
    covered: np.ndarray


#: Frames between recomputations of the surface's chromaticity (shadow test).
_SURFACE_EVERY = 8
_KERNEL3 = np.ones((3, 3), np.uint8)
_KERNEL5 = np.ones((5, 5), np.uint8)


def _surface(bg: np.ndarray, min_saturation: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Chromaticity of the background, and where the surface is coloured (None: nowhere).

    Saturation is blurred over 15x15, so a white lane line on a red track
    counts as coloured ground and its shadow is recognised too.
    """
    chroma_b = bg / channel_sum(bg, 3.0)[..., None]
    sat_b = cv2.blur(channel_sum(np.abs(chroma_b - (1.0 / 3.0))), (15, 15))
    coloured = cv2.compare(sat_b, min_saturation, cv2.CMP_GT)
    return chroma_b.astype(np.float32), (coloured if cv2.countNonZero(coloured) else None)


def _suppress_shadows(diff: np.ndarray, candidates: np.ndarray, img: np.ndarray,
                      sum_i: np.ndarray, sum_bc: np.ndarray, chroma_b: np.ndarray,
                      s: BackgroundSettings) -> bool:
    """Zero ``diff`` where a candidate is a shadow; True if any was.

    Only the candidates' bounding box is looked at (a runner's shadow lies
    at its feet): the chromaticity and texture tests cost a few whole-strip
    passes each. The texture's 5x5 windows get their 2 samples of context.
    """
    x, y, w, h = cv2.boundingRect(candidates)
    box = (slice(y, y + h), slice(x, x + w))
    chroma_d = channel_sum(cv2.absdiff(img[box] / sum_i[box][..., None], chroma_b[box]))
    shadow = (candidates[box] > 0) & (chroma_d < s.shadow_chroma)
    if not shadow.any():
        return False
    rows, cols = diff.shape
    y0, y1, x0, x1 = max(0, y - 2), min(rows, y + h + 2), max(0, x - 2), min(cols, x + w + 2)
    kept = _texture_kept(sum_i[y0:y1, x0:x1], sum_bc[y0:y1, x0:x1], s.shadow_min_texture)
    shadow &= kept[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
    diff[box][shadow] = 0.0
    return bool(shadow.any())


def _texture_kept(img: np.ndarray, bg: np.ndarray, min_std: float) -> np.ndarray:
    """True where the frame keeps the background's own texture (5x5 correlation > 0.5).

    A shadow dims the ground but its grain shows through; a dark shirt of the
    same hue replaces it. Where the ground has no texture to keep, nothing can
    be called a shadow.
    """
    k = (5, 5)
    mi, mb = cv2.blur(img, k), cv2.blur(bg, k)
    vi = cv2.blur(img * img, k) - mi * mi
    vb = cv2.blur(bg * bg, k) - mb * mb
    cov = cv2.blur(img * bg, k) - mi * mb
    ncc = cov / np.sqrt(np.maximum(vi * vb, 1e-3))
    return (ncc > 0.5) & (vb > min_std * min_std)


def channel_sum(a: np.ndarray, plus: float = 0.0) -> np.ndarray:
    """Sum of the three channels, plus a constant, in one pass.

    cv2.transform: numpy's axis-2 sum is ~20x slower.
    """
    return cv2.transform(a, np.array([[1.0, 1.0, 1.0, plus]], np.float32))


def _blurred_bgr(strip: np.ndarray) -> np.ndarray:
    """What the model compares and learns: the strip blurred 3x3, as 8-bit BGR."""
    return _as_bgr(cv2.blur(strip, (3, 3)))


def _as_bgr(strip: np.ndarray) -> np.ndarray:
    if strip.ndim == 2 or strip.shape[2] == 1:
        return cv2.cvtColor(strip, cv2.COLOR_GRAY2BGR)
    if strip.shape[2] == 4:
        return np.ascontiguousarray(strip[:, :, :3])
    return strip


def _room(diff: np.ndarray, threshold: np.ndarray, slack: float) -> np.ndarray:
    """Per pixel, how far its difference may move before it changes side, in 8 bits (0..254)."""
    room = cv2.absdiff(diff, threshold)
    room -= slack
    return np.clip(room, 0.0, 254.0).astype(np.uint8)


def _column_gain(ratio: np.ndarray, prev_mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Gain per strip column from background-looking pixels, smoothed along the line.

    Returns (gain per column, overall gain). Pixels covered last frame are left
    out, then pixels far from the column's median (a runner arriving) too.
    Every step is a whole-array pass over the strip, so there are as few as
    the two estimates need (this runs on every frame).
    """
    free = prev_mask == 0
    weight = free.astype(np.float32)
    col = _column_medians(ratio, free)
    # Second pass: drop pixels that disagree with the first estimate by > 15 %.
    off = ratio / col[None, :]
    off -= 1.0
    np.abs(off, out=off)
    weight *= off < 0.15
    weighted = ratio * weight
    col_w = _column_sums(weight)
    total_k = float(col_w.sum())
    overall = float(weighted.sum() / total_k) if total_k > 0 else float(np.median(ratio))
    col = np.where(col_w > 0, _column_sums(weighted) / np.maximum(col_w, 1e-6), overall)
    # Columns mostly covered by a runner borrow from their neighbours (weighted smoothing).
    trust = np.minimum(col_w / max(1.0, 0.25 * ratio.shape[0]), 1.0)
    sigma = max(2.0, ratio.shape[1] / 60.0)
    num = cv2.GaussianBlur((col * trust)[None, :], (0, 0), sigma)[0]
    den = cv2.GaussianBlur(trust[None, :], (0, 0), sigma)[0]
    smooth = np.where(den > 0.05, num / np.maximum(den, 1e-6), overall)
    return smooth.astype(np.float32), overall


def _column_medians(ratio: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Per column, the median ratio of the pixels not covered last frame (1.0 where none).

    The first estimate each pixel is judged against. A mean would be dragged
    by a body that moved past last frame's mask (a big runner close to the
    camera covers a third of a column and moves several rows per frame at
    30 fps): the column's gain came out 16 % low and the whole column, the
    background included, turned foreground. A median holds while the
    background is most of the column's free pixels.
    """
    values = np.where(free, ratio, np.inf)
    values.sort(axis=0)
    counts = free.sum(axis=0)
    middle = values[np.maximum(counts - 1, 0) // 2, np.arange(ratio.shape[1])]
    return np.where(counts > 0, middle, 1.0).astype(np.float32)


def _column_sums(a: np.ndarray) -> np.ndarray:
    """Sum of each column (float32, row after row: numpy's axis-0 sum, cheaper)."""
    return cv2.reduce(a, 0, cv2.REDUCE_SUM)[0]
