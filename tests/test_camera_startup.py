"""Footage that starts with a runner already in view (startup.py, Track.direction)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from test_camera_support import detect_file

from sensors.camera.detector import CATCH_UP_STRIPS, Detector
from sensors.camera.line import Line
from sensors.camera.render import Scene, render_clip
from sensors.camera.runner import CameraSensor
from sensors.camera.scenes import random_scene
from sensors.camera.source import FrameSource
from sensors.camera.startup import HeldStrip, StartupBuffer
from sensors.camera.torso import TorsoObservation
from sensors.camera.tracks import Sample, Track


def _early_scenes(seed: int, fps: float, crossing_s: float, n: int) -> list[Scene]:
    """``n`` random single runners who reach the line ``crossing_s`` after the first frame."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        scene = random_scene(rng, "single", 640, 360, fps=fps, duration_s=1.0)
        runner = replace(scene.runners[0], crossing_s=crossing_s)
        scenes.append(replace(scene, runners=(runner,), duration_s=crossing_s + 0.5))
    return scenes


@pytest.mark.parametrize(("fps", "count"), [(120.0, 7), (30.0, 5)])
def test_a_runner_in_view_from_the_first_frame_is_timed_cleanly(tmp_path, fps, count):
    # 0.1 s before the line at the first frame: the runner is in the strip from the
    # start. With the first frame as the first background, at 120 fps the second
    # runner here was missed, and at 30 fps 4 of these 5 were flagged. The seventh
    # at 120 fps (7.7 m/s) was missed either way until Track.direction left out
    # the samples cut by the strip's edge as the body left it.
    for k, scene in enumerate(_early_scenes(11, fps, 0.1, count)):
        path = tmp_path / f"early{k}.mp4"
        truth = render_clip(path, scene).crossings[0]
        found = detect_file(path, scene.line)
        assert len(found) == 1, (k, found)
        c = found[0]
        assert c.flags == (), (k, c)
        assert abs(c.time_s - truth.time_s) < 0.6 / fps, (k, c.time_s, truth.time_s)
        assert c.direction_name == truth.direction_name


def test_footage_shorter_than_the_start_up_time_is_timed_at_flush(tmp_path):
    (scene,) = _early_scenes(12, 60.0, 0.15, 1)
    scene = replace(scene, duration_s=0.4)
    truth = render_clip(tmp_path / "short.mp4", scene).crossings[0]
    det = Detector(Line(*scene.line))
    streamed = []
    with FrameSource(str(tmp_path / "short.mp4"), live=False) as src:
        for f in src.frames():
            streamed += det.feed(f.image, f.time_s)
    assert streamed == []  # all 24 frames are still held: 0.4 s < the start-up second
    found = det.flush()
    assert len(found) == 1 and abs(found[0].time_s - truth.time_s) < 0.5 / scene.fps


def test_start_up_background_sees_past_a_slow_body_that_covers_most_of_the_time():
    # A body 21 columns wide crossing one column per frame: the middle columns are
    # covered for 21 of 31 frames, by three colours of 7 columns each (shirt, arm,
    # shorts), all brighter than the ground, so a per-pixel median is the body's.
    ground = np.full((20, 52, 3), 90, np.uint8)
    colours = [(200, 200, 150), (180, 220, 200), (230, 170, 190)]
    buf = StartupBuffer(span_s=1.0)
    ready = False
    strips = []
    for k in range(31):
        strip = ground.copy()
        for band, colour in enumerate(colours):
            strip[4:16, k + 7 * band : k + 7 * band + 7] = colour
        strips.append(strip)
        ready = buf.add(HeldStrip(strip, k / 30.0, k, 100))
    assert ready
    assert not np.array_equal(np.median(np.stack(strips), axis=0), ground)  # the hard case
    assert np.array_equal(buf.background(), ground)


def _sample(frame: int, centroid_row: float, clipped: bool) -> Sample:
    obs = TorsoObservation(
        front_plus=centroid_row + 5, front_minus=centroid_row - 5, front_plus_col=10.0,
        front_minus_col=10.0, centroid_row=centroid_row, centroid_col=10.0, col_lo=5,
        col_hi=15, area=100, radius=5.0, height=40,
    )
    none = np.full(30, np.nan)
    return Sample(frame, frame / 120.0, obs, 0.0, 0.0, 0.0, 0.0, False, clipped, none, none)


