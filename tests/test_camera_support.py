"""Helpers shared by the camera tests (no tests here)."""

from __future__ import annotations

import numpy as np

from sensors.camera.detector import Detector, DetectorSettings
from sensors.camera.line import Line
from sensors.camera.render import GroundTruth, Scene, render_clip
from sensors.camera.scenes import close_pair_scene, random_scene
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


def nth_close_pair(seed: int, nth: int, fps: float) -> Scene:
    """The ``nth`` (1-based) same-frame pair ``close_pair_scene`` draws with ``seed``."""
    rng = np.random.default_rng(seed)
    for _ in range(nth):
        scene = close_pair_scene(rng, fps)
    return scene


def nth_single(seed: int, nth: int, fps: float) -> Scene:
    """The ``nth`` (1-based) single runner of a set drawn with ``seed``, every fourth harsh."""
    rng = np.random.default_rng(seed)
    for i in range(nth):
        scene = random_scene(rng, "single", 640, 360, fps=fps, duration_s=1.0, harsh=i % 4 == 0)
    return scene


def render_and_detect(tmp_path, scene: Scene, name: str = "clip.mp4") -> tuple[GroundTruth, list]:
    """Render ``scene`` to an encoded file, decode it and detect: (truth, crossings)."""
    truth = render_clip(tmp_path / name, scene)
    return truth, detect_file(tmp_path / name, scene.line)
