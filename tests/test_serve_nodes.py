"""`trackside serve --config` with a pty reader and a video file as sensor nodes, end to end.

The reader emulator writes tag reads as bytes into a real pty; its node process
reads it with pyserial. A camera node plays a real encoded video file (rendered
with two runners in their lanes crossing the line at known times, in the
other order than predicted) through the detector, its first frame put on the
session clock by ``start_s`` and its line positions turned into lanes by a
``lanes`` table calibrated on the detector. Both send crossings over the
sensor link into the core, and splits come out, each camera time on its own
runner. In headless Chromium, the
coach page's sensor panel shows both nodes; pulling the reader (closing the
pty) shows it DOWN there, and plugging it back brings it back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from sensors.camera.render import Scene, render_clip
from sensors.camera.scenes import random_runner
from sensors.camera.source import FrameSource
from sensors.config import lane_at
from sensors.node import RecordedFile, add_lane
from sensors.rfid.devices import make_device
from sensors.rfid.emulator import Emulator
from sensors.rfid.passmodel import TagPass
from sensors.sim import calibrated_lanes, lane_scene
from sensors.simrunners import TruthCrossing
from timing.plan import build_plan
from timing.values import Crossing, flagged_lane

ANA_TAG, BEN_TAG = "E2000017221101441890A001", "E2000017221101441890A002"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: Where the clip's runner crosses the line, on the clip's own timeline (s).
CLIP_CROSSING_S = 0.8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    return json.loads(urllib.request.urlopen(url, timeout=5).read())


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def clip(path: Path, lane: int = 1, seed: int = 7) -> Scene:
    """A 1.6 s clip (60 fps, mp4v) of one runner in ``lane`` crossing at CLIP_CROSSING_S."""
    rng = np.random.default_rng(seed)
    scene = Scene(fps=60, duration_s=1.6, seed=seed, runners=(
        random_runner(rng, CLIP_CROSSING_S, 360, lane=lane, direction=1),))
    render_clip(path, scene)
    return scene


def test_a_recorded_file_plays_from_its_start_time_at_its_own_pace(tmp_path):
    path = tmp_path / "clip.mp4"
    clip(path)
    now = [1_000.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    # no start_s: the first frame is "now", and each frame waits for its time
    played = RecordedFile(FrameSource(str(path)), None, clock=lambda: now[0], sleep=sleep)
    released = [(frame.time_s, now[0]) for frame in played.frames()]
    assert played.origin_s == 1_000.0 and played.ended
    assert len(released) == 96 and released[0][0] == 0.0
    assert all(at >= played.origin_s + t - 1e-9 for t, at in released)
    assert now[0] == pytest.approx(1_000.0 + released[-1][0], abs=0.5)
    assert released[-1][0] == pytest.approx(95 / 60, abs=0.02)
    # a start time in the past: footage from then, decoded without waiting
    slept.clear()
    past = RecordedFile(FrameSource(str(path)), 500.0, clock=lambda: now[0], sleep=sleep)
    assert len(list(past.frames())) == 96 and not slept and past.origin_s == 500.0


def test_a_camera_crossing_carries_the_lane_of_its_line_position():
    crossing = Crossing("finish", 10.0, source="camera", position=0.25, flags=("x",))
    ends = ((0.0, 8.0), (1.0, 0.0))
    tagged = add_lane(crossing, ends)
    assert tagged.flags[0] == "x" and flagged_lane(tagged.flags) == lane_at(0.25, ends) == 6.0
    assert add_lane(Crossing("finish", 10.0, source="camera"), ends).flags == ()


def five_k_for_lap1(lane: int, lap1_s: float) -> float:
    """The 5K time whose plan in ``lane`` reaches the end of lap 1 at ``lap1_s``."""
    lo, hi = 900.0, 2400.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if build_plan(mid, lane, "standard").segments[4].cum_target_s < lap1_s:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@pytest.mark.slow
def test_serve_runs_a_pty_reader_and_a_video_file_through_an_unplug(tmp_path):
    # Ana (lane 1) and Cleo (lane 3) are predicted at the finish 0.3 s apart, Ana first,
    # but Cleo surged: in the video file Cleo crosses at Ana's predicted time and Ana
    # 0.3 s later. By time alone the two would be swapped; the camera's lanes decide.
    ana = build_plan(1200.0, 1, "standard")
    lap1_s = ana.segments[4].cum_target_s
    cleo_5k_s = five_k_for_lap1(3, lap1_s + 0.3)
    video = tmp_path / "finish.mp4"
    scene = lane_scene([TruthCrossing("cleo", "", "finish", 0.8, 1, "home", 3, 6.0),
                        TruthCrossing("ana", "", "finish", 1.1, 1, "home", 1, 6.5)], seed=7)
    render_clip(video, scene)
    lanes = calibrated_lanes()  # the camera's lane table, measured as a coach would
    assert lanes is not None
    lanes_toml = ", ".join(f"{lane:g} = {position:.4f}" for position, lane in lanes)
    now = time.time()
    ben = build_plan(24 * 60.0, 2, "standard")
    # The gun was 83 s ago. Ben's tag passes the home straight 8 s from now (a 91 s
    # split), then every 12 s (beyond the reader's 8 s dead time) to exercise the node.
    # The finish line crossings are about 11 s from now, on the video file's timeline
    # put at start_s (its first frame, 0.6 s before Cleo's crossing).
    gun_s = now - 83.0
    ana_finish_s, cleo_finish_s = gun_s + lap1_s + 0.3, gun_s + lap1_s
    assert ana.segments[4].to_mark == "finish" and ben.segments[3].to_mark == "home_straight"
    passes = [TagPass(BEN_TAG, now + 8 + 12 * i, seed=i) for i in range(6)]
    emulator = Emulator(make_device("ascii", passes, read_hz=40.0), clock=time.time).start()
    tty = emulator.open_pty(str(tmp_path / "ttyUSB0"))
    port, token = free_port(), "serve-token"
    config = tmp_path / "serve.toml"
    config.write_text(f"""
