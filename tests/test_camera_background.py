"""The background model's quiet path: skipped comparisons must not hide anything.

Strips are drawn here with numpy (a textured ground plus camera noise), so
each test controls exactly when and how much the picture changes.
"""

from __future__ import annotations

import numpy as np

from sensors.camera.background import BackgroundModel, BackgroundSettings

SHAPE = (41, 64, 3)


def _ground(rng: np.random.Generator) -> np.ndarray:
    """A red-brown track with grain (float, 0..255)."""
    base = np.array([60.0, 70.0, 150.0])
    return base + rng.normal(0.0, 6.0, SHAPE)


def _frame(ground: np.ndarray, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    noisy = ground * gain + rng.normal(0.0, 1.5, SHAPE)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _models() -> tuple[BackgroundModel, BackgroundModel]:
    """The default model, and one that compares every frame in full."""
    return BackgroundModel(), BackgroundModel(BackgroundSettings(full_every=1))


def test_an_empty_lane_is_mostly_quiet_and_a_newcomer_is_seen_on_its_first_frame():
    rng = np.random.default_rng(5)
    ground = _ground(rng)
    quick, full = _models()
    for _ in range(60):
        f = _frame(ground, rng)
        assert quick.apply(f).count == 0
        assert full.apply(f).count == 0
    # Most empty frames skip the comparison; a full one comes every full_every frames.
    assert 60 * 0.6 <= quick.quiet_frames <= 60 * 7 / 8
    assert full.quiet_frames == 0
    # A dark shirt (40 per channel darker, 10x12 samples) enters on one frame.
    f = _frame(ground, rng)
    f[15:25, 30:42] = np.clip(f[15:25, 30:42].astype(int) - 40, 0, 255).astype(np.uint8)
    seen, reference = quick.apply(f), full.apply(f)
    assert seen.count >= 120
    assert abs(seen.count - reference.count) <= 3
    assert seen.mask[15:25, 30:42].all()


def test_a_slow_creep_is_found_when_the_full_comparison_finds_it():
    """Each frame changes a little, but the quiet test compares with the last full frame."""
    rng = np.random.default_rng(6)
    ground = _ground(rng)
    quick, full = _models()
    first: dict[str, int] = {}
    for k in range(120):
        f = _frame(ground, rng).astype(int)
        if k >= 40:  # a patch darkens by 3 per channel per frame
            f[10:20, 10:22] -= 3 * (k - 40)
        f = np.clip(f, 0, 255).astype(np.uint8)
        for name, model in (("quick", quick), ("full", full)):
            if model.apply(f).count >= 60 and name not in first:
                first[name] = k
    assert set(first) == {"quick", "full"}
    assert abs(first["quick"] - first["full"]) <= 1


def test_light_that_changes_is_compared_in_full_and_compensated():
    rng = np.random.default_rng(7)
    ground = _ground(rng)
    quick = BackgroundModel()
    for _ in range(30):
        quick.apply(_frame(ground, rng))
    quiet_before = quick.quiet_frames
    for k in range(15):  # a cloud: 3 % darker per frame
        assert quick.apply(_frame(ground, rng, gain=1.0 - 0.03 * (k + 1))).count == 0
    # A frame 6 % away from the last full one has moved past the room of the
    # pixels: at most every other frame is quiet (full_every alone allows 13).
    assert quick.quiet_frames - quiet_before <= 8
