"""Chafon UHFReader18 / UHFReader288 family: a sans-IO codec.

Theory of operation. Every frame, host to reader and back, is
``Len Adr Cmd [Status] Data... CRC-LSB CRC-MSB``: ``Len`` counts the bytes
after itself, the CRC is CRC-16/MCRF4XX over Len..Data. There is no start
byte, so after garbage the framer resynchronises by trying each offset as a
``Len``: a candidate that is complete and whose CRC checks is a frame; one
whose CRC fails is dropped one byte at a time; an incomplete candidate is
given up as soon as a complete, valid frame starts later in the buffer (so a
garbage byte that promises a 200-byte frame never stalls the real answer).
Skipped bytes become one ``FrameError`` per run.

The reader only speaks when polled: the host sends the inventory command
(Cmd 0x01), the reader answers with one or more frames. Status 0x03 means
more frames of the same round follow; 0x01 (finished), 0x02 (scan time over)
and 0x04 (buffer full) end the round. The UHFReader18 answer's Data is
``Num, (EPC length, EPC)*``; the UHFReader288 adds the antenna bit before Num
and one RSSI byte after each EPC. Tags of one round are stamped at the middle
of the round (between the command leaving and the first answer frame
arriving): the reader saw them somewhere inside it.
"""

from __future__ import annotations

from .codec import BufferedCodec
from .crc import crc16_mcrf4xx
from .events import (
    NEED_DATA,
    DecoderStatus,
    FrameError,
    InventoryRequest,
    RawCommand,
    TagRead,
)

CMD_INVENTORY = 0x01
CMD_GET_READER_INFO = 0x21
#: Real-time (active mode) tag report of the 288 family.
CMD_REALTIME = 0xEE
BROADCAST = 0xFF

STATUS_TEXT: dict[int, str] = {
    0x00: "success",
    0x01: "inventory finished",
    0x02: "inventory scan time over",
    0x03: "more frames follow",
    0x04: "reader buffer full",
    0x28: "heartbeat",
    0xF8: "antenna error",
    0xF9: "command execution error",
    0xFA: "poor communication with tag",
    0xFB: "no tag operable",
    0xFC: "tag returned an error",
    0xFD: "command length wrong",
    0xFE: "illegal command",
    0xFF: "parameter error",
}
#: Statuses of an inventory answer that carry tag data.
INVENTORY_DATA_STATUSES = frozenset({0x01, 0x02, 0x03, 0x04})
VARIANTS = ("18", "288")

_MAX_FRAME = 256


def frame(address: int, cmd: int, payload: bytes) -> bytes:
    """Build one frame ``Len Adr Cmd payload CRC`` (payload = [Status] Data)."""
    length = len(payload) + 4
    if length > 255:
        raise ValueError(f"payload of {len(payload)} bytes does not fit one Chafon frame")
    body = bytes((length, address & 0xFF, cmd & 0xFF)) + bytes(payload)
    crc = crc16_mcrf4xx(body)
    return body + bytes((crc & 0xFF, crc >> 8))


class ChafonFramer(BufferedCodec):
    """Splits a byte stream into CRC-checked Chafon frames (both directions).

    ``min_len`` is the smallest valid ``Len``: 4 for host commands
    (Len Adr Cmd CRC), 5 for reader answers (they add Status).
    """

    def __init__(self, min_len: int = 5) -> None:
        super().__init__()
        self._min_len = min_len
        self._skipped = 0

    def _complete_ok(self, start: int) -> bool:
        buf = self._buf
        length = buf[start]
        end = start + length + 1
        if length < self._min_len or end > len(buf):
            return False
        crc = crc16_mcrf4xx(buf[start : end - 2])
        return buf[end - 2] == (crc & 0xFF) and buf[end - 1] == (crc >> 8)

    def _later_frame(self) -> int | None:
        for start in range(1, len(self._buf)):
            if self._complete_ok(start):
                return start
        return None

    def _drop(self, count: int) -> None:
        del self._buf[:count]
        self._skipped += count

    def _error(self) -> FrameError:
        skipped, self._skipped = self._skipped, 0
        return FrameError("bytes with no valid Chafon frame (bad CRC, noise or truncation)",
                          skipped, self._at_s)

    def next_frame(self) -> bytes | FrameError | None:
        """The next frame (bytes, Len..CRC), a ``FrameError``, or ``None`` for more data."""
        item = self.next_event()
        return None if item is NEED_DATA else item  # type: ignore[return-value]

    def _step(self) -> bool:
        buf = self._buf
        while buf:
            length = buf[0]
            if length < self._min_len:
                self._drop(1)
                continue
            if length + 1 <= len(buf):
                if self._complete_ok(0):
                    if self._skipped:
                        self._events.append(self._error())
                        return True
                    self._events.append(bytes(buf[: length + 1]))  # type: ignore[arg-type]
                    del buf[: length + 1]
                    return True
                self._drop(1)
                continue
            later = self._later_frame()
            if later is None:
                break
            self._drop(later)
        if self._skipped and not buf:
            self._events.append(self._error())
            return True
        return False


