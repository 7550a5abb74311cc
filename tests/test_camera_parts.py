"""Camera sensor parts: line geometry, source timestamps and gaps, ArUco bibs, runner, live."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from sensors.camera.aruco import BibReader
from sensors.camera.detector import Detector
from sensors.camera.line import Line, LineError, strip_geometry
from sensors.camera.render import RunnerSpec, Scene, render_clip, render_frames
from sensors.camera.runner import CameraSensor
from sensors.camera.scenes import random_scene
from sensors.camera.source import FrameSource, SourceError, read_timestamps


def test_line_parse_and_geometry():
    line = Line.parse("100, 0, 100, 200")
    assert line.length_px == 200
    assert line.direction_name(1) == "right_to_left"  # normal of a top-to-bottom line points left
    assert line.direction_name(-1) == "left_to_right"
    for bad in ("1,2,3", "a,b,c,d", "5,5,5,6", "nan,1,2,3"):
        with pytest.raises(LineError):
            Line.parse(bad)
    g = strip_geometry(Line(0, 0, 0, 2000), max_samples_along=200)
    assert g.shape[1] <= 201 and g.step_px == pytest.approx(10.0)
    with pytest.raises(LineError):
        Line(0, 0, 700, 0).check_inside(640, 480)
    Line(320, 0, 320, 480).check_inside(640, 480)  # the frame's border is inside
    Line(0, 240, 640, 240).check_inside(640, 480)
    with pytest.raises(LineError):
        Line(320, 0, 320, 482).check_inside(640, 480)


def test_source_reads_pts_from_zero_and_finds_gaps_from_a_timestamps_file(tmp_path):
    scene = Scene(width=160, height=120, fps=30, duration_s=0.5, noise_sigma=0)
    render_clip(tmp_path / "c.mp4", scene)
    with FrameSource(str(tmp_path / "c.mp4")) as src:
        times = [f.time_s for f in src.frames()]
        assert src.health().timestamp_source == "stream"
    assert times[0] == 0.0 and np.allclose(np.diff(times), 1 / 30, atol=1e-3)
    ts = [k / 30 for k in range(15)]
    ts[10:] = [t + 2 / 30 for t in ts[10:]]  # two frames lost before frame 10
    (tmp_path / "ts.txt").write_text("# t\n" + "\n".join(str(t) for t in ts))
    src = FrameSource(str(tmp_path / "c.mp4"), timestamps=read_timestamps(tmp_path / "ts.txt"))
    assert [f.time_s for f in src.frames()] == ts
    h = src.health()
    assert (h.dropped_frames, h.gaps, h.frames) == (2, 1, 15)


def test_matroska_timestamps_files_hold_milliseconds(tmp_path):
    p = tmp_path / "v2.txt"
    p.write_text("# timestamp format v2\n0\n16.683\n33.367\n")
    assert read_timestamps(p) == pytest.approx([0.0, 0.016683, 0.033367])
    p.write_text("# timecode format v2\r\n1000\r\n1033.3\r\n")
    assert read_timestamps(p) == pytest.approx([1.0, 1.0333])
    p.write_text("# times of my phone clip\n0.0\n0.0333\n")  # any other comment: seconds
    assert read_timestamps(p) == pytest.approx([0.0, 0.0333])


def test_timestamps_file_errors_name_the_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("0.0\n0.1\nzero\n")
    with pytest.raises(SourceError, match=":3:"):
        read_timestamps(p)
    p.write_text("0.0\n0.1\n0.05\n")
    with pytest.raises(SourceError, match="not after"):
        read_timestamps(p)
    with pytest.raises(SourceError, match="does not exist"):
        list(FrameSource(str(tmp_path / "none.mp4")).frames())


def test_aruco_bib_is_read_from_a_rendered_frame():
    runner = RunnerSpec(crossing_s=0.5, speed_m_s=4.0, ground_y_px=420, px_per_m=200, aruco_id=7)
    scene = Scene(width=640, height=480, fps=60, duration_s=0.5, runners=(runner,), noise_sigma=1)
    frame = list(render_frames(scene))[-1][0]
    seen = BibReader().read(frame)
    assert [b.marker_id for b in seen] == [7]


def test_runner_emits_crossings_with_health_and_slits(tmp_path):
    scene = random_scene(np.random.default_rng(31), "single", 320, 240, fps=60, duration_s=1.2)
    truth = render_clip(tmp_path / "c.mp4", scene)
    got = []
    sensor = CameraSensor(FrameSource(str(tmp_path / "c.mp4")), Detector(Line(*scene.line)),
                          "finish", got.append, sensor_id="cam1", clock_offset_s=1000.0,
                          slit_dir=tmp_path / "slits")
    assert sensor.run() == 1
    c = got[0]
    assert c.source == "camera" and c.mark == "finish" and c.sensor_id == "cam1"
    assert abs(c.time_s - 1000.0 - truth.crossings[0].time_s) < 0.01
    assert f"direction:{truth.crossings[0].direction_name}" in c.flags
    h = sensor.health()
    assert h.frames == scene.n_frames and h.last_crossing_s == c.time_s and h.fps_measured > 50
    assert len(sensor.slit_paths) == 1 and sensor.slit_paths[0].exists()


def test_runner_health_says_how_much_of_real_time_the_work_takes(tmp_path):
    scene = random_scene(np.random.default_rng(32), "single", 320, 240, fps=60, duration_s=1.0)
    render_clip(tmp_path / "c.mp4", scene)

    class SlowDetector(Detector):
        def feed(self, frame, t_s):
            time.sleep(0.010)  # a machine too slow by 10 ms per 16.7 ms frame
            return super().feed(frame, t_s)

    loads = {}
    line = Line(*scene.line)
    for name, det in (("plain", Detector(line)), ("slow", SlowDetector(line))):
        sensor = CameraSensor(FrameSource(str(tmp_path / "c.mp4")), det, "finish", lambda c: None)
        assert sensor.health().load is None  # nothing measured yet
        sensor.run()
        h = sensor.health()
        assert 0.0 <= h.quiet_fraction <= 1.0
        loads[name] = h.load
    assert loads["plain"] is not None and loads["plain"] > 0
    # sleep() never returns early: at least 10 ms of every 16.7 ms frame.
    assert loads["slow"] >= 0.59 and loads["slow"] > loads["plain"] + 0.5


def test_live_source_reconnects_until_the_stream_appears(tmp_path):
    scene = Scene(width=160, height=120, fps=30, duration_s=0.4, noise_sigma=0)
    render_clip(tmp_path / "real.mp4", scene)
    target = tmp_path / "late.mp4"
    src = FrameSource(str(target), live=True, reconnect_max_s=0.2)
    got = []

    def consume():
        for f in src.frames():
            got.append(f)
            if len(got) >= 3:
                break

    th = threading.Thread(target=consume)
    th.start()
    time.sleep(0.6)
    assert not src.health().connected and src.health().reconnects >= 1
    shutil.copy(tmp_path / "real.mp4", target)
    th.join(timeout=10)
    src.close()
    assert len(got) >= 3 and all(b.time_s > a.time_s for a, b in zip(got, got[1:], strict=False))


def test_live_source_keeps_a_quarter_second_for_a_consumer_that_falls_behind(tmp_path):
    # A file read as a live source arrives as fast as it decodes: a consumer that
    # starts late finds only the newest 0.25 s of frames (15 at 60 fps), the rest
    # counted as dropped. A queue of a frame or two (the old default) lost the
    # frames around a crossing whenever the detector fell behind for a moment.
    scene = Scene(width=160, height=120, fps=60, duration_s=0.5, noise_sigma=0)
    render_clip(tmp_path / "burst.mp4", scene)
    for queue_frames, kept in ((None, 15), (2, 2)):
        src = FrameSource(str(tmp_path / "burst.mp4"), live=True, queue_frames=queue_frames)
        got = []

        def consume(source=src, into=got, kept=kept):
            for f in source.frames():
                into.append(f)
                if len(into) == 1:
                    # Everything else arrives meanwhile (a file read live is reopened
                    # only 0.5 s after its end: that replay is not waited for).
                    time.sleep(0.25)
                if len(into) == 1 + kept:
                    return

        th = threading.Thread(target=consume)
        th.start()
        th.join(timeout=3)
        h = src.health()
        src.close()
        assert src.queue_capacity == kept
        assert h.frames == scene.n_frames
        assert len(got) == 1 + kept and h.dropped_frames == scene.n_frames - 1 - kept
        newest = [f.index for f in got[1:]]
        assert newest == list(range(scene.n_frames - kept, scene.n_frames))
