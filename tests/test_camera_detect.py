"""The camera sensor end to end: rendered, encoded footage decoded by OpenCV and timed."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from test_camera_support import bench_scene, detect_file, nth_single, render_and_detect

from dashboard.cli import main
from sensors.camera.detector import Detector
from sensors.camera.line import Line
from sensors.camera.render import Scene, ground_truth, render_clip, render_frames
from sensors.camera.scenes import random_runner, random_scene, window_scene


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_single_runner_timed_within_a_fraction_of_a_frame(tmp_path, seed):
    scene = random_scene(np.random.default_rng(seed), "single", 640, 360, fps=60, duration_s=1.0)
    truth = render_clip(tmp_path / "clip.mp4", scene)
    found = detect_file(tmp_path / "clip.mp4", scene.line)
    assert len(found) == 1
    c, t = found[0], truth.crossings[0]
    assert abs(c.time_s - t.time_s) < 0.75 / scene.fps
    assert c.direction_name == t.direction_name
    assert abs(c.position - t.position) < 0.1


@pytest.mark.parametrize(("seed", "count", "fps"), [(9220, 3, 120.0), (9160, 37, 60.0)])
def test_single_runners_once_missed_are_timed(tmp_path, seed, count, fps):
    # Single runners of seeds no rule was chosen on (every fourth in harsh light; the
    # last of ``count``). At 120 fps the torso entering the strip read as moving the
    # other way, a false crossing at the strip's edge; its track, lost for two frames,
    # was solved to nothing and kept, held the runner as done, and the real crossing
    # was never timed. At 60 fps in harsh light a painted line flickering into the
    # foreground lengthened the blob in a few frames; taken for the body's height, it
    # put the torso band on the head and the time came out 54 ms late.
    truth, found = render_and_detect(tmp_path, nth_single(seed, count, fps))
    assert len(found) == 1 and found[0].flags == (), found
    assert abs(found[0].time_s - truth.crossings[0].time_s) < 0.75 / fps


def test_empty_scene_with_walkers_and_light_changes_gives_nothing(tmp_path):
    scene = random_scene(np.random.default_rng(5), "empty", 320, 240, fps=30, duration_s=2.0)
    assert scene.runners and all(r.shape.walker for r in scene.runners)
    render_clip(tmp_path / "empty.avi", scene, codec="MJPG")
    assert detect_file(tmp_path / "empty.avi", scene.line) == []


def test_occluding_runner_is_still_reported():
    # A faster runner in a nearer lane overtakes at the line, 20-60 ms behind the far
    # one. The crossing is reported near the true times; the flag is not asserted: it
    # is raised in some such scenes only (docs/camera.md, Known limits).
    scene = random_scene(np.random.default_rng(2), "occlusion", 320, 240, fps=60, duration_s=1.2)
    truth = ground_truth(scene)
    det = Detector(Line(*scene.line))
    out = []
    for frame, t in render_frames(scene):
        out += det.feed(frame, t)
    out += det.flush()
    assert out, "the near runner's crossing must still be reported"
    first = min(c.time_s for c in truth.crossings)
    last = max(c.time_s for c in truth.crossings)
    assert all(first - 2 / scene.fps <= c.time_s <= last + 2 / scene.fps for c in out)


def test_feed_api_on_a_short_window_in_memory():
    scene = window_scene([100.0, 100.4], seed=4, width=320, height=240, fps=60)
    det = Detector(Line(*scene.line))
    out = []
    for frame, t in render_frames(scene):
        out += det.feed(frame, t)
    out += det.flush()
    times = sorted(c.time_s for c in out)
    assert len(times) == 2
    assert np.allclose(times, [100.0, 100.4], atol=0.012)


def test_out_of_order_frame_is_ignored_and_counted():
    det = Detector(Line(10, 0, 10, 47))
    img = np.zeros((48, 64, 3), np.uint8)
    det.feed(img, 1.0)
    assert det.feed(img, 0.5) == []
    assert det.out_of_order == 1
    with pytest.raises(ValueError):
        det.feed(np.zeros((0,), np.uint8), 2.0)


def test_cli_json_one_object_per_crossing_and_slit_pngs(tmp_path):
    scene = random_scene(np.random.default_rng(21), "single", 320, 240, fps=60, duration_s=1.2)
    truth = render_clip(tmp_path / "c.mp4", scene)
    x1, y1, x2, y2 = scene.line
    res = CliRunner().invoke(main, [
        "detect", str(tmp_path / "c.mp4"), "--line", f"{x1},{y1},{x2},{y2}", "--json",
        "--slit-dir", str(tmp_path / "slits"),
    ])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines() if line.strip()]
    assert len(rows) == 1
    assert set(rows[0]) == {"time_s", "frame", "position", "direction", "confidence", "flags"}
    assert abs(rows[0]["time_s"] - truth.crossings[0].time_s) < 0.01
    assert rows[0]["frame"] == int(np.ceil(truth.crossings[0].time_s * scene.fps))
    pngs = list((tmp_path / "slits").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 1000


def test_cli_timestamps_file_moves_the_timeline(tmp_path):
    scene = random_scene(np.random.default_rng(21), "single", 320, 240, fps=60, duration_s=1.2)
    truth = render_clip(tmp_path / "c.mp4", scene)
    (tmp_path / "ts.txt").write_text(
        "".join(f"{50.0 + k / scene.fps:.6f}\n" for k in range(scene.n_frames))
    )
    x1, y1, x2, y2 = scene.line
    res = CliRunner().invoke(main, [
        "detect", str(tmp_path / "c.mp4"), "--line", f"{x1},{y1},{x2},{y2}", "--json",
        "--timestamps", str(tmp_path / "ts.txt"),
    ])
    assert res.exit_code == 0, res.output
    row = json.loads(res.output.splitlines()[0])
    assert abs(row["time_s"] - (50.0 + truth.crossings[0].time_s)) < 0.01


def test_cli_bad_input_says_what_is_wrong(tmp_path):
    res = CliRunner().invoke(main, ["detect", str(tmp_path / "nope.mp4"), "--line", "1,2,3"])
    assert res.exit_code == 2 and "four numbers" in res.output
    res = CliRunner().invoke(main, ["detect", str(tmp_path / "nope.mp4"), "--line", "1,2,3,90"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_walkers_at_the_first_frame_leave_no_crossing(tmp_path):
    """A walker in the first frames can be learned into the first background, and
    leaves a ghost when they move on. In this scene (the 19th empty scene of the
    bench's seed 123: two walkers, flicker, shake) the ghost and the body parting
    from it appeared past the line and were reported as two "extrapolated"
    crossings when the first frame was the first background; with a per-pixel
    median of the first second (the walker covers some pixels for more than half
    of it) the ghost gave one "short_track" crossing (startup.py)."""
    scene = bench_scene(123, 19, "empty", fps=30, duration_s=2.0)
    assert len(scene.runners) == 2 and all(r.shape.walker for r in scene.runners)
    render_clip(tmp_path / "ghost.mp4", scene)
    assert detect_file(tmp_path / "ghost.mp4", scene.line) == []


def test_a_jogger_is_a_runner_not_a_walker(tmp_path):
    """2.6 m/s (a 6:25 min/km jog: a slow runner's 5K pace) is ~1.4 body heights per
    second; the walker rule (1.2) must not drop it, and a body near the camera, wide
    in the strip, must not look slower than it is."""
    rng = np.random.default_rng(4)
    jogger = replace(random_runner(rng, 0.8, 360, lane=1), speed_m_s=2.6)
    scene = Scene(width=640, height=360, fps=30, duration_s=1.6, runners=(jogger,), seed=8)
    truth = ground_truth(scene).crossings[0]
    render_clip(tmp_path / "jog.mp4", scene)
    found = detect_file(tmp_path / "jog.mp4", scene.line)
    assert len(found) == 1 and abs(found[0].time_s - truth.time_s) < 0.5 / scene.fps
