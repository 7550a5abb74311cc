"""Fuzzing every decoder: random bytes, truncations, bad CRCs, noise, arbitrary splits.

A decoder on a live line must never raise, must keep its buffer bounded and
must find every intact frame again after whatever garbage came before it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.rfid.ascii import AsciiCodec, format_line
from sensors.rfid.chafon import ChafonCodec, frame
from sensors.rfid.events import NEED_DATA, DecoderStatus, FrameError, TagRead
from sensors.rfid.p3 import P3Codec, encode_passing, encode_status

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

CODECS = {
    "chafon18": lambda: ChafonCodec("18"),
    "chafon288": lambda: ChafonCodec("288"),
    "p3": P3Codec,
    "ascii": AsciiCodec,
}


def run(codec, chunks):
    events = []
    for chunk in chunks:
        codec.receive_data(chunk, 1.0)
        while (event := codec.next_event()) is not NEED_DATA:
            assert isinstance(event, TagRead | DecoderStatus | FrameError)
            if isinstance(event, FrameError):
                assert event.skipped > 0 and event.reason
            events.append(event)
    return events


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


# -- frames of each protocol --------------------------------------------------

epc = st.binary(min_size=2, max_size=12)


@st.composite
def chafon288_frame(draw):
    tags = draw(st.lists(st.tuples(epc, st.integers(0, 255)), min_size=1, max_size=4))
    body = bytes((1, len(tags))) + b"".join(bytes((len(e),)) + e + bytes((r,)) for e, r in tags)
    status = draw(st.sampled_from([0x01, 0x03]))
    return frame(0, 0x01, bytes((status,)) + body), [e.hex().upper() for e, _ in tags]


@st.composite
def chafon18_frame(draw):
    tags = draw(st.lists(epc, min_size=1, max_size=4))
    body = bytes((len(tags),)) + b"".join(bytes((len(e),)) + e for e in tags)
    return frame(0, 0x01, bytes((0x01,)) + body), [e.hex().upper() for e in tags]


@st.composite
def p3_frame(draw):
    transponder = draw(st.integers(1, 2**32 - 1))
    number = draw(st.integers(0, 2**32 - 1))
    wire = encode_passing(number, transponder, draw(st.integers(0, 2**62)),
                          draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF)))
    return wire, [str(transponder)]


@st.composite
def ascii_frame(draw):
    tag = draw(st.text("0123456789ABCDEF", min_size=1, max_size=24))
    return format_line(tag, draw(st.floats(0, 2e9)), draw(st.integers(-90, 0))), [tag]


FRAMES = {"chafon18": chafon18_frame(), "chafon288": chafon288_frame(), "p3": p3_frame(),
          "ascii": ascii_frame()}
#: Noise that can sit between frames. ASCII noise must end its line: a DIY
#: reader's garbage is lost with the line it is on, nothing more.
NOISE = {name: st.binary(max_size=40) for name in ("chafon18", "chafon288", "p3")}
NOISE["ascii"] = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\n")


# -- properties -----------------------------------------------------------------


def _random_bytes_never_crash(name):
    @FUZZ
    @given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 4000), max_size=20))
    def prop(data, cuts):
        codec = CODECS[name]()
        run(codec, split(data, cuts))
        assert codec.buffered <= 2048

    return prop


test_random_bytes_chafon18 = _random_bytes_never_crash("chafon18")
test_random_bytes_chafon288 = _random_bytes_never_crash("chafon288")
test_random_bytes_p3 = _random_bytes_never_crash("p3")
test_random_bytes_ascii = _random_bytes_never_crash("ascii")


def _frames_survive_noise(name):
    @FUZZ
    @given(items=st.lists(st.tuples(NOISE[name], FRAMES[name]), min_size=1, max_size=6),
           cuts=st.lists(st.integers(0, 10_000), max_size=30))
    def prop(items, cuts):
        stream = b"".join(noise + wire for noise, (wire, _tags) in items)
        expected = [tag for _noise, (_wire, tags) in items for tag in tags]
        events = run(CODECS[name](), split(stream, cuts))
        got = [e.tag for e in events if isinstance(e, TagRead)]
        # Every intact frame is found, in order (noise may add nothing but errors).
        it = iter(got)
        assert all(tag in it for tag in expected), (expected, got)
        assert len(got) == len(expected)

    return prop


test_noise_chafon18 = _frames_survive_noise("chafon18")
test_noise_chafon288 = _frames_survive_noise("chafon288")
test_noise_p3 = _frames_survive_noise("p3")
test_noise_ascii = _frames_survive_noise("ascii")


def _damaged_frames_lose_only_themselves(name):
    @FUZZ
    @given(frames=st.lists(FRAMES[name], min_size=2, max_size=5), victim=st.integers(0, 4),
           mode=st.sampled_from(["truncate", "flip"]), where=st.integers(1, 10_000),
           bit=st.integers(0, 7), cuts=st.lists(st.integers(0, 10_000), max_size=10))
    def prop(frames, victim, mode, where, bit, cuts):
        victim %= len(frames)
        wires = [w for w, _ in frames]
        bad = bytearray(wires[victim])
        if mode == "truncate":
            bad = bad[: max(1, where % len(bad))]
            if name == "ascii":
                bad = bad.rstrip(b"\r\n") + b"\n"
        else:
            pos = 1 + where % (len(bad) - 2)
            if name == "ascii" and bad[pos : pos + 1] in (b"\r", b"\n"):
                pos = 0
            bad[pos] ^= 1 << bit
            if name == "ascii" and bad.count(b"\n") != 1:
                return  # a flip that made a new line ending: not this property
        wires[victim] = bytes(bad)
        events = run(CODECS[name](), split(b"".join(wires), cuts))
        got = [e.tag for e in events if isinstance(e, TagRead)]
        survivors = [t for i, (_w, tags) in enumerate(frames) if i != victim for t in tags]
        it = iter(got)
        assert all(tag in it for tag in survivors), (survivors, got)
        if name != "ascii":  # a CRC catches every damaged binary frame
            assert len(got) == len(survivors)

    return prop


test_damage_chafon18 = _damaged_frames_lose_only_themselves("chafon18")
test_damage_chafon288 = _damaged_frames_lose_only_themselves("chafon288")
test_damage_p3 = _damaged_frames_lose_only_themselves("p3")
test_damage_ascii = _damaged_frames_lose_only_themselves("ascii")


@FUZZ
@given(noise=st.binary(max_size=30), cuts=st.lists(st.integers(0, 500), max_size=10))
def test_p3_status_records_survive_noise(noise, cuts):
    stream = noise + encode_status(noise=40) + noise + encode_status(noise=41)
    events = run(P3Codec(), split(stream, cuts))
    assert [dict(e.fields)["noise"] for e in events if isinstance(e, DecoderStatus)] == [40, 41]
