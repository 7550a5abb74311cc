"""Events the reader codecs emit, and the commands a host sends.

Every codec in this package is sans-IO (see STYLE.md, section 4): the shell
calls ``receive_data(data, at_s)`` with the bytes it read and the time they
arrived, then ``next_event()`` until it returns ``NEED_DATA``. Events are
frozen, slotted values so tests compare whole lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class _Sentinel:
    """A named sentinel (prints its name), like h11's ``NEED_DATA``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: ``next_event()`` returns this when it needs more bytes.
NEED_DATA = _Sentinel("NEED_DATA")

Extra = tuple[tuple[str, int | float | str], ...]


@dataclass(frozen=True, slots=True)
class TagRead:
    """One read of one tag.

    ``time_s`` is when the tag was seen (Unix epoch seconds): the decoder's own
    clock when the protocol carries one (P3 RTC time, an ASCII time field),
    else derived from arrival. ``arrival_s`` is when its bytes arrived here.
    ``rssi`` is in the reader's own units (higher is stronger), ``None`` when
    the reader reports none. ``antenna`` counts from 1. ``hits`` is how many
    raw reads this one stands for (a P3 passing sums a whole burst).
    ``extra`` holds protocol-specific fields (P3 passing number, flags...).
    """

    tag: str
    time_s: float
    rssi: float | None = None
    antenna: int = 1
    hits: int = 1
    arrival_s: float = 0.0
    extra: Extra = ()


@dataclass(frozen=True, slots=True)
class DecoderStatus:
    """A status the reader reported: end of an inventory round, a P3 STATUS record...

    ``code`` is the protocol's status code, ``text`` says it in words,
    ``fields`` holds the values that came with it.
    """

    code: int
    text: str
    at_s: float
    fields: Extra = ()


@dataclass(frozen=True, slots=True)
class FrameError:
    """Bytes that could not be decoded: skipped, counted, and decoding went on.

    ``skipped`` is how many bytes were thrown away resynchronising.
    """

    reason: str
    skipped: int
    at_s: float


Event = TagRead | DecoderStatus | FrameError


@dataclass(frozen=True, slots=True)
class InventoryRequest:
    """Ask a polled reader for the tags in its field (Chafon inventory, Cmd 0x01).

    ``antenna`` (1-4) and ``scan_time_ds`` (tenths of a second) are used by
    the UHFReader288 form of the command; the UHFReader18 form has no data.
    """

    antenna: int = 1
    scan_time_ds: int = 10
    q_value: int = 4
    session: int = 0


@dataclass(frozen=True, slots=True)
class RawCommand:
    """Any other command: ``cmd`` byte and its ``data`` (Chafon framing)."""

    cmd: int
    data: bytes = field(default=b"")