def test_direction_holds_while_the_body_leaves_through_the_strip_edge():
    # Moving towards -rows at 3 rows per frame, then cut by the strip's edge for
    # nine frames: the cut body's centroid halts there, jittering by a row.
    track = Track(1)
    track.samples = [_sample(k, 90.0 - 3 * k, False) for k in range(20)]
    jitter = [0.0, 0.4, -0.3, 0.6, -0.2, 0.3, -0.5, 0.2, 0.1]
    track.samples += [_sample(20 + k, 30.0 + dy, True) for k, dy in enumerate(jitter)]
    assert track.direction() == -1
    # Cut from its first sample on (a near body wider than the strip): its motion decides.
    wide = Track(2)
    wide.samples = [_sample(k, 50.0 + 2 * k, True) for k in range(6)]
    assert wide.direction() == 1


def test_slit_image_of_a_crossing_reported_after_the_start_up_shows_it(tmp_path):
    # At 240 fps a crossing 0.12 s into the footage is reported once the start-up
    # second is in, ~210 frames later: the slit recorder kept only 64 columns,
    # so the image began after the crossing and its tick sat clamped at the left edge.
    (scene,) = _early_scenes(13, 240.0, 0.12, 1)
    scene = replace(scene, width=320, height=240)
    scene = replace(scene, runners=(replace(scene.runners[0], ground_y_px=220.0, px_per_m=55.0),))
    truth = render_clip(tmp_path / "fast.mp4", scene).crossings[0]
    got = []
    sensor = CameraSensor(FrameSource(str(tmp_path / "fast.mp4")), Detector(Line(*scene.line)),
                          "finish", got.append, sensor_id="cam1", slit_dir=tmp_path / "slits")
    assert sensor.run() == 1 and len(sensor.slit_paths) == 1
    image = cv2.imread(str(sensor.slit_paths[0]))
    red = np.all(image[:7] == (0, 0, 255), axis=(0, 2))
    (tick_x,) = np.flatnonzero(red)
    # The image starts at the first frame (fewer than 40 frames before the crossing);
    # each frame is 4 px wide and the tick is placed by time between frame centres.
    tick_s = (tick_x / 4 - 0.5) / scene.fps
    assert abs(tick_s - truth.time_s) < 2 / scene.fps


def test_a_camera_that_turns_monochrome_during_the_start_up_keeps_going():
    # Colour frames, then grey ones (a camera switching to infrared) before the
    # start-up second is in: the held colour strips are processed, then the grey ones.
    det = Detector(Line(32.0, 0.0, 32.0, 47.0))
    colour = np.full((48, 64, 3), 90, np.uint8)
    for k in range(5):
        assert det.feed(colour, k / 30.0) == []
    assert det.feed(np.full((48, 64), 90, np.uint8), 5 / 30.0) == []
    assert det.background.frames == 6  # nothing is held any more: all six were compared
    assert det.feed(np.full((48, 64), 90, np.uint8), 6 / 30.0) == []
    assert det.background.frames == 7 and det.flush() == []


def test_the_held_second_is_worked_off_a_few_strips_per_frame():
    # Processing the whole held second in one call took 0.6 s at 720p and 240 fps,
    # more than a live source keeps; each frame now works off CATCH_UP_STRIPS.
    det = Detector(Line(32.0, 0.0, 32.0, 47.0))
    frame = np.full((48, 64, 3), 90, np.uint8)
    compared = []
    for k in range(100):
        det.feed(frame, k / 60.0)
        compared.append(det.background.frames)
    assert compared[59] == 0  # the first second is held (frames 0-59)
    assert compared[60] == CATCH_UP_STRIPS  # the background is made; two held strips done
    steps = np.diff(compared[60:])
    assert steps.max() == CATCH_UP_STRIPS and steps.min() >= 1
    assert compared[-1] == min(100, CATCH_UP_STRIPS * 40)  # 2 per frame over frames 60-99
    assert det.flush() == [] and det.background.frames == 100  # flush works off the rest
