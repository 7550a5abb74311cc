"""MYLAPS/AMB P3 decoder protocol: a sans-IO codec.

Theory of operation. A record on the wire is
``8E | version | length (LE16) | CRC (LE16) | flags (LE16) | type (LE16) |
TLV fields... | 8F``. Inside a record 0x8D, 0x8E and 0x8F travel as 0x8D
followed by the byte plus 0x20. ``length`` is the unescaped length of the
whole record, 8E..8F included. The CRC (see ``crc.py``) covers the unescaped
record with its CRC field zeroed. Each field is ``code (u8) | length (u8) |
value`` with integers little-endian. All of this was checked against the
1,388 records of the real capture ``data/mylaps-p3/amb.out``.

Decoders stream: a PASSING record (type 1) is one transponder crossing the
loop, already reduced to one time by the decoder (RTC time in microseconds
since the Unix epoch, signal strength, hits), so P3 reads bypass our burst
estimate (method ``decoder``). STATUS records (type 2) report noise, GPS,
temperature and input voltage every second or so.

Resync: bytes before an 0x8E are noise; an 0x8E inside a record means the
record was cut short; both, bad escapes, bad lengths and CRC mismatches each
become one ``FrameError`` and decoding goes on at the next 0x8E.
"""

from __future__ import annotations

from .codec import BufferedCodec
from .crc import crc16_p3
from .events import DecoderStatus, Event, FrameError, TagRead

SOR, EOR, ESC = 0x8E, 0x8F, 0x8D
TOR_PASSING = 0x0001
TOR_STATUS = 0x0002

#: Record type (TOR) -> name, from public descriptions of the protocol.
TOR_NAMES: dict[int, str] = {
    0x0000: "RESET", 0x0001: "PASSING", 0x0002: "STATUS", 0x0003: "VERSION",
    0x0004: "RESEND", 0x0005: "CLEAR_PASSING", 0x0013: "SERVER_SETTINGS",
    0x0015: "SESSION", 0x0016: "NETWORK_SETTINGS", 0x0018: "WATCHDOG", 0x0020: "PING",
    0x0024: "GET_TIME", 0x0028: "GENERAL_SETTINGS", 0x002D: "SIGNALS",
    0x002F: "LOOP_TRIGGER", 0x0030: "GPS_INFO", 0x0045: "FIRST_CONTACT",
    0x004A: "TIMELINE", 0xFFFF: "ERROR",
}
#: Field codes valid in every record type.
GENERAL_FIELDS: dict[int, str] = {0x81: "decoder_id", 0x83: "controller_id", 0x85: "request_id"}
#: Field codes per record type.
FIELD_NAMES: dict[int, dict[int, str]] = {
    TOR_PASSING: {
        0x01: "passing_number", 0x03: "transponder", 0x04: "rtc_time_us", 0x05: "strength",
        0x06: "hits", 0x08: "flags", 0x0A: "tran_code", 0x0E: "user_flag", 0x0F: "driver_id",
        0x10: "utc_time_us", 0x13: "rtc_id", 0x14: "sport", 0x30: "voltage",
        0x31: "temperature",
    },
    TOR_STATUS: {
        0x01: "noise", 0x06: "gps", 0x07: "temperature", 0x0A: "sat_in_use",
        0x0B: "loop_triggers", 0x0C: "input_voltage",
    },
}
_HEADER = 10
#: Longest unescaped record we accept before calling it garbage.
MAX_RECORD = 1024


def escape(record: bytes) -> bytes:
    """Escape the inside of an unescaped record (8E..8F) for the wire."""
    inner = bytearray()
    for byte in record[1:-1]:
        if byte in (ESC, SOR, EOR):
            inner += bytes((ESC, byte + 0x20))
        else:
            inner.append(byte)
    return bytes((record[0],)) + bytes(inner) + bytes((record[-1],))


def encode_record(tor: int, fields: list[tuple[int, bytes]], version: int = 2,
                  flags: int = 0) -> bytes:
    """One P3 record as sent on the wire (escaped, with length and CRC)."""
    body = b"".join(bytes((code, len(value))) + value for code, value in fields)
    length = _HEADER + len(body) + 1
    record = bytearray((SOR, version))
    record += length.to_bytes(2, "little") + b"\0\0"
    record += flags.to_bytes(2, "little") + tor.to_bytes(2, "little") + body + bytes((EOR,))
    record[4:6] = crc16_p3(record).to_bytes(2, "little")
    return escape(bytes(record))


def encode_passing(passing_number: int, transponder: int, rtc_time_us: int, strength: int,
                   hits: int, flags: int = 0, decoder_id: int = 0x00041813) -> bytes:
    """A PASSING record laid out like the real decoder's (see amb.out)."""
    return encode_record(TOR_PASSING, [
        (0x01, passing_number.to_bytes(4, "little")),
        (0x03, transponder.to_bytes(4, "little")),
        (0x04, rtc_time_us.to_bytes(8, "little")),
        (0x05, strength.to_bytes(2, "little")),
        (0x06, hits.to_bytes(2, "little")),
        (0x08, flags.to_bytes(2, "little")),
        (0x81, decoder_id.to_bytes(4, "little")),
    ])


