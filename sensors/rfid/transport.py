"""The byte pipe to one reader: pyserial's ``serial_for_url`` plus a raw log.

Any pyserial URL works: ``/dev/ttyUSB0`` or ``COM3`` at any baud rate,
``socket://host:port`` for TCP readers and decoders, ``loop://`` and
``spy://...`` for tests and debugging. The transport only moves bytes; the
codec decodes them and ``reader.py`` decides when to poll and reconnect.
Errors from a vanished device (an unplugged USB adapter, a dropped TCP link)
surface as ``serial.SerialException`` or ``OSError`` from ``read``/``write``.

The raw log keeps every chunk in either direction as one text line,
``<epoch seconds> <direction> <hex>`` with direction ``<`` (from the reader)
or ``>`` (to it), so a session can be decoded again later
(``trackside rfid decode`` reads these files too).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import serial

FROM_READER = "<"
TO_READER = ">"


class RawLog:
    """Appends timestamped chunks of bytes to a text file, one chunk per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="ascii")
        self._lock = threading.Lock()

    def write(self, at_s: float, direction: str, data: bytes) -> None:
        """Log ``data`` that moved in ``direction`` at ``at_s`` (epoch seconds)."""
        with self._lock:
            self._file.write(f"{at_s:.6f} {direction} {data.hex()}\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()


def read_raw_log(path: str | Path) -> Iterator[tuple[float, str, bytes]]:
    """The ``(at_s, direction, data)`` chunks of a raw log; raises ``ValueError`` on a bad line."""
    with Path(path).open(encoding="ascii") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                at, direction, data = line.split()
                yield float(at), direction, bytes.fromhex(data)
            except ValueError:
                raise ValueError(f"{path}:{number}: not a raw-log line: {line[:60]!r}") from None


class SerialTransport:
    """One reader connection through pyserial (serial device or URL).

    ``read_timeout_s`` bounds how long ``read`` blocks, so the caller's loop
    can poll and decide bursts between chunks.
    """

    def __init__(self, url: str, baud: int = 57600, read_timeout_s: float = 0.01,
                 raw_log: RawLog | None = None) -> None:
        self.url = url
        self.baud = baud
        self.read_timeout_s = read_timeout_s
        self.raw_log = raw_log
        self._port: serial.SerialBase | None = None
        self._write_lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None and self._port.is_open

    def open(self) -> None:
        """Open the port; raises ``serial.SerialException`` (or ``OSError``) if it cannot."""
        self.close()
        self._port = serial.serial_for_url(self.url, baudrate=self.baud,
                                           timeout=self.read_timeout_s, write_timeout=1.0)

    def close(self) -> None:
        """Close the port (safe to call twice)."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def read(self, at_s: float | None = None) -> bytes:
        """What is waiting, or up to ``read_timeout_s`` for one byte; ``b""`` if none came."""
        port = self._port
        if port is None:
            raise serial.SerialException("port is not open")
        waiting = port.in_waiting
        data = port.read(waiting or 1)
        if data and self.raw_log is not None and at_s is not None:
            self.raw_log.write(at_s, FROM_READER, data)
        return data

    def write(self, data: bytes, at_s: float | None = None) -> None:
        """Send ``data`` to the reader."""
        port = self._port
        if port is None:
            raise serial.SerialException("port is not open")
        with self._write_lock:
            port.write(data)
        if self.raw_log is not None and at_s is not None:
            self.raw_log.write(at_s, TO_READER, data)
