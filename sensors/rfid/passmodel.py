"""A tag passing an antenna: the received signal strength over time, with the truth known.

Used by the tests, the bench and the reader emulators, so every estimate can
be scored against the true crossing time.

The model, per pass (all parameters are fields of ``TagPass``):

* Geometry: the tag moves in a straight line at ``speed_m_s``; at the true
  crossing time ``crossing_s`` it is closest to the antenna, ``lateral_m``
  away. Along-track offset ``x = speed * (t - crossing)``.
* Mean power (dBm): backscatter falls with the fourth power of range,
  ``P1m - 40 log10(r / 1 m)``; the antenna pattern is ``cos(angle)^1.5`` each
  way; the tag's orientation on the body adds a constant ``orientation_db``;
  the runner's body shadows the tag once past the antenna by up to
  ``body_shadow_db`` (the bib faces forward), which skews the curve and pulls
  its peak slightly before the crossing, as real passes do.
* Multipath: a Rician channel (K factor ``rician_k``) built as a sum of
  scattered waves in space (Clarke's model at 915 MHz), applied both ways,
  so the fades are deep, come and go every few centimetres and are
  *correlated* between reads that are close in space (a fast reader gains
  less than its read rate suggests).
* Per-read noise ``read_noise_db`` and the reader's whole-dB quantisation.
* Reads: the reader attempts ``read_hz`` inventories a second (with 10 %
  jitter); an attempt succeeds with a probability that rises smoothly from
  0 to 1 around ``sensitivity_dbm`` (the tag must also power up).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

WAVELENGTH_M = 299_792_458.0 / 915e6
_SCATTERERS = 24


@dataclass(frozen=True, slots=True)
class TagPass:
    """One pass of one tag by one antenna, with its true crossing time (epoch seconds)."""

    tag: str
    crossing_s: float
    speed_m_s: float = 6.5
    lateral_m: float = 1.8
    antenna: int = 1
    p1m_dbm: float = -32.0
    orientation_db: float = 0.0
    body_shadow_db: float = 3.0
    rician_k: float = 10.0
    read_noise_db: float = 1.0
    sensitivity_dbm: float = -72.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class SimRead:
    """One simulated read: when, how strong (dBm, whole dB), by which antenna."""

    tag: str
    time_s: float
    rssi_dbm: float
    antenna: int = 1


class PassChannel:
    """The signal of one ``TagPass`` as a function of time (deterministic given its seed)."""

    def __init__(self, tag_pass: TagPass) -> None:
        self.tag_pass = tag_pass
        rng = random.Random(f"{tag_pass.seed}:{tag_pass.tag}:{tag_pass.crossing_s:.6f}")
        k = 2.0 * math.pi / WAVELENGTH_M
        self._waves = [
            (k * math.cos(rng.uniform(0.0, 2.0 * math.pi)), rng.uniform(0.0, 2.0 * math.pi))
            for _ in range(_SCATTERERS)
        ]
        self._los = math.sqrt(tag_pass.rician_k / (tag_pass.rician_k + 1.0))
        self._nlos = math.sqrt(1.0 / ((tag_pass.rician_k + 1.0) * _SCATTERERS))

    def offset_m(self, time_s: float) -> float:
        """Along-track position relative to the antenna (negative before crossing)."""
        return self.tag_pass.speed_m_s * (time_s - self.tag_pass.crossing_s)

    def mean_dbm(self, time_s: float) -> float:
        """The power without multipath or noise."""
        p = self.tag_pass
        x = self.offset_m(time_s)
        r = math.hypot(x, p.lateral_m)
        angle = math.atan2(x, p.lateral_m)
        pattern_db = 2.0 * 15.0 * math.log10(max(math.cos(angle), 0.05))
        shadow_db = -p.body_shadow_db / (1.0 + math.exp(-angle / 0.25))
        range_db = -40.0 * math.log10(max(r, 0.1))
        return p.p1m_dbm + range_db + pattern_db + p.orientation_db + shadow_db

    def fading_db(self, time_s: float) -> float:
        """Two-way Rician multipath gain in dB at the tag's position."""
        x = self.offset_m(time_s)
        re = self._los
        im = 0.0
        for kx, phase in self._waves:
            re += self._nlos * math.cos(kx * x + phase)
            im += self._nlos * math.sin(kx * x + phase)
        return 20.0 * math.log10(max(re * re + im * im, 1e-6))

    def read(self, time_s: float, rng: random.Random) -> float | None:
        """One inventory attempt at ``time_s``: the RSSI in whole dBm, or ``None`` if missed."""
        p = self.tag_pass
        level = self.mean_dbm(time_s) + self.fading_db(time_s)
        margin = level - p.sensitivity_dbm
        if margin < -12.0 or rng.random() >= 1.0 / (1.0 + math.exp(-margin / 1.5)):
            return None
        return float(round(level + rng.gauss(0.0, p.read_noise_db)))

    def window_s(self) -> tuple[float, float]:
        """A time span outside which the tag is certainly out of the field."""
        p = self.tag_pass
        half = 14.0 / max(p.speed_m_s, 0.1)  # beyond ~12 m the pattern and range end all reads
        return p.crossing_s - half, p.crossing_s + half


def simulate_reads(tag_pass: TagPass, read_hz: float, seed: int = 0) -> list[SimRead]:
    """Every read a reader polling at ``read_hz`` gets of ``tag_pass``, in time order."""
    channel = PassChannel(tag_pass)
    rng = random.Random(f"reads:{seed}:{tag_pass.seed}:{tag_pass.tag}:{tag_pass.crossing_s}")
    start_s, end_s = channel.window_s()
    period = 1.0 / read_hz
    t = start_s + rng.uniform(0.0, period)
    reads = []
    while t < end_s:
        rssi = channel.read(t, rng)
        if rssi is not None:
            reads.append(SimRead(tag_pass.tag, t, rssi, tag_pass.antenna))
        t += period * rng.uniform(0.9, 1.1)
    return reads


def random_pass(tag: str, crossing_s: float, rng: random.Random, antenna: int = 1) -> TagPass:
    """A pass with realistic spread: speed 5-8 m/s, 1-2.5 m away, tag orientation +-4 dB."""
    return TagPass(
        tag=tag,
        crossing_s=crossing_s,
        speed_m_s=rng.uniform(5.0, 8.0),
        lateral_m=rng.uniform(1.0, 2.5),
        antenna=antenna,
        orientation_db=rng.uniform(-4.0, 4.0),
        body_shadow_db=rng.uniform(1.0, 4.0),
        seed=rng.randrange(1 << 30),
    )
