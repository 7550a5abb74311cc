"""The demo's sensor side: virtual runners driving the real sensor code.

Theory of operation. ``simrunners.simulate_heat`` gives the ground truth.
This shell turns it into sensor input on one scaled clock (``--speed K``):

- backstretch and home straight: an RFID reader emulator writes tag reads as
  bytes into a pty; ``sensors.rfid.reader.RfidReader`` reads them with
  pyserial, decodes them and estimates one crossing per burst;
- finish line: a short window of frames is rendered around each finish
  crossing, each runner in their own lane of an eight-lane view, and pushed
  through the camera ``Detector`` (anonymous crossings, which the core
  assigns by predicted arrival and lane). The camera's lane mapping is
  calibrated the way a coach would: runners of known lanes (1, 4, 8) cross
  once and the positions the detector reports become the ``lanes`` table;
- the other marks (back turn, the lane-8 run-off): plain crossings;
- the coach also taps the finish line as a fallback, with a human reaction
  delay: when the camera misses a runner (two torsos in the same frames), the
  tap keeps the lap; when it does not, the core keeps the camera's time.

Every crossing goes to the server through the real sensor link
(``sensors.link.LinkClient``), as a sensor node would send it.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sensors.clock import ScaledClock
from sensors.simrunners import SimRunner, TruthCrossing
from timing.values import BACK_TURN, BACKSTRETCH, FINISH, HOME_STRAIGHT, MILE_END, Crossing

if TYPE_CHECKING:
    from sensors.camera.render import Scene

log = logging.getLogger(__name__)

RFID_MARKS = (BACKSTRETCH, HOME_STRAIGHT)
PLAIN_MARKS = (BACK_TURN, MILE_END)
#: A coach's tap lags the crossing by a reaction time in this range (s).
TAP_REACTION_S = (0.12, 0.22)
#: Finish crossings closer than this share one rendered camera window.
CAMERA_CLUSTER_S = 1.0
#: The finish camera looks across all eight lanes (lane 1 nearest, at the bottom).
CAMERA_VIEW_LANES = 8
#: Lanes a runner crosses in to calibrate the camera's lane mapping.
CALIBRATION_LANES = (1, 4, 8)


class HeatSensors:
    """All simulated sensors of one heat; ``start()`` then ``stop()``."""

    def __init__(self, truth: list[TruthCrossing], clock: ScaledClock,
                 send: Callable[[Crossing], object], workdir: Path, seed: int = 0) -> None:
        self.truth = truth
        self.clock = clock
        self.send = send
        self.workdir = workdir
        self.seed = seed
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._emulators: list[object] = []
        self._readers: list[object] = []
        self.camera_crossings: list[Crossing] = []

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> HeatSensors:
        for mark in RFID_MARKS:
            self._start_rfid(mark)
        for target in (self._run_plain, self._run_camera):
            thread = threading.Thread(target=target, name=target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for reader in self._readers:
            reader.stop()
        for emulator in self._emulators:
            emulator.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def health(self) -> dict[str, object]:
        return {getattr(r.config, "sensor_id", "rfid"): r.health() for r in self._readers}

    # -- sensors ---------------------------------------------------------------------
    def _start_rfid(self, mark: str) -> None:
        from sensors.rfid.devices import make_device
        from sensors.rfid.emulator import Emulator
        from sensors.rfid.passmodel import TagPass
        from sensors.rfid.reader import ReaderConfig, RfidReader

        passes = [TagPass(c.tag, c.time_s, speed_m_s=min(max(c.speed_mps, 3.0), 10.0),
                          seed=self.seed * 1000 + i)
                  for i, c in enumerate(self.truth) if c.mark == mark]
        device = make_device("ascii", passes, read_hz=40.0, seed=self.seed)
        emulator = Emulator(device, clock=self.clock).start()
        path = emulator.open_pty(str(self.workdir / f"tty-{mark}"))
        self._emulators.append(emulator)
        reader = RfidReader(ReaderConfig(url=path, protocol="ascii", mark=mark,
                                         sensor_id=f"rfid-{mark}", burst=self._burst()),
                            on_crossing=self.send, clock=self.clock).start()
        self._readers.append(reader)

    def _burst(self) -> object:
        """The ASCII reader's burst settings, stretched for a fast clock.

        Quiet times are in session seconds; at ``--speed 20`` the default
        0.2 s is 10 real milliseconds, less than the pty and thread jitter,
        which would cut one pass in two (the first half then times the pass
        early by a second or more). 60 real ms was not enough on two cores
        shared with other test runs (a pass was cut at --speed 20), nor was
        150 once the early rule re-fitted each pass until two fits agree (a
        pass timed 0.6 s early in one of five runs on a loaded machine); keep
        at least 250 real ms. At --speed 1 this leaves the default alone;
        faster runs only decide each pass a little later.
        """
        from sensors.rfid.burst import BurstConfig
        from sensors.rfid.reader import DEFAULT_METHOD

        floor_s = 0.25 * self.clock.speed
        return BurstConfig(method=DEFAULT_METHOD["ascii"]).with_quiet(max(0.2, floor_s))

    def _run_plain(self) -> None:
        rng = random.Random(self.seed)
        schedule = []
        for crossing in self.truth:
            if crossing.mark in PLAIN_MARKS:
                schedule.append((crossing.time_s, crossing, "sim-plain"))
            elif crossing.mark == FINISH:
                schedule.append((crossing.time_s + rng.uniform(*TAP_REACTION_S), crossing,
                                 "coach-tap"))
        for time_s, crossing, sensor_id in sorted(schedule, key=lambda item: item[0]):
            if not self._wait_until(time_s):
                return
            self.send(Crossing(mark=crossing.mark, time_s=time_s, athlete=crossing.athlete,
                               source="tap", sensor_id=sensor_id))

    def _run_camera(self) -> None:
        from sensors.camera.runner import to_crossing
        from sensors.node import add_lane

        lanes = calibrated_lanes()
        finishes = [c for c in self.truth if c.mark == FINISH]
        for index, cluster in enumerate(_clusters(finishes, CAMERA_CLUSTER_S)):
            scene = lane_scene(cluster, seed=self.seed * 100 + index)
            if not self._wait_until(cluster[-1].time_s + 0.5):
                return
            found = detect(scene)
            for line_crossing in found:
                crossing = to_crossing(line_crossing, FINISH, "sim-finish-cam")
                if lanes is not None:
                    crossing = add_lane(crossing, lanes)
                self.camera_crossings.append(crossing)
                self.send(crossing)
            if len(found) != len(cluster):
                log.info("finish camera saw %d of %d crossings at %.2f", len(found),
                         len(cluster), cluster[0].time_s)

    def _wait_until(self, when_s: float) -> bool:
        while not self._stop.is_set():
            delay = (when_s - self.clock.now()) / self.clock.speed
            if delay <= 0:
                return True
            self._stop.wait(min(delay, 0.2))
        return False


def _clusters(crossings: list[TruthCrossing], gap_s: float) -> list[list[TruthCrossing]]:
    groups: list[list[TruthCrossing]] = []
    for c in sorted(crossings, key=lambda c: c.time_s):
        if groups and c.time_s - groups[-1][-1].time_s < gap_s:
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def lane_scene(crossings: list[TruthCrossing], seed: int) -> Scene:
    """A short clip around a pack's finish crossings, each runner in their own lane."""
    from sensors.camera.render import lane_ground
    from sensors.camera.scenes import random_runner, window_scene

    window = window_scene([c.time_s for c in crossings], seed=seed)
    rng = np.random.default_rng(seed)
    runners = []
    for c in crossings:
        runner = random_runner(rng, c.time_s, window.height, direction=1,
                               speed_m_s=min(max(c.speed_mps, 3.0), 9.5))
        ground_y_px, px_per_m = lane_ground(window.height, c.lane, CAMERA_VIEW_LANES)
        runners.append(replace(runner, ground_y_px=ground_y_px, px_per_m=px_per_m))
    return replace(window, runners=tuple(runners))


