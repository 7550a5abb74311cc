"""The processes the broadcast bench starts beside the server under test.

- ``--clients N --port P --out FILE``: one process holding N lean Socket.IO
  clients (raw websocket, Engine.IO/Socket.IO framing by hand), writing the
  (seq, perf_counter) of every split it received to FILE when SIGTERM comes;
- ``--bare PORT``: the baseline, a bare Flask-SocketIO app (gevent) that
  emits a split-sized payload per POST;
- ``--load``: a camera-like CPU load (blur + MOG2 on 720p frames).

Kept apart from ``broadcast_bench.py`` (the orchestrator) so each file has
one job; run only by the bench.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import signal
import socket
import time

SEQ_RE = re.compile(rb'"seq":\s*(\d+)')
SPLIT_PREFIX = b'42["split'  # a `split` event or a `splits` batch
#: recv size: 64 KiB. A 256 KiB recv costs ~35 us here (CPython allocates, then
#: shrinks, a buffer past malloc's mmap threshold) against ~3 us: at 100 clients
#: that alone put 3.5 ms of the bench client's own cost into every figure.
RECV_BYTES = 1 << 16

class RawClient:
    """One Socket.IO client over a raw websocket: just enough protocol to receive."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.sendall(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("handshake failed")
            head += chunk
        self.buf = bytearray(head.split(b"\r\n\r\n", 1)[1])
        self.sock.setblocking(False)
        self.connected = False

    def send_text(self, text: bytes) -> None:
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(text))
        n = len(text)
        header = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, "big")
        self.sock.setblocking(True)
        self.sock.sendall(header + mask + payload)
        self.sock.setblocking(False)

    def frames(self):
        """Complete text frames waiting in the buffer (server frames are unmasked)."""
        buf = self.buf
        pos = 0
        out = []
        while len(buf) - pos >= 2:
            n = buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                start = pos + 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                start = pos + 10
            if len(buf) - start < n:
                break
            out.append(bytes(buf[start:start + n]))
            pos = start + n
        del buf[:pos]
        return out


def client_main(host: str, port: int, count: int, out_path: str) -> None:
    """The client process: connect ``count`` clients, record (seq, t) of every split.

    Lean on purpose (it shares the 2 cores with the server, and its own cost
    lands in the figures): once every client is connected, the receive loop
    only stamps each ``recv`` with ``perf_counter`` and keeps the bytes; the
    websocket frames are parsed after the run, each split getting the time of
    the ``recv`` that completed its frame. Pings (the 3-byte frame ``2``) are
    answered at once.
    """
    import select

    clients = []
    for _ in range(count):
        clients.append(RawClient(host, port))
    sel = selectors.DefaultSelector()
    for c in clients:
        sel.register(c.sock, selectors.EVENT_READ, c)
    received: list[tuple[int, float]] = []
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    while not stop and not all(c.connected for c in clients):  # handshakes: parse at once
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            try:
                data = c.sock.recv(RECV_BYTES)
            except BlockingIOError:
                continue
            c.buf += data
            for frame in c.frames():
                if frame[:1] == b"0":
                    c.send_text(b'40{"role":"screen","batch":true}')
                elif frame == b"2":
                    c.send_text(b"3")
                elif frame.startswith(b"40"):
                    c.connected = True
    sel.close()
    print("ready", flush=True)
    by_fd = {c.sock.fileno(): c for c in clients}
    chunks: list[tuple[int, float, bytes]] = []
    ep = select.epoll()
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)
    clock = time.perf_counter
    while not stop:
        for fd, _ in ep.poll(0.2):
            try:
                data = by_fd[fd].sock.recv(RECV_BYTES)
            except BlockingIOError:
                continue
            if not data:
                ep.unregister(fd)
                continue
            chunks.append((fd, clock(), data))
            if b"\x81\x012" in data:  # a ping frame (JSON text never holds 0x81 0x01)
                by_fd[fd].send_text(b"3")
    for fd, now, data in chunks:  # after the run: frames, stamped by the recv that ended them
        c = by_fd[fd]
        c.buf += data
        for frame in c.frames():
            if frame.startswith(SPLIT_PREFIX):
                for m in SEQ_RE.finditer(frame):
                    received.append((int(m.group(1)), now))
    with open(out_path, "w") as fh:
        json.dump(received, fh)


def camera_load_main() -> None:
    """Busy like a camera detector node: blur + background model on 720p frames."""
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8) for _ in range(4)]
    model = cv2.createBackgroundSubtractorMOG2()
    i = 0
    while True:
        model.apply(cv2.GaussianBlur(frames[i % 4], (5, 5), 0))
        i += 1


def bare_server_main(port: int) -> None:
    """The baseline: bare Flask-SocketIO (gevent) emitting a split-sized payload per POST.

    No core, no event log, no broadcaster: what the dashboard is compared with.
    """
    from gevent import monkey

    monkey.patch_all()
    import itertools

    from flask import Flask, jsonify, request
    from flask_socketio import SocketIO

    from dashboard.commands.serve import run_gevent

    app = Flask(__name__)
    sio = SocketIO(app, async_mode="gevent")
    counter = itertools.count(1)
    filler = "x" * 900  # about the size of a real split message

    @app.post("/api/v1/crossings")
    def crossing():
        body = request.get_json()
        seq = next(counter)
        sio.emit("split", {"v": 1, "type": "split", "athlete": body.get("athlete"),
                           "pad": filler, "seq": seq})
        return jsonify(outputs=[{"type": "split", "seq": seq}])

    @app.get("/api/v1/health")
    def health():
        return jsonify(ok=True)

    run_gevent(app, sio, "127.0.0.1", port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int)
    parser.add_argument("--port", type=int)
    parser.add_argument("--out")
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--bare", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.load:
        camera_load_main()
    elif args.bare:
        bare_server_main(args.bare)
    elif args.clients:
        client_main("127.0.0.1", args.port, args.clients, args.out)
    else:
        parser.error("one of --clients, --bare or --load")


if __name__ == "__main__":
    main()
