"""The background at start-up: what the first second of strips agrees on, not the first frame.

Theory of operation. A background model has to start from something. The
first frame is the obvious choice and the wrong one whenever a runner is
already in the strip when the camera (or a recorded clip) starts: the
runner is learned into the scene, and as they move on, the patch they
uncover looks like a body that stands still while the real body is only
partly seen. On 200 rendered clips whose runner reaches the line 0.05-0.25 s
after the first frame (30-240 fps), 23 were missed and 53 flagged.

Things move: over a second, each strip pixel shows the ground in more
frames than it shows any one colour of a passer-by. So the detector holds
the strips of the first ``bootstrap_s`` seconds, starts the background from
the value most of them agree on per pixel (15 strips spread over that time;
``most_supported``), and then processes the held strips in order, exactly
as if they had just arrived (a few per new frame, detector.py
``CATCH_UP_STRIPS``). The per-pixel median would do for runners, but
not for a walker who covers a pixel for more than half of the time: the
median then is the walker's shirt, and the ghost left behind gave false
crossings (2 in 100 empty scenes at 1 s, 3 at 0.5 s; none with the most
supported value at 1 s). Crossings in that first second are reported up
to about two seconds late (once, at start-up); after that nothing is held. The
strips are small (``max_samples_along`` samples along the line), so a
second at 240 frames per second is about 10 MB.

Something that stands in the strip for most of the start-up time (a runner
waiting at the line) is learned into the background either way; it is
taken out of it as it moves off, as before.

Pure numpy and OpenCV, no clock: time comes in with the strips.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensors.camera.background import channel_sum

#: At most this many strips, spread over the held ones, give the background.
STARTUP_STRIPS = 15
#: Two samples of a pixel agree within this colour distance (sum over B, G, R):
#: about 3 standard deviations of the difference of two samples at sensor noise 4.
SUPPORT_TOLERANCE = 30.0
#: Never hold more strips than this, whatever the timestamps say.
MAX_HELD = 512


@dataclass(frozen=True, slots=True)
class HeldStrip:
    """One frame's strip, waiting for the start-up background."""

    strip: np.ndarray
    t_s: float
    index: int
    image_height: int


class StartupBuffer:
    """Hold strips until ``span_s`` of footage is in; then give the background they agree on."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self.held: list[HeldStrip] = []

    def add(self, held: HeldStrip) -> bool:
        """Hold one strip (all of one shape); True once enough footage is in."""
        self.held.append(held)
        return (held.t_s - self.held[0].t_s >= self.span_s or len(self.held) >= MAX_HELD)

    def background(self) -> np.ndarray:
        """Per pixel, the value most of up to ``STARTUP_STRIPS`` held strips agree on (uint8)."""
        if not self.held:
            raise ValueError("no strips held")
        n = len(self.held)
        picks = np.unique(np.linspace(0, n - 1, min(n, STARTUP_STRIPS)).round().astype(int))
        return most_supported([self.held[i].strip for i in picks], SUPPORT_TOLERANCE)


def most_supported(strips: list[np.ndarray], tolerance: float) -> np.ndarray:
    """Per pixel, the mean of the largest group of samples within ``tolerance`` of one of them.

    Each sample's support is how many samples (itself included) lie within
    ``tolerance`` of it (colour distance summed over the channels); the best
    supported sample and its group win. A pixel under a walker's shirt for
    more than half the time still shows the ground in more samples than any
    one colour of the walker's (shirt, then arm, then shorts pass over it).
    """
    k = len(strips)
    shape = strips[0].shape[:2]
    close = np.zeros((k, k, *shape), bool)
    for i in range(k):
        close[i, i] = True
        for j in range(i + 1, k):
            distance = cv2.absdiff(strips[i], strips[j])
            if distance.ndim == 3:
                distance = channel_sum(distance)
            close[i, j] = close[j, i] = distance < tolerance
    best = close.sum(axis=1).argmax(axis=0)  # (H, W): the best supported sample
    members = np.take_along_axis(close, best[None, None], axis=0)[0]  # (K, H, W)
    stack = np.stack(strips).astype(np.float32)
    weight = members.astype(np.float32).reshape(members.shape + (1,) * (stack.ndim - 3))
    mean = (stack * weight).sum(axis=0) / weight.sum(axis=0)
    return np.clip(mean + 0.5, 0, 255).astype(np.uint8)
