"""The camera detector's values: the settings it is given and the crossings it gives.

Kept apart from ``detector.py`` (the stateful frame loop) so the runner,
the CLI and the node can name them without the loop's machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensors.camera.background import BackgroundSettings


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """How the detector looks at the line; defaults need no knowledge of the scene."""

    #: Strip reach on each side of the line; None = 0.3 x the line's length.
    half_width_px: float | None = None
    #: At most this many samples along the line (bounds the cost per frame).
    max_samples_along: int = 160
    #: Rolling shutter: time from the first image row's exposure to the last one's.
    readout_s: float = 0.0
    #: Tracks slower than this (body heights per second) are walkers, not runners.
    min_speed_heights_per_s: float = 1.2
    #: Bodies shorter than this fraction of the line are ignored (birds, litter).
    min_height_fraction: float = 0.06
    #: Frames to wait after the torso reaches the line before solving for the time.
    after_frames: int = 4
    #: How many frames nearest the line the crossing time is solved from.
    fit_frames: int = 8
    #: Which quantile of the per-frame crossing estimates is the first guess (see _solve).
    envelope_quantile: float = 0.75
    #: Frames within this time of the crossing feed the leading-edge envelope (envelope.py);
    #: the crossing is reported once this much footage after it is in (or the track ends).
    envelope_window_s: float = 0.2
    #: The background starts from what this much footage's strips agree on; they are
    #: then processed in order (startup.py). 0: it starts as the first frame.
    bootstrap_s: float = 1.0
    background: BackgroundSettings = field(default_factory=BackgroundSettings)


@dataclass(frozen=True, slots=True)
class LineCrossing:
    """One torso crossing, on the timeline of the frames fed in.

    ``frame`` is the index (from 0, counting frames fed) of the first frame
    taken after the torso reached the line. ``position`` is 0..1 along the
    line from its first point. ``direction`` is +1 or -1 along the line's
    normal and ``direction_name`` says it in words. ``speed_px_s`` is the
    torso's speed across the line and ``height_px`` the body's size along it.
    """

    time_s: float
    frame: int
    position: float
    direction: int
    direction_name: str
    confidence: float
    flags: tuple[str, ...]
    speed_px_s: float
    height_px: float
    track_id: int
