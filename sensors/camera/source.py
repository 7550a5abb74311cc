"""Frames with their capture times: the only module that touches cv2.VideoCapture.

Where a frame's time comes from, best first:

1. a timestamps file (one time in seconds per frame, for recorded footage);
2. the stream or device: ``CAP_PROP_POS_MSEC`` after ``read()`` is the
   container PTS for files and network streams and the V4L2 buffer time
   (taken by the driver when the frame was captured) for USB cameras;
3. only if the backend gives nothing usable: the frame index over the
   nominal fps (files) or the monotonic clock when the frame arrived (live,
   reported as ``timestamp_source="arrival"`` in health, because it includes
   the transport's delay).

Times of a file start at 0 for its first frame (the PTS of the first frame is
subtracted) unless a timestamps file says otherwise. Gaps larger than 1.5
nominal frame periods are counted as dropped frames and logged.

Live sources (a device index or a URL) are read by a thread that keeps only
the newest frames, ``max_lag_s`` of them at the stream's rate (0.25 s, or
``queue_frames`` if given), so a slow consumer's latency stays bounded (the
frames it skips are counted as dropped). Not fewer: a runner in the strip
costs the detector several times an empty frame, and a queue of a frame or
two would drop the frames around the crossing on a machine that keeps up
on average but not during the passage. When a live source
fails, it is reopened with capped exponential backoff (0.5 s doubling to
``reconnect_max_s``). For RTSP/HTTP, FFmpeg's buffering is cut down through
``OPENCV_FFMPEG_CAPTURE_OPTIONS`` unless you set it yourself (see
docs/camera.md).
"""

from __future__ import annotations

import collections
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: FFmpeg options for low-delay network capture (used unless the variable is set).
LOW_DELAY_FFMPEG_OPTIONS = "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay|max_delay;0"


