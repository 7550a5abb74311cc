"""Scenes for the tests, the bench and the demo: random runners, walkers and pairs.

Kept apart from ``render.py`` (which draws any scene and knows its truth):
these say what footage is worth drawing, the renderer how. Every scene is
drawn from a seeded ``numpy`` generator, so a seed names a clip.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sensors.camera.body import BodyShape
from sensors.camera.render import RunnerSpec, Scene, lane_ground

__all__ = ["close_pair_scene", "random_runner", "random_scene", "window_scene"]


def random_runner(
    rng: np.random.Generator,
    crossing_s: float,
    scene_height: int,
    lane: int | None = None,
    walker: bool = False,
    speed_m_s: float | None = None,
    direction: int | None = None,
) -> RunnerSpec:
    """A runner (or walker) with random build, colours, speed (4-9 m/s), lean and gait."""
    lane = int(rng.integers(1, 4)) if lane is None else lane
    ground_y, px_per_m = lane_ground(scene_height, lane)
    if speed_m_s is None:
        speed_m_s = float(rng.uniform(0.8, 1.5) if walker else rng.uniform(4.0, 9.0))
    shape = BodyShape(
        height_m=float(rng.uniform(1.55, 1.95)),
        torso_depth_m=float(rng.uniform(0.22, 0.30)),
        lean_deg=float(rng.uniform(0.0, 15.0)),
        stride_hz=float(rng.uniform(1.6, 2.0) if walker else 2.6 + 0.12 * speed_m_s),
        phase=float(rng.uniform(0, 2 * math.pi)),
        arm_swing_deg=float(rng.uniform(40, 65)),
        leg_swing_deg=float(rng.uniform(35, 50)),
        walker=walker,
    )

    def colour(lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]

    return RunnerSpec(
        crossing_s=crossing_s,
        speed_m_s=speed_m_s,
        direction=int(rng.choice([-1, 1])) if direction is None else direction,
        ground_y_px=ground_y,
        px_per_m=px_per_m,
        shape=shape,
        shirt_bgr=colour(),
        shorts_bgr=colour(0, 120),
        skin_bgr=colour(60, 200),
    )


def random_scene(
    rng: np.random.Generator,
    kind: str = "single",
    width: int = 640,
    height: int = 360,
    fps: float = 60.0,
    duration_s: float = 1.2,
    harsh: bool = False,
) -> Scene:
    """A random scene of one ``kind``: single, pair, occlusion or empty.

    ``harsh`` adds longer exposure (motion blur), flicker with rolling-shutter
    bands, a light ramp, more noise and shake.
    """
    mid = duration_s / 2 + float(rng.uniform(-0.1, 0.1))
    runners: list[RunnerSpec]
    if kind == "single":
        runners = [random_runner(rng, mid, height)]
    elif kind == "pair":
        d = int(rng.choice([-1, 1]))
        a = random_runner(rng, mid, height, lane=1, direction=d)
        b = random_runner(rng, mid + float(rng.uniform(0.06, 0.15)), height, lane=4, direction=d)
        runners = [a, b]
    elif kind == "occlusion":
        d = int(rng.choice([-1, 1]))
        far = random_runner(rng, mid, height, lane=3, direction=d, speed_m_s=6.0)
        near = random_runner(rng, mid + float(rng.uniform(0.02, 0.06)), height, lane=1,
                             direction=d, speed_m_s=8.5)
        runners = [far, near]
    elif kind == "empty":
        runners = [
            random_runner(rng, float(rng.uniform(0.2, duration_s - 0.2)), height, walker=True)
            for _ in range(int(rng.integers(1, 3)))
        ]
    else:
        raise ValueError(f"unknown scene kind {kind!r}")
    scene = Scene(
        width=width,
        height=height,
        fps=fps,
        duration_s=duration_s,
        runners=tuple(runners),
        noise_sigma=float(rng.uniform(1.0, 3.0)),
        seed=int(rng.integers(1 << 31)),
    )
    if harsh or kind == "empty":
        scene = replace(
            scene,
            exposure_s=float(rng.uniform(0.002, 0.006)) if harsh else scene.exposure_s,
            light_ramp=float(rng.uniform(-0.3, 0.3)),
            flicker=float(rng.uniform(0.03, 0.08)),
            readout_s=float(rng.uniform(0.0, 0.8 / fps)),
            noise_sigma=float(rng.uniform(2.0, 4.0)),
            shake_px=float(rng.uniform(0.3, 1.0)),
        )
    return scene


def close_pair_scene(rng: np.random.Generator, fps: float = 60.0, height: int = 360) -> Scene:
    """Two runners in two random lanes whose torsos reach the line within one frame.

    The hardest case for a camera: the same frames, bodies overlapping along
    the line when their lanes are adjacent, touching when they are not.
    """
    d = int(rng.choice([-1, 1]))
    lane_a, lane_b = (int(x) for x in rng.choice([1, 2, 3, 4], 2, replace=False))
    mid = 0.5 + float(rng.uniform(-0.05, 0.05))
    delta = float(rng.uniform(-1.0, 1.0)) / fps
    a = random_runner(rng, mid, height, lane=lane_a, direction=d)
    b = random_runner(rng, mid + delta, height, lane=lane_b, direction=d)
    return Scene(height=height, fps=fps, duration_s=1.0, runners=(a, b), noise_sigma=2.0,
                 seed=int(rng.integers(1 << 31)))


def window_scene(
    crossings_s: list[float],
    seed: int = 0,
    fps: float = 60.0,
    width: int = 640,
    height: int = 360,
    before_s: float = 0.6,
    after_s: float = 0.4,
) -> Scene:
    """A short clip around given crossing times (the demo's finish-line window).

    Frames run from ``min(crossings_s) - before_s`` to ``max + after_s`` on the
    caller's timeline, one random runner per crossing, in lanes 1, 2, 3, ...
    """
    if not crossings_s:
        raise ValueError("window_scene needs at least one crossing time")
    rng = np.random.default_rng(seed)
    runners = tuple(
        random_runner(rng, t, height, lane=1 + (i % 4), direction=1)
        for i, t in enumerate(sorted(crossings_s))
    )
    start = min(crossings_s) - before_s
    return Scene(
        width=width,
        height=height,
        fps=fps,
        start_s=start,
        duration_s=max(crossings_s) + after_s - start,
        runners=runners,
        seed=seed,
    )
