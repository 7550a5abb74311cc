"""Rooms and emits: the live fan-out, never blocked by a slow browser.

Theory of operation. ``publish`` only files a message in a pending table and
wakes one sender task; it never touches a socket, so the request that posted
a crossing returns at once. The sender drains the table and hands the whole
flush to ``dashboard.fanout.Fanout``, which encodes each message once and
writes it to every client of its rooms in one loop (non-blocking writes;
see ``fanout.py`` and ``wsbatch.py``). Under a burst the table *coalesces*:
a newer message with the same key (``wire.coalesce_key``: same athlete, lap
and segment, or the same sensor node) replaces the waiting one, and a new
snapshot drops the splits it already contains, so the table is bounded by
roster size, not by the burst; and every split waiting at a flush goes to a
client in one write (one ``splits`` event for pages that opted in). Messages
without a key (notices, rejections) are capped at ``max_pending``; the
oldest are dropped and counted.

A slow client stalls only itself: its bytes wait in its own bounded buffer;
past the bound it gets no more splits and, once it drains, a fresh
snapshot. A client whose engine.io queue (the path for polling clients,
snapshots and acks) passes ``max_backlog`` packets, or whose buffer passes
``max_buffered_bytes``, is disconnected by a monitor; its page reconnects by
itself and resyncs from the ``snapshot`` it gets first.

Rooms: ``coach`` (every split, health, notice, rejection), ``all`` (screens
following everyone: every split), ``athlete:<id>`` (screens following one
runner). Snapshots go to every client.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dashboard import wire
from dashboard.fanout import Fanout, client_sockets, writer_of
from dashboard.stages import StageTrace

log = logging.getLogger(__name__)

COACH = "coach"
ALL = "all"


def athlete_room(athlete_id: str) -> str:
    """The room of the screens following one athlete."""
    return f"athlete:{athlete_id}"


def rooms_for(message: Mapping[str, Any]) -> list[str] | None:
    """Where a message goes; ``None`` means every client of the namespace."""
    kind = message.get("type")
    if kind == "split":
        return [COACH, ALL, athlete_room(str(message.get("athlete")))]
    if kind == "snapshot":
        return None
    return [COACH]


class Broadcaster:
    """Coalescing fan-out of wire messages to Socket.IO rooms.

    :param socketio: a ``flask_socketio.SocketIO`` (or anything with ``emit``,
        ``start_background_task``, ``sleep`` and ``server``).
    :param max_pending: cap on waiting messages that cannot be coalesced.
    :param max_backlog: packets a client may have waiting before it is cut
        off (it reconnects and resyncs from the snapshot).
    """

    def __init__(self, socketio: Any, *, namespace: str = "/", max_pending: int = 10_000,
                 max_backlog: int = 1_000, max_buffered_bytes: int = 4 << 20,
                 monitor_interval_s: float = 1.0, stages: StageTrace | None = None) -> None:
        self.socketio = socketio
        self.namespace = namespace
        self.max_pending = max_pending
        self.max_backlog = max_backlog
        self.max_buffered_bytes = max_buffered_bytes
        self.monitor_interval_s = monitor_interval_s
        self.stages = stages or StageTrace(enabled=False)
        self.batching: set[str] = set()  # Socket.IO sids that take ``splits`` batches
        self.snapshot_source: Callable[[], dict[str, Any]] | None = None
        self.fanout = Fanout(socketio, namespace, wants_batch=self.batching.__contains__,
                             resync=self._resync)
        self._pending: dict[Any, tuple[dict[str, Any], list[str] | None]] = {}
        self._lock = threading.Lock()
        self._unique = itertools.count()
        self._unique_keys: deque[Any] = deque()
        self._wake: Any = None
        self._running = False
        self.counters = {"published": 0, "emitted": 0, "coalesced": 0, "dropped": 0,
                         "cut_off": 0, "emit_errors": 0, "resyncs": 0}

    def start(self) -> None:
        """Start the sender and the backlog monitor (idempotent)."""
        if self._running:
            return
        self._running = True
        self._wake = self.socketio.server.eio.create_event()
        self.socketio.start_background_task(self._send_loop)
        if self.max_backlog:
            self.socketio.start_background_task(self._monitor_loop)

    def stop(self) -> None:
        """Let the background tasks end."""
        self._running = False
        if self._wake is not None:
            self._wake.set()

    def publish(self, message: dict[str, Any], rooms: Sequence[str] | None = None,
                *, default_rooms: bool = True) -> None:
        """File ``message`` for sending; never blocks on a socket.

        ``rooms`` defaults to ``rooms_for(message)``.
        """
        target = list(rooms) if rooms is not None else (rooms_for(message) if default_rooms
                                                         else None)
        key = wire.coalesce_key(message)
        with self._lock:
            self.counters["published"] += 1
            if message.get("type") == "snapshot":
                stale = [k for k, (m, _) in self._pending.items() if m.get("type") == "split"]
                for k in stale:
                    del self._pending[k]
                self.counters["coalesced"] += len(stale)
            if key is None:
                key = ("unique", next(self._unique))
                self._unique_keys.append(key)
                while len(self._unique_keys) > self.max_pending:
                    old = self._unique_keys.popleft()
                    if self._pending.pop(old, None) is not None:
                        self.counters["dropped"] += 1
            elif key in self._pending:
                self.counters["coalesced"] += 1
            self._pending[key] = (message, target)
        if self._wake is not None:
            self._wake.set()
        else:
            self.flush()

    def yield_to_sender(self) -> None:
        """Give the sender its turn now if messages wait (a split beats an HTTP reply)."""
        if self._running and self._pending:
            self.socketio.sleep(0)

    def flush(self) -> int:
        """Emit everything pending now (the sender calls this); returns how many."""
        with self._lock:
            batch = list(self._pending.values())
            self._pending.clear()
            self._unique_keys.clear()
        if not batch:
            return 0
        started = time.perf_counter()
        try:
            self.fanout.deliver(batch)
            self.counters["emitted"] += len(batch)
        except Exception:  # noqa: BLE001 - one bad flush must not stop the sender
            self.counters["emit_errors"] += 1
            log.exception("fan-out of %d messages failed", len(batch))
        if self.stages.enabled:
            self.stages.emitted([m for m, _ in batch], started, time.perf_counter())
        return len(batch)

    def _resync(self, eio_sid: str) -> None:
        """A lagging client drained its socket: send it the whole state at once."""
        if self.snapshot_source is not None:
            self.counters["resyncs"] += 1
            self.fanout.send_to(eio_sid, self.snapshot_source())

    def _send_loop(self) -> None:
        while self._running:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            self.flush()

    def backlogs(self) -> dict[str, int]:
        """Packets waiting per engine.io client (the monitor's view)."""
        sockets = client_sockets(self.socketio)
        return {sid: sock.queue.qsize() for sid, sock in list(sockets.items())}

    def buffered_bytes(self) -> dict[str, int]:
        """Bytes written but not yet taken by each websocket client's socket."""
        out = {}
        for sid, sock in list(client_sockets(self.socketio).items()):
            writer = writer_of(sock)
            out[sid] = writer.buffered_bytes if writer is not None else 0
        return out

    def lagging_count(self) -> int:
        """Clients whose socket buffer is past its bound (they get a snapshot when drained)."""
        return sum(1 for sock in list(client_sockets(self.socketio).values())
                   if getattr(writer_of(sock), "lagging", False))

    def _monitor_loop(self) -> None:
        while self._running:
            self.socketio.sleep(self.monitor_interval_s)
            try:
                self.cut_off_slow(self.backlogs())
                self.cut_off_slow(self.buffered_bytes(), limit=self.max_buffered_bytes)
            except Exception:  # noqa: BLE001 - the monitor must outlive a bad socket
                log.exception("backlog monitor failed")

    def cut_off_slow(self, backlogs: Mapping[str, int],
                     disconnect: Callable[[str], None] | None = None,
                     limit: int | None = None) -> list[str]:
        """Disconnect every engine.io client whose backlog exceeds ``limit`` (``max_backlog``)."""
        eio = self.socketio.server.eio
        limit = self.max_backlog if limit is None else limit
        victims = [sid for sid, size in backlogs.items() if size > limit]
        for sid in victims:
            log.warning("client %s is %d behind (limit %d): cutting it off (it will resync)",
                        sid, backlogs[sid], limit)
            self.counters["cut_off"] += 1
            (disconnect or eio.disconnect)(sid)
        return victims