class SourceError(RuntimeError):
    """A frame source that cannot be opened or read, explained in plain words."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: BGR pixels, capture time (s) and index from 0."""

    image: np.ndarray
    time_s: float
    index: int


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What a source reports: is it delivering, how fast, what it lost."""

    connected: bool
    frames: int
    fps_measured: float
    dropped_frames: int
    gaps: int
    reconnects: int
    timestamp_source: str
    last_frame_s: float | None


def parse_source(spec: str | int) -> int | str:
    """A device index (``"0"`` or ``0``), else a file path or URL, unchanged."""
    if isinstance(spec, int):
        return spec
    text = str(spec).strip()
    if not text:
        raise SourceError("no video source given")
    return int(text) if text.isdigit() else text


def is_live(spec: int | str) -> bool:
    """Device indices and network URLs are live; anything else is a recorded file."""
    if isinstance(spec, int):
        return True
    return "://" in spec and not spec.startswith("file://")


#: The first line of a Matroska timestamps file (values in milliseconds).
_MATROSKA_HEADER = re.compile(r"\s*#\s*time(code|stamp)s?\s+format\s+v[24]\b", re.IGNORECASE)


def read_timestamps(path: str | Path) -> list[float]:
    """Read a timestamps file: one time in seconds per line (``#`` comments allowed).

    A file that starts with Matroska's header ``# timestamp format v2`` (or
    ``v4``, or the older ``# timecode format v2``), as ``mkvextract`` and
    ffmpeg's ``mkvtimestamp_v2`` muxer write, holds milliseconds instead: the
    format recorded footage most often comes with. Raises ``SourceError``
    naming the line if a value is not a number or the times go backwards.
    """
    times: list[float] = []
    scale = 1.0
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not times and _MATROSKA_HEADER.match(raw):
                scale = 0.001
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                value = float(text.split(",")[0].split()[0]) * scale
            except ValueError:
                raise SourceError(f"{path}:{lineno}: {text!r} is not a time in seconds") from None
            if not math.isfinite(value):
                raise SourceError(f"{path}:{lineno}: {text!r} is not a finite time")
            if times and value <= times[-1]:
                raise SourceError(
                    f"{path}:{lineno}: time {value} is not after the previous one ({times[-1]})"
                )
            times.append(value)
    if not times:
        raise SourceError(f"{path}: no timestamps in the file")
    return times


class FrameSource:
    """Iterate ``Frame`` values from a device, a file or a stream URL.

    >>> with FrameSource("clip.mp4") as src:          # doctest: +SKIP
    ...     for frame in src.frames():
    ...         ...
    """

    def __init__(
        self,
        spec: str | int,
        timestamps: list[float] | None = None,
        live: bool | None = None,
        queue_frames: int | None = None,
        reconnect_max_s: float = 10.0,
        max_lag_s: float = 0.25,
    ) -> None:
        self.spec = parse_source(spec)
        self.live = is_live(self.spec) if live is None else live
        self.timestamps = timestamps
        self.reconnect_max_s = reconnect_max_s
        self.queue_frames = queue_frames
        self.max_lag_s = max_lag_s
        self._queue: collections.deque[Frame] = collections.deque(maxlen=max(1, queue_frames or 2))
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._frames = 0
        self._dropped = 0
        self._gaps = 0
        self._reconnects = 0
        self._ts_source = "file" if timestamps else "stream"
        self._last_t: float | None = None
        self._period_s: float | None = None
        self._rate_times: collections.deque[float] = collections.deque(maxlen=64)
        self._t0: float | None = None
        if isinstance(self.spec, str) and "://" in self.spec:
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", LOW_DELAY_FFMPEG_OPTIONS)

    # -- context --------------------------------------------------------------

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reader thread (live) and release the capture."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    # -- reading --------------------------------------------------------------

    def frames(self) -> Iterator[Frame]:
        """Frames in capture order; ends at the end of a file or after ``close()``."""
        if not self.live:
            yield from self._read_file()
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._reader, name="camera-reader", daemon=True)
            self._thread.start()
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait(timeout=0.5)
                if self._stop.is_set():
                    return
                frame = self._queue.popleft()
            yield frame

    def health(self) -> SourceHealth:
        times = list(self._rate_times)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        fps = (len(times) - 1) / span if span > 0 else 0.0
        return SourceHealth(
            connected=self._connected,
            frames=self._frames,
            fps_measured=round(fps, 2),
            dropped_frames=self._dropped,
            gaps=self._gaps,
            reconnects=self._reconnects,
            timestamp_source=self._ts_source,
            last_frame_s=self._last_t,
        )

    def _open(self) -> cv2.VideoCapture:
        if isinstance(self.spec, str) and not self.live and not Path(self.spec).exists():
            raise SourceError(f"video file {self.spec} does not exist")
        cap = cv2.VideoCapture(self.spec)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video source {self.spec!r}")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._period_s = 1.0 / fps if fps and 1.0 <= fps <= 10000.0 else None
        return cap

    def _read_file(self) -> Iterator[Frame]:
        cap = self._open()
        self._connected = True
        index = 0
        try:
            while True:
                ok, image = cap.read()
                if not ok or image is None:
                    break
                if self.timestamps is not None:
                    if index >= len(self.timestamps):
                        log.warning(
                            "%s has more frames than the timestamps file (%d): stopping",
                            self.spec, len(self.timestamps),
                        )
                        break
                    t = self.timestamps[index]
                else:
                    t = self._stream_time(cap, index)
                self._account(t)
                yield Frame(image, t, index)
                index += 1
        finally:
            cap.release()
            self._connected = False

    def _stream_time(self, cap: cv2.VideoCapture, index: int) -> float:
        pts_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        if pts_ms is not None and math.isfinite(pts_ms) and (pts_ms > 0 or index == 0):
            t = pts_ms / 1000.0
            if self._t0 is None:
                self._t0 = t
            t -= self._t0
            if self._last_t is None or t > self._last_t:
                return t
        self._ts_source = "index"
        period = self._period_s or 1.0 / 30.0
        return index * period if self._last_t is None else self._last_t + period

    def _account(self, t: float) -> None:
        """Count frames, detect gaps (dropped frames) and keep the rate window."""
        if self._last_t is not None and self._period_s:
            dt = t - self._last_t
            if dt > 1.5 * self._period_s:
                missing = int(round(dt / self._period_s)) - 1
                if missing > 0:
                    self._gaps += 1
                    self._dropped += missing
                    log.warning(
                        "gap of %.1f ms before the frame at %.4f s: about %d frame(s) dropped",
                        dt * 1000.0, t, missing,
                    )
        self._last_t = t
        self._frames += 1
        self._rate_times.append(t)

    # -- live -----------------------------------------------------------------

    def _reader(self) -> None:
        backoff = 0.5
        index = 0
        while not self._stop.is_set():
            try:
                cap = self._open()
            except SourceError as exc:
                log.warning("%s; retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2.0, self.reconnect_max_s)
                self._reconnects += 1
                continue
            self._connected = True
            backoff = 0.5
            self._t0 = None
            if self.queue_frames is None:
                self._size_queue()
            try:
                while not self._stop.is_set():
                    arrival = time.monotonic()
                    ok, image = cap.read()
                    if not ok or image is None:
                        log.warning("video source %r stopped delivering frames", self.spec)
                        break
                    t = self._live_time(cap, arrival)
                    self._account(t)
                    with self._cond:
                        if len(self._queue) == self._queue.maxlen:
                            self._dropped += 1
                        self._queue.append(Frame(image, t, index))
                        self._cond.notify()
                    index += 1
            finally:
                cap.release()
                self._connected = False
            if not self._stop.is_set():
                self._reconnects += 1
                self._stop.wait(backoff)
                backoff = min(backoff * 2.0, self.reconnect_max_s)

    @property
    def queue_capacity(self) -> int:
        """Frames a live source holds for a consumer that falls behind."""
        return self._queue.maxlen or 1

    def _size_queue(self) -> None:
        """``max_lag_s`` of frames at the stream's nominal rate (30 fps if it says none)."""
        fps = 1.0 / self._period_s if self._period_s else 30.0
        size = max(2, int(round(self.max_lag_s * fps)))
        with self._cond:
            if size != self._queue.maxlen:
                self._queue = collections.deque(self._queue, maxlen=size)

    def _live_time(self, cap: cv2.VideoCapture, arrival_s: float) -> float:
        """Live frame time on the monotonic clock.

        V4L2 buffer times already are monotonic-clock times; a stream's PTS
        is anchored once per connection (offset = arrival - PTS of its first
        frame), so later frames keep the stream's own spacing, free of
        network jitter.
        """
        pts_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        if pts_ms and math.isfinite(pts_ms) and pts_ms > 0:
            t_stream = pts_ms / 1000.0
            if self._t0 is None:
                offset = arrival_s - t_stream
                self._t0 = 0.0 if abs(offset) < 1.0 else offset
            t = t_stream + self._t0
            if self._last_t is None or t > self._last_t:
                self._ts_source = "stream"
                return t
        self._ts_source = "arrival"
        return arrival_s
