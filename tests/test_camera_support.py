"""Helpers shared by the camera tests (no tests here)."""

from __future__ import annotations

from sensors.camera.detector import Detector, DetectorSettings
from sensors.camera.line import Line
from sensors.camera.source import FrameSource


def detect_file(path, line, settings: DetectorSettings | None = None) -> list:
    """Every crossing the detector finds in an encoded video file, flush included."""
    det = Detector(Line(*line), settings)
    out = []
    with FrameSource(str(path), live=False) as src:
        for f in src.frames():
            out += det.feed(f.image, f.time_s)
    return out + det.flush()
