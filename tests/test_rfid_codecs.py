"""The reader codecs against real captures and documented vectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensors.rfid.ascii import AsciiCodec, format_line, parse_pattern
from sensors.rfid.chafon import ChafonCodec, ChafonFramer, frame
from sensors.rfid.crc import crc16_mcrf4xx, crc16_p3
from sensors.rfid.events import (
    NEED_DATA,
    DecoderStatus,
    FrameError,
    InventoryRequest,
    TagRead,
)
from sensors.rfid.p3 import P3Codec, encode_passing, encode_record, encode_status

DATA = Path(__file__).resolve().parent / "data"
AMB = DATA / "mylaps-p3" / "amb.out"
FRAMES_MD = DATA / "chafon" / "frames.md"


def drain(codec) -> list:
    events = []
    while (event := codec.next_event()) is not NEED_DATA:
        events.append(event)
    return events


def feed(codec, chunks, at_s: float = 100.0) -> list:
    events = []
    for chunk in chunks:
        codec.receive_data(chunk, at_s)
        events += drain(codec)
    return events


def chafon_vectors() -> dict[str, list[bytes]]:
    text = FRAMES_MD.read_text()
    r18 = text.split("## UHFReader18")[1].split("## UHFReader288")[0]
    r288 = text.split("## UHFReader288")[1]
    grab = lambda s: [bytes.fromhex(h) for h in re.findall(r"^([0-9a-f]{10,})$", s, re.M)]  # noqa: E731
    return {"18": grab(r18), "288": grab(r288)}


# -- CRCs ------------------------------------------------------------------


def test_crc_check_values():
    assert crc16_mcrf4xx(b"123456789") == 0x6F91
    # The documented UHFReader18 inventory command: 04 FF 01 then CRC 1B B4.
    assert crc16_mcrf4xx(bytes.fromhex("04FF01")) == 0xB41B


def test_every_chafon_vector_crc_checks():
    vectors = chafon_vectors()
    assert len(vectors["18"]) == 3 and len(vectors["288"]) == 6
    for raw in vectors["18"] + vectors["288"]:
        assert raw[0] == len(raw) - 1
        crc = crc16_mcrf4xx(raw[:-2])
        assert raw[-2:] == bytes((crc & 0xFF, crc >> 8))


def test_every_amb_record_crc_checks_with_the_table_form():
    lines = AMB.read_text().split()
    assert len(lines) == 1388
    ok = 0
    for line in lines:
        wire = bytes.fromhex(line)
        record = bytearray(P3Codec.__module__ and _unescape(wire))
        crc = int.from_bytes(record[4:6], "little")
        record[4:6] = b"\0\0"
        ok += crc16_p3(record) == crc
    assert ok == 1388


def _unescape(wire: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(wire):
        if wire[i] == 0x8D:
            out.append(wire[i + 1] - 0x20)
            i += 2
        else:
            out.append(wire[i])
            i += 1
    return bytes(out)


# -- Chafon ----------------------------------------------------------------


def test_chafon_18_vectors_decode():
    events = feed(ChafonCodec("18"), chafon_vectors()["18"])
    assert [e.tag for e in events] == [
        "000000000000000000000313", "49440000000000000A000334",
        "000000000000000000000313", "000000000000000000000314",
    ]
    assert all(isinstance(e, TagRead) and e.rssi is None for e in events)


def test_chafon_288_vectors_decode():
    events = feed(ChafonCodec("288"), chafon_vectors()["288"])
    reads = [e for e in events if isinstance(e, TagRead)]
    assert [(r.tag, r.antenna, r.rssi) for r in reads] == [
        ("000000000000000000000313", 1, 0x6B),
        ("3039606303C74380001A0559", 1, 0x40),
        ("49440000000000000A000334", 3, 0x64),
        ("00323038", 1, 0x6D),
        ("000000000000000000000313", 1, 0x6B),
        ("000000000000000000000314", 1, 0x6C),
    ]
    statuses = [e for e in events if isinstance(e, DecoderStatus)]
    assert [(s.code, dict(s.fields)["round_tags"]) for s in statuses] == [(1, 0)]
    assert not [e for e in events if isinstance(e, FrameError)]


@pytest.mark.parametrize("variant", ["18", "288"])
def test_chafon_split_at_every_offset_gives_the_same_events(variant):
    stream = b"".join(chafon_vectors()[variant])
    whole = feed(ChafonCodec(variant), [stream])
    for cut in range(1, len(stream)):
        assert feed(ChafonCodec(variant), [stream[:cut], stream[cut:]]) == whole
    assert feed(ChafonCodec(variant), [bytes((b,)) for b in stream]) == whole


def test_chafon_commands_match_the_documented_bytes():
    assert ChafonCodec("18").send(InventoryRequest()) == bytes.fromhex("04FF011BB4")
    cmd = ChafonCodec("288").send(InventoryRequest(antenna=2, scan_time_ds=10, q_value=4))
    assert cmd[0] == 0x0D and cmd[2] == 0x01 and cmd[3:12] == bytes(
        (4, 0, 1, 0, 0, 0, 0, 0x81, 10))
    assert crc16_mcrf4xx(cmd[:-2]) == int.from_bytes(cmd[-2:], "little")


def test_chafon_resyncs_after_noise_and_a_bad_crc():
    good = chafon_vectors()["288"][0]
    bad = bytearray(good)
    bad[8] ^= 0xFF
    events = feed(ChafonCodec("288"), [b"\xc8\x01\x02" + bytes(bad) + good])
    errors = [e for e in events if isinstance(e, FrameError)]
    reads = [e for e in events if isinstance(e, TagRead)]
    assert len(reads) == 1 and reads[0].tag == "000000000000000000000313"
    assert sum(e.skipped for e in errors) == 3 + len(bad)


def test_chafon_big_length_garbage_does_not_stall_a_complete_frame():
    good = chafon_vectors()["18"][0]
    events = feed(ChafonCodec("18"), [b"\xf0" + good])
    assert [type(e) for e in events] == [FrameError, TagRead]


def test_chafon_round_time_is_the_middle_of_the_round():
    codec = ChafonCodec("288")
    codec.send(InventoryRequest(), at_s=10.0)
    codec.receive_data(chafon_vectors()["288"][0], 10.2)
    read = drain(codec)[0]
    assert read.time_s == pytest.approx(10.1) and read.arrival_s == 10.2


def test_chafon_malformed_inventory_data_is_an_error_not_a_crash():
    # CRC is right but Num says 2 tags and only one follows.
    raw = frame(0, 0x01, bytes((0x01, 0x01, 0x02, 0x02, 0xAA, 0xBB, 0x50)))
    events = feed(ChafonCodec("288"), [raw])
    assert len(events) == 1 and isinstance(events[0], FrameError)
    assert "malformed" in events[0].reason


def test_chafon_framer_reads_host_commands():
    framer = ChafonFramer(min_len=4)
    framer.receive_data(bytes.fromhex("04FF011BB4"), 0.0)
    assert framer.next_frame() == bytes.fromhex("04FF011BB4")
    assert framer.next_frame() is None


# -- P3 --------------------------------------------------------------------


def amb_events(chunks=None) -> list:
    codec = P3Codec()
    if chunks is None:
        chunks = [bytes.fromhex(line) for line in AMB.read_text().split()]
    return feed(codec, chunks)


def test_amb_capture_decodes_completely():
    events = amb_events()
    passings = [e for e in events if isinstance(e, TagRead)]
    statuses = [e for e in events if isinstance(e, DecoderStatus)]
    assert not [e for e in events if isinstance(e, FrameError)]
    assert len(passings) == 84 and len(statuses) == 1304
    assert {s.text for s in statuses} == {"STATUS"}
    numbers = [dict(p.extra)["passing_number"] for p in passings]
    assert numbers == sorted(numbers) and len(set(numbers)) == 84
    for p in passings:
        assert p.tag.isdigit() and int(p.tag) > 0
        assert 1_500_000_000 < p.time_s < 1_600_000_000  # the capture is from 2019
        assert p.rssi is not None and 50 < p.rssi < 1000
        assert p.hits >= 1
        assert dict(p.extra)["decoder_id"] == "00041813"
    times = [p.time_s for p in passings]
    assert 3600 < max(times) - min(times) < 4 * 3600  # about 1.6 h of racing


def test_amb_first_passing_fields():
    # 8e02 3300 06c1 0000 0100 | 01 04 56680200 | 03 04 403d3200 | 04 08 782798bc1e830500 ...
    lines = AMB.read_text().split()
    first = next(line for line in lines if line.startswith("8e02330006c1"))
    (event,) = amb_events([bytes.fromhex(first)])
    assert event.tag == str(0x00323D40)
    assert dict(event.extra)["passing_number"] == 0x00026856
    assert event.time_s == pytest.approx(0x0005831EBC982778 / 1e6)
    assert (event.rssi, event.hits) == (0xAE, 0x29)


def test_amb_escaped_crc_bytes_decode():
    # Five records carry 0x8D escapes (in the CRC and in the passing number).
    lines = [line for line in AMB.read_text().split() if "8d" in line[2:-2]]
    assert len(lines) >= 3
    events = amb_events([bytes.fromhex(line) for line in lines])
    assert len(events) == len(lines) and not any(isinstance(e, FrameError) for e in events)


def test_amb_byte_split_and_whole_stream_agree():
    stream = bytes.fromhex("".join(AMB.read_text().split()))
    whole = amb_events([stream])
    assert len(whole) == 1388
    chunked = amb_events([stream[i : i + 7] for i in range(0, len(stream), 7)])
    assert chunked == whole
    head = stream[:400]
    reference = amb_events([head])
    for cut in range(1, len(head)):
        assert amb_events([head[:cut], head[cut:]]) == reference


def test_p3_encoder_round_trips_and_escapes():
    wire = encode_passing(0x8D8E8F, 0x8E, 1_700_000_000_123_456, 170, 33)
    assert wire.count(0x8E) == 1 and wire.count(0x8F) == 1
    (event,) = amb_events([wire])
    assert event.tag == "142" and event.time_s == pytest.approx(1_700_000_000.123456)
    assert dict(event.extra)["passing_number"] == 0x8D8E8F
    (status,) = amb_events([encode_status(noise=44)])
    assert dict(status.fields)["noise"] == 44


def test_p3_errors_resync():
    good = encode_passing(1, 5, 1_700_000_000_000_000, 100, 10)
    corrupt = bytearray(good)
    corrupt[12] ^= 0x01
    cut = good[:15]
    unknown = encode_record(0x0003, [(0x01, b"\x13")])
    events = amb_events([b"junk" + bytes(corrupt) + cut + good + unknown + b"\x8f\x00"])
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("TagRead") == 1 and kinds.count("DecoderStatus") == 1
    assert kinds.count("FrameError") == 4
    assert [e for e in events if isinstance(e, DecoderStatus)][0].text == "VERSION"


# -- ASCII -----------------------------------------------------------------


def test_ascii_default_pattern_and_errors():
    codec = AsciiCodec()
    lines = (b"E200001,1712345678123,-52\r\n# comment\n\nbad line\nX,12,abc\n"
             + format_line("T9", 1712345679.5, -40.0))
    events = feed(codec, [lines], at_s=5.0)
    assert [type(e).__name__ for e in events] == ["TagRead", "FrameError", "FrameError",
                                                  "TagRead"]
    assert events[0] == TagRead("E200001", 1712345678.123, -52.0, 1, 1, 5.0)
    assert events[3].time_s == pytest.approx(1712345679.5)
    assert "expected 3 fields" in events[1].reason


def test_ascii_bare_cr_line_ends_and_split_crlf():
    """Firmwares that end lines with CR alone must not lose every read to the overlong rule."""
    codec = AsciiCodec()
    events = feed(codec, [b"A,1000,-50\rB,2000,-51\r" * 40, b"C,3000,-52\r", b"\nD,4000,-53\n"])
    tags = [e.tag for e in events if isinstance(e, TagRead)]
    assert tags == ["A", "B"] * 40 + ["C", "D"]
    assert not any(isinstance(e, FrameError) for e in events)


def test_ascii_custom_pattern_without_time_uses_arrival():
    codec = AsciiCodec("ANT;TAG;RSSI")
    events = feed(codec, [b"2;ABC;-61\n"], at_s=42.0)
    assert events == [TagRead("ABC", 42.0, -61.0, 2, 1, 42.0)]


@pytest.mark.parametrize("pattern", ["TAG,,RSSI", "TAG,WHEN", "RSSI,EPOCH_MS", "TAG,RSSI;ANT",
                                     "TAG,EPOCH_MS,EPOCH_S"])
def test_ascii_bad_patterns_are_refused_in_words(pattern):
    with pytest.raises(ValueError, match="pattern|field"):
        parse_pattern(pattern)


def test_ascii_overlong_garbage_is_dropped():
    codec = AsciiCodec()
    events = feed(codec, [b"x" * 600, b"A,1000,-50\n"])
    assert isinstance(events[0], FrameError) and events[-1].tag == "A"
