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

Bounds: a client whose buffer passes ``max_buffered_bytes`` is *lagging*:
the fan-out stops giving it splits (they would only pile up) and, once its
socket has drained, the broadcaster sends it a fresh snapshot instead
(``on_drained``). A dead client's buffer never grows past the bound, and
engine.io's ping timeout closes it.

Used only in gevent mode with gevent-websocket (what ``trackside serve``
runs); otherwise engine.io's own websocket class stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Bytes a client may have waiting before it is marked lagging (about 250 splits).
MAX_BUFFERED_BYTES = 256 * 1024


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
        self.flushing = False
        self.closed = False
        self.lagging = False
        self.on_drained: Callable[[DirectWriter], None] | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return len(self.buffer)

    def write(self, data: bytes) -> bool:
        """Send ``data`` after everything written before; never blocks. False if closed."""
        if self.closed:
            return False
        if self.buffer or self.flushing:
            self.buffer += data
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
        if len(self.buffer) > self.max_buffered_bytes:
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
                self.sock.sendall(chunk)  # yields until the socket takes it all
        except OSError:
            self.closed = True
            self.buffer.clear()
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
            else:
                data = frame(bytes(message), 0x2)
            if not self.writer.write(data):
                raise WebSocketError("socket is dead")
            return None

    eio._async = {**eio._async, "websocket": DirectWebSocket}
    return True
