"""Thin Socket.IO handlers for the pages: snapshot first, then rooms.

A page connects with ``auth={"role": "coach" | "screen", "athletes": [ids],
"batch": true}`` (or the same as query parameters). Watching needs no token,
and that includes ``role=coach``: the coach room carries the same data as
``GET /api/v1/state`` and the sensor health (read-only viewing without
login is allowed; a coach's second tablet can watch without the token).
Nothing on this namespace changes a session: every mutating call is a REST
``POST`` that checks the coach token, and sensor nodes use ``/node``, which
refuses a connection without the token. ``batch`` says the page takes a
``splits`` event (a list) when several splits go out in one flush. On every
connect, including each automatic reconnect, the page first gets a full
``snapshot`` and only then joins its rooms, so it never applies a split to
state it does not have. A split that was filed just before the join may
arrive after the snapshot that already holds it: pages key splits by
athlete, lap and segment, so applying it twice changes nothing.

Events from a page: ``follow`` (``{"athletes": [ids]}``, empty = everyone)
changes which athletes a screen gets; ``sync`` asks for a fresh snapshot;
``clock`` answers an NTP-style probe (``{"t1", "t2"}`` in server seconds) so
the tap-to-time pad can stamp taps on the server's clock.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_socketio import SocketIO, emit, join_room, leave_room, rooms

from dashboard.broadcast import ALL, COACH, athlete_room
from dashboard.service import Service

MAX_FOLLOW = 8


def _wants_batch(data: Any) -> bool:
    """Whether the page takes ``splits`` batches (auth ``batch`` or ``?batch=1``)."""
    value = data.get("batch") if isinstance(data, dict) else None
    if value is None:
        value = request.args.get("batch")
    return value in (True, 1, "1", "true")


def _wanted(data: Any) -> tuple[str, list[str]]:
    """Role and followed athletes from the connect auth dict or the query string."""
    data = data if isinstance(data, dict) else {}
    role = data.get("role") or request.args.get("role") or "screen"
    athletes = data.get("athletes")
    if athletes is None:
        athletes = [a for a in request.args.get("athletes", "").split(",") if a]
    if not isinstance(athletes, list):
        athletes = []
    return ("coach" if role == "coach" else "screen",
            [str(a)[:120] for a in athletes if isinstance(a, (str, int))][:MAX_FOLLOW])


def _follow(athletes: list[str]) -> None:
    for room in rooms():
        if room == ALL or room.startswith("athlete:"):
            leave_room(room)
    if athletes:
        for athlete in athletes:
            join_room(athlete_room(athlete))
    else:
        join_room(ALL)


def init_app(socketio: SocketIO, service: Service) -> None:
    """Register the page handlers on the default namespace."""

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        role, athletes = _wanted(auth)
        if _wants_batch(auth):
            service.broadcaster.batching.add(request.sid)
        with service.lock:
            emit("snapshot", service.snapshot_message())
            if role == "coach":
                join_room(COACH)
            else:
                _follow(athletes)

    @socketio.on("disconnect")
    def on_disconnect(*_args: Any) -> None:
        service.broadcaster.batching.discard(request.sid)

    @socketio.on("follow")
    def on_follow(data: Any = None) -> dict[str, Any]:
        _, athletes = _wanted(data if isinstance(data, dict) else {"athletes": []})
        with service.lock:
            _follow(athletes)
            emit("snapshot", service.snapshot_message())
        return {"ok": True, "athletes": athletes}

    @socketio.on("sync")
    def on_sync(_data: Any = None) -> None:
        emit("snapshot", service.snapshot_message())

    @socketio.on("clock")
    def on_clock(_data: Any = None) -> dict[str, float]:
        received_s = service.clock()
        return {"t1": received_s, "t2": service.clock()}
