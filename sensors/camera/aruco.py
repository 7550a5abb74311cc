"""Optional bib identification with ArUco markers (``cv2.aruco``).

A crossing's time never depends on this: the runner looks for markers in the
frame nearest the crossing, around the crossing's place on the line, and, if
one is found, attaches its id as the crossing's ``tag`` for the event core.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class BibSighting:
    """A marker seen in a frame: its id and centre in image pixels."""

    marker_id: int
    x_px: float
    y_px: float


class BibReader:
    """Detect ArUco markers of one predefined dictionary (default 4x4, 50 ids)."""

    def __init__(self, dictionary: str = "DICT_4X4_50") -> None:
        if not hasattr(cv2.aruco, dictionary):
            raise ValueError(f"unknown ArUco dictionary {dictionary!r} (e.g. DICT_4X4_50)")
        self._detector = cv2.aruco.ArucoDetector(
            cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary)),
            cv2.aruco.DetectorParameters(),
        )

    def read(
        self,
        frame: np.ndarray,
        around: tuple[float, float] | None = None,
        radius_px: float | None = None,
    ) -> list[BibSighting]:
        """Markers in ``frame``, nearest to ``around`` first (within ``radius_px`` if given)."""
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        corners, ids, _ = self._detector.detectMarkers(gray)
        if ids is None:
            return []
        out = []
        for c, i in zip(corners, ids.ravel(), strict=True):
            cx, cy = c.reshape(-1, 2).mean(axis=0)
            out.append(BibSighting(int(i), float(cx), float(cy)))
        if around is not None:
            ax, ay = around
            out.sort(key=lambda b: (b.x_px - ax) ** 2 + (b.y_px - ay) ** 2)
            if radius_px is not None:
                out = [b for b in out if (b.x_px - ax) ** 2 + (b.y_px - ay) ** 2 <= radius_px**2]
        return out