[server]
port = {port}
db = "{tmp_path / 'serve.db'}"
[[sensor]]
id = "rfid-home"
kind = "rfid"
protocol = "ascii"
port = "{tty}"
mark = "home_straight"
[[sensor]]
id = "finish-cam"
kind = "camera"
mark = "finish"
source = "{video}"
line = {list(scene.line)}
lanes = {{ {lanes_toml} }}
start_s = {cleo_finish_s - 0.6!r}
[[athlete]]
id = "ana"
name = "Ana"
lane = 1
five_k = "20:00"
tags = ["{ANA_TAG}"]
[[athlete]]
id = "cleo"
name = "Cleo"
lane = 3
five_k_s = {cleo_5k_s!r}
[[athlete]]
id = "ben"
name = "Ben"
lane = 2
five_k = "24:00"
tags = ["{BEN_TAG}"]
""")
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", "from dashboard.cli import main; main()", "serve", "--config",
         str(config), "--token", token], cwd=ROOT, stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for(lambda: _up(base), 20, "the server")
        request = urllib.request.Request(
            f"{base}/api/v1/sessions/config/start", method="POST",
            data=json.dumps({"time_s": gun_s}).encode(),
            headers={"Content-Type": "application/json", "X-Trackside-Token": token})
        urllib.request.urlopen(request, timeout=5).read()

        def node(name: str) -> dict:
            return get(f"{base}/api/v1/health").get("nodes", {}).get(name) or {}

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            coach = browser.new_page()
            coach.goto(f"{base}/coach?token={token}")
            coach.click(".tab[data-tab=sensors]")

            def row(name: str):
                return coach.locator("#sensor-rows tr", has_text=name)

            # both nodes on the coach page, each as its device reports
            row("finish-cam").wait_for(timeout=20_000)
            wait_for(lambda: "connected" in row("rfid-home").inner_text(), 20, "reader shown")
            # the camera's crossing (from the file) and the reader's reach the core as splits
            for athlete, finish_s in (("ana", ana_finish_s), ("cleo", cleo_finish_s)):
                split = wait_for(lambda a=athlete: _split(base, a, 1, "home"), 20,
                                 f"{athlete}'s camera split")
                assert split["source"] == "camera" and "ambiguous" not in split["flags"]
                assert split["time_s"] == pytest.approx(finish_s, abs=0.06), athlete
            ben_split = wait_for(lambda: _split(base, "ben", 1, "turn2"), 20, "Ben's RFID split")
            assert ben_split["source"] == "rfid"
            # the first pass the node was up for (a slow start under load may miss one)
            assert min(abs(ben_split["time_s"] - p.crossing_s) for p in passes[:3]) < 0.2

            emulator.unplug()
            wait_for(lambda: "DOWN" in row("rfid-home").inner_text(), 15, "reader DOWN on page")
            assert node("rfid-home").get("sensor_connected") is False
            emulator.replug()
            wait_for(lambda: "connected" in row("rfid-home").inner_text(), 15,
                     "reader back on the page")
            crossings = node("rfid-home")["crossings_total"]
            wait_for(lambda: node("rfid-home")["crossings_total"] > crossings, 30,
                     "a crossing after the replug")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        emulator.stop()


def _up(base: str) -> bool:
    try:
        get(f"{base}/api/v1/health")
        return True
    except OSError:
        return False


def _splits(base: str) -> int:
    state = get(f"{base}/api/v1/state")
    athletes = state.get("state", state).get("athletes", [])
    return sum(len(a.get("splits", [])) for a in athletes)


def _split(base: str, athlete: str, lap: int, segment: str) -> dict | None:
    state = get(f"{base}/api/v1/state")
    for a in state.get("state", state).get("athletes", []):
        if a.get("id") == athlete:
            for split in a.get("splits", []):
                if split.get("lap") == lap and split.get("segment") == segment:
                    return split
    return None