def detect(scene: Scene) -> list:
    """The camera detector's crossings in ``scene``'s rendered frames."""
    from sensors.camera.detector import Detector
    from sensors.camera.line import Line
    from sensors.camera.render import render_frames

    detector = Detector(Line(*scene.line))
    found = []
    for frame, t_s in render_frames(scene):
        found.extend(detector.feed(frame, t_s))
    found.extend(detector.flush())
    return found


@functools.cache
def calibrated_lanes(lanes: tuple[int, ...] = CALIBRATION_LANES
                     ) -> tuple[tuple[float, float], ...] | None:
    """The demo camera's ``lanes`` table, measured as a coach would set it up.

    A runner of average build crosses in each of ``lanes``, one at a time; the
    line positions the detector reports are the calibration points. ``None``
    (time-only assignment) if the detector missed one.
    """
    from sensors.camera.render import RunnerSpec, Scene, lane_ground

    height = 360
    runners = []
    for i, lane in enumerate(lanes):
        ground_y_px, px_per_m = lane_ground(height, lane, CAMERA_VIEW_LANES)
        runners.append(RunnerSpec(0.6 + 1.0 * i, speed_m_s=6.0, ground_y_px=ground_y_px,
                                  px_per_m=px_per_m))
    scene = Scene(height=height, duration_s=1.0 * len(runners) + 0.2, runners=tuple(runners),
                  seed=1)
    found = detect(scene)
    if len(found) != len(runners):
        log.warning("camera lane calibration saw %d of %d runners: lanes not used",
                    len(found), len(runners))
        return None
    return tuple(sorted((c.position, float(lane)) for c, lane in zip(found, lanes, strict=True)))


def write_truth(path: Path, heat: int, session_id: str, gun_s: float,
                runners: list[SimRunner], truth: list[TruthCrossing]) -> None:
    """Append one heat's ground truth as a JSON line (for tests and curious coaches)."""
    record = {"heat": heat, "session": session_id, "gun_s": gun_s,
              "runners": [asdict(r) for r in runners], "crossings": [asdict(c) for c in truth]}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
