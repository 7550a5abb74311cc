"""The RFID reader runtime: transport + codec + polling + bursts + reconnects + health.

One ``RfidReader`` owns one reader connection in one thread. Its loop, at
every turn: (re)opens the port when needed (capped exponential backoff),
sends an inventory command when a polled reader is due and not busy with a
previous round, reads what arrived (stamped with the injected ``clock``),
feeds the codec, hands tag reads to the burst estimator under the mark of
their antenna, decides quiet bursts and calls back with ``Crossing`` values.
Garbage is counted and logged, never fatal; a reader that stops answering
polls (or a P3 decoder that stops sending STATUS) is treated as unplugged.

Time: ``clock`` (default ``time.time``) gives session time in epoch
seconds. The loop itself paces in real time (``poll_hz`` is polls per real
second), so a demo running its clock K times faster still works.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import serial

from timing.values import FINISH, Crossing

from .ascii import DEFAULT_PATTERN, AsciiCodec, parse_pattern
from .burst import BurstConfig, BurstEstimator, BurstResult
from .chafon import ChafonCodec
from .events import NEED_DATA, DecoderStatus, FrameError, InventoryRequest, TagRead
from .p3 import P3Codec
from .transport import RawLog, SerialTransport

log = logging.getLogger(__name__)

PROTOCOLS = ("chafon", "chafon288", "p3", "ascii")
#: The best method per protocol (see docs/rfid.md and bench/rfid_bench.py).
#: P3 passings arrive already reduced by the decoder; the UHFReader18 gives no RSSI.
DEFAULT_METHOD = {"chafon": "midpoint", "chafon288": "shape", "p3": "decoder", "ascii": "shape"}
#: Protocols where the host must ask for tags.
POLLED = frozenset({"chafon", "chafon288"})


@dataclass(frozen=True, slots=True)
class ReaderConfig:
    """Everything one reader needs, parsed once by the shell.

    ``antenna_marks`` maps antenna number to mark (e.g. ``{1: "finish",
    2: "backstretch"}``); other antennas report at ``mark``. ``burst`` of
    ``None`` takes the protocol's default method. ``silence_s`` is how long
    a reader that should talk (polled readers, P3 STATUS) may stay silent
    before the link is considered dead.
    """

    url: str
    protocol: str = "chafon288"
    baud: int = 57600
    poll_hz: float = 20.0
    mark: str = FINISH
    antenna_marks: dict[int, str] = field(default_factory=dict)
    antennas: tuple[int, ...] = (1,)
    sensor_id: str = ""
    burst: BurstConfig | None = None
    ascii_pattern: str = DEFAULT_PATTERN
    address: int = 0xFF
    scan_time_ds: int = 3
    raw_log_path: str | None = None
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    response_timeout_s: float = 0.5
    silence_s: float = 3.0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected one of {PROTOCOLS}")
        if self.poll_hz <= 0:
            raise ValueError(f"poll_hz must be > 0, got {self.poll_hz}")
        if self.protocol == "ascii":
            parse_pattern(self.ascii_pattern)

    def burst_config(self) -> BurstConfig:
        """The burst configuration, with the protocol's default method filled in."""
        if self.burst is not None:
            return self.burst
        method = DEFAULT_METHOD[self.protocol]
        if self.protocol == "ascii" and "RSSI" not in parse_pattern(self.ascii_pattern)[0]:
            method = "midpoint"
        return BurstConfig(method=method)


def make_codec(config: ReaderConfig) -> ChafonCodec | P3Codec | AsciiCodec:
    """A fresh codec for the configured protocol."""
    if config.protocol == "chafon":
        return ChafonCodec("18", config.address)
    if config.protocol == "chafon288":
        return ChafonCodec("288", config.address)
    if config.protocol == "p3":
        return P3Codec()
    return AsciiCodec(config.ascii_pattern)


