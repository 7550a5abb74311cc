"""The node end of the sensor link: crossings and health to the server, nothing lost.

Two layers, the house way:

- Pure: ``encode_crossing`` / ``decode_crossing`` (the JSON record the server's
  ``/node`` namespace and ``POST /api/v1/crossings`` accept), ``LinkBuffer``
  (numbered crossings waiting for an ack, bounded), ``Backoff`` (capped
  doubling delays). No sockets, no clock.
- Shell: ``LinkClient``, one thread that connects to the server's Socket.IO
  namespace ``/node`` with the node token, measures the clock offset
  (``timing.clock``: several four-timestamp probes, the lowest delay wins),
  then sends buffered crossings in batches and drops each one only when the
  server acks it (acked = in the server's event log). If the server is
  down or restarts, crossings wait in the buffer and the client reconnects
  with capped backoff; times are converted to the server clock when sent,
  with the freshest offset.

Usage::

    link = LinkClient("http://127.0.0.1:5000", token, node_id="finish-cam")
    link.start()
    link.send_crossing(Crossing(mark="finish", time_s=clock.now(), source="camera"))
    link.send_health({"fps": 59.8, "connected": True})
    ...
    link.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from timing.clock import ClockSample, best_sample, clock_sample
from timing.values import Crossing

log = logging.getLogger(__name__)

NAMESPACE = "/node"
#: Record fields besides the crossing's own.
SEQ = "seq"


def encode_crossing(crossing: Crossing, seq: int, offset_s: float = 0.0) -> dict[str, Any]:
    """A crossing as a link record, its time moved to the server clock by ``offset_s``."""
    record: dict[str, Any] = {
        SEQ: seq, "mark": crossing.mark, "time_s": crossing.time_s + offset_s,
        "source": crossing.source, "confidence": crossing.confidence,
    }
    for key in ("athlete", "tag", "position"):
        value = getattr(crossing, key)
        if value is not None:
            record[key] = value
    if crossing.sensor_id:
        record["sensor_id"] = crossing.sensor_id
    if crossing.flags:
        record["flags"] = list(crossing.flags)
    return record


def decode_crossing(record: Mapping[str, Any]) -> tuple[int | None, Crossing]:
    """The inverse of ``encode_crossing`` (for tests and tools); the server validates instead."""
    return record.get(SEQ), Crossing(
        mark=record["mark"], time_s=float(record["time_s"]), athlete=record.get("athlete"),
        tag=record.get("tag"), source=record.get("source", "tap"),
        sensor_id=record.get("sensor_id", ""), confidence=float(record.get("confidence", 1.0)),
        position=record.get("position"), flags=tuple(record.get("flags", ())))


class LinkBuffer:
    """Crossings waiting for the server's ack, oldest first, at most ``max_items``.

    When full, the oldest is dropped and counted (``dropped``): a node that
    cannot reach the server for hours must not eat the machine's memory.
    """

    def __init__(self, max_items: int = 100_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[int, Crossing] = OrderedDict()
        self._next_seq = 1
        self.dropped = 0
        self.acked = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, crossing: Crossing) -> int:
        """File a crossing; returns its sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        self._items[seq] = crossing
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
            self.dropped += 1
        return seq

    def batch(self, max_items: int) -> list[tuple[int, Crossing]]:
        """The oldest ``max_items`` waiting crossings (still waiting until acked)."""
        out = []
        for seq, crossing in self._items.items():
            if len(out) >= max_items:
                break
            out.append((seq, crossing))
        return out

    def ack(self, seqs: Iterable[Any]) -> int:
        """Forget acked crossings; returns how many were still waiting."""
        count = 0
        for seq in seqs:
            if isinstance(seq, int) and self._items.pop(seq, None) is not None:
                count += 1
        self.acked += count
        return count


