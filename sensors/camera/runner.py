"""The camera sensor's runtime: source + detector + slit-scans + health -> Crossings.

This is the shell around the pure detector, used by a sensor node: it pulls
frames from ``FrameSource``, feeds them to ``Detector``, turns each
``LineCrossing`` into a ``timing.values.Crossing`` on the session clock and
hands it to a callback. Frame times stay the source's (stream PTS or V4L2
buffer time); ``clock_offset_s`` maps them onto the session clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sensors.camera.aruco import BibReader
from sensors.camera.detector import Detector, LineCrossing
from sensors.camera.slit import SlitRecorder, save_png
from sensors.camera.source import FrameSource
from timing.values import Crossing

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """Health of one camera sensor, for the dashboard."""

    connected: bool
    fps_measured: float
    frames: int
    dropped_frames: int
    reconnects: int
    timestamp_source: str
    last_crossing_s: float | None
    crossings: int
    #: Processing time over footage time for the last ``LOAD_WINDOW`` frames:
    #: over 1 the node falls behind (a live source then drops frames).
    load: float | None = None
    #: Share of frames the background model found quiet (no full comparison).
    quiet_fraction: float = 0.0


#: Frames over which ``CameraHealth.load`` is measured (two seconds at 120 fps).
LOAD_WINDOW = 240


def to_crossing(c: LineCrossing, mark: str, sensor_id: str, clock_offset_s: float = 0.0,
                tag: str | None = None) -> Crossing:
    """A detector crossing as the event core's ``Crossing`` (direction kept in flags)."""
    return Crossing(
        mark=mark,
        time_s=c.time_s + clock_offset_s,
        tag=tag,
        source="camera",
        sensor_id=sensor_id,
        confidence=c.confidence,
        position=round(c.position, 4),
        flags=(*c.flags, f"direction:{c.direction_name}"),
    )


class CameraSensor:
    """Run one camera at one mark until the source ends or ``stop()`` is called."""

    def __init__(
        self,
        source: FrameSource,
        detector: Detector,
        mark: str,
        on_crossing: Callable[[Crossing], None],
        sensor_id: str = "camera",
        clock_offset_s: float = 0.0,
        slit_dir: str | Path | None = None,
        bibs: BibReader | None = None,
    ) -> None:
        self.source = source
        self.detector = detector
        self.mark = mark
        self.on_crossing = on_crossing
        self.sensor_id = sensor_id
        self.clock_offset_s = clock_offset_s
        self.slit_dir = Path(slit_dir) if slit_dir else None
        self.slits = SlitRecorder(detector.line) if self.slit_dir else None
        self.bibs = bibs
        self._stop = threading.Event()
        # (frame time, seconds of work) per frame; health() reads it from another thread.
        self._work: deque[tuple[float, float]] = deque(maxlen=LOAD_WINDOW)
        self._work_lock = threading.Lock()
        self._last_crossing_s: float | None = None
        self._count = 0
        self.slit_paths: list[Path] = []

    def stop(self) -> None:
        self._stop.set()
        self.source.close()

    def run(self) -> int:
        """Process frames until the end; returns the number of crossings emitted."""
        for frame in self.source.frames():
            if self._stop.is_set():
                break
            started = time.perf_counter()  # the work's cost only, never a timestamp
            found = self.detector.feed(frame.image, frame.time_s)
            self._write_slits(self.slits.feed(frame.image, frame.time_s) if self.slits else [])
            for c in found:
                tag = self._bib(frame.image, c)
                self._emit(c, tag)
            with self._work_lock:
                self._work.append((frame.time_s, time.perf_counter() - started))
        for c in self.detector.flush():
            self._emit(c, None)
        if self.slits:
            self._write_slits(self.slits.flush())
        return self._count

    def _emit(self, c: LineCrossing, tag: str | None) -> None:
        crossing = to_crossing(c, self.mark, self.sensor_id, self.clock_offset_s, tag)
        self._last_crossing_s = crossing.time_s
        self._count += 1
        if self.slits:
            self.slits.add(c.time_s, frames_seen_after=max(0, self.detector.frames - 1 - c.frame))
        try:
            self.on_crossing(crossing)
        except Exception:  # a broken consumer must not stop the camera
            log.exception("crossing callback failed")

    def _bib(self, image, c: LineCrossing) -> str | None:
        if self.bibs is None:
            return None
        x, y = self.detector.line.point(c.position)
        seen = self.bibs.read(image, around=(x, y), radius_px=0.5 * c.height_px + 20)
        return f"aruco:{seen[0].marker_id}" if seen else None

    def _write_slits(self, images) -> None:
        assert self.slit_dir is not None or not images
        for img in images:
            path = self.slit_dir / f"{self.sensor_id}_{img.crossing_time_s:.4f}.png"
            try:
                self.slit_paths.append(save_png(path, img))
            except OSError as exc:
                log.error("%s", exc)

    def health(self) -> CameraHealth:
        h = self.source.health()
        bg = self.detector.background
        return CameraHealth(
            connected=h.connected,
            fps_measured=h.fps_measured,
            frames=h.frames,
            dropped_frames=h.dropped_frames,
            reconnects=h.reconnects,
            timestamp_source=h.timestamp_source,
            last_crossing_s=self._last_crossing_s,
            crossings=self._count,
            load=self._load(),
            quiet_fraction=round(bg.quiet_frames / bg.frames, 3) if bg.frames else 0.0,
        )

    def _load(self) -> float | None:
        with self._work_lock:
            work = list(self._work)
        if len(work) < 2 or work[-1][0] <= work[0][0]:
            return None
        # Each frame's work against the footage time it stands for.
        span_s = (work[-1][0] - work[0][0]) * len(work) / (len(work) - 1)
        return round(sum(w for _, w in work) / span_s, 3)
