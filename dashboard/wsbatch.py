"""Websocket frames queued for one client in one pass go out in one ``send``.

Why: on the machine this was measured on, the ``send`` system call of each
websocket frame costs about 40 us on loopback, which is most of the cost of
a broadcast (100 clients x 500 splits/s = 50,000 calls/s: more than a core).
engine.io's writer task drains a client's whole queue and sends frame after
frame; this wrapper builds the frames (RFC 6455, server frames are unmasked)
into one buffer and writes it once, from a flusher task that runs when the
writer has gone back to waiting. A frame after a quiet spell (``BURST_GAP_S``)
goes straight out, so a calm stream pays nothing for the batching. Every
Socket.IO packet stays its own frame, so clients see exactly the same
events; only the number of system calls drops, and only when frames really
queue up (a burst, or a slow client).

The buffer is bounded: past ``MAX_BUFFERED`` frames the writer waits for the
flush, so a slow client's backlog stays in engine.io's queue where the
broadcaster's monitor sees it (and cuts the client off to resync).
Used only in gevent mode with gevent-websocket (what ``trackside serve`` runs).
"""

from __future__ import annotations

import time
from typing import Any

MAX_BUFFERED = 256
#: A frame that follows the previous write to the same client by more than
#: this goes out at once (a quiet stream pays no deferral); closer ones are a
#: burst and are buffered for the flusher.
BURST_GAP_S = 0.010


def frame(payload: bytes, opcode: int) -> bytes:
    """One final, unmasked websocket frame."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


def install(socketio: Any) -> bool:
    """Make ``socketio``'s engine.io server use batching websockets; False if not applicable."""
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

    class BatchingWebSocket(WebSocketWSGI):  # type: ignore[misc, valid-type]
        def __call__(self, environ: Any, start_response: Any) -> Any:
            self._pending: list[bytes] = []
            self._flusher: Any = None
            self._last_write = 0.0
            return super().__call__(environ, start_response)

        def send(self, message: Any) -> None:
            if self._sock.closed:
                raise WebSocketError("socket is dead")
            if isinstance(message, str):
                data = frame(message.encode("utf-8"), 0x1)
            else:
                data = frame(bytes(message), 0x2)
            now = time.monotonic()
            if (self._flusher is None and not self._pending
                    and now - self._last_write > BURST_GAP_S):
                self._last_write = now
                self._sock.raw_write(data)  # quiet: straight out
                return
            self._pending.append(data)
            if self._flusher is None:
                self._flusher = gevent.spawn(self._flush)
            elif len(self._pending) > MAX_BUFFERED:
                self._flusher.join()

        def _flush(self) -> None:
            try:
                while self._pending:
                    data = b"".join(self._pending)
                    self._pending.clear()
                    self._last_write = time.monotonic()
                    self._sock.raw_write(data)
            except Exception:  # noqa: BLE001 - a dead peer: close, the writer notices
                self._pending.clear()
                try:
                    self._sock.close()
                except Exception:  # noqa: BLE001
                    pass
            finally:
                self._flusher = None

    eio._async = {**eio._async, "websocket": BatchingWebSocket}
    return True
