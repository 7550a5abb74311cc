"""The sans-IO shell every reader codec shares: bytes and arrival time in, events out.

Why one base: the ASCII, P3 and Chafon codecs differ only in how they cut
one frame (or one run of garbage) off their buffer. Buffering, the arrival
stamp and the ``next_event`` loop (see ``events.py``) live here once; a
codec implements ``_step``.
"""

from __future__ import annotations

from collections import deque

from .events import NEED_DATA, Event


class BufferedCodec:
    """Buffers bytes with their arrival time; ``next_event`` drains what ``_step`` decodes."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._events: deque[Event] = deque()
        self._at_s = 0.0

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (bounded)."""
        return len(self._buf)

    def receive_data(self, data: bytes, at_s: float) -> None:
        """Buffer ``data`` that arrived at ``at_s`` (epoch seconds)."""
        self._buf += data
        self._at_s = at_s

    def next_event(self) -> Event | object:
        """The next event, or ``NEED_DATA``."""
        while not self._events:
            if not self._step():
                return NEED_DATA
        return self._events.popleft()

    def _step(self) -> bool:
        """Decode one frame or one run of garbage into ``_events``; False if it needs data."""
        raise NotImplementedError
