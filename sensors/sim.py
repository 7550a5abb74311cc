"""The demo's sensor side: virtual runners driving the real sensor code.

Theory of operation. ``simrunners.simulate_heat`` gives the ground truth.
This shell turns it into sensor input on one scaled clock (``--speed K``):

- backstretch and home straight: an RFID reader emulator writes tag reads as
  bytes into a pty; ``sensors.rfid.reader.RfidReader`` reads them with
  pyserial, decodes them and estimates one crossing per burst;
- finish line: a short window of frames is rendered around each finish
  crossing and pushed through the camera ``Detector`` (anonymous crossings,
  which the core assigns by predicted arrival);
- the other marks (back turn, the lane-8 run-off): plain crossings.

Every crossing goes to the server through the real sensor link
(``sensors.link.LinkClient``), as a sensor node would send it.
"""

from __future__ import annotations

import json
import logging
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
                                         sensor_id=f"rfid-{mark}"),
                            on_crossing=self.send, clock=self.clock).start()
        self._readers.append(reader)

    def _run_plain(self) -> None:
        for crossing in self.truth:
            if crossing.mark not in PLAIN_MARKS:
                continue
            if not self._wait_until(crossing.time_s):
                return
            self.send(Crossing(mark=crossing.mark, time_s=crossing.time_s,
                               athlete=crossing.athlete, source="tap", sensor_id="sim-plain"))

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
