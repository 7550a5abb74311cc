"""Test footage: articulated runners crossing a line, with known crossing times.

``render_frames(scene)`` yields ``(frame, t_s)`` in memory; ``render_clip``
writes the same frames to a real encoded video file through
``cv2.VideoWriter`` (mp4v or MJPG) and returns the ground truth. The camera
looks across the track from the side: lanes are horizontal bands, nearer
lanes lower and bigger; the finish line is vertical at ``line_x``.

What makes the footage hard, each a setting of ``Scene``: motion blur (the
exposure is integrated from sub-frame renders; a frame's time is the middle
of its exposure), arms and knees that lead the torso, forward lean, cast
shadows, light ramps (clouds) and mains flicker (with a rolling-shutter
readout it turns into bands), sensor noise, camera shake, and the codec.

Ground truth: a torso moves rigidly at constant speed, so the instant its
most forward point reaches the line is exactly ``RunnerSpec.crossing_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sensors.camera.body import BodyShape, pose, torso_front_m

_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass(frozen=True, slots=True)
class RunnerSpec:
    """One body in the scene: when its torso reaches the line, how, and where."""

    crossing_s: float
    speed_m_s: float = 7.0
    #: +1 moves left to right in the image, -1 right to left.
    direction: int = 1
    ground_y_px: float = 300.0
    px_per_m: float = 120.0
    shape: BodyShape = field(default_factory=BodyShape)
    shirt_bgr: tuple[int, int, int] = (40, 40, 200)
    shorts_bgr: tuple[int, int, int] = (30, 30, 30)
    skin_bgr: tuple[int, int, int] = (90, 120, 170)
    aruco_id: int | None = None


@dataclass(frozen=True, slots=True)
class Scene:
    """A clip to render. Times are on the clip's own timeline."""

    width: int = 640
    height: int = 360
    fps: float = 60.0
    #: Time of the first frame (middle of its exposure).
    start_s: float = 0.0
    duration_s: float = 1.5
    line_x: float | None = None
    exposure_s: float = 0.001
    runners: tuple[RunnerSpec, ...] = ()
    noise_sigma: float = 2.0
    light_ramp: float = 0.0
    flicker: float = 0.0
    flicker_hz: float = 100.0
    readout_s: float = 0.0
    shake_px: float = 0.0
    shadows: bool = True
    seed: int = 0

    @property
    def line(self) -> tuple[float, float, float, float]:
        """The finish line as X1,Y1,X2,Y2: top to bottom of the frame."""
        x = self.width / 2.0 if self.line_x is None else self.line_x
        return (x, 0.0, x, float(self.height - 1))

    @property
    def n_frames(self) -> int:
        return int(round(self.duration_s * self.fps))


