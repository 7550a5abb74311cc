"""One non-blocking writer per websocket: the only code that writes to a client's socket.

Why: engine.io's own path costs, per client and per message, a queue put,
a wake-up of that client's writer greenlet, a greenlet switch and a
blocking ``sendall``. For a broadcast to 100 clients that is 100 switches
before the last client sees the split. Here every websocket connection gets
a ``DirectWebSocket`` with one output buffer, and ``write`` does a
non-blocking ``send`` right away, from whichever greenlet calls it: the
engine.io writer (snapshots, pings, acks) or the broadcaster's fan-out
(``dashboard/fanout.py``), which writes the same pre-encoded frame bytes to
every client of a room in one loop, without a switch.

Ordering: ``write`` never yields, so bytes go out in the order ``write`` is
called. What the socket does not take at once is kept in the buffer (in
order) and a flusher greenlet sends it when the socket drains; while
anything is buffered, new bytes queue behind it.

Bounds: a client whose buffer holds more than ``max_buffered_bytes`` of
updates is *lagging*: the fan-out stops giving it splits (they would only
pile up) and, once its socket has drained, the broadcaster sends it a fresh
snapshot instead (``on_drained``). Snapshot bytes do not count toward that
bound (``exempt``): a 40-athlete snapshot is ~700 kB, and counting it would
turn every resync over a slow link into the next lag, so such a client would
get nothing but snapshots. The broadcaster's monitor disconnects a client
whose whole buffer passes a hard cap, and engine.io's ping timeout closes a
dead one.

Used only in gevent mode with gevent-websocket (what ``trackside serve``
runs); otherwise engine.io's own websocket class stays.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Update bytes a client may have waiting before it is marked lagging (~250 splits).
MAX_BUFFERED_BYTES = 256 * 1024
#: The kernel's send buffer per websocket. Left to autotuning it grows to 4 MB on
#: Linux: seconds of stale splits queued for a slow Wi-Fi tablet where the
#: lagging logic never sees them. Linux doubles the value for its bookkeeping.
KERNEL_SNDBUF_BYTES = 128 * 1024
#: How a snapshot event starts on the wire (its bytes are exempt from the bound).
SNAPSHOT_PREFIX = '42["snapshot"'


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, unmasked websocket frame (RFC 6455: servers never mask)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


def text_frame(text: str) -> bytes:
    """A text frame carrying ``text`` (an encoded engine.io packet)."""
    return frame(text.encode("utf-8"), 0x1)


class DirectWriter:
    """Ordered, non-blocking writes to one socket, with a bounded buffer.

    :param sock: a gevent socket (non-blocking underneath).
    :param spawn: starts the flusher task (``gevent.spawn``).
    :param max_buffered_bytes: past this the writer is ``lagging``.
    """

    def __init__(self, sock: Any, spawn: Callable[..., Any],
                 max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self.sock = sock
        self.spawn = spawn
        self.max_buffered_bytes = max_buffered_bytes
        self.buffer = bytearray()
        self.exempt_bytes = 0  # snapshot bytes in the buffer (oldest first), not counted
        self.flushing = False
        self.closed = False
        self.lagging = False
        self.on_drained: Callable[[DirectWriter], None] | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return len(self.buffer)

    def write(self, data: bytes, exempt: int = 0) -> bool:
        """Send ``data`` after everything written before; never blocks. False if closed.

        ``exempt``: how many of these bytes are a snapshot (they do not count
        toward the lagging bound).
        """
        if self.closed:
            return False
        if self.buffer or self.flushing:
            self.buffer += data
            kept = len(data)
        else:
            try:
                sent = self.sock.send(data, 0, timeout=0.0)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.closed = True
                return False
            if sent == len(data):
                return True
            self.buffer += memoryview(data)[sent:]
            kept = len(data) - sent
        if exempt:
            self.exempt_bytes += min(exempt, kept)
        if len(self.buffer) - self.exempt_bytes > self.max_buffered_bytes:
            self.lagging = True
        if not self.flushing:
            self.flushing = True
            self.spawn(self._flush)
        return True

    def _flush(self) -> None:
        try:
            while self.buffer and not self.closed:
                chunk = bytes(self.buffer)
                self.buffer.clear()
                exempt, self.exempt_bytes = self.exempt_bytes, 0  # all of it is in chunk
                try:
                    self.sock.sendall(chunk)  # yields until the socket takes it all
                except BaseException:
                    self.exempt_bytes += exempt
                    raise
        except OSError:
            self.closed = True
            self.buffer.clear()
            self.exempt_bytes = 0
        finally:
            self.flushing = False
        if self.lagging and not self.closed:
            self.lagging = False
            if self.on_drained is not None:
                try:
                    self.on_drained(self)
                except Exception:  # noqa: BLE001 - a resync failure must not kill the writer
                    log.exception("resync after a drained backlog failed")

    def close(self) -> None:
        """Drop whatever is buffered; later writes are refused."""
        self.closed = True
        self.buffer.clear()
        self.exempt_bytes = 0


def install(socketio: Any) -> bool:
    """Give engine.io websockets a ``DirectWriter``; False when not applicable."""
    eio = socketio.server.eio
    if eio.async_mode != "gevent":
        return False
    try:
        import geventwebsocket  # noqa: F401
        from engineio.async_drivers.gevent import WebSocketWSGI
    except ImportError:
        return False
    if not hasattr(WebSocketWSGI, "wait"):  # the simple-websocket fallback: leave it
        return False

    import gevent
    from geventwebsocket.exceptions import WebSocketError

    class DirectWebSocket(WebSocketWSGI):  # type: ignore[misc, valid-type]
        """gevent-websocket's wrapper, with every write going through one ``DirectWriter``."""

        def __call__(self, environ: Any, start_response: Any) -> Any:
            ws = environ.get("wsgi.websocket")
            handler = getattr(getattr(ws, "stream", None), "handler", None)
            self.writer = DirectWriter(handler.socket, gevent.spawn) if handler else None
            if handler is not None:
                try:
                    handler.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                              KERNEL_SNDBUF_BYTES)
                except OSError:  # not a TCP socket (a test double): leave it
                    pass
            eio_socket = getattr(self.app, "__self__", None)  # engine.io's Socket
            if eio_socket is not None and self.writer is not None:
                eio_socket.trackside_writer = self.writer
            try:
                return super().__call__(environ, start_response)
            finally:
                if eio_socket is not None:
                    eio_socket.trackside_writer = None
                if self.writer is not None:
                    self.writer.close()

        def send(self, message: Any) -> None:
            if self.writer is None:
                return super().send(message)
            if isinstance(message, str):
                data = text_frame(message)
                exempt = len(data) if message.startswith(SNAPSHOT_PREFIX) else 0
            else:
                data, exempt = frame(bytes(message), 0x2), 0
            if not self.writer.write(data, exempt):
                raise WebSocketError("socket is dead")
            return None

    eio._async = {**eio._async, "websocket": DirectWebSocket}
    return True
