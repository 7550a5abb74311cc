"""``trackside demo``: a live mile on simulated sensors, in one command.

Starts ``trackside serve`` as its own process, sets up a heat of virtual
runners, fires the gun, and lets ``sensors.sim`` drive the real sensor code
(RFID bytes through a pty, rendered frames through the camera detector) into
the server over the real sensor link. When a heat ends a new one starts.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from sensors.clock import ScaledClock
from sensors.sim import HeatSensors, calibrated_lanes, write_truth
from sensors.simrunners import default_runners, simulate_heat
from timing.plan import build_plan


def call(base: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    """One REST call to the demo's server; raises ``click.ClickException`` in plain words."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="GET" if body is None
                                     else "POST", headers={"Content-Type": "application/json",
                                                           "X-Trackside-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"server refused {path}: {exc.read().decode()}") from None


def wait_for_server(base: str, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(base + "/api/v1/health", timeout=1).read()
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise click.ClickException(f"the server did not answer at {base} within {timeout_s:.0f} s")


def run_heat(base: str, token: str, link: Any, runners_n: int, speed: float, heat: int,
             workdir: Path, truth_path: Path | None) -> None:
    """Set up, start and run one heat to its end."""
    runners = default_runners(runners_n)
    plans = {r.id: build_plan(r.five_k_s, r.lane, r.variant) for r in runners}
    reply = call(base, "/api/v1/sessions", token, {
        "name": f"Demo heat {heat}",
        "athletes": [{"id": r.id, "name": r.name, "lane": r.lane, "variant": r.variant,
                      "five_k_s": r.five_k_s, "tags": [r.tag]} for r in runners]})
    session_id = reply["session"]["id"]
    clock = ScaledClock(time.time(), speed)
    gun_s = clock.now() + 2.0 * speed
    truth = simulate_heat(runners, plans, gun_s, seed=heat)
    if truth_path is not None:
        write_truth(truth_path, heat, session_id, gun_s, runners, truth)
    sensors = HeatSensors(truth, clock, link.send_crossing, workdir, seed=heat).start()
    try:
        clock.sleep_until(gun_s)
        call(base, f"/api/v1/sessions/{session_id}/start", token, {"time_s": gun_s})
        click.echo(f"heat {heat}: gun fired; {len(runners)} runners, "
                   f"{len(truth)} crossings to come")
        clock.sleep_until(truth[-1].time_s + 3.0 * speed)
        link.wait_idle(10.0)
        call(base, f"/api/v1/sessions/{session_id}/end", token, {"time_s": clock.now()})
        click.echo(f"heat {heat}: finished")
    finally:
        sensors.stop()


@click.command()
@click.option("--runners", "runners_n", type=click.IntRange(1, 12), default=4, show_default=True)
@click.option("--speed", type=click.FloatRange(0.1, 50), default=1.0, show_default=True,
              help="Run K times faster than real time.")
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--heats", type=int, default=0, help="Stop after this many heats (0: loop).")
@click.option("--hold", type=float, default=0.0,
              help="With --heats: keep serving this many seconds after the last heat.")
@click.option("--token", default=None, help="Coach token (default: generated).")
@click.option("--truth", "truth_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Append each heat's ground truth here as JSON lines.")
def demo(runners_n: int, speed: float, port: int, heats: int, hold: float, token: str | None,
         truth_file: Path | None) -> None:
    """Run a live mile on simulated sensors and print the dashboard URLs."""
    from sensors.link import LinkClient

    token = token or secrets.token_urlsafe(12)
    workdir = Path(tempfile.mkdtemp(prefix="trackside-demo-"))
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", "from dashboard.cli import main; main()", "serve",
         "--port", str(port), "--db", str(workdir / "demo.db"), "--token", token],
        stdout=subprocess.DEVNULL)
    link = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        wait_for_server(base, server)
        click.echo(f"Trackside demo running at {base}  (speed x{speed:g})\n"
                   f"  coach page:  {base}/coach?token={token}\n"
                   f"  screen:      {base}/screen\n"
                   f"  coach token: {token}\n"
                   f"Press Ctrl-C to stop.", )
        sys.stdout.flush()
        link = LinkClient(base, token, "demo-sensors").start()
        if calibrated_lanes() is None:  # once, before the first heat (about a second)
            click.echo("finish camera: lane calibration failed; packs assigned by time only")
        heat = 1
        while not heats or heat <= heats:
            run_heat(base, token, link, runners_n, speed, heat, workdir, truth_file)
            sys.stdout.flush()
            heat += 1
        time.sleep(hold)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        if link is not None:
            link.stop()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
