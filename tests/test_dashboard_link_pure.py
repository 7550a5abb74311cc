"""The sensor link's pure parts: records, the ack buffer, backoff, clock offsets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.validate import crossing_from_payload
from sensors.link import Backoff, LinkBuffer, decode_crossing, encode_crossing
from timing.clock import best_sample, clock_sample
from timing.values import Crossing


def test_record_round_trips_and_moves_to_server_clock():
    c = Crossing(mark="back_turn", time_s=1000.0, tag="E200", source="rfid", sensor_id="r1",
                 confidence=0.75, flags=("weak",))
    record = encode_crossing(c, seq=7, offset_s=2.5)
    assert record["seq"] == 7 and record["time_s"] == 1002.5
    seq, back = decode_crossing(record)
    assert seq == 7 and back == Crossing(mark="back_turn", time_s=1002.5, tag="E200",
                                         source="rfid", sensor_id="r1", confidence=0.75,
                                         flags=("weak",))
    # the server's validator accepts exactly what the node sends
    assert crossing_from_payload(record) == back


def test_buffer_keeps_until_acked_and_is_bounded():
    buf = LinkBuffer(max_items=3)
    seqs = [buf.add(Crossing(mark="finish", time_s=float(i), athlete="a")) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert buf.dropped == 2 and [s for s, _ in buf.batch(10)] == [3, 4, 5]
    assert [s for s, _ in buf.batch(2)] == [3, 4]
    assert buf.ack([3, 99, None, "x"]) == 1
    assert [s for s, _ in buf.batch(10)] == [4, 5] and buf.acked == 1


def test_backoff_doubles_caps_and_resets():
    b = Backoff(initial_s=0.5, max_s=3.0)
    assert [b.next_delay_s() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay_s() == 0.5


@given(offset=st.floats(-1e4, 1e4), out_s=st.floats(0, 0.5), back_s=st.floats(0, 0.5),
       hold_s=st.floats(0, 0.01))
def test_clock_offset_error_is_bounded_by_half_the_delay(offset, out_s, back_s, hold_s):
    t0 = 1_700_000_000.0
    t1 = t0 + offset + out_s          # server clock = node clock + offset
    t2 = t1 + hold_s
    t3 = t2 - offset + back_s
    sample = clock_sample(t0, t1, t2, t3)
    assert sample.delay_s == pytest.approx(out_s + back_s, abs=1e-5)
    assert abs(sample.offset_s - offset) <= sample.error_bound_s + 1e-5
    if out_s == back_s:
        assert sample.offset_s == pytest.approx(offset, abs=1e-5)


def test_best_sample_is_the_lowest_delay():
    samples = [clock_sample(0, 10.2, 10.2, 0.6), clock_sample(0, 10.01, 10.01, 0.02),
               clock_sample(0, 10.5, 10.5, 0.3)]
    assert best_sample(samples) == samples[1]
    assert best_sample([]) is None
