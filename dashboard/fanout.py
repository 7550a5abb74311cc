"""Encode once, write to every client in one loop: the broadcast's last step.

Why: Flask-SocketIO's ``emit`` to a room hands the packet to each client's
engine.io queue, and each client's writer greenlet wakes up, encodes a
websocket frame and sends it: one queue operation, one greenlet switch and
one frame encoding per client and message. Here a flush of the
broadcaster's pending messages is turned into websocket frame bytes once
per distinct recipient list (server frames are unmasked, so the same bytes
serve every client), and those bytes are written to each client's socket
with one non-blocking ``send`` (``dashboard.wsbatch.DirectWriter``), in one
loop, with no switch in between.

A client that opted in with ``batch`` gets consecutive splits of one flush
as a single ``splits`` event (a list); everyone else gets one ``split``
event per split, still in the same write. Per-client order holds: a client
whose engine.io queue is not empty (a snapshot or ack not yet written), or
that is not on a websocket yet (long-polling, mid-upgrade), gets the same
packets through engine.io's own queue, behind what is already there. A
client that is *lagging* (more than its bound of updates waiting in its
buffer; snapshot bytes do not count) gets no splits and no health reports;
it gets a fresh snapshot once its socket drains.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dashboard.wsbatch import text_frame

#: Messages a lagging client is spared: the resync snapshot holds them.
SUPERSEDED_BY_SNAPSHOT = frozenset({"split", "health"})


def client_sockets(socketio: Any) -> dict[str, Any]:
    """engine.io's connected sockets by engine.io sid."""
    return getattr(socketio.server.eio, "sockets", {})


def writer_of(sock: Any) -> Any:
    """A client socket's ``wsbatch.DirectWriter``; None until it is on a websocket (or gone)."""
    return getattr(sock, "trackside_writer", None)


def event_text(event: str, data: Any) -> str:
    """The engine.io text of a Socket.IO event on ``/``: ``42["event",data]``."""
    return "42" + json.dumps([event, data], separators=(",", ":"), allow_nan=False)


def pieces_for(messages: Sequence[Mapping[str, Any]], indices: Sequence[int],
               batch: bool) -> list[tuple[tuple[Any, ...], str, str]]:
    """What one client gets: ``(cache key, event name, type)`` per event, in order.

    With ``batch``, a run of two or more splits becomes one ``splits`` event.
    """
    out: list[tuple[tuple[Any, ...], str, str]] = []
    run: list[int] = []

    def close_run() -> None:
        if len(run) == 1 or (run and not batch):
            out.extend(((i,), "split", "split") for i in run)
        elif run:
            out.append((tuple(run), "splits", "split"))
        run.clear()

    for i in indices:
        kind = str(messages[i].get("type"))
        if kind == "split":
            run.append(i)
            continue
        close_run()
        out.append(((i,), kind, kind))
    close_run()
    return out


