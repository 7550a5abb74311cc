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
from typing import Any

from sensors.config import SensorConfig

log = logging.getLogger(__name__)
HEALTH_PERIOD_S = 1.0


def build_runtime(sensor: SensorConfig, send: Any) -> Any:
    """The running sensor for ``sensor``: ``.start()``-ed, with ``.health()`` and ``.stop()``."""
    if sensor.kind == "rfid":
        from sensors.rfid.reader import ReaderConfig, RfidReader

        settings = sensor.rfid
        antennas = tuple(sorted(settings.antennas)) or (1,)
        config = ReaderConfig(url=settings.port, protocol=settings.protocol, baud=settings.baud,
                              poll_hz=settings.poll_hz, mark=sensor.mark or
                              next(iter(settings.antennas.values())),
                              antenna_marks=dict(settings.antennas), antennas=antennas,
                              sensor_id=sensor.id)
        return RfidReader(config, on_crossing=send).start()
    if sensor.kind == "camera":
        from sensors.camera.detector import Detector, DetectorSettings
        from sensors.camera.line import Line
        from sensors.camera.runner import CameraSensor
        from sensors.camera.source import FrameSource, read_timestamps

        settings = sensor.camera
        spec: str | int = int(settings.source) if settings.source.isdigit() else settings.source
        stamps = read_timestamps(settings.timestamps) if settings.timestamps else None
        detector = Detector(Line(*settings.line), DetectorSettings(readout_s=settings.readout_s))
        camera = CameraSensor(FrameSource(spec, timestamps=stamps), detector, sensor.mark, send,
                              sensor_id=sensor.id)
        thread = threading.Thread(target=camera.run, name=f"camera-{sensor.id}", daemon=True)
        thread.start()
        return camera
    raise ValueError(f"sensor {sensor.id!r}: a {sensor.kind} sensor has no node runtime")


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
            # "connected" on the server means the node's link; say the device's state apart
            health = {"kind": sensor.kind, "marks": list(sensor.marks()), **sensor_health,
                      "sensor_connected": bool(sensor_health.get("connected")),
                      "link": link.health()}
            link.send_health(health)
    finally:
        runtime.stop()
        link.stop()
