"""Helpers shared by the camera tests (no tests here)."""

from __future__ import annotations

import numpy as np

from sensors.camera.detector import Detector, DetectorSettings
from sensors.camera.line import Line
from sensors.camera.render import Scene
from sensors.camera.scenes import random_scene
from sensors.camera.source import FrameSource


def detect_file(path, line, settings: DetectorSettings | None = None) -> list:
    """Every crossing the detector finds in an encoded video file, flush included."""
    det = Detector(Line(*line), settings)
    out = []
    with FrameSource(str(path), live=False) as src:
        for f in src.frames():
            out += det.feed(f.image, f.time_s)
    return out + det.flush()


def bench_scene(seed: int, nth: int, kind: str, fps: float, duration_s: float) -> Scene:
    """The ``nth`` scene (1-based) that bench/camera_bench.py draws with ``seed``."""
    rng = np.random.default_rng(seed)
    for _ in range(nth):
        scene = random_scene(rng, kind, 640, 360, fps=fps, duration_s=duration_s)
    return scene
