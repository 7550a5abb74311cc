"""Where a split's time goes on the server: stage timestamps per split, for the benchmark.

Off by default (``TRACE_STAGES`` in the app config, or ``TRACKSIDE_TRACE_STAGES=1``
in the environment). When on, every split gets ``time.perf_counter()``
stamps (CLOCK_MONOTONIC, so a benchmark in another process on the same
machine can line them up with its own send and receive times):

``received`` (request or node batch handed to the service), ``logged``
(durable in the event log), ``core`` (the core has produced it and it is
filed for broadcast), ``emit_start`` (the fan-out begins the flush that
holds it), ``emit_end`` (the last client's write returned).

Bounded: only the newest ``capacity`` splits are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

STAGES = ("received", "logged", "core", "emit_start", "emit_end")


class StageTrace:
    """Per-split stage timestamps, newest ``capacity`` kept."""

    def __init__(self, enabled: bool = False, capacity: int = 200_000) -> None:
        self.enabled = enabled
        self.capacity = capacity
        self._records: OrderedDict[int, dict[str, float]] = OrderedDict()

    def computed(self, seqs: Iterable[int], received: float, logged: float,
                 core: float) -> None:
        """The service's stamps for the splits one event produced."""
        for seq in seqs:
            self._records[seq] = {"received": received, "logged": logged, "core": core}
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def emitted(self, messages: Iterable[Mapping[str, Any]], start: float, end: float) -> None:
        """The fan-out's stamps for the splits of one flush."""
        for message in messages:
            if message.get("type") == "split":
                record = self._records.get(message.get("seq"))  # type: ignore[arg-type]
                if record is not None:
                    record["emit_start"] = start
                    record["emit_end"] = end

    def as_dict(self) -> dict[str, dict[str, float]]:
        """Every kept record by seq (JSON keys are strings)."""
        return {str(seq): dict(record) for seq, record in self._records.items()}
