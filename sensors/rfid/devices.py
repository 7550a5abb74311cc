"""Byte-level behaviour of emulated readers (no I/O: bytes and time in, bytes out).

Each device takes a schedule of ``TagPass`` values in session time and
answers exactly as the real device would:

* ``ChafonDevice``: answers each inventory command with the tags in the
  field at that instant (per ``passmodel``), split over frames with status
  0x03 when one frame cannot hold them, the last with 0x01; no tag gives
  one frame with Num 0. Commands with a bad CRC get no answer (as on the
  real reader); unknown commands get status 0xFE (illegal command).
* ``P3Device``: streams a PASSING a moment after each pass (the decoder's
  own decision delay), stamped with the decoder's RTC time of the
  crossing, and a STATUS record every ``status_every_s``.
* ``AsciiDevice``: streams one line per read as ``passmodel`` generates them.

``strays`` are tags lying in the field: always readable, weakly.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Sequence

from .ascii import DEFAULT_PATTERN, format_line
from .chafon import (
    CMD_GET_READER_INFO,
    CMD_INVENTORY,
    ChafonFramer,
    frame,
)
from .events import FrameError
from .p3 import encode_passing, encode_status
from .passmodel import PassChannel, TagPass, simulate_reads

#: RSSI byte = dBm + this (the 288 reports a positive number, higher is stronger).
RSSI_BYTE_OFFSET = 150
STRAY_DBM = -66.0


def tag_bytes(tag: str) -> bytes:
    """The EPC bytes of a tag id: hex ids as they are, other text as ASCII."""
    try:
        if len(tag) % 2 == 0:
            return bytes.fromhex(tag)
    except ValueError:
        pass
    return tag.encode("ascii", "replace")


class ChafonDevice:
    """A UHFReader18 (``variant="18"``) or UHFReader288M (``"288"``) answering polls."""

    def __init__(self, passes: Iterable[TagPass], variant: str = "288", address: int = 0x00,
                 strays: Sequence[str] = (), seed: int = 0, answer_delay_s: float = 0.0) -> None:
        self.variant = variant
        self.address = address
        self.strays = tuple(strays)
        self.answer_delay_s = answer_delay_s
        self._channels = sorted((PassChannel(p) for p in passes),
                                key=lambda c: c.tag_pass.crossing_s)
        self._rng = random.Random(seed)
        self._framer = ChafonFramer(min_len=4)
        self._pending: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self.polls = 0

    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes from the host at ``now_s``; answers become ``due`` after the answer delay."""
        self._framer.receive_data(data, now_s)
        while (item := self._framer.next_frame()) is not None:
            if isinstance(item, FrameError):
                continue
            answer = self._answer(item, now_s)
            self._seq += 1
            heapq.heappush(self._pending, (now_s + self.answer_delay_s, self._seq, answer))

    def due(self, now_s: float) -> bytes:
        """Bytes the device sends by ``now_s``."""
        out = bytearray()
        while self._pending and self._pending[0][0] <= now_s:
            out += heapq.heappop(self._pending)[2]
        return bytes(out)

    def tags_in_field(self, now_s: float, antenna: int | None) -> list[tuple[bytes, int, int]]:
        """(EPC, antenna, RSSI byte) of every tag one inventory round reads at ``now_s``."""
        found = []
        for channel in self._channels:
            p = channel.tag_pass
            start_s, end_s = channel.window_s()
            if start_s > now_s:
                break
            if now_s > end_s or (antenna is not None and p.antenna != antenna):
                continue
            rssi = channel.read(now_s, self._rng)
            if rssi is not None:
                found.append((tag_bytes(p.tag), p.antenna, _rssi_byte(rssi)))
        for stray in self.strays:
            if self._rng.random() < 0.7:
                found.append((tag_bytes(stray), antenna or 1,
                              _rssi_byte(STRAY_DBM + self._rng.gauss(0, 1))))
        return found

    def _answer(self, command: bytes, now_s: float) -> bytes:
        cmd, data = command[2], command[3:-2]
        if cmd == CMD_GET_READER_INFO:
            kind = 0x09 if self.variant == "18" else 0x0C
            return frame(self.address, cmd, bytes((0x00, 0x03, 0x01, kind, 0x02, 0x3E, 0x00,
                                                   0x1E, 0x0A)))
        if cmd != CMD_INVENTORY:
            return frame(self.address, 0x00, bytes((0xFE,)))
        self.polls += 1
        antenna = None
        if self.variant == "288":
            if len(data) < 8:
                return frame(self.address, cmd, bytes((0xFF,)))
            antenna = (data[7] & 0x7F) + 1 if data[7] & 0x80 else 1
        return self._inventory_frames(self.tags_in_field(now_s, antenna), antenna or 1)

    def _inventory_frames(self, tags: list[tuple[bytes, int, int]], antenna: int) -> bytes:
        ant_bit = bytes((1 << (antenna - 1),)) if self.variant == "288" else b""
        records = [bytes((len(epc),)) + epc + (bytes((rssi,)) if self.variant == "288" else b"")
                   for epc, _ant, rssi in tags]
        limit = 255 - 4 - 1 - len(ant_bit) - 1
        frames: list[list[bytes]] = [[]]
        for record in records:
            if sum(map(len, frames[-1])) + len(record) > limit:
                frames.append([])
            frames[-1].append(record)
        out = bytearray()
        for index, chunk in enumerate(frames):
            status = 0x01 if index == len(frames) - 1 else 0x03
            payload = bytes((status,)) + ant_bit + bytes((len(chunk),)) + b"".join(chunk)
            out += frame(self.address, CMD_INVENTORY, payload)
        return bytes(out)


