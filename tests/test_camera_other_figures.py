"""Footage not drawn by sensors/camera/render.py: a stick figure with straight arms.

The detector's thresholds were chosen on the renderer's articulated runners;
this figure is drawn here, differently (an ellipse torso, a round head on
top, straight legs and a straight arm swinging from the shoulder across the
chest), at frame rates, sizes and codecs the bench does not use, encoded and
decoded by OpenCV. A single figure must come out as one clean crossing,
timed to a quarter of a frame: the straight arm sweeping across the chest
once read as "a second body moving at another speed" (flagged ``occluded``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from test_camera_detect import _detect_file


def _stick_runner_clip(path, fps: float, size: tuple[int, int], fourcc: str, line_x: float,
                       speed_px_s: float, direction: int, crossing_s: float, duration_s: float,
                       torso_px: tuple[float, float], head_r: float,
                       colour: tuple[int, int, int], mottled: bool, seed: int) -> float:
    """Write the clip; returns the instant the torso's front reaches ``line_x``."""
    width, height = size
    torso_w, torso_h = torso_px
    rng = np.random.default_rng(seed)
    if mottled:
        backdrop = cv2.GaussianBlur(rng.uniform(60, 190, (height, width, 3)).astype(np.float32),
                                    (0, 0), 6)
    else:
        backdrop = np.full((height, width, 3), 110.0, np.float32)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    centre_y = 0.5 * height
    sub = 4  # 1 ms exposure, integrated from 4 sub-frames
    for k in range(int(duration_s * fps)):
        acc = np.zeros_like(backdrop)
        for j in range(sub):
            t = k / fps + ((j + 0.5) / sub - 0.5) * 0.001
            img = backdrop.copy()
            cx = line_x + direction * (speed_px_s * (t - crossing_s) - torso_w / 2)
            phase = 2 * math.pi * 3.0 * t
            hip_y = centre_y + torso_h / 2
            for side in (1, -1):
                a = 0.6 * math.sin(phase) * side
                foot = (cx + direction * math.sin(a) * 1.3 * torso_h,
                        hip_y + math.cos(a) * 1.3 * torso_h)
                cv2.line(img, (int(cx), int(hip_y)), (int(foot[0]), int(foot[1])), colour,
                         max(2, int(0.35 * torso_w)))
            cv2.ellipse(img, (int(cx * 16), int(centre_y * 16)),
                        (int(torso_w / 2 * 16), int(torso_h / 2 * 16)), 0, 0, 360, colour, -1,
                        cv2.LINE_AA, 4)
            cv2.circle(img, (int(cx * 16), int((centre_y - torso_h / 2 - head_r) * 16)),
                       int(head_r * 16), colour, -1, cv2.LINE_AA, 4)
            a = 0.9 * math.sin(phase + 1.0)
            shoulder_y = centre_y - 0.35 * torso_h
            hand = (cx + direction * math.sin(a) * 0.8 * torso_h,
                    shoulder_y + math.cos(a) * 0.8 * torso_h)
            cv2.line(img, (int(cx), int(shoulder_y)), (int(hand[0]), int(hand[1])), colour,
                     max(2, int(0.18 * torso_w)))
            acc += img
        frame = acc / sub + rng.normal(0.0, 2.0, backdrop.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return crossing_s


@pytest.mark.parametrize(
    ("fps", "size", "fourcc", "line_x", "speed_px_s", "direction", "crossing_s", "duration_s",
     "torso_px", "head_r", "colour", "mottled"),
    [
        (25.0, (720, 576), "mp4v", 360.0, 450.0, -1, 0.95, 2.0, (40.0, 110.0), 18.0,
         (200, 60, 200), True),
        (120.0, (640, 360), "MJPG", 200.0, 600.0, 1, 0.4567, 1.0, (28.0, 70.0), 11.0,
         (10, 10, 10), False),
    ],
)
def test_stick_figure_with_an_arm_across_the_chest_is_one_clean_crossing(
        tmp_path, fps, size, fourcc, line_x, speed_px_s, direction, crossing_s, duration_s,
        torso_px, head_r, colour, mottled):
    path = tmp_path / ("stick.mp4" if fourcc == "mp4v" else "stick.avi")
    truth_s = _stick_runner_clip(path, fps, size, fourcc, line_x, speed_px_s, direction,
                                 crossing_s, duration_s, torso_px, head_r, colour, mottled,
                                 seed=int(fps))
    found = _detect_file(path, (line_x, 0.0, line_x, float(size[1] - 1)))
    assert len(found) == 1, found
    assert found[0].flags == (), found[0]
    assert abs(found[0].time_s - truth_s) < 0.25 / fps, found[0]
