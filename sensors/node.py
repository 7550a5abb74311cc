"""One sensor node: one configured sensor, its runtime, and the link to the server.

A node is its own process (``trackside node``), on the server's machine or at
a mark: OpenCV decoding and blocking serial reads stay out of the server's
event loop. It runs the sensor's runtime (``RfidReader`` or ``CameraSensor``),
forwards every crossing through ``LinkClient`` (which buffers and retries until
the server has logged it) and sends health once a second. The runtimes
reconnect by themselves; a node that dies is restarted by the supervisor.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sensors.config import SensorConfig, lane_at
from timing.values import Crossing, lane_flag

log = logging.getLogger(__name__)
HEALTH_PERIOD_S = 1.0


def rfid_reader_config(sensor: SensorConfig) -> Any:
    """The reader configuration of an RFID sensor, its burst settings from the config file.

    Settings left out keep the estimator's defaults for the protocol.
    """
    from sensors.rfid.reader import ReaderConfig

    settings = sensor.rfid
    assert settings is not None
    antennas = tuple(sorted(settings.antennas)) or (1,)
    config = ReaderConfig(url=settings.port, protocol=settings.protocol, baud=settings.baud,
                          poll_hz=settings.poll_hz, mark=sensor.mark or
                          next(iter(settings.antennas.values())),
                          antenna_marks=dict(settings.antennas), antennas=antennas,
                          sensor_id=sensor.id)
    burst = dataclasses.replace(config.burst_config(), offset_s=settings.offset_s)
    if settings.quiet_s is not None:
        burst = burst.with_quiet(settings.quiet_s)
    chosen = {"method": settings.method, "shadow_db": settings.shadow_db}
    burst = dataclasses.replace(burst, **{k: v for k, v in chosen.items() if v is not None})
    return dataclasses.replace(config, burst=burst)


def build_runtime(sensor: SensorConfig, send: Any) -> Any:
    """The running sensor for ``sensor``: ``.start()``-ed, with ``.health()`` and ``.stop()``."""
    if sensor.kind == "rfid":
        from sensors.rfid.reader import RfidReader

        return RfidReader(rfid_reader_config(sensor), on_crossing=send).start()
    if sensor.kind == "camera":
        from sensors.camera.detector import Detector, DetectorSettings
        from sensors.camera.line import Line
        from sensors.camera.runner import CameraSensor
        from sensors.camera.source import FrameSource, read_timestamps

        settings = sensor.camera
        spec: str | int = int(settings.source) if settings.source.isdigit() else settings.source
        stamps = read_timestamps(settings.timestamps) if settings.timestamps else None
        detector = Detector(Line(*settings.line), DetectorSettings(readout_s=settings.readout_s))
        source: Any = FrameSource(spec, timestamps=stamps)
        offset_s = 0.0
        if not source.live:  # a recorded file: its timeline onto the session clock
            source = RecordedFile(source, settings.start_s)
            offset_s = source.origin_s
        if settings.lanes is not None:
            send = with_lane(send, settings.lanes)
        camera = CameraSensor(source, detector, sensor.mark, send, sensor_id=sensor.id,
                              clock_offset_s=offset_s)
        thread = threading.Thread(target=camera.run, name=f"camera-{sensor.id}", daemon=True)
        thread.start()
        return camera
    raise ValueError(f"sensor {sensor.id!r}: a {sensor.kind} sensor has no node runtime")


def with_lane(send: Callable[[Crossing], Any], lanes: tuple[tuple[float, float], ...]
              ) -> Callable[[Crossing], Any]:
    """``send`` with the lane estimate of each crossing's line position added as a flag."""
    def send_with_lane(crossing: Crossing) -> Any:
        return send(add_lane(crossing, lanes))
    return send_with_lane


def add_lane(crossing: Crossing, lanes: tuple[tuple[float, float], ...]) -> Crossing:
    """``crossing`` with its lane estimate (``timing.values.LANE_FLAG``), when it has a position."""
    if crossing.position is None:
        return crossing
    return dataclasses.replace(crossing, flags=(*crossing.flags,
                                                lane_flag(lane_at(crossing.position, lanes))))


class RecordedFile:
    """A video file played as a camera: its frames on the session clock, at their own pace.

    Frame times are counted from the file's first frame (whatever its PTS or
    timestamps file says; their spacing is kept). The first frame is put at
    ``start_s`` (the wall time it was recorded, from the config) or, without
    one, at the moment the node starts, as if the file were a live camera
    switched on then. A frame is not handed on before its
    time on the clock: footage from the past is decoded at full speed, footage
    "now" plays at its own frame rate, so crossings reach the screens when
    they happen in the film. Times handed on are from the first frame;
    ``origin_s`` is the offset to add (``CameraSensor(clock_offset_s=...)``).
    """

    def __init__(self, source: Any, start_s: float | None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Any] | None = None) -> None:
        self.source = source
        self.clock = clock
        self.origin_s = clock() if start_s is None else start_s
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._first_s: float | None = None
        self.ended = False

    def frames(self) -> Any:
        """The file's frames, each one released once the clock reaches its time."""
        for frame in self.source.frames():
            if self._first_s is None:
                self._first_s = frame.time_s
            # from the first frame, whatever its PTS or timestamps-file time
            frame = dataclasses.replace(frame, time_s=frame.time_s - self._first_s)
            wait_s = self.origin_s + frame.time_s - self.clock()
            while wait_s > 0 and not self._stop.is_set():
                self._sleep(min(wait_s, 0.5))
                wait_s = self.origin_s + frame.time_s - self.clock()
            if self._stop.is_set():
                return
            yield frame
        self.ended = True

    def health(self) -> Any:
        return self.source.health()

    def close(self) -> None:
        self._stop.set()
        self.source.close()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return value


def run_node(sensor: SensorConfig, server_url: str, token: str,
             stop: threading.Event | None = None) -> None:
    """Run ``sensor`` until ``stop`` is set (or forever), sending to ``server_url``."""
    from sensors.link import LinkClient

    stop = stop or threading.Event()
    link = LinkClient(server_url, token, sensor.id).start()
    runtime = build_runtime(sensor, link.send_crossing)
    log.info("node %s (%s at %s) running", sensor.id, sensor.kind, ", ".join(sensor.marks()))
    try:
        while not stop.wait(HEALTH_PERIOD_S):
            sensor_health = _plain(runtime.health())
            ended = getattr(getattr(runtime, "source", None), "ended", False)
            if ended:
                sensor_health["file_ended"] = True  # a recorded file played to its end
            # "connected" on the server means the node's link; say the device's state apart,
            # and "ok" (what the coach page shows) is the device's: a pulled reader is DOWN
            device_ok = bool(sensor_health.get("connected"))
            health = {"kind": sensor.kind, "marks": list(sensor.marks()), **sensor_health,
                      "sensor_connected": device_ok, "ok": device_ok or ended,
                      "link": link.health()}
            link.send_health(health)
    finally:
        runtime.stop()
        link.stop()
