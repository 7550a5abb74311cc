"""Persist, compute, publish: the one place that order is written.

Every input (a crossing from any source, a start, a DNF...) goes through
``Service.submit``: first ``EventLog.append`` (durable when it returns), then
``Core.handle`` (pure), then the outputs go to the broadcaster as wire
messages. A lock makes the three steps one step for concurrent requests and
sensor-node handlers, so the log order is the order the core saw.

Control events (setup, start, false start, DNF, end) change what every page
shows at once, so after one of them every client gets a fresh snapshot
instead of a patch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from dashboard import wire
from dashboard.broadcast import COACH, Broadcaster
from timing.values import Crossing, SplitUpdate

log = logging.getLogger(__name__)


class NodeRegistry:
    """The last health report of every sensor node (and the supervisor's view of it)."""

    def __init__(self) -> None:
        self._health: dict[str, dict[str, Any]] = {}

    def update(self, node_id: str, health: dict[str, Any], received_s: float) -> dict[str, Any]:
        """Merge a report into the node's entry and return the entry."""
        entry = self._health.setdefault(node_id, {})
        entry.update(health)
        entry["received_s"] = received_s
        return entry

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Every node's entry, sorted by node id (stable for the snapshot)."""
        return {k: dict(self._health[k]) for k in sorted(self._health)}


class Service:
    """The composition root's engine: one event log, one core, one broadcaster.

    :param log_: a ``timing.store.EventLog`` or a ``dashboard.logthread.LogThread``.
    :param core: a ``timing.core.Core`` (already fed with the log's history).
    :param broadcaster: where outputs go.
    :param clock: the server clock (seconds, Unix epoch); the only clock read.
    """

    def __init__(self, log_: Any, core: Any, broadcaster: Broadcaster,
                 clock: Callable[[], float] = time.time) -> None:
        self.log = log_
        self.core = core
        self.broadcaster = broadcaster
        self.clock = clock
        self.nodes = NodeRegistry()
        self.lock = threading.RLock()  # the core and the node registry
        self._queue_lock = threading.Lock()
        self._queue: list[tuple[list[Any], _Waiter, float]] = []
        self._leading = False
        self.counters = {"events": 0, "crossings": 0, "outputs": 0, "commits": 0}

    def replay(self, events: Iterable[Any]) -> int:
        """Feed recorded events into the core without logging or publishing them again."""
        count = 0
        with self.lock:
            for event in events:
                self.core.handle(event)
                count += 1
        return count

    def submit(self, event: Any, received_at: float | None = None) -> tuple[int, list[Any]]:
        """Persist ``event``, let the core handle it, publish the outputs.

        Returns the log id and the core's outputs. Raises whatever the log
        raises if the event could not be made durable (then nothing is
        published: persist before publish).
        """
        return self.submit_many((event,), received_at)[0]

    def submit_many(self, events: Iterable[Any],
                    received_at: float | None = None) -> list[tuple[int, list[Any]]]:
        """Submit events in order; returns ``(log id, outputs)`` per event.

        Group commit: callers that arrive while a commit is in flight queue
        up, and the caller that is committing (the leader) writes all of
        them in the next transaction, then feeds the core in log order and
        hands each caller its results. So a burst costs one fsync per batch,
        not one per crossing, and the log order is the order the core saw.
        ``received_at`` (``time.perf_counter()``) only feeds the stage trace.
        """
        events = list(events)
        if not events:
            return []
        waiter = _Waiter()
        with self._queue_lock:
            self._queue.append((events, waiter, received_at or time.perf_counter()))
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
            # let the broadcast go out before this caller writes its reply (gevent:
            # the sender runs now instead of after the HTTP response is built)
            self.broadcaster.yield_to_sender()
        return waiter.wait()

    def _lead(self) -> None:
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    return
            flat = [event for events, _, _ in batch for event in events]
            try:
                ids = iter(self.log.append_many(flat))
                self.counters["commits"] += 1
            except Exception as exc:  # noqa: BLE001 - every waiter must hear of it
                log.exception("the event log refused %d events", len(flat))
                for _, waiter, _ in batch:
                    waiter.fail(exc)
                continue
            logged_at = time.perf_counter()
            with self.lock:
                for events, waiter, received_at in batch:
                    try:
                        waiter.set([(next(ids), self._handle(event, received_at, logged_at))
                                    for event in events])
                    except Exception as exc:  # noqa: BLE001 - logged; replay will retry it
                        log.exception("the core failed on a logged event")
                        waiter.fail(exc)

    def _handle(self, event: Any, received_at: float = 0.0, logged_at: float = 0.0) -> list[Any]:
        """Core, then publish (the log already has the event)."""
        outputs = list(self.core.handle(event))
        stages = self.broadcaster.stages
        if stages.enabled:
            stages.computed([o.seq for o in outputs if isinstance(o, SplitUpdate)],
                            received_at, logged_at, time.perf_counter())
        self.counters["events"] += 1
        self.counters["outputs"] += len(outputs)
        if isinstance(event, Crossing):
            self.counters["crossings"] += 1
        for output in outputs:
            self.broadcaster.publish(wire.output_message(output))
        if not isinstance(event, Crossing):
            self.broadcaster.publish(self.snapshot_message())
        return outputs

    def setup_from_payload(self, payload: dict[str, Any], session_id: str = "config") -> Any:
        """Set up a session from a roster payload (the config file's, or the API's shape)."""
        from dashboard.validate import session_from_payload
        from timing.events import SessionSetup

        session = session_from_payload(payload, session_id=session_id)
        self.submit(SessionSetup(session=session))
        return session

    def snapshot(self) -> dict[str, Any]:
        """The core's snapshot (JSON-able)."""
        with self.lock:
            return self.core.snapshot()

    def snapshot_message(self) -> dict[str, Any]:
        """The ``snapshot`` message a (re)connecting page gets first."""
        with self.lock:
            state = self.core.snapshot()
        return wire.snapshot_message(state, server_time_s=self.clock(),
                                     extra={"nodes": self.nodes.as_dict()})

    def report_health(self, node_id: str, health: dict[str, Any]) -> dict[str, Any]:
        """Record a sensor node's health and tell the coach pages."""
        received_s = self.clock()
        entry = self.nodes.update(node_id, health, received_s)
        self.broadcaster.publish(wire.health_message(node_id, entry, received_s=received_s),
                                 [COACH])
        return entry


class _Waiter:
    """One caller's place in a group commit: its results, or the error."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None

    def set(self, result: Any) -> None:
        self._result = result
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result
