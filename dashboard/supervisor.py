"""Starts every configured sensor as its own node process, and restarts the ones that die.

A sensor that fails to start or crashes never takes the server down: its
process is restarted with a capped, doubling backoff, and its state
(running, exited with code N, restarting in S s) goes to the coach page as
health. ``serve`` calls ``start_supervisor`` once it listens, and ``stop()``
on Ctrl-C (nodes get SIGTERM: they flush the link and close their ports).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 30.0


class Supervisor:
    """Keeps one node process per configured sensor alive."""

    def __init__(self, config_path: str, sensor_ids: list[str], server_url: str, token: str,
                 report: Any) -> None:
        self.config_path = config_path
        self.sensor_ids = sensor_ids
        self.server_url = server_url
        self.token = token
        self.report = report
        self._stop = threading.Event()
        self._procs: dict[str, subprocess.Popen] = {}
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def _spawn(self, sensor_id: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", "from dashboard.cli import main; main()", "node",
             "--config", self.config_path, "--sensor", sensor_id, "--server", self.server_url],
            env={**os.environ, "TRACKSIDE_TOKEN": self.token})

    def _loop(self) -> None:
        backoff = dict.fromkeys(self.sensor_ids, BACKOFF_START_S)
        due = dict.fromkeys(self.sensor_ids, 0.0)
        while not self._stop.is_set():
            now = time.monotonic()
            for sensor_id in self.sensor_ids:
                proc = self._procs.get(sensor_id)
                if proc is not None and proc.poll() is None:
                    if now - due[sensor_id] > 60:
                        backoff[sensor_id] = BACKOFF_START_S  # ran a minute: healthy again
                    continue
                if proc is not None:
                    wait = backoff[sensor_id]
                    log.warning("sensor node %s exited with code %s; restarting in %.0f s",
                                sensor_id, proc.returncode, wait)
                    self._safe_report(sensor_id, {"connected": False, "node": "exited",
                                                  "exit_code": proc.returncode,
                                                  "restart_in_s": wait})
                    due[sensor_id] = now + wait
                    backoff[sensor_id] = min(wait * 2, BACKOFF_MAX_S)
                    self._procs.pop(sensor_id)
                    continue
                if now >= due[sensor_id]:
                    self._procs[sensor_id] = self._spawn(sensor_id)
                    due[sensor_id] = now
            self._stop.wait(0.5)

    def _safe_report(self, sensor_id: str, health: dict[str, Any]) -> None:
        try:
            self.report(sensor_id, health)
        except Exception:  # the coach page is informed best-effort; the loop goes on
            log.exception("could not report health of %s", sensor_id)

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs.values():
            proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_supervisor(app: Any, server_url: str, token: str) -> Supervisor | None:
    """Start a node for every local sensor of the app's config file; ``None`` without any.

    Taps come from the coach page, and ``remote = true`` sensors run on another
    machine (started there by hand), so neither gets a process here.
    """
    from dashboard.config import load_config

    path = app.config.get("CONFIG_FILE")
    if not path:
        return None
    sensors = [s.id for s in load_config(path).sensors if s.kind != "tap" and not s.remote]
    if not sensors:
        return None
    service = app.extensions["trackside"]
    return Supervisor(path, sensors, server_url, token, service.report_health).start()
