"""Reader emulators on real byte pipes: a pty (a USB serial adapter) or a TCP socket.

An ``Emulator`` drives one device from ``devices.py`` in a thread: what the
host writes goes to ``device.receive(data, clock())``, and whatever
``device.due(clock())`` returns is written back. The host side is the real
thing: pyserial opening the pty's slave path, or ``socket://host:port``.

Unplugging. ``unplug()`` closes the pty (or the TCP connection and its
listener) so the host's next read fails like a pulled USB cable; with a
``link_path`` the symlink disappears as ``/dev/ttyUSB0`` does. ``replug()``
makes a new pty and points the same path at it (a re-enumerated adapter) or
listens again on the same port.

Example::

    passes = [TagPass("E2000000000000000000000A", crossing_s=t0 + 3.0)]
    clock = ScaledClock(time.time(), speed=4.0)     # sensors.clock: shared with the reader
    with Emulator(make_device("chafon288", passes), clock=clock) as emu:
        path = emu.open_pty("/tmp/rfid/ttyUSB0")     # or: port = emu.listen_tcp()
        ... RfidReader(ReaderConfig(url=path, protocol="chafon288"), ...) ...
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from typing import Protocol


class Device(Protocol):
    """What an emulated reader does with bytes and time (see ``devices.py``)."""

    def receive(self, data: bytes, now_s: float) -> None: ...

    def due(self, now_s: float) -> bytes: ...


class Emulator:
    """Serves one emulated device over a pty or TCP until stopped.

    :param device: a ``ChafonDevice``, ``P3Device`` or ``AsciiDevice``.
    :param clock: session time in epoch seconds (the schedule's clock).
    :param tick_s: how often (real seconds) streamed bytes are checked.
    """

    def __init__(self, device: Device, clock: Callable[[], float] = time.time,
                 tick_s: float = 0.002) -> None:
        self.device = device
        self.clock = clock
        self.tick_s = tick_s
        self.link_path: str | None = None
        self.port: int | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bytes_out = 0
        self.dropped_bytes = 0

    # -- pipes -------------------------------------------------------------

    def open_pty(self, link_path: str | None = None) -> str:
        """Create a pty pair; returns the path a host opens (``link_path`` if given)."""
        with self._lock:
            self._close_pipes()
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            name = os.ttyname(slave)
            if link_path is not None:
                tmp = f"{link_path}.tmp{os.getpid()}"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                os.symlink(name, tmp)
                os.replace(tmp, link_path)
                self.link_path = link_path
                return link_path
            self.link_path = None
            return name

    def listen_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen for one TCP host at a time; returns the port (for ``socket://host:port``)."""
        with self._lock:
            self._close_pipes()
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(1)
            listener.setblocking(False)
            self._listener = listener
            self._tcp_host = host
            self.port = listener.getsockname()[1]
            return self.port

    def unplug(self) -> None:
        """Pull the cable: close the pipe (and remove the device path)."""
        with self._lock:
            if self.link_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.link_path)
            self._close_pipes()

    def replug(self) -> None:
        """Plug back in: a new pty at the same path, or listen again on the same port."""
        with self._lock:
            if self.port is not None and self._master is None and self.link_path is None:
                self.listen_tcp(self._tcp_host, self.port)
            else:
                self.open_pty(self.link_path)

    def _close_pipes(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        for sock in (self._client, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._client = self._listener = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving in a thread (returns self)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rfid-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close everything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        with self._lock:
            if self.link_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.link_path)
            self._close_pipes()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ----------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                readable = self._readable()
            if not readable:
                self._stop.wait(self.tick_s)
                with self._lock:
                    self._send(self.device.due(self.clock()))
                continue
            try:
                ready, _, _ = select.select(readable, [], [], self.tick_s)
            except (OSError, ValueError):
                continue  # a pipe was closed under us by unplug()
            with self._lock:
                for item in ready:
                    self._serve(item)
                self._send(self.device.due(self.clock()))

    def _readable(self) -> list:
        if self._master is not None:
            return [self._master]
        if self._client is not None:
            return [self._client]
        if self._listener is not None:
            return [self._listener]
        return []

    def _serve(self, item: object) -> None:
        try:
            if item is self._listener and self._listener is not None:
                client, _addr = self._listener.accept()
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._client = client
                return
            if item == self._master and self._master is not None:
                data = os.read(self._master, 4096)
            elif item is self._client and self._client is not None:
                data = self._client.recv(4096)
                if not data:
                    self._client.close()
                    self._client = None
                    return
            else:
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            if item is self._client and self._client is not None:
                self._client.close()
                self._client = None
            return
        self.device.receive(data, self.clock())

    def _send(self, data: bytes) -> None:
        if not data:
            return
        try:
            if self._master is not None:
                sent = os.write(self._master, data)
            elif self._client is not None:
                sent = self._client.send(data)
            else:
                sent = 0
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EPIPE, errno.ECONNRESET):
                raise
            sent = 0
        self.bytes_out += sent
        self.dropped_bytes += len(data) - sent
