"""Slit-scan (photo-finish) images of the line, one per crossing.

A photo-finish camera images only the line, over and over; put side by side,
those one-pixel columns show every body exactly as it crossed. We do the same
with ordinary frames: each frame contributes the pixels along the line (one
column), and for each crossing the columns from ``frames_before`` frames
before to ``frames_after`` after are assembled into an image, widened so each
frame is ``column_px`` wide, with a red tick at the computed crossing time.
A coach can then check a time by eye.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sensors.camera.line import Line


@dataclass(frozen=True, slots=True)
class SlitImage:
    """An assembled slit-scan: BGR pixels and what it shows."""

    image: np.ndarray
    crossing_time_s: float
    first_time_s: float
    last_time_s: float


class SlitRecorder:
    """Keep the last frames' line columns; assemble an image per crossing."""

    def __init__(
        self,
        line: Line,
        frames_before: int = 40,
        frames_after: int = 20,
        column_px: int = 4,
        max_height_px: int = 720,
        keep_frames: int = 600,
    ) -> None:
        n = max(2, int(min(line.length_px, max_height_px)))
        u = np.linspace(0.0, 1.0, n)
        self._map_x = (line.x1 + u * (line.x2 - line.x1)).astype(np.float32)[:, None]
        self._map_y = (line.y1 + u * (line.y2 - line.y1)).astype(np.float32)[:, None]
        self.frames_before = frames_before
        self.frames_after = frames_after
        self.column_px = column_px
        # A crossing is reported after its frames: 0.2 s later as a rule (the
        # detector's envelope window; 48 frames at 240 fps) and up to the start-up
        # time (startup.py) in the first second. Columns are small (a few kB).
        self._cols: collections.deque[tuple[float, np.ndarray]] = collections.deque(
            maxlen=max(keep_frames, frames_before + frames_after + 4)
        )
        self._pending: list[tuple[float, int]] = []

    def feed(self, frame: np.ndarray, t_s: float) -> list[SlitImage]:
        """Add one frame's line column; return images whose window is now complete."""
        col = cv2.remap(frame, self._map_x, self._map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        if col.ndim == 2:
            col = cv2.cvtColor(col, cv2.COLOR_GRAY2BGR)
        self._cols.append((t_s, col.reshape(-1, 1, 3)))
        done, waiting = [], []
        for time_s, seen in self._pending:
            seen += 1
            if seen >= self.frames_after:
                done.append(self._assemble(time_s))
            else:
                waiting.append((time_s, seen))
        self._pending = waiting
        return done

    def add(self, crossing_time_s: float, frames_seen_after: int = 0) -> None:
        """Ask for an image around ``crossing_time_s`` (assembled once enough frames follow)."""
        self._pending.append((crossing_time_s, frames_seen_after))

    def flush(self) -> list[SlitImage]:
        """Assemble every pending image with whatever frames there are."""
        out = [self._assemble(t) for t, _ in self._pending]
        self._pending = []
        return out

    def _assemble(self, time_s: float) -> SlitImage:
        cols = list(self._cols)
        times = np.array([t for t, _ in cols])
        centre = int(np.searchsorted(times, time_s))
        lo = max(0, centre - self.frames_before)
        chosen = cols[lo : centre + self.frames_after]
        strip = np.hstack([c for _, c in chosen])
        image = cv2.resize(
            strip, (strip.shape[1] * self.column_px, strip.shape[0]),
            interpolation=cv2.INTER_NEAREST,
        )
        ts = [t for t, _ in chosen]
        if len(ts) >= 2:
            # Columns are frame centres; place the tick between them by linear time.
            k = float(np.interp(time_s, ts, np.arange(len(ts))))
            x = int(round((k + 0.5) * self.column_px))
            cv2.line(image, (x, 0), (x, 6), (0, 0, 255), 1)
            cv2.line(image, (x, image.shape[0] - 7), (x, image.shape[0] - 1), (0, 0, 255), 1)
        return SlitImage(image, time_s, ts[0], ts[-1])


def save_png(path: str | Path, slit: SlitImage) -> Path:
    """Write a slit-scan image as PNG; raise ``OSError`` if it cannot be written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), slit.image):
        raise OSError(f"cannot write slit-scan image {path}")
    return path
