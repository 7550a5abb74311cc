"""Trackside's composition root: the web app, the live broadcast and the CLI.

``create_app(config=None)`` layers configuration (defaults, then the TOML
file's ``[dashboard]`` table, then the mapping passed in, e.g. by a test),
opens the event log, replays it into a fresh core (a restarted server shows
the same session), and binds the API, the page handlers and the sensor-node
link. Nothing here holds an app at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

DEFAULTS: dict[str, Any] = {
    "TOKEN": None,  # coach token; generated (and printed by `serve`) when not given
    "NODE_TOKEN": None,  # sensor nodes' token; the coach token when not given
    "DB_PATH": "trackside.db",
    # NORMAL: an accepted event survives a killed process (issue 3's bar); FULL also
    # survives power loss but adds an fsync (4-10 ms here) to every commit: see
    # docs/performance.md "## Broadcast".
    "DB_SYNCHRONOUS": "NORMAL",
    "ASYNC_MODE": "gevent",  # measured: see docs/performance.md "## Broadcast"
    "MAX_BACKLOG": 1000,  # packets a slow client may lag before it is cut off to resync
    "PING_INTERVAL_S": 5,  # short pings: a dead Wi-Fi link shows within ~10 s
    "PING_TIMEOUT_S": 5,
    "DIRECT_WRITES": True,  # encode once, non-blocking writes per client (dashboard/fanout.py)
    "TRACE_STAGES": None,  # split stage stamps (stages.py); None: env TRACKSIDE_TRACE_STAGES
    "CONFIG_FILE": None,
    "TRACKSIDE": None,  # the parsed config file (dashboard.config.AppConfig), if any
    "CLOCK": None,  # a sensors.clock Clock; default: TRACKSIDE_CLOCK or the wall clock
}

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Any:
    """Build the Flask app with its SocketIO, event log, core and broadcaster."""
    from flask import Flask
    from flask_socketio import SocketIO

    from dashboard import api, auth, link, live, pages, wsbatch
    from dashboard.broadcast import Broadcaster
    from dashboard.config import load_config
    from dashboard.logthread import LogThread
    from dashboard.service import Service
    from dashboard.stages import StageTrace
    from sensors.clock import clock_from_env
    from timing.core import Core
    from timing.store import EventLog

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    path = (config or {}).get("CONFIG_FILE")
    if path:
        parsed = load_config(path)  # raises ConfigFileError naming file, key and reason
        app.config.update(TRACKSIDE=parsed, DB_PATH=parsed.server.db, TOKEN=parsed.server.token)
    app.config.from_mapping(config or {})
    app.config["TOKEN"], app.config["TOKEN_GENERATED"] = auth.resolve_token(app.config["TOKEN"])

    socketio = SocketIO(app, async_mode=app.config["ASYNC_MODE"],
                        ping_interval=app.config["PING_INTERVAL_S"],
                        ping_timeout=app.config["PING_TIMEOUT_S"])
    if app.config["DIRECT_WRITES"]:
        wsbatch.install(socketio)
    trace = app.config["TRACE_STAGES"]
    if trace is None:
        trace = os.environ.get("TRACKSIDE_TRACE_STAGES", "") not in ("", "0")
    broadcaster = Broadcaster(socketio, max_backlog=app.config["MAX_BACKLOG"],
                              stages=StageTrace(enabled=bool(trace)))
    db_path, sync = app.config["DB_PATH"], app.config["DB_SYNCHRONOUS"]
    event_log = LogThread(lambda: EventLog(db_path, synchronous=sync), app.config["ASYNC_MODE"])
    clock = app.config["CLOCK"] or clock_from_env()
    service = Service(event_log, Core(), broadcaster, clock=clock.now)
    broadcaster.snapshot_source = service.snapshot_message
    replayed = service.replay(event_log.events())
    log.info("replayed %d events from %s", replayed, app.config["DB_PATH"])
    if not replayed and app.config["TRACKSIDE"] and app.config["TRACKSIDE"].roster:
        service.setup_from_payload(app.config["TRACKSIDE"].roster)
    app.extensions["trackside"] = service
    app.extensions["trackside_socketio"] = socketio

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    live.init_app(socketio, service)
    link.init_app(socketio, service)
    broadcaster.start()
    return app