@dataclass(frozen=True, slots=True)
class TruthCrossing:
    """Where and when a runner's torso really reached the line."""

    time_s: float
    position: float
    direction_name: str
    runner: int
    walker: bool


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a clip contains: runner crossings (walkers listed apart) and its frame times."""

    crossings: tuple[TruthCrossing, ...]
    walkers: tuple[TruthCrossing, ...]
    frame_times_s: tuple[float, ...]
    line: tuple[float, float, float, float]
    fps: float


def ground_truth(scene: Scene) -> GroundTruth:
    """The known crossings of ``scene`` (no rendering needed)."""
    runners, walkers = [], []
    for i, r in enumerate(scene.runners):
        k = r.shape.height_m / 1.75
        centre_y = r.ground_y_px - (0.90 + 0.28) * k * r.px_per_m
        tc = TruthCrossing(
            time_s=r.crossing_s,
            position=float(np.clip(centre_y / (scene.height - 1), 0.0, 1.0)),
            direction_name="left_to_right" if r.direction > 0 else "right_to_left",
            runner=i,
            walker=r.shape.walker,
        )
        (walkers if r.shape.walker else runners).append(tc)
    times = tuple(scene.start_s + k / scene.fps for k in range(scene.n_frames))
    runners.sort(key=lambda c: c.time_s)
    return GroundTruth(tuple(runners), tuple(walkers), times, scene.line, scene.fps)


def render_clip(path: str | Path, scene: Scene, codec: str = "mp4v") -> GroundTruth:
    """Write ``scene`` as an encoded video (``mp4v`` in .mp4, ``MJPG`` in .avi)."""
    if len(codec) != 4:
        raise ValueError(f"codec must be a FourCC like mp4v or MJPG, got {codec!r}")
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*codec), scene.fps, (scene.width, scene.height)
    )
    if not writer.isOpened():
        raise OSError(f"cannot write {path} with codec {codec}")
    try:
        for frame, _ in render_frames(scene):
            writer.write(frame)
    finally:
        writer.release()
    return ground_truth(scene)


def render_frames(scene: Scene) -> Iterator[tuple[np.ndarray, float]]:
    """Yield ``(frame_bgr_uint8, t_s)`` for every frame of ``scene``."""
    rng = np.random.default_rng(scene.seed)
    base = background_image(scene.width, scene.height, rng)
    noise_bank = [
        rng.normal(0.0, scene.noise_sigma, (scene.height, scene.width, 3)).astype(np.float32)
        for _ in range(6 if scene.noise_sigma > 0 else 0)
    ]
    sun = (rng.uniform(-0.7, 0.7), rng.uniform(0.08, 0.16))
    rows = np.arange(scene.height, dtype=np.float32) / max(1, scene.height - 1)
    line_x = scene.line[0]
    # The far lanes first: a nearer runner hides a farther one, whatever the scene's order.
    by_depth = sorted(scene.runners, key=lambda r: r.ground_y_px)
    for k in range(scene.n_frames):
        t = scene.start_s + k / scene.fps
        acc = None
        n_sub = _substeps(scene)
        for j in range(n_sub):
            ts = t + scene.exposure_s * ((j + 0.5) / n_sub - 0.5)
            img = base.copy()
            if scene.shadows:
                _draw_shadows(img, scene, ts, line_x, sun)
            for r in by_depth:
                _draw_runner(img, r, ts, line_x)
            acc = img.astype(np.float32) if acc is None else acc + img
        assert acc is not None
        frame = acc / n_sub if n_sub > 1 else acc
        progress = (t - scene.start_s) / max(scene.duration_s, 1e-6)
        gain = 1.0 + scene.light_ramp * progress
        if scene.flicker:
            phase = 2 * math.pi * scene.flicker_hz * (t + (rows - 0.5) * scene.readout_s)
            gain_rows = gain * (1.0 + scene.flicker * np.sin(phase))
            frame *= gain_rows[:, None, None]
        elif gain != 1.0:
            frame *= gain
        if noise_bank:
            frame += noise_bank[int(rng.integers(len(noise_bank)))]
        out = np.clip(frame, 0, 255).astype(np.uint8)
        if scene.shake_px:
            dx, dy = rng.uniform(-scene.shake_px, scene.shake_px, 2)
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            out = cv2.warpAffine(out, m, (scene.width, scene.height), borderMode=cv2.BORDER_REFLECT)
        yield out, t


def _substeps(scene: Scene) -> int:
    fastest = max((r.speed_m_s * r.px_per_m for r in scene.runners), default=0.0)
    return int(min(16, max(1, math.ceil(fastest * scene.exposure_s / 0.5))))


def background_image(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A side view of a track: stands and sky, infield grass, red lanes with white lines."""
    img = np.zeros((height, width, 3), np.float32)
    horizon = int(height * rng.uniform(0.18, 0.3))
    grass_end = int(height * rng.uniform(0.36, 0.45))
    img[:horizon] = rng.uniform(120, 200, 3)
    for _ in range(max(8, width // 20)):
        x, w = int(rng.integers(0, width)), int(rng.integers(4, max(5, width // 12)))
        y, h = int(rng.integers(0, max(1, horizon))), int(rng.integers(3, max(4, horizon)))
        img[y : y + h, x : x + w] = rng.uniform(40, 230, 3)
    img[horizon:grass_end] = (60, 140, 70) + rng.uniform(-15, 15, 3)
    track = np.array([70, 90, 175]) + rng.uniform(-15, 15, 3)
    img[grass_end:] = track
    texture = cv2.GaussianBlur(rng.normal(0, 10, (height, width)).astype(np.float32), (0, 0), 1.5)
    img += texture[..., None]
    n_lanes = 5
    for i in range(n_lanes + 1):
        y = grass_end + (height - grass_end) * (i / n_lanes) ** 1.3
        thick = max(1, int(round(1 + 2 * i / n_lanes)))
        cv2.line(img, (0, int(y)), (width - 1, int(y)), (225, 225, 225), thick, cv2.LINE_AA)
    mid = int(width / 2)
    cv2.line(img, (mid, grass_end), (mid, height - 1), (235, 235, 235), 2, cv2.LINE_AA)
    return np.clip(img, 0, 255).astype(np.uint8)


def lane_ground(scene_height: int, lane: int, n_lanes: int = 5) -> tuple[float, float]:
    """(ground y px, px per metre) for a runner in ``lane`` (1 = nearest, bottom)."""
    grass_end = 0.40 * scene_height
    frac = 1.0 - (lane - 0.5) / n_lanes
    ground_y = grass_end + (scene_height - grass_end) * frac**1.3
    px_per_m = scene_height * 0.20 * (0.55 + 0.45 * ground_y / scene_height) / 0.8
    return float(ground_y), float(px_per_m)


def _hip_x(r: RunnerSpec, t: float, line_x: float) -> float:
    front_px = torso_front_m(r.shape) * r.px_per_m
    return line_x - r.direction * front_px + r.direction * r.speed_m_s * r.px_per_m * (
        t - r.crossing_s
    )


def _to_image(poly: np.ndarray, r: RunnerSpec, hip_x: float) -> np.ndarray:
    x = hip_x + r.direction * poly[:, 0] * r.px_per_m
    y = r.ground_y_px - poly[:, 1] * r.px_per_m
    return np.round(np.stack([x, y], axis=1) * _ONE).astype(np.int32)


def _draw_runner(img: np.ndarray, r: RunnerSpec, t: float, line_x: float) -> None:
    hip_x = _hip_x(r, t, line_x)
    if hip_x < -3 * r.px_per_m or hip_x > img.shape[1] + 3 * r.px_per_m:
        return
    parts = pose(r.shape, t)
    far = tuple(int(c * 0.75) for c in r.skin_bgr)
    colours = {
        "far_leg": far,
        "far_arm": far,
        "torso": r.shirt_bgr,
        "neck": r.skin_bgr,
        "head": r.skin_bgr,
        "near_leg": r.skin_bgr,
        "near_arm": r.skin_bgr,
    }
    for name, polys in parts.items():
        pts = [_to_image(p, r, hip_x) for p in polys]
        cv2.fillPoly(img, pts, colours[name], cv2.LINE_AA, _SHIFT)
        if name == "torso":
            _draw_shorts(img, r, parts["torso"][0], hip_x)
    _draw_bib(img, r, parts["torso"][0], hip_x)


def _draw_shorts(img: np.ndarray, r: RunnerSpec, torso: np.ndarray, hip_x: float) -> None:
    low = torso[torso[:, 1] < torso[:, 1].min() + 0.12 * r.shape.height_m / 1.75]
    if len(low) >= 3:
        cv2.fillPoly(img, [_to_image(low, r, hip_x)], r.shorts_bgr, cv2.LINE_AA, _SHIFT)


def _draw_bib(img: np.ndarray, r: RunnerSpec, torso: np.ndarray, hip_x: float) -> None:
    """An ArUco bib on the chest, facing the camera (drawn over the arms)."""
    if r.aruco_id is None:
        return
    cx = hip_x + r.direction * float(torso[:, 0].mean()) * r.px_per_m
    cy = r.ground_y_px - float(torso[:, 1].mean()) * r.px_per_m
    side = int(0.16 * r.px_per_m * r.shape.height_m / 1.75)
    if side < 12:
        return
    marker = cv2.aruco.generateImageMarker(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50), r.aruco_id, side
    )
    quiet = cv2.copyMakeBorder(marker, side // 6, side // 6, side // 6, side // 6,
                               cv2.BORDER_CONSTANT, value=255)
    h, w = quiet.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    if x0 < 0 or y0 < 0 or x0 + w > img.shape[1] or y0 + h > img.shape[0]:
        return
    img[y0 : y0 + h, x0 : x0 + w] = quiet[..., None]


def _draw_shadows(img: np.ndarray, scene: Scene, t: float, line_x: float, sun) -> None:
    mask = np.zeros(img.shape[:2], np.uint8)
    for r in scene.runners:
        hip_x = _hip_x(r, t, line_x)
        if hip_x < -3 * r.px_per_m or hip_x > img.shape[1] + 3 * r.px_per_m:
            continue
        for polys in pose(r.shape, t).values():
            for p in polys:
                q = p.copy()
                q[:, 0] = q[:, 0] + r.direction * sun[0] * q[:, 1]
                q[:, 1] = -sun[1] * q[:, 1]
                cv2.fillPoly(mask, [_to_image(q, r, hip_x)], 255, cv2.LINE_AA, _SHIFT)
    if mask.any():
        soft = cv2.GaussianBlur(mask, (5, 5), 0).astype(np.float32) / 255.0
        img[:] = (img * (1.0 - 0.45 * soft[..., None])).astype(np.uint8)
