"""The virtual line and the strip of image sampled around it.

The detector never looks at the whole frame: it samples a band ("strip")
centred on the line, resampled onto a grid whose rows run *across* the line
(signed distance ``d`` from the line, along its normal) and whose columns run
*along* it (``u``, 0 at the first point, 1 at the second). Because the grid
has at most ``max_samples_along`` columns, the cost per frame does not grow
with the frame size; ``cv2.remap`` reads only the pixels it needs.

Normal and direction: for a line from P1 to P2, the normal is P1->P2 turned a
quarter turn clockwise on screen (image y points down), i.e.
``n = (-(y2 - y1), x2 - x1) / length``. A line drawn top to bottom therefore
has its normal pointing left; ``direction_name`` turns a signed crossing into
plain words ("left_to_right", ...) so nobody has to remember that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class LineError(ValueError):
    """A line specification that cannot be used (bad text, zero length, off the frame)."""


@dataclass(frozen=True, slots=True)
class Line:
    """A virtual line between two image points, in pixels (x right, y down)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def parse(cls, text: str) -> Line:
        """Parse ``"X1,Y1,X2,Y2"``; raise ``LineError`` in plain words otherwise."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 4:
            raise LineError(f"a line needs four numbers X1,Y1,X2,Y2, got {text!r}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise LineError(f"a line needs four numbers X1,Y1,X2,Y2, got {text!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise LineError(f"line coordinates must be finite numbers, got {text!r}")
        line = cls(*values)
        if line.length_px < 4.0:
            raise LineError(f"the line {text!r} is too short (needs at least 4 pixels)")
        return line

    @property
    def length_px(self) -> float:
        return math.hypot(self.x2 - self.x1, self.y2 - self.y1)

    @property
    def unit_along(self) -> tuple[float, float]:
        n = self.length_px
        return ((self.x2 - self.x1) / n, (self.y2 - self.y1) / n)

    @property
    def normal(self) -> tuple[float, float]:
        ax, ay = self.unit_along
        return (-ay, ax)

    def point(self, u: float, d_px: float = 0.0) -> tuple[float, float]:
        """Image point at fraction ``u`` along the line and ``d_px`` along its normal."""
        ax, ay = self.unit_along
        nx, ny = self.normal
        return (
            self.x1 + u * (self.x2 - self.x1) + d_px * nx,
            self.y1 + u * (self.y2 - self.y1) + d_px * ny,
        )

    def direction_name(self, sign: int) -> str:
        """Plain-words image direction of motion ``sign * normal`` (dominant axis)."""
        nx, ny = self.normal
        mx, my = sign * nx, sign * ny
        if abs(mx) >= abs(my):
            return "left_to_right" if mx > 0 else "right_to_left"
        return "top_to_bottom" if my > 0 else "bottom_to_top"

    def check_inside(self, width: int, height: int) -> None:
        """Raise ``LineError`` if an end point lies outside a ``width`` x ``height`` frame.

        The frame's border itself counts as inside (``320,0,320,360`` on a
        360-high frame is the natural way to ask for a full-height line, in
        pixel-edge coordinates); samples that fall past the last pixel centre
        repeat the edge pixel.
        """
        for x, y in ((self.x1, self.y1), (self.x2, self.y2)):
            if not (-0.5 <= x <= width and -0.5 <= y <= height):
                raise LineError(
                    f"line end ({x:g},{y:g}) is outside the {width}x{height} frame"
                )


@dataclass(frozen=True, slots=True)
class StripGeometry:
    """How a strip samples the image: grid spacing and the remap tables.

    ``map_x``/``map_y`` have shape (n_across, n_along): row ``i`` is at signed
    distance ``d_px[i]`` from the line, column ``j`` at fraction ``u[j]``.
    ``step_px`` is the grid spacing in image pixels (the same both ways), so a
    distance of ``k`` rows is ``k * step_px`` image pixels.
    """

    line: Line
    step_px: float
    half_width_px: float
    u: np.ndarray
    d_px: np.ndarray
    map_x: np.ndarray
    map_y: np.ndarray
    #: The same tables in OpenCV's fixed-point form (1/32 pixel), which remap
    #: reads about twice as fast as float tables.
    fixed_maps: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.map_x.shape  # type: ignore[return-value]

    @property
    def center_row(self) -> int:
        """Index of the row that lies on the line itself."""
        return (len(self.d_px) - 1) // 2

    def image_y(self, rows: np.ndarray | float, cols: np.ndarray | float) -> np.ndarray:
        """Image y coordinate of grid points (for rolling-shutter correction)."""
        r = np.asarray(rows, dtype=np.float64)
        c = np.asarray(cols, dtype=np.float64)
        _, ay = self.line.unit_along
        _, ny = self.line.normal
        u_px = c * self.step_px
        d = (r - self.center_row) * self.step_px
        return self.line.y1 + u_px * ay + d * ny

    def sample(self, frame: np.ndarray) -> np.ndarray:
        """The strip of ``frame`` (bilinear), same dtype and channels as the frame."""
        import cv2

        m1, m2 = self.fixed_maps if self.fixed_maps is not None else (self.map_x, self.map_y)
        return cv2.remap(frame, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def strip_geometry(
    line: Line,
    half_width_px: float | None = None,
    max_samples_along: int = 160,
    width_fraction: float = 0.3,
) -> StripGeometry:
    """Build the sampling grid for ``line``.

    ``half_width_px`` is how far the strip reaches on each side of the line;
    it must cover the torso depth plus a few frames of displacement. By
    default it is ``width_fraction`` of the line's length, which suits a line
    drawn over the height of the runners (a runner of 1.75 m then sees about
    0.6 m either side: two frames at 9 m/s and 30 fps). The grid spacing is
    one pixel, or coarser so that at most ``max_samples_along`` columns are
    sampled.
    """
    length = line.length_px
    if half_width_px is None:
        half_width_px = width_fraction * length
    if not half_width_px > 0:
        raise LineError(f"the strip half width must be positive, got {half_width_px}")
    step = max(1.0, length / max_samples_along)
    n_along = int(math.floor(length / step)) + 1
    half_rows = max(4, int(round(half_width_px / step)))
    d_px = np.arange(-half_rows, half_rows + 1, dtype=np.float64) * step
    u_px = np.arange(n_along, dtype=np.float64) * step
    ax, ay = line.unit_along
    nx, ny = line.normal
    map_x = (line.x1 + u_px[None, :] * ax + d_px[:, None] * nx).astype(np.float32)
    map_y = (line.y1 + u_px[None, :] * ay + d_px[:, None] * ny).astype(np.float32)
    return StripGeometry(
        line=line,
        step_px=step,
        half_width_px=half_rows * step,
        u=u_px / length,
        d_px=d_px,
        map_x=map_x,
        map_y=map_y,
        fixed_maps=_fixed_maps(map_x, map_y),
    )


def _fixed_maps(map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Fixed-point remap tables, or None where they cannot address the frame (huge images)."""
    import cv2

    if max(float(np.abs(map_x).max()), float(np.abs(map_y).max())) > 32000:
        return None
    m1, m2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    return m1, m2