class Fanout:
    """Delivers a flush of ``(message, rooms)`` to the clients of a Socket.IO namespace.

    :param socketio: a ``flask_socketio.SocketIO``.
    :param wants_batch: whether a client (Socket.IO sid) opted in to ``splits``.
    :param resync: called with an engine.io sid when a lagging client has drained.
    """

    def __init__(self, socketio: Any, namespace: str = "/",
                 wants_batch: Callable[[str], bool] = lambda _sid: False,
                 resync: Callable[[str], None] | None = None) -> None:
        self.socketio = socketio
        self.namespace = namespace
        self.wants_batch = wants_batch
        self.resync = resync
        self.counters = {"direct_writes": 0, "queued_packets": 0, "skipped_lagging": 0,
                         "frames_encoded": 0}

    def recipients(self, batch: Sequence[tuple[Mapping[str, Any], Sequence[str] | None]]
                   ) -> dict[tuple[tuple[int, ...], bool], list[str]]:
        """Group engine.io sids by the exact list of messages they get (and batch opt-in)."""
        manager = self.socketio.server.manager
        per_client: dict[str, list[int]] = {}
        sid_of: dict[str, str] = {}
        for index, (_message, rooms) in enumerate(batch):
            target: Any = list(rooms) if rooms is not None else None
            if target is not None and not target:
                continue
            for sid, eio_sid in manager.get_participants(self.namespace, target):
                per_client.setdefault(eio_sid, []).append(index)
                sid_of[eio_sid] = sid
        groups: dict[tuple[tuple[int, ...], bool], list[str]] = {}
        for eio_sid, indices in per_client.items():
            key = (tuple(indices), bool(self.wants_batch(sid_of[eio_sid])))
            groups.setdefault(key, []).append(eio_sid)
        return groups

    def deliver(self, batch: Sequence[tuple[Mapping[str, Any], Sequence[str] | None]]) -> int:
        """Send every message to its rooms; returns the number of client writes/queues."""
        messages = [message for message, _ in batch]
        texts: dict[tuple[Any, ...], str] = {}
        frames: dict[tuple[Any, ...], bytes] = {}

        def text(key: tuple[Any, ...], event: str) -> str:
            if key not in texts:
                data: Any = ([messages[i] for i in key] if event == "splits"
                             else messages[key[0]])
                texts[key] = event_text(event, data)
            return texts[key]

        def frame_of(key: tuple[Any, ...], event: str) -> bytes:
            if key not in frames:
                frames[key] = text_frame(text(key, event))
                self.counters["frames_encoded"] += 1
            return frames[key]

        sends = 0
        sockets = client_sockets(self.socketio)
        for (indices, batch_ok), eio_sids in self.recipients(batch).items():
            pieces = pieces_for(messages, indices, batch_ok)
            joined: bytes | None = None
            exempt = 0
            for eio_sid in eio_sids:
                sock = sockets.get(eio_sid)
                writer = writer_of(sock)
                wanted = pieces
                if writer is not None and writer.lagging:
                    wanted = [p for p in pieces if p[2] not in SUPERSEDED_BY_SNAPSHOT]
                    self.counters["skipped_lagging"] += len(pieces) - len(wanted)
                    if self.resync is not None and writer.on_drained is None:
                        writer.on_drained = _resync_once(self.resync, eio_sid)
                    if not wanted:
                        continue
                if writer is not None and _direct_ok(sock):
                    if wanted is pieces:
                        if joined is None:
                            joined = b"".join(frame_of(k, e) for k, e, _ in pieces)
                            exempt = sum(len(frame_of(k, e)) for k, e, t in pieces
                                         if t == "snapshot")
                        data, data_exempt = joined, exempt
                    else:
                        data = b"".join(frame_of(k, e) for k, e, _ in wanted)
                        data_exempt = sum(len(frame_of(k, e)) for k, e, t in wanted
                                          if t == "snapshot")
                    if writer.write(data, data_exempt):
                        self.counters["direct_writes"] += 1
                        sends += 1
                    continue
                self._queue(eio_sid, (text(k, e) for k, e, _ in wanted))
                sends += 1
        return sends

    def send_to(self, eio_sid: str, message: Mapping[str, Any]) -> None:
        """One message to one client, in order behind what it already has."""
        kind = str(message.get("type"))
        sock = client_sockets(self.socketio).get(eio_sid)
        writer = writer_of(sock)
        if writer is not None and _direct_ok(sock):
            data = text_frame(event_text(kind, message))
            writer.write(data, len(data) if kind == "snapshot" else 0)
        elif sock is not None:
            self._queue(eio_sid, [event_text(kind, message)])

    def _queue(self, eio_sid: str, texts: Iterable[str]) -> None:
        """engine.io's own path, behind whatever that client already has queued."""
        from engineio import packet as eio_packet

        server = self.socketio.server
        for item in texts:
            # "4" is engine.io's MESSAGE type; the packet's data is the Socket.IO part
            server._send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, item[1:]))
            self.counters["queued_packets"] += 1


def _resync_once(resync: Callable[[str], None], eio_sid: str) -> Callable[[Any], None]:
    """The writer's drained hook: resync this client, then forget the hook."""

    def drained(writer: Any) -> None:
        writer.on_drained = None
        resync(eio_sid)

    return drained


def _direct_ok(sock: Any) -> bool:
    """A direct write keeps order only on a settled websocket with nothing queued."""
    return (getattr(sock, "upgraded", False) and not getattr(sock, "upgrading", False)
            and not sock.closed and sock.queue.qsize() == 0)
