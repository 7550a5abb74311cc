"""Frames without three colour channels: a monochrome camera, or BGRA from a capture API.

The background model compares whatever channels come; the shirt test needs
colour and is skipped without it. Without colour a shadow on the ground
cannot be suppressed by its chromaticity, so the crossing logic must not time
it: it lies at the runner's feet, much shorter than the runner.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensors.camera.detector import Detector
from sensors.camera.line import Line
from sensors.camera.render import render_clip
from sensors.camera.scenes import random_scene


@pytest.fixture(scope="module")
def shadowed_clip(tmp_path_factory):
    """A 60 fps runner whose shadow reaches the line 146 ms before the torso."""
    rng = np.random.default_rng(560)
    scenes = [random_scene(rng, "single", 640, 360, fps=60.0, duration_s=1.0) for _ in range(3)]
    scene = scenes[2]
    path = tmp_path_factory.mktemp("mono") / "runner.mp4"
    truth = render_clip(path, scene).crossings[0]
    return path, scene, truth


def _detect(path, scene, convert) -> list:
    det = Detector(Line(*scene.line))
    cap = cv2.VideoCapture(str(path))
    out, k = [], 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out += det.feed(convert(frame), k / scene.fps)
        k += 1
    cap.release()
    return out + det.flush()


def test_monochrome_frames_time_the_torso_not_its_shadow(shadowed_clip):
    path, scene, truth = shadowed_clip
    found = _detect(path, scene, lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
    assert len(found) == 1, [(c.time_s, c.position) for c in found]
    assert abs(found[0].time_s - truth.time_s) < 0.005
    assert not found[0].flags


def test_four_channel_frames_are_timed_like_colour(shadowed_clip):
    path, scene, truth = shadowed_clip
    colour = _detect(path, scene, lambda f: f)
    bgra = _detect(path, scene, lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA))
    assert len(colour) == len(bgra) == 1
    assert abs(bgra[0].time_s - colour[0].time_s) < 1e-9
    assert abs(bgra[0].time_s - truth.time_s) < 0.005
