"""The server end of the sensor-node link: Socket.IO namespace ``/node``.

Sensor nodes are separate processes (OpenCV decoding and blocking serial
reads stay off this process's event loop), on this machine or at a mark
across the field. A node connects with ``auth={"token", "node"}``; a wrong
or missing token is refused before any handler runs. Then:

- ``clock`` (ack ``{"t1", "t2"}``): the server's receive and send times for an
  NTP-style exchange; the node keeps the lowest-delay sample of several and
  converts its crossing times to the server's clock (``sensors/link.py``).
- ``crossings`` (ack ``{"acked": [seq...], "errors": [...]}``): a batch of
  ``{"seq", ...crossing fields}``. A crossing is acked once it is in the
  event log, so a node drops it from its buffer only when it is durable.
  Invalid ones are acked too (with their error), logged and counted: a bad
  record must not be resent for ever.
- ``health``: the node's health dict, shown on the coach page. A node that
  disconnects is shown as disconnected.

The same messages work over plain HTTP (see ``api.py``: ``POST
/api/v1/crossings``, ``POST /api/v1/clock``, ``POST /api/v1/nodes/<id>/health``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO

from dashboard.auth import token_matches
from dashboard.service import Service
from dashboard.validate import ValidationError, crossing_from_payload

log = logging.getLogger(__name__)

NAMESPACE = "/node"
MAX_BATCH = 1_000


def init_app(socketio: SocketIO, service: Service) -> None:
    """Register the ``/node`` namespace handlers."""
    sessions: dict[str, str] = {}

    @socketio.on("connect", namespace=NAMESPACE)
    def on_connect(auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        expected = current_app.config["NODE_TOKEN"] or current_app.config["TOKEN"]
        if not token_matches(expected, auth.get("token")):
            log.warning("sensor node from %s refused: wrong or missing token",
                        request.remote_addr)
            raise ConnectionRefusedError("wrong or missing node token")
        node_id = str(auth.get("node") or request.sid)[:120]
        sessions[request.sid] = node_id
        service.report_health(node_id, {"connected": True, "link": "socketio",
                                        "address": request.remote_addr})

    @socketio.on("disconnect", namespace=NAMESPACE)
    def on_disconnect(*_args: Any) -> None:
        node_id = sessions.pop(request.sid, None)
        if node_id is not None:
            service.report_health(node_id, {"connected": False})

    @socketio.on("clock", namespace=NAMESPACE)
    def on_clock(_data: Any = None) -> dict[str, float]:
        t1 = service.clock()
        return {"t1": t1, "t2": service.clock()}

    @socketio.on("health", namespace=NAMESPACE)
    def on_health(data: Any = None) -> dict[str, bool]:
        if isinstance(data, dict):
            health = data.get("health", data)
            if isinstance(health, dict):
                service.report_health(sessions.get(request.sid, "?"),
                                      {**health, "connected": True})
                return {"ok": True}
        return {"ok": False}

    @socketio.on("crossings", namespace=NAMESPACE)
    def on_crossings(data: Any = None) -> dict[str, Any]:
        received_at = time.perf_counter()
        node_id = sessions.get(request.sid, "?")
        return accept_batch(service, node_id, data, received_at)


def accept_batch(service: Service, node_id: str, data: Any,
                 received_at: float | None = None) -> dict[str, Any]:
    """Validate and submit a node's batch; ack every record that is now settled."""
    items = data.get("crossings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return {"acked": [], "errors": [{"seq": None, "field": "crossings",
                                         "error": "must be a list"}]}
    acked: list[Any] = []
    errors: list[dict[str, Any]] = []
    valid = []
    for item in items[:MAX_BATCH]:
        seq = item.get("seq") if isinstance(item, dict) else None
        try:
            crossing = crossing_from_payload(item)
        except ValidationError as exc:
            log.warning("node %s sent a bad crossing (seq %s): %s", node_id, seq, exc)
            errors.append({"seq": seq, "field": exc.field, "error": exc.message})
            acked.append(seq)
            continue
        valid.append(crossing if crossing.sensor_id else replace(crossing, sensor_id=node_id))
        acked.append(seq)
    service.submit_many(valid, received_at)  # one durable commit for the batch, then ack
    return {"acked": acked, "errors": errors}