class ChafonCodec(BufferedCodec):
    """Host side of a Chafon reader: commands out, ``TagRead``/``DecoderStatus`` in.

    ``variant`` is ``"18"`` (UHFReader18: EPCs only) or ``"288"``
    (UHFReader288M and kin: antenna and RSSI too). ``address`` is the reader
    address the host sends to (0xFF reaches any reader).
    """

    def __init__(self, variant: str = "288", address: int = BROADCAST) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown Chafon variant {variant!r}; expected one of {VARIANTS}")
        self.variant = variant
        self.address = address
        super().__init__()
        self._framer = ChafonFramer(min_len=5)
        self._sent_s: float | None = None
        self._round_time_s: float | None = None

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (bounded)."""
        return self._framer.buffered

    def send(self, command: InventoryRequest | RawCommand, at_s: float | None = None) -> bytes:
        """Bytes to write for ``command``; ``at_s`` is when they leave (stamps the round)."""
        if isinstance(command, InventoryRequest):
            self._sent_s = at_s
            self._round_time_s = None
            if self.variant == "18":
                return frame(self.address, CMD_INVENTORY, b"")
            if not 1 <= command.antenna <= 4:
                raise ValueError(f"antenna must be 1-4, got {command.antenna}")
            data = bytes((command.q_value & 0x0F, command.session & 0xFF, 0x01, 0, 0, 0, 0,
                          0x80 + command.antenna - 1, command.scan_time_ds & 0xFF))
            return frame(self.address, CMD_INVENTORY, data)
        return frame(self.address, command.cmd, command.data)

    def receive_data(self, data: bytes, at_s: float) -> None:
        """Buffer bytes from the reader that arrived at ``at_s`` (epoch seconds)."""
        self._framer.receive_data(data, at_s)
        self._at_s = at_s

    def _step(self) -> bool:
        item = self._framer.next_frame()
        if item is None:
            return False
        if isinstance(item, FrameError):
            self._events.append(item)
        else:
            self._decode(item, self._at_s)
        return True

    def _round_time(self, arrival_s: float) -> float:
        if self._round_time_s is None:
            if self._sent_s is not None and self._sent_s <= arrival_s:
                self._round_time_s = (self._sent_s + arrival_s) / 2.0
            else:
                self._round_time_s = arrival_s
        return self._round_time_s

    def _decode(self, raw: bytes, at_s: float) -> None:
        cmd, status, data = raw[2], raw[3], raw[4:-2]
        text = STATUS_TEXT.get(status, f"status 0x{status:02X}")
        if cmd == CMD_REALTIME:
            self._decode_realtime(status, data, at_s)
            return
        if cmd != CMD_INVENTORY or status not in INVENTORY_DATA_STATUSES:
            self._events.append(DecoderStatus(status, text, at_s, (("cmd", cmd),)))
            if cmd == CMD_INVENTORY:
                self._sent_s = None
                self._round_time_s = None
            return
        try:
            reads = self._parse_inventory(data, self._round_time(at_s), at_s)
        except ValueError as exc:
            self._events.append(FrameError(f"malformed inventory answer: {exc}", len(raw), at_s))
            return
        self._events.extend(reads)
        if status != 0x03:
            self._events.append(
                DecoderStatus(status, text, at_s, (("cmd", cmd), ("round_tags", len(reads))))
            )
            self._sent_s = None
            self._round_time_s = None

    def _parse_inventory(self, data: bytes, time_s: float, at_s: float) -> list[TagRead]:
        pos = 0
        antenna = 1
        if self.variant == "288":
            if len(data) < 2:
                raise ValueError("no antenna/count bytes")
            antenna = _antenna_number(data[0])
            pos = 1
        if pos >= len(data):
            raise ValueError("no tag count byte")
        count = data[pos]
        pos += 1
        reads = []
        for _ in range(count):
            if pos >= len(data):
                raise ValueError(f"announced {count} tags, data ends after {len(reads)}")
            epc_len = data[pos] & 0x7F
            pos += 1
            end = pos + epc_len
            rssi = None
            if self.variant == "288":
                if end + 1 > len(data):
                    raise ValueError("tag record runs past the frame")
                rssi = float(data[end])
            elif end > len(data):
                raise ValueError("tag record runs past the frame")
            reads.append(TagRead(data[pos:end].hex().upper(), time_s, rssi, antenna, 1, at_s))
            pos = end + (1 if self.variant == "288" else 0)
        if pos != len(data):
            raise ValueError(f"{len(data) - pos} unexplained bytes after the tags")
        return reads

    def _decode_realtime(self, status: int, data: bytes, at_s: float) -> None:
        if status != 0x00 or len(data) < 3 or data[1] + 3 != len(data):
            self._events.append(DecoderStatus(status, STATUS_TEXT.get(status, "real-time"),
                                              at_s, (("cmd", CMD_REALTIME),)))
            return
        epc = data[2 : 2 + data[1]]
        self._events.append(TagRead(epc.hex().upper(), at_s, float(data[-1]),
                                    _antenna_number(data[0]), 1, at_s))


def _antenna_number(bits: int) -> int:
    """Antenna bit (1, 2, 4, 8) to antenna number (1-4); lowest set bit wins."""
    for number in range(8):
        if bits & (1 << number):
            return number + 1
    return 1