def _rssi_byte(dbm: float) -> int:
    return max(0, min(255, int(round(dbm)) + RSSI_BYTE_OFFSET))


class P3Device:
    """A MYLAPS/AMB P3 decoder streaming PASSING and STATUS records."""

    def __init__(self, passes: Iterable[TagPass], decoder_id: int = 0x00041813,
                 status_every_s: float = 1.0, decision_delay_s: float = 0.3,
                 timing_noise_s: float = 0.003, seed: int = 0, start_s: float | None = None,
                 first_passing_number: int = 1) -> None:
        self.decoder_id = decoder_id
        self.status_every_s = status_every_s
        self._rng = random.Random(seed)
        self._queue = sorted(passes, key=lambda p: p.crossing_s)
        self._delay = decision_delay_s
        self._noise = timing_noise_s
        self._next_status_s = start_s
        self._passing_number = first_passing_number

    def receive(self, data: bytes, now_s: float) -> None:
        """Host commands are accepted and ignored (a decoder streams regardless)."""

    def due(self, now_s: float) -> bytes:
        """The records the decoder has sent by ``now_s``."""
        out = bytearray()
        if self._next_status_s is None:
            self._next_status_s = now_s
        while self._next_status_s <= now_s:
            out += encode_status(noise=self._rng.randint(30, 50), decoder_id=self.decoder_id)
            self._next_status_s += self.status_every_s
        while self._queue and self._queue[0].crossing_s + self._delay <= now_s:
            p = self._queue.pop(0)
            out += self._passing(p)
        return bytes(out)

    def _passing(self, p: TagPass) -> bytes:
        channel = PassChannel(p)
        peak_dbm = channel.mean_dbm(p.crossing_s)
        rtc_us = int(round((p.crossing_s + self._rng.gauss(0.0, self._noise)) * 1e6))
        transponder = int(p.tag) if p.tag.isdigit() else int.from_bytes(tag_bytes(p.tag)[-4:],
                                                                         "big")
        strength = max(0, min(0xFFFF, int(round(peak_dbm + 210))))
        hits = max(1, int(round(20.0 / max(p.speed_m_s, 0.5) * 20)))
        number = self._passing_number
        self._passing_number += 1
        return encode_passing(number, transponder & 0xFFFFFFFF, rtc_us, strength, hits,
                              decoder_id=self.decoder_id)


class AsciiDevice:
    """A DIY reader printing one line per read, with the read's time from the session clock."""

    def __init__(self, passes: Iterable[TagPass], read_hz: float = 40.0,
                 pattern: str = DEFAULT_PATTERN, strays: Sequence[str] = (),
                 stray_hz: float = 5.0, seed: int = 0) -> None:
        self.pattern = pattern
        reads = []
        for index, p in enumerate(passes):
            for read in simulate_reads(p, read_hz, seed=seed + index):
                reads.append((read.time_s, read.tag, read.rssi_dbm, read.antenna))
        reads.sort()
        self._reads = reads
        self._cursor = 0
        self._strays = tuple(strays)
        self._stray_period_s = 1.0 / stray_hz
        self._next_stray_s: float | None = None

    def receive(self, data: bytes, now_s: float) -> None:
        """A DIY reader ignores what the host sends."""

    def due(self, now_s: float) -> bytes:
        """Lines for every read up to ``now_s``."""
        out = bytearray()
        while self._cursor < len(self._reads) and self._reads[self._cursor][0] <= now_s:
            time_s, tag, rssi, antenna = self._reads[self._cursor]
            out += format_line(tag, time_s, rssi, antenna, self.pattern)
            self._cursor += 1
        if self._strays:
            if self._next_stray_s is None:
                self._next_stray_s = now_s
            while self._next_stray_s <= now_s:
                for tag in self._strays:
                    out += format_line(tag, self._next_stray_s, STRAY_DBM, 1, self.pattern)
                self._next_stray_s += self._stray_period_s
        return bytes(out)


def make_device(protocol: str, passes: Iterable[TagPass], **options: object) -> object:
    """A device for ``protocol`` (``chafon``, ``chafon288``, ``p3``, ``ascii``)."""
    if protocol == "chafon":
        return ChafonDevice(passes, variant="18", **options)  # type: ignore[arg-type]
    if protocol == "chafon288":
        return ChafonDevice(passes, variant="288", **options)  # type: ignore[arg-type]
    if protocol == "p3":
        return P3Device(passes, **options)  # type: ignore[arg-type]
    if protocol == "ascii":
        return AsciiDevice(passes, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown protocol {protocol!r}")