def encode_status(noise: int, gps: int = 0, temperature: int = 22, input_voltage: int = 118,
                  decoder_id: int = 0x00041813) -> bytes:
    """A STATUS record laid out like the real decoder's (see amb.out)."""
    return encode_record(TOR_STATUS, [
        (0x01, noise.to_bytes(2, "little")),
        (0x07, temperature.to_bytes(2, "little", signed=True)),
        (0x0C, input_voltage.to_bytes(1, "little")),
        (0x06, gps.to_bytes(1, "little")),
        (0x81, decoder_id.to_bytes(4, "little")),
    ])


def _value(code: int, raw: bytes) -> int | str:
    if code in GENERAL_FIELDS:
        return raw[::-1].hex().upper()
    if len(raw) in (1, 2, 4, 8):
        return int.from_bytes(raw, "little")
    return raw.hex().upper()


class P3Codec(BufferedCodec):
    """Host side of a P3 decoder: bytes in, ``TagRead`` (PASSING) and ``DecoderStatus`` out."""

    def _error(self, reason: str, skipped: int) -> None:
        self._events.append(FrameError(reason, skipped, self._at_s))

    def _step(self) -> bool:
        """Take one record or one run of garbage off the buffer; False if it needs data."""
        buf = self._buf
        start = buf.find(SOR)
        if start < 0:
            if buf:
                self._error("bytes outside any P3 record", len(buf))
                buf.clear()
                return True
            return False
        if start > 0:
            self._error("bytes outside any P3 record", start)
            del buf[:start]
            return True
        end = buf.find(EOR, 1)
        restart = buf.find(SOR, 1)
        if restart >= 0 and (end < 0 or restart < end):
            self._error("P3 record cut short by the next start byte", restart)
            del buf[:restart]
            return True
        if end < 0:
            if len(buf) > 2 * MAX_RECORD:
                self._error("P3 record longer than any valid one", len(buf))
                buf.clear()
                return True
            return False
        wire = bytes(buf[: end + 1])
        del buf[: end + 1]
        self._decode(wire)
        return True

    def _decode(self, wire: bytes) -> None:
        record = bytearray((SOR,))
        i = 1
        while i < len(wire) - 1:
            byte = wire[i]
            if byte == ESC:
                nxt = wire[i + 1] if i + 1 < len(wire) - 1 else -1
                if nxt not in (ESC + 0x20, SOR + 0x20, EOR + 0x20):
                    self._error("bad escape sequence in P3 record", len(wire))
                    return
                record.append(nxt - 0x20)
                i += 2
            else:
                record.append(byte)
                i += 1
        record.append(EOR)
        if len(record) < _HEADER + 1:
            self._error(f"P3 record of {len(record)} bytes is too short", len(wire))
            return
        length = int.from_bytes(record[2:4], "little")
        if length != len(record):
            self._error(f"P3 length field says {length}, record has {len(record)}", len(wire))
            return
        crc = int.from_bytes(record[4:6], "little")
        record[4:6] = b"\0\0"
        if crc16_p3(record) != crc:
            self._error("P3 CRC mismatch", len(wire))
            return
        tor = int.from_bytes(record[8:10], "little")
        fields: list[tuple[int, bytes]] = []
        pos = _HEADER
        while pos < len(record) - 1:
            if pos + 2 > len(record) - 1 or pos + 2 + record[pos + 1] > len(record) - 1:
                self._error("P3 field runs past the end of its record", len(wire))
                return
            size = record[pos + 1]
            fields.append((record[pos], bytes(record[pos + 2 : pos + 2 + size])))
            pos += 2 + size
        self._events.append(self._record_event(tor, record[1], fields, len(wire)))

    def _record_event(self, tor: int, version: int, fields: list[tuple[int, bytes]],
                      size: int) -> Event:
        names = FIELD_NAMES.get(tor, {})
        named: dict[str, int | str] = {}
        for code, raw in fields:
            name = GENERAL_FIELDS.get(code) or names.get(code) or f"field_0x{code:02X}"
            named[name] = _value(code, raw)
        if tor == TOR_PASSING:
            time_us = named.get("utc_time_us", named.get("rtc_time_us"))
            tag = named.get("transponder", named.get("tran_code"))
            if not isinstance(time_us, int) or tag is None:
                return FrameError("P3 PASSING without transponder or time", size, self._at_s)
            strength = named.get("strength")
            hits = named.get("hits", 1)
            extra = tuple((k, v) for k, v in named.items()
                          if k not in ("transponder", "strength", "hits"))
            return TagRead(str(tag), time_us / 1e6,
                           float(strength) if isinstance(strength, int) else None, 1,
                           hits if isinstance(hits, int) else 1, self._at_s, extra)
        name = TOR_NAMES.get(tor, f"TOR_0x{tor:04X}")
        return DecoderStatus(tor, name, self._at_s, (("version", version), *named.items()))