@dataclass(slots=True)
class Backoff:
    """Capped doubling delays: ``initial_s``, twice that, ... up to ``max_s``."""

    initial_s: float = 0.25
    max_s: float = 10.0
    attempt: int = 0

    def next_delay_s(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        delay = min(self.max_s, self.initial_s * (2 ** self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """After a success: start from ``initial_s`` again."""
        self.attempt = 0


class LinkClient:
    """Sends a node's crossings and health to the server; see the module note.

    :param server_url: ``http://host:port`` of ``trackside serve``.
    :param token: the node token (the coach token unless the server set another).
    :param node_id: this node's name, shown with its health on the coach page.
    :param clock: this node's clock (seconds); crossing times must be on it.
    """

    def __init__(self, server_url: str, token: str, node_id: str, *,
                 clock: Callable[[], float] = time.time, buffer_max: int = 100_000,
                 batch_max: int = 200, probes: int = 8, resync_s: float = 30.0,
                 backoff: Backoff | None = None, call_timeout_s: float = 5.0) -> None:
        self.server_url = server_url
        self.token = token
        self.node_id = node_id
        self.clock = clock
        self.buffer = LinkBuffer(buffer_max)
        self.batch_max = batch_max
        self.probes = probes
        self.resync_s = resync_s
        self.backoff = backoff or Backoff()
        self.call_timeout_s = call_timeout_s
        self.sample: ClockSample | None = None
        self._health: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sio: Any = None
        self._synced_at = 0.0
        self.stats = {"connected": False, "connects": 0, "failures": 0, "sent": 0,
                      "errors": 0, "last_error": ""}

    # -- what the node calls -------------------------------------------------
    def send_crossing(self, crossing: Crossing) -> int:
        """Queue a crossing (never blocks); returns its sequence number."""
        with self._lock:
            seq = self.buffer.add(crossing)
        self._wake.set()
        return seq

    def send_health(self, health: Mapping[str, Any]) -> None:
        """Queue the node's latest health (only the newest is kept)."""
        with self._lock:
            self._health = dict(health)
        self._wake.set()

    @property
    def offset_s(self) -> float | None:
        """Server clock minus node clock, once measured."""
        return None if self.sample is None else self.sample.offset_s

    def pending(self) -> int:
        """Crossings not yet acked by the server."""
        with self._lock:
            return len(self.buffer)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every queued crossing is acked; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pending() == 0:
                return True
            time.sleep(0.01)
        return self.pending() == 0

    def health(self) -> dict[str, Any]:
        """The link's own health, for the node's health report."""
        with self._lock:
            buffered, dropped, acked = len(self.buffer), self.buffer.dropped, self.buffer.acked
        return {**self.stats, "buffered": buffered, "dropped": dropped, "acked": acked,
                "offset_s": self.offset_s,
                "offset_error_s": None if self.sample is None else self.sample.error_bound_s}

    def start(self) -> LinkClient:
        """Start the sender thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"link-{self.node_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, flush_timeout_s: float = 2.0) -> None:
        """Try to send what is queued, then stop and disconnect."""
        if flush_timeout_s > 0 and self.stats["connected"]:
            self.wait_idle(flush_timeout_s)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._disconnect()

    # -- the sender thread ---------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._sio is None or not self._sio.connected:
                    self._connect()
                    self.backoff.reset()
                self._pump()
            except Exception as exc:  # noqa: BLE001 - any link failure: back off, retry
                self.stats["failures"] += 1
                self.stats["last_error"] = f"{type(exc).__name__}: {exc}"[:200]
                self.stats["connected"] = False
                self._disconnect()
                delay = self.backoff.next_delay_s()
                log.info("link to %s down (%s); retry in %.2f s", self.server_url,
                         self.stats["last_error"], delay)
                self._stop.wait(delay)

    def _connect(self) -> None:
        import socketio

        sio = socketio.Client(reconnection=False)
        sio.connect(self.server_url, namespaces=[NAMESPACE], transports=["websocket"],
                    auth={"token": self.token, "node": self.node_id}, wait_timeout=5)
        self._sio = sio
        self.stats["connected"] = True
        self.stats["connects"] += 1
        self._sync_clock()

    def _sync_clock(self) -> None:
        samples = []
        for _ in range(self.probes):
            t0 = self.clock()
            reply = self._sio.call("clock", {"t0": t0}, namespace=NAMESPACE,
                                   timeout=self.call_timeout_s)
            t3 = self.clock()
            samples.append(clock_sample(t0, float(reply["t1"]), float(reply["t2"]), t3))
        self.sample = best_sample(samples)
        self._synced_at = time.monotonic()

    def _pump(self) -> None:
        """Send health and batches until the buffer is empty, then wait for more."""
        if time.monotonic() - self._synced_at > self.resync_s:
            self._sync_clock()
        with self._lock:
            health, self._health = self._health, None
            batch = self.buffer.batch(self.batch_max)
        if health is not None:
            try:
                self._sio.call("health", {"health": {**health, "link": self.health()}},
                               namespace=NAMESPACE, timeout=self.call_timeout_s)
            except Exception:
                with self._lock:
                    self._health = self._health or health
                raise
        if batch:
            offset = self.offset_s or 0.0
            records = [encode_crossing(c, seq, offset) for seq, c in batch]
            reply = self._sio.call("crossings", {"crossings": records}, namespace=NAMESPACE,
                                   timeout=self.call_timeout_s)
            with self._lock:
                self.stats["sent"] += self.buffer.ack(reply.get("acked", ()))
            self.stats["errors"] += len(reply.get("errors", ()))
            for error in reply.get("errors", ()):
                log.warning("server refused crossing %s: %s", error.get("seq"),
                            error.get("error"))
            return
        self._wake.wait(timeout=1.0)
        self._wake.clear()

    def _disconnect(self) -> None:
        sio, self._sio = self._sio, None
        if sio is not None:
            try:
                sio.disconnect()
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
