"""An articulated 2-D runner (side view) for the test-footage renderer.

Body coordinates are metres: x forward, y up, origin on the ground under the
hip. ``pose`` returns named polygons at one instant. The torso is rigid (a
leaned, rounded box from hip to shoulder) and moves at constant speed, so the
instant its most forward point reaches the line is known exactly; arms, legs
and head swing around it and often lead it, as on a real track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class BodyShape:
    """Proportions of one runner (metres, degrees); ``height_m`` scales everything."""

    height_m: float = 1.75
    torso_depth_m: float = 0.26
    lean_deg: float = 8.0
    stride_hz: float = 3.2
    phase: float = 0.0
    arm_swing_deg: float = 55.0
    leg_swing_deg: float = 45.0
    bounce_m: float = 0.03
    walker: bool = False


def _rot(v: tuple[float, float], deg: float) -> tuple[float, float]:
    """Rotate ``v`` forward (clockwise in x-forward/y-up coordinates) by ``deg``."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return (v[0] * c + v[1] * s, -v[0] * s + v[1] * c)


def capsule(p0, p1, w0: float, w1: float, n: int = 6) -> np.ndarray:
    """Polygon of a tapered limb from ``p0`` (width ``w0``) to ``p1`` (width ``w1``)."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    ang = math.atan2(dy, dx)
    pts = []
    for k in range(n + 1):
        a = ang + math.pi / 2 + math.pi * k / n
        pts.append((p0[0] + 0.5 * w0 * math.cos(a), p0[1] + 0.5 * w0 * math.sin(a)))
    for k in range(n + 1):
        a = ang - math.pi / 2 + math.pi * k / n
        pts.append((p1[0] + 0.5 * w1 * math.cos(a), p1[1] + 0.5 * w1 * math.sin(a)))
    return np.array(pts, dtype=np.float64)


def torso_polygon(shape: BodyShape, hip_y_m: float) -> np.ndarray:
    """The torso outline: a rounded box (superellipse) from hip to shoulder, leaned."""
    k = shape.height_m / 1.75
    half_len = 0.28 * k
    half_dep = 0.5 * shape.torso_depth_m * k
    lean = 0.0 if shape.walker else shape.lean_deg
    pts = []
    for i in range(48):
        a = 2 * math.pi * i / 48
        c, s = math.cos(a), math.sin(a)
        # Superellipse with exponent 3: a box with well-rounded corners.
        along = half_len * math.copysign(abs(c) ** (2 / 3), c)
        across = half_dep * math.copysign(abs(s) ** (2 / 3), s)
        vx, vy = _rot((across, along + half_len), lean)
        pts.append((vx, hip_y_m + vy))
    return np.array(pts, dtype=np.float64)


def torso_front_m(shape: BodyShape) -> float:
    """How far the torso's most forward point is ahead of the hip (metres)."""
    return float(torso_polygon(shape, 0.0)[:, 0].max())


def pose(shape: BodyShape, t_s: float) -> dict[str, list[np.ndarray]]:
    """Named body parts, each a list of polygons (metres, body coordinates), at ``t_s``.

    Keys, in drawing order: ``far_leg``, ``far_arm``, ``torso``, ``neck``,
    ``head``, ``near_leg``, ``near_arm``.
    """
    k = shape.height_m / 1.75
    w = 2 * math.pi * shape.stride_hz * t_s + shape.phase
    bounce = 0.0 if shape.walker else shape.bounce_m * k * math.cos(2 * w)
    hip_y = 0.90 * k + bounce
    lean = 0.0 if shape.walker else shape.lean_deg
    torso = torso_polygon(shape, hip_y)
    axis = _rot((0.0, 1.0), lean)
    top = (axis[0] * 0.56 * k, hip_y + axis[1] * 0.56 * k)
    shoulder = (axis[0] * 0.50 * k, hip_y + axis[1] * 0.50 * k)
    neck_top = (top[0] + axis[0] * 0.08 * k, top[1] + axis[1] * 0.08 * k)
    head_c = (neck_top[0] + 0.02 * k, neck_top[1] + 0.10 * k)
    head = capsule(head_c, (head_c[0] + 0.01 * k, head_c[1] + 0.02 * k), 0.20 * k, 0.19 * k, 10)
    neck = capsule(top, neck_top, 0.11 * k, 0.11 * k)
    parts: dict[str, list[np.ndarray]] = {}
    arm_amp = shape.arm_swing_deg * (0.5 if shape.walker else 1.0)
    leg_amp = shape.leg_swing_deg * (0.55 if shape.walker else 1.0)
    for side, sgn in (("near", 1.0), ("far", -1.0)):
        a_up = lean + sgn * arm_amp * math.sin(w)
        elbow = _add(shoulder, _rot((0.0, -0.30 * k), -a_up))
        flex = 20.0 if shape.walker else 85.0
        hand = _add(elbow, _rot((0.0, -0.27 * k), -(a_up + flex)))
        parts[f"{side}_arm"] = [
            capsule(shoulder, elbow, 0.09 * k, 0.075 * k),
            capsule(elbow, hand, 0.075 * k, 0.06 * k),
        ]
        a_th = -sgn * leg_amp * math.sin(w)
        hip = (0.0, hip_y)
        knee = _add(hip, _rot((0.0, -0.46 * k), -a_th))
        knee_flex = 15.0 + (60.0 if not shape.walker else 15.0) * max(0.0, math.sin(w - sgn * 1.2))
        ankle = _add(knee, _rot((0.0, -0.46 * k), -(a_th - knee_flex)))
        toe = _add(ankle, (0.14 * k, -0.02 * k))
        parts[f"{side}_leg"] = [
            capsule(hip, knee, 0.16 * k, 0.11 * k),
            capsule(knee, ankle, 0.11 * k, 0.07 * k),
            capsule(ankle, toe, 0.07 * k, 0.05 * k),
        ]
    return {
        "far_leg": parts["far_leg"],
        "far_arm": parts["far_arm"],
        "torso": [torso],
        "neck": [neck],
        "head": [head],
        "near_leg": parts["near_leg"],
        "near_arm": parts["near_arm"],
    }


def _add(p, v):
    return (p[0] + v[0], p[1] + v[1])
