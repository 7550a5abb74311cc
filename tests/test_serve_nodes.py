"""`trackside serve --config` with an emulated serial reader on a pty, run as a sensor node.

The reader emulator writes tag reads as bytes into a real pty; the node process
reads it with pyserial and sends crossings over the sensor link. Pulling the
reader (closing the pty) shows it unhealthy in the health feed; plugging it
back brings it back and its crossings flow again.
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

import pytest

from sensors.rfid.devices import make_device
from sensors.rfid.emulator import Emulator
from sensors.rfid.passmodel import TagPass

TAG = "E2000017221101441890A001"
ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.slow
def test_serve_runs_a_pty_reader_node_through_unplug(tmp_path):
    now = time.time()
    # The gun was 72 s ago, so the first pass (home straight, 325 m) is a plausible 78 s
    # split; later passes every 12 s (beyond the 8 s dead time) only exercise the node.
    passes = [TagPass(TAG, now + 6 + 12 * i, seed=i) for i in range(6)]
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
[[athlete]]
id = "ana"
name = "Ana"
five_k = "20:00"
tags = ["{TAG}"]
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
            data=json.dumps({"time_s": now - 72.0}).encode(),
            headers={"Content-Type": "application/json", "X-Trackside-Token": token})
        urllib.request.urlopen(request, timeout=5).read()

        def node():
            return get(f"{base}/api/v1/health").get("nodes", {}).get("rfid-home")

        wait_for(lambda: (node() or {}).get("crossings_total", 0) >= 1, 20, "a first crossing")
        splits_before = _splits(base)
        assert splits_before >= 1
        emulator.unplug()
        wait_for(lambda: (node() or {}).get("sensor_connected") is False, 15,
                 "reader shown unplugged")
        emulator.replug()
        wait_for(lambda: (node() or {}).get("sensor_connected") is True, 15, "reader reconnected")
        crossings = node()["crossings_total"]
        wait_for(lambda: node()["crossings_total"] > crossings, 30, "a crossing after the replug")
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
