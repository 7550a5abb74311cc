"""The append-only event log: SQLite in WAL mode. The one module here that touches a file.

Theory of operation. Every input the core accepts is appended here *before*
the core handles it and its outputs are published (the composition root does
``log.append(event)`` -> ``core.handle(event)`` -> broadcast). Rebuilding the
state after a crash or for a replay is feeding ``events()`` into a fresh
``Core``; because the core is deterministic, that gives the same outputs.

Durability. ``append`` returns only after its transaction has committed.
``synchronous=FULL`` (the default here) makes SQLite fsync the WAL on every
commit, so an acknowledged event survives a power cut as well as a killed
process; ``NORMAL`` survives a killed process (the OS still holds the pages)
but may lose the last commits on power loss. A laptop on a generator at a
track loses power for real, so FULL is the default; the cost of one fsync per
commit is paid per *batch*: ``append_many`` writes a burst of events in one
transaction (group commit) and acknowledges them all after that one commit.

Layout: one row per event. Crossings, the bulk of any log, are stored in
typed columns (mark, time_s as an 8-byte REAL, so times round-trip exactly,
athlete, tag, source, ...) because JSON encoding was most of an append's cost;
every other event is its versioned JSON form (``events.event_to_dict``) in
``body``. The ``meta`` table holds the schema version, checked on open.

Bad rows (a hand-edited file, a newer format) are reported by ``events``
with their sequence number and the reason; ``on_error="skip"`` logs and skips
them so a replay still shows everything else.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from timing.events import Event, EventFormatError, event_from_dict, event_to_dict
from timing.values import Crossing

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_COLUMNS = ("type", "time_s", "mark", "athlete", "tag", "source", "sensor_id", "confidence",
            "position", "flags", "body")
_INSERT = (f"INSERT INTO events ({', '.join(_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in _COLUMNS)})")
#: One encoder, built once: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


class EventLogError(RuntimeError):
    """The log cannot be opened or a stored event cannot be read back."""


class EventLog:
    """An append-only event log in one SQLite file (WAL mode)."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL",
                 readonly: bool = False) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)} "
                             f"(got {synchronous!r}); OFF would lose acknowledged events")
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise EventLogError(f"no event log at {self.path}")
                uri = f"file:{self.path.resolve()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None)
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise EventLogError(f"{self.path}: SQLite refused WAL mode ({mode})")
                self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS events ("
                    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " type TEXT NOT NULL,"
                    " time_s REAL,"
                    " mark TEXT, athlete TEXT, tag TEXT, source TEXT, sensor_id TEXT,"
                    " confidence REAL, position REAL, flags TEXT,"
                    " body TEXT)")
                self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                                 "value TEXT NOT NULL)")
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                 (str(SCHEMA_VERSION),))
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise EventLogError(f"cannot open the event log {self.path}: {exc}") from exc

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            found = "none" if row is None else row[0]
            raise EventLogError(f"{self.path}: event-log schema {found}, this build reads "
                                f"schema {SCHEMA_VERSION}")

    # ------------------------------------------------------------------ writing
    @staticmethod
    def _row(event: Event) -> tuple:
        """One table row. Crossings (the bulk of a log) go into typed columns, no JSON:
        that is most of the cost of an append; other events are JSON in ``body``."""
        if type(event) is Crossing:
            t = event.time_s
            if not isinstance(t, int | float) or not math.isfinite(t):
                raise ValueError(f"crossing time_s must be a finite number, got {t!r}; "
                                 "not logged")
            flags = _ENCODER.encode(list(event.flags)) if event.flags else None
            return ("crossing", t, event.mark, event.athlete, event.tag, event.source,
                    event.sensor_id, event.confidence, event.position, flags, None)
        d = event_to_dict(event)
        return (d["type"], d.get("time_s"), None, None, None, None, None, None, None, None,
                _ENCODER.encode(d))

    def append(self, event: Event) -> int:
        """Append one event; durable when this returns. Returns its sequence number."""
        return self.append_many((event,))[0]

    def append_many(self, events: Iterable[Event]) -> list[int]:
        """Append a burst of events in one transaction (group commit).

        All or nothing: they are durable together when this returns, and none
        is stored if it raises. Returns their sequence numbers in order.
        """
        if self.readonly:
            raise EventLogError(f"{self.path} was opened read-only")
        rows = [self._row(e) for e in events]
        if not rows:
            return []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_INSERT, rows)
            last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        first = last - len(rows) + 1
        return list(range(first, last + 1))

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 when empty)."""
        row = self._db.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def records(self, after_seq: int = 0) -> Iterator[tuple[int, dict]]:
        """(seq, event as a JSON-able dict) pairs in order, for tools that want the raw form.

        A row that is not even a dict (corrupt JSON) comes back as
        ``{"unreadable": text}`` so ``events`` can name it.
        """
        cur = self._db.execute(f"SELECT seq, {', '.join(_COLUMNS)} FROM events "
                               "WHERE seq > ? ORDER BY seq", (after_seq,))
        for seq, kind, time_s, mark, athlete, tag, source, sensor, conf, pos, flags, body \
                in cur:
            if kind == "crossing" and body is None:
                try:
                    flag_list = json.loads(flags) if flags else []
                except ValueError:
                    flag_list = {"unreadable": flags}
                yield seq, {"v": 1, "type": "crossing", "mark": mark, "time_s": time_s,
                            "athlete": athlete, "tag": tag, "source": source,
                            "sensor_id": sensor, "confidence": conf, "position": pos,
                            "flags": flag_list}
                continue
            try:
                d = json.loads(body) if body is not None else {"unreadable": body}
            except ValueError:
                d = {"unreadable": body}
            yield seq, d

    def events(self, after_seq: int = 0, *, on_error: str = "raise") -> Iterator[Event]:
        """Every stored event after ``after_seq``, in append order.

        ``on_error="raise"`` raises ``EventLogError`` naming the first bad row;
        ``"skip"`` logs it and goes on.
        """
        for seq, d in self.records(after_seq):
            try:
                if "unreadable" in d:
                    raise EventFormatError(f"not JSON: {str(d['unreadable'])[:60]!r}")
                yield event_from_dict(d)
            except (EventFormatError, ValueError) as exc:
                message = f"{self.path}: event {seq} cannot be read: {exc}"
                if on_error != "skip":
                    raise EventLogError(message) from exc
                log.error("%s (skipped)", message)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
