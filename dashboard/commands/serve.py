"""``trackside serve``: the core, the dashboard and the sensor-node link in one gevent process.

gevent with gevent-websocket is the measured choice (docs/performance.md,
"Broadcast"); the monkey-patching happens here, first thing when the command
runs, so ``trackside plan`` never pays for it. Sensor nodes are separate
processes, one per configured sensor, kept alive by ``dashboard.supervisor``: it
is started once the server is listening and stopped on Ctrl-C.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from typing import Any

import click

log = logging.getLogger(__name__)

def banner(host: str, port: int, token: str, generated: bool) -> str:
    """What `serve` prints: where to point the tablet and the screen."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    lines = [f"Trackside is running at {base}",
             f"  coach page:  {base}/coach?token={token}",
             f"  screen:      {base}/screen",
             f"  coach token: {token}" + ("  (generated; pass --token to choose one)"
                                         if generated else "")]
    return "\n".join(lines)


def listener(host: str, port: int) -> socket.socket:
    """The listening socket, with TCP_NODELAY (accepted sockets inherit it on Linux).

    Without it, a keep-alive HTTP reply or a burst of small websocket frames
    waits for the peer's delayed ACK: 40 ms, measured, on every request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def run_gevent(app: Any, socketio: Any, host: str, port: int) -> None:
    """Serve with gevent's WSGI server and gevent-websocket on a TCP_NODELAY listener."""
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    server = pywsgi.WSGIServer(listener(host, port), app, handler_class=WebSocketHandler,
                               log=None)
    socketio.wsgi_server = server  # so socketio.stop() stops it
    server.serve_forever()


@click.command()
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="TOML file: server, track, sensors, roster (see config/).")
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [5000].")
@click.option("--db", "db_path", default=None, help="SQLite event log [trackside.db].")
@click.option("--token", default=None, envvar="TRACKSIDE_TOKEN",
              help="Coach token (generated and printed when not given).")
@click.option("--sync", "synchronous", type=click.Choice(["NORMAL", "FULL"]), default=None,
              help="Event-log durability: NORMAL survives a killed process, FULL also a "
                   "power cut (one fsync per commit) [NORMAL].")
@click.option("--async-mode", type=click.Choice(["gevent", "threading"]), default="gevent",
              show_default=True, help="Server concurrency (threading: for comparison only).")
def serve(config_file: str | None, host: str | None, port: int | None, db_path: str | None,
          token: str | None, synchronous: str | None, async_mode: str) -> None:
    """Run the dashboard, the core and the sensor-node link."""
    if async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
    from dashboard import create_app
    from dashboard.config import ConfigFileError
    from dashboard.supervisor import start_supervisor

    overrides: dict[str, Any] = {"ASYNC_MODE": async_mode}
    if config_file:
        overrides["CONFIG_FILE"] = config_file
    if db_path:
        overrides["DB_PATH"] = db_path
    if token:
        overrides["TOKEN"] = token
    if synchronous:
        overrides["DB_SYNCHRONOUS"] = synchronous
    try:
        app = create_app(overrides)
    except ConfigFileError as exc:
        raise click.ClickException(str(exc)) from None
    parsed = app.config.get("TRACKSIDE")
    host = host or (parsed.server.host if parsed else "127.0.0.1")
    port = port if port is not None else (parsed.server.port if parsed else 5000)
    socketio = app.extensions["trackside_socketio"]
    click.echo(banner(host, port, app.config["TOKEN"], app.config["TOKEN_GENERATED"]))
    sys.stdout.flush()

    supervisor = None

    def after_listen() -> None:
        nonlocal supervisor
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        supervisor = start_supervisor(app, f"http://{local}:{port}", app.config["TOKEN"])

    def stop_all() -> None:
        if supervisor is not None:
            supervisor.stop()
        socketio.stop()

    def shutdown(*_args: Any) -> None:
        # a signal handler runs inside gevent's loop, where waiting for the nodes to
        # exit would block it: stop them from a task of their own
        click.echo("stopping…")
        socketio.start_background_task(stop_all)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)  # Ctrl-C: the same clean stop, no hub traceback
    socketio.start_background_task(after_listen)
    try:
        if async_mode == "gevent":
            run_gevent(app, socketio, host, port)
        else:
            socketio.run(app, host=host, port=port, use_reloader=False, log_output=False,
                         allow_unsafe_werkzeug=True)
    except KeyboardInterrupt:
        pass
    finally:
        if supervisor is not None:
            supervisor.stop()
        app.extensions["trackside"].log.close()


if __name__ == "__main__":
    serve()
