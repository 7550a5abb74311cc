"""The demo's sensor side: virtual runners driving the real sensor code.

Theory of operation. ``simrunners.simulate_heat`` gives the ground truth.
This shell turns it into sensor input on one scaled clock (``--speed K``):

- backstretch and home straight: an RFID reader emulator writes tag reads as
  bytes into a pty; ``sensors.rfid.reader.RfidReader`` reads them with
  pyserial, decodes them and estimates one crossing per burst;
- finish line: a short window of frames is rendered around each finish
  crossing and pushed through the camera ``Detector`` (anonymous crossings,
  which the core assigns by predicted arrival);
- the other marks (back turn, the lane-8 run-off): plain crossings;
- the coach also taps the finish line as a fallback, with a human reaction
  delay: when the camera misses a runner (two torsos in the same frames), the
  tap keeps the lap; when it does not, the core keeps the camera's time.

Every crossing goes to the server through the real sensor link
(``sensors.link.LinkClient``), as a sensor node would send it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from sensors.clock import ScaledClock
from sensors.simrunners import SimRunner, TruthCrossing
from timing.values import BACK_TURN, BACKSTRETCH, FINISH, HOME_STRAIGHT, MILE_END, Crossing

log = logging.getLogger(__name__)

RFID_MARKS = (BACKSTRETCH, HOME_STRAIGHT)
PLAIN_MARKS = (BACK_TURN, MILE_END)
#: A coach's tap lags the crossing by a reaction time in this range (s).
TAP_REACTION_S = (0.12, 0.22)
#: Finish crossings closer than this share one rendered camera window.
CAMERA_CLUSTER_S = 1.0


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
        which would cut one pass in two. Keep at least 60 real ms of quiet.
        """
        from sensors.rfid.burst import BurstConfig

        floor_s = 0.06 * self.clock.speed
        return BurstConfig(method="fit", quiet_s=max(0.2, floor_s),
                           max_quiet_s=max(0.28, 1.4 * floor_s))

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
        from sensors.camera.detector import Detector
        from sensors.camera.line import Line
        from sensors.camera.render import render_frames, window_scene
        from sensors.camera.runner import to_crossing

        for index, cluster in enumerate(_clusters(
                [c.time_s for c in self.truth if c.mark == FINISH], CAMERA_CLUSTER_S)):
            scene = window_scene(cluster, seed=self.seed * 100 + index)
            if not self._wait_until(max(cluster) + 0.5):
                return
            detector = Detector(Line(*scene.line))
            found = []
            for frame, t_s in render_frames(scene):
                found.extend(detector.feed(frame, t_s))
            found.extend(detector.flush())
            for line_crossing in found:
                crossing = to_crossing(line_crossing, FINISH, "sim-finish-cam")
                self.camera_crossings.append(crossing)
                self.send(crossing)
            if len(found) != len(cluster):
                log.info("finish camera saw %d of %d crossings at %.2f", len(found),
                         len(cluster), cluster[0])

    def _wait_until(self, when_s: float) -> bool:
        while not self._stop.is_set():
            delay = (when_s - self.clock.now()) / self.clock.speed
            if delay <= 0:
                return True
            self._stop.wait(min(delay, 0.2))
        return False


def _clusters(times: list[float], gap_s: float) -> list[list[float]]:
    groups: list[list[float]] = []
    for t in sorted(times):
        if groups and t - groups[-1][-1] < gap_s:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def write_truth(path: Path, heat: int, session_id: str, gun_s: float,
                runners: list[SimRunner], truth: list[TruthCrossing]) -> None:
    """Append one heat's ground truth as a JSON line (for tests and curious coaches)."""
    record = {"heat": heat, "session": session_id, "gun_s": gun_s,
              "runners": [asdict(r) for r in runners], "crossings": [asdict(c) for c in truth]}
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