class RfidReader:
    """Runs one reader in a thread and calls back with crossings.

    :param config: the reader's ``ReaderConfig``.
    :param on_crossing: called with each ``timing.values.Crossing`` (from the
        reader thread; keep it quick or hand off to a queue).
    :param on_result: optional, called with every ``BurstResult``, strays included.
    :param clock: session clock in epoch seconds (default ``time.time``).

    Use as a context manager, or call ``start()`` and ``stop()``.
    """

    def __init__(self, config: ReaderConfig, on_crossing: Callable[[Crossing], None], *,
                 on_result: Callable[[BurstResult], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._on_crossing = on_crossing
        self._on_result = on_result
        self._clock = clock
        self._estimator = BurstEstimator(config.burst_config())
        raw_log = RawLog(config.raw_log_path) if config.raw_log_path else None
        self._transport = SerialTransport(config.url, config.baud, raw_log=raw_log)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stats: dict[str, Any] = {
            "connected": False, "frames_total": 0, "reads_total": 0, "crc_errors": 0,
            "bytes_skipped": 0, "crossings_total": 0, "strays_total": 0, "reconnects": 0,
            "timeouts": 0, "last_read_s": None, "last_error": None, "last_status": None,
            "connected_since_s": None,
        }
        self._rates: deque[tuple[float, int, int]] = deque()
        self._last_warning_s = 0.0
        self._antenna_cursor = 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> RfidReader:
        """Start the reader thread (returns self)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"rfid:{self.config.url}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread, close the port and decide any open burst."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._emit(self._estimator.flush(self._clock()))
        if self._transport.raw_log is not None:
            self._transport.raw_log.close()

    def __enter__(self) -> RfidReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- health ------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Health for the dashboard: connected, frames_per_s, reads_per_s, crc_errors, ..."""
        with self._lock:
            stats = dict(self._stats)
            rates = list(self._rates)
        frames_per_s = reads_per_s = 0.0
        if len(rates) >= 2 and rates[-1][0] > rates[0][0]:
            span = rates[-1][0] - rates[0][0]
            frames_per_s = (rates[-1][1] - rates[0][1]) / span
            reads_per_s = (rates[-1][2] - rates[0][2]) / span
        stats.update(
            sensor_id=self.config.sensor_id, protocol=self.config.protocol, url=self.config.url,
            frames_per_s=round(frames_per_s, 2), reads_per_s=round(reads_per_s, 2),
            open_bursts=self._estimator.open_bursts, method=self._estimator.config.method,
            arrival_jitter_s=round(self._estimator.jitter.jitter_s, 4),
        )
        return stats

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                self._stats[key] += value

    def _set(self, **values: Any) -> None:
        with self._lock:
            self._stats.update(values)

    # -- the loop ----------------------------------------------------------

    def _run(self) -> None:
        backoff_s = self.config.backoff_initial_s
        while not self._stop.is_set():
            try:
                self._transport.open()
            except (serial.SerialException, OSError, ValueError) as exc:
                self._set(last_error=f"cannot open {self.config.url}: {exc}")
                self._wait(backoff_s)
                backoff_s = min(backoff_s * 2.0, self.config.backoff_max_s)
                continue
            backoff_s = self.config.backoff_initial_s
            self._set(connected=True, connected_since_s=self._clock())
            log.info("rfid reader %s connected", self.config.url)
            try:
                self._session()
            except (serial.SerialException, OSError, ConnectionError) as exc:
                log.warning("rfid reader %s lost: %s; reconnecting", self.config.url, exc)
                self._set(last_error=f"link lost: {exc}")
                self._count(reconnects=1)
            finally:
                self._transport.close()
                self._set(connected=False)

    def _wait(self, delay_s: float) -> None:
        """Sleep ``delay_s`` real seconds, still deciding bursts as their quiet time passes."""
        end = time.monotonic() + delay_s
        while not self._stop.is_set() and time.monotonic() < end:
            self._stop.wait(min(0.02, max(end - time.monotonic(), 0.0)))
            self._tick()

    def _session(self) -> None:
        cfg = self.config
        codec = make_codec(cfg)
        polled = cfg.protocol in POLLED
        period_s = 1.0 / cfg.poll_hz
        next_poll = time.monotonic()
        awaiting: float | None = None
        last_heard = time.monotonic()
        while not self._stop.is_set():
            mono = time.monotonic()
            if polled:
                if awaiting is not None and mono - awaiting > cfg.response_timeout_s:
                    self._count(timeouts=1)
                    awaiting = None
                if awaiting is None and mono >= next_poll:
                    now = self._clock()
                    request = InventoryRequest(antenna=self._next_antenna(),
                                               scan_time_ds=cfg.scan_time_ds)
                    self._transport.write(codec.send(request, now), now)
                    awaiting = mono
                    next_poll = max(next_poll + period_s, mono)
            if (polled or cfg.protocol == "p3") and mono - last_heard > cfg.silence_s:
                raise ConnectionError(f"reader silent for {cfg.silence_s:.1f} s")
            data = self._transport.read(self._clock())
            if data:
                last_heard = time.monotonic()
                codec.receive_data(data, self._clock())
                if self._drain(codec) and polled:
                    awaiting = None
            self._tick()

    def _next_antenna(self) -> int:
        antennas = self.config.antennas or (1,)
        antenna = antennas[self._antenna_cursor % len(antennas)]
        self._antenna_cursor += 1
        return antenna

    def _drain(self, codec: ChafonCodec | P3Codec | AsciiCodec) -> bool:
        """Handle every decoded event; True if an inventory round ended."""
        round_done = False
        results: list[BurstResult] = []
        while (event := codec.next_event()) is not NEED_DATA:
            if isinstance(event, TagRead):
                self._count(frames_total=1, reads_total=event.hits)
                self._set(last_read_s=event.arrival_s)
                mark = self.config.antenna_marks.get(event.antenna, self.config.mark)
                results += self._estimator.add(event.tag, mark, event.time_s, event.rssi,
                                               hits=event.hits, antenna=event.antenna,
                                               arrival_s=event.arrival_s)
            elif isinstance(event, DecoderStatus):
                self._count(frames_total=1)
                self._set(last_status=f"{event.code:#04x} {event.text}")
                round_done = round_done or event.code != 0x03
            elif isinstance(event, FrameError):
                self._count(crc_errors=1, bytes_skipped=event.skipped)
                self._warn(f"rfid reader {self.config.url}: {event.reason} "
                           f"({event.skipped} bytes skipped)")
        self._emit(results)
        return round_done

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning_s >= 1.0:
            self._last_warning_s = now
            log.warning("%s", message)
        else:
            log.debug("%s", message)

    def _tick(self) -> None:
        now = self._clock()
        self._emit(self._estimator.poll(now))
        mono = time.monotonic()
        with self._lock:
            if not self._rates or mono - self._rates[-1][0] >= 0.25:
                self._rates.append((mono, self._stats["frames_total"], self._stats["reads_total"]))
                while self._rates and mono - self._rates[0][0] > 5.0:
                    self._rates.popleft()
        if int(mono) % 60 == 0:
            self._estimator.forget_before(now - 600.0)

    def _emit(self, results: list[BurstResult]) -> None:
        for result in results:
            if result.stray:
                self._count(strays_total=1)
                log.warning("rfid tag %s sits in the field at %s (stray)", result.tag, result.mark)
            else:
                self._count(crossings_total=1)
            if self._on_result is not None:
                self._on_result(result)
            if not result.stray:
                self._on_crossing(self.to_crossing(result))

    def to_crossing(self, result: BurstResult) -> Crossing:
        """The ``Crossing`` for one decided burst."""
        confidence = 1.0 if result.method == "decoder" else min(1.0, 0.5 + result.reads / 20.0)
        return Crossing(mark=result.mark, time_s=result.time_s, tag=result.tag, source="rfid",
                        sensor_id=self.config.sensor_id or self.config.url,
                        confidence=round(confidence, 3))


def with_method(config: ReaderConfig, method: str) -> ReaderConfig:
    """``config`` with its burst method replaced (keeps the other burst settings)."""
    return replace(config, burst=replace(config.burst_config(), method=method))
