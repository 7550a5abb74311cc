"""Helpers for the dashboard tests: a real `trackside serve` on a free port, rosters.

No tests here; the test modules import it (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-coach-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def roster_payload(names: tuple[str, ...] = ("Ann", "Bo")) -> dict:
    five_ks = (1200, 1100, 1300, 1250)
    return {"name": "Test session", "athletes": [
        {"id": f"a{i + 1}", "name": name, "five_k_s": five_ks[i % 4], "lane": i % 8 + 1,
         "tags": [f"TAG{i + 1}"]} for i, name in enumerate(names)]}


def plan_crossings(state: dict, athlete_id: str, start_s: float, deviations_s: list[float]):
    """(mark, time_s) for the athlete's first len(deviations_s) marks, off plan by each deviation.

    ``deviations_s[k]`` is the *cumulative* deviation at mark k.
    """
    athlete = next(a for a in state["athletes"] if a["id"] == athlete_id)
    segments = athlete["plan"]["segments"]
    return [(seg["to_mark"], start_s + seg["cum_target_s"] + dev)
            for seg, dev in zip(segments, deviations_s, strict=False)]


class ServerProcess:
    """`python -m dashboard.commands.serve` in a subprocess, restartable on the same port."""

    def __init__(self, db_path: Path, port: int | None = None, token: str = TOKEN,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.db_path = db_path
        self.port = port or free_port()
        self.token = token
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> ServerProcess:
        cmd = [sys.executable, "-m", "dashboard.commands.serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--db", str(self.db_path), "--token", self.token,
               *self.extra_args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env={**os.environ,
                                                                    "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server died:\n" + self.proc.stdout.read().decode())
            try:
                if requests.get(self.url + "/api/v1/health", timeout=0.5).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not come up")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.proc = None

    def post(self, path: str, body: dict, auth: bool = True) -> requests.Response:
        return requests.post(self.url + "/api/v1" + path, json=body,
                             headers={"Authorization": f"Bearer {self.token}"} if auth else {},
                             timeout=5)

    def state(self) -> dict:
        return requests.get(self.url + "/api/v1/state", timeout=5).json()["state"]

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
