"""The SQLite event log: WAL, durability settings, round trips, bad rows, rebuild = replay."""

from __future__ import annotations

import json
import sqlite3

import pytest
from test_core_support import T0, crossings_for, make_athlete, make_session, mark_times

from timing.core import Core
from timing.events import Dnf, EndSession, SessionSetup, Start
from timing.store import EventLog, EventLogError


def session_events():
    a, b = make_athlete("a"), make_athlete("b", five_k_s=1140, lane=2)
    crossings = crossings_for(a, mark_times(a.plan, T0, 1.02), skip=[3])
    crossings += crossings_for(b, mark_times(b.plan, T0, 0.99), source="camera", by="athlete")
    crossings.sort(key=lambda c: c.time_s)
    # one late reading and one duplicate, as real sensors produce
    crossings.insert(12, crossings_for(a, mark_times(a.plan, T0, 1.02))[3])
    crossings.insert(5, crossings[4])
    return [SessionSetup(make_session(a, b)), Start(T0), *crossings,
            Dnf("b", T0 + 500), EndSession(T0 + 600)]


def test_log_uses_wal_and_full_sync_and_round_trips_every_event(tmp_path):
    path = tmp_path / "s.db"
    events = session_events()
    with EventLog(path) as log:
        seqs = [log.append(e) for e in events]
        assert seqs == list(range(1, len(events) + 1))
        assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with EventLog(path, readonly=True) as log:
        assert list(log.events()) == events
        assert len(log) == len(events) and log.last_seq() == len(events)
        assert list(log.events(after_seq=len(events) - 2)) == events[-2:]
        with pytest.raises(EventLogError, match="read-only"):
            log.append(events[0])


def test_append_many_is_one_transaction_and_all_or_nothing(tmp_path):
    events = session_events()
    with EventLog(tmp_path / "s.db", synchronous="NORMAL") as log:
        assert log.append_many(events[:10]) == list(range(1, 11))
        assert log.append_many([]) == []
        bad = [events[10], object()]
        with pytest.raises(Exception, match="not a core event"):
            log.append_many(bad)  # type: ignore[list-item]
        assert len(log) == 10
        assert log.append_many(events[10:12]) == [11, 12]
        assert list(log.events()) == events[:12]


def test_refuses_synchronous_off_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="OFF would lose"):
        EventLog(tmp_path / "x.db", synchronous="OFF")
    with pytest.raises(EventLogError, match="no event log"):
        EventLog(tmp_path / "missing.db", readonly=True)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(EventLogError, match="cannot open"):
        EventLog(tmp_path / "junk.db")


def test_bad_rows_are_named_or_skipped(tmp_path, caplog):
    path = tmp_path / "s.db"
    events = session_events()[:4]
    with EventLog(path) as log:
        log.append_many(events[:2])
    db = sqlite3.connect(path)
    db.execute("INSERT INTO events (type, time_s, body) VALUES ('start', 1, ?)",
               (json.dumps({"v": 99, "type": "start", "time_s": 1.0}),))
    db.execute("INSERT INTO events (type, time_s, body) VALUES ('x', 1, '{not json')")
    db.commit()
    db.close()
    with EventLog(path) as log:
        log.append_many(events[2:])
        with pytest.raises(EventLogError, match="event 3 cannot be read: .*version 99"):
            list(log.events())
        assert list(log.events(on_error="skip")) == events
    assert "event 4 cannot be read" in caplog.text


def test_rebuilding_from_the_log_gives_the_same_outputs_and_snapshot(tmp_path):
    path = tmp_path / "s.db"
    live = Core()
    live_outputs = []
    with EventLog(path) as log:
        for e in session_events():
            log.append(e)  # persist first, then compute
            live_outputs.extend(live.handle(e))
    rebuilt = Core()
    outputs = []
    with EventLog(path, readonly=True) as log:
        for e in log.events():
            outputs.extend(rebuilt.handle(e))
    assert outputs == live_outputs
    assert rebuilt.snapshot() == live.snapshot()
    snap = rebuilt.snapshot()
    assert snap["counters"]["duplicates"] >= 1 and snap["counters"]["corrections"] >= 1
    json.dumps(snap, allow_nan=False)
