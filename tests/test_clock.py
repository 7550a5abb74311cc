"""NTP-style clock-offset arithmetic for remote sensor nodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timing.clock import ClockSample, OffsetFilter, offset_delay, to_server_time


def exchange(true_offset_s, out_s, back_s, server_s, t0=1000.0):
    """Four timestamps of an exchange with known offset (server - node) and leg times."""
    t1 = t0 + out_s + true_offset_s
    t2 = t1 + server_s
    t3 = t2 - true_offset_s + back_s
    return t0, t1, t2, t3


def test_symmetric_legs_give_the_exact_offset_and_round_trip():
    s = offset_delay(*exchange(2.5, 0.004, 0.004, 0.001))
    assert s.offset_s == pytest.approx(2.5, abs=1e-9)
    assert s.delay_s == pytest.approx(0.008, abs=1e-9)
    assert to_server_time(50.0, s.offset_s) == pytest.approx(52.5)


@given(st.floats(-3600, 3600), st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0, 0.1))
def test_the_error_never_exceeds_half_the_delay(offset, out_s, back_s, server_s):
    s = offset_delay(*exchange(offset, out_s, back_s, server_s))
    assert s.delay_s == pytest.approx(out_s + back_s, abs=1e-6)
    assert abs(s.offset_s - offset) <= s.error_bound_s + 1e-6


@pytest.mark.parametrize("times, message", [
    ((10.0, 5.0, 5.1, 9.0), "arrived before"),
    ((10.0, 5.2, 5.1, 11.0), "answered before"),
    ((float("nan"), 5.0, 5.1, 11.0), "t0 must be a finite"),
])
def test_inconsistent_timestamps_are_refused_in_plain_words(times, message):
    with pytest.raises(ValueError, match=message):
        offset_delay(*times)


def test_filter_trusts_the_lowest_delay_and_notices_a_clock_step():
    f = OffsetFilter(window=4, step_s=0.5)
    with pytest.raises(LookupError):
        f.best()
    f.add(offset_delay(*exchange(1.0, 0.05, 0.01, 0.0)))  # asymmetric, delay 60 ms
    f.add(offset_delay(*exchange(1.0, 0.002, 0.002, 0.0)))  # tight
    f.add(offset_delay(*exchange(1.0, 0.2, 0.02, 0.0)))
    assert f.offset_s == pytest.approx(1.0, abs=1e-6)
    assert f.best().delay_s == pytest.approx(0.004)
    best = f.add(offset_delay(*exchange(31.0, 0.003, 0.003, 0.0)))  # node clock jumped
    assert f.steps == 1 and best.offset_s == pytest.approx(31.0, abs=1e-6)
    assert isinstance(best, ClockSample)
