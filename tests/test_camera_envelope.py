"""Torso timing from leading-edge profiles: sub-sample edges, arms in front, walkers that meet."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.camera.detector import Detector
from sensors.camera.edges import both_leading_edges
from sensors.camera.envelope import fit_crossing, torso_band
from sensors.camera.line import Line
from sensors.camera.render import RunnerSpec, Scene, render_frames
from sensors.camera.scenes import random_runner


@pytest.mark.parametrize("edge_row", [20.0, 20.3, 20.75])
def test_leading_edge_is_where_a_blurred_edge_falls_through_half_its_contrast(edge_row):
    rows = np.arange(40, dtype=np.float64)[:, None]
    # A body from row 5 up to edge_row, contrast 120, edge blurred over about 2 rows.
    profile = 120.0 * np.clip(edge_row + 0.5 - rows, 0.0, 1.0)
    diff = np.repeat(np.convolve(profile[:, 0], [0.25, 0.5, 0.25], "same")[:, None], 3, axis=1)
    diff[:5] = 0.0
    mask = (diff > 30.0).astype(np.uint8)
    [(plus, minus)] = both_leading_edges(diff, mask)
    # Half contrast lies half a row past the last row fully covered.
    assert np.allclose(plus, edge_row, atol=0.15)
    assert np.all(minus < 6.0)
    [(empty_plus, _)] = both_leading_edges(np.zeros((10, 4)), np.zeros((10, 4), np.uint8))
    assert np.isnan(empty_plus).all()


def _profiles(t_star: float, speed: float, times: np.ndarray, rng) -> np.ndarray:
    """Leading edges (px past the line) of a body 100 columns tall, head at column 0.

    Torso front at columns 14-50 (rounded), head ahead of it at 0-12, a forearm
    15 px ahead at columns 28-31 in every frame, another arm swinging in and
    out at 18-24, legs behind; plus noise and one frame where the shirt was lost.
    """
    cols = np.arange(100)
    torso = np.where((cols >= 14) & (cols <= 50), -0.004 * (cols - 22.0) ** 2, np.nan)
    out = np.full((len(times), 100), np.nan)
    for k, t in enumerate(times):
        base = speed * (t - t_star)
        e = base + torso
        e[0:12] = base + 3.0                              # a head leading the torso
        e[28:32] = base + 15.0                            # forearm held in front, always
        if np.sin(25.0 * t) > -0.3:
            e[18:25] = np.maximum(e[18:25], base + 10.0)  # a swinging arm, mostly in front
        e[55:100] = base - 20.0 + 10.0 * np.sin(20.0 * t + cols[55:100] / 9.0)  # legs
        e += rng.normal(0.0, 0.2, 100)
        if k == 5:
            e[14:50] -= 6.0                               # shirt blended into the ground
        out[k] = e
    return out


@pytest.mark.parametrize("fps", [30.0, 120.0])
def test_envelope_times_the_torso_not_the_arms_or_the_head(fps):
    rng = np.random.default_rng(3)
    t_star, speed = 10.0123, 600.0
    times = 10.0 + (np.arange(-6, 7) if fps == 30.0 else np.arange(-24, 25)) / fps
    edges = _profiles(t_star, speed, times, rng)
    band = torso_band(0.0, 100.0, True, 100)
    assert band[0] >= 12 and band[1] <= 52
    fit = fit_crossing(times, edges, band, t_ref_s=10.0, sample_px=2.0)
    assert fit is not None
    assert abs(fit.speed_px_s - speed) < 0.03 * speed
    # The naive front (largest edge over the band) is the forearm, 25 ms early.
    assert abs(fit.time_s - t_star) < 0.0015
    assert 14 <= fit.column <= 27


def test_two_walkers_meeting_at_the_line_in_flickering_light_are_not_a_crossing():
    rng = np.random.default_rng(44)
    walkers = tuple(
        random_runner(rng, 0.9 + 0.05 * i, 240, lane=1 + i, walker=True, direction=d)
        for i, d in enumerate((1, -1))
    )
    scene = Scene(width=320, height=240, fps=30, duration_s=1.8, runners=walkers,
                  light_ramp=-0.2, flicker=0.06, readout_s=0.02, shake_px=0.8, noise_sigma=3.0,
                  seed=44)
    det = Detector(Line(*scene.line))
    found = []
    for frame, t in render_frames(scene):
        found += det.feed(frame, t)
    assert found + det.flush() == []
    # A runner in the same light is still timed.
    runner = RunnerSpec(crossing_s=0.9, speed_m_s=6.0, ground_y_px=walkers[0].ground_y_px,
                        px_per_m=walkers[0].px_per_m)
    det = Detector(Line(*scene.line))
    found = []
    for frame, t in render_frames(Scene(**{**_fields(scene), "runners": (runner,)})):
        found += det.feed(frame, t)
    found += det.flush()
    assert len(found) == 1 and abs(found[0].time_s - 0.9) < 0.5 / scene.fps


def _fields(scene: Scene) -> dict:
    return {name: getattr(scene, name) for name in Scene.__slots__}
