"""Crash test: a child process ingests through log + core and is SIGKILLed at random moments.

The child does what the composition root does: append a burst to the log (one
transaction), print ``ack <seq>`` once the append returned, then hand the
events to the core. On start it rebuilds its core from the log and goes on
where the log ends. After every kill, the log must hold every acknowledged
event, in order, and nothing else but a prefix of the session; at the end the
state rebuilt from the log must equal a clean replay of the whole session.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_core_support import (  # noqa: E402
    T0,
    crossings_for,
    make_athlete,
    make_session,
    mark_times,
)

from timing.core import Core  # noqa: E402
from timing.events import EndSession, SessionSetup, Start  # noqa: E402
from timing.store import EventLog  # noqa: E402


def crash_session() -> list:
    """A deterministic session: 4 runners, every mark, duplicates from a second antenna."""
    athletes = [make_athlete(f"a{i}", five_k_s=1100 + 20 * i, lane=1 + i) for i in range(4)]
    crossings = []
    for i, a in enumerate(athletes):
        times = mark_times(a.plan, T0, 1.0 + 0.01 * (i - 2))
        crossings += crossings_for(a, times)
        crossings += crossings_for(a, [t + 0.05 for t in times], sensor="rfid-2")
    crossings.sort(key=lambda c: (c.time_s, c.tag, c.sensor_id))
    return [SessionSetup(make_session(*athletes)), Start(T0), *crossings,
            EndSession(T0 + 600)]


def child(db: str, batch: int) -> None:
    events = crash_session()
    log = EventLog(db)
    core = Core()
    done = 0
    for e in log.events():
        core.handle(e)
        done += 1
    print(f"resume {done}", flush=True)
    i = done
    while i < len(events):
        chunk = events[i:i + batch]
        seqs = log.append_many(chunk)
        print(f"ack {seqs[-1]}", flush=True)  # acknowledged only after the commit
        for e in chunk:
            core.handle(e)
        i += len(chunk)
    print("done " + json.dumps(core.counters(), sort_keys=True), flush=True)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 7])
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path, batch):
    events = crash_session()
    db = tmp_path / "crash.db"
    rng = random.Random(1234 + batch)
    max_ack = 0
    kills = 0
    finished = False
    total_acks = -(-len(events) // batch)
    for _ in range(60):
        proc = subprocess.Popen([sys.executable, __file__, str(db), str(batch)],
                                stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
        assert proc.stdout is not None
        kill_at = rng.randint(1, max(2, total_acks // 5))
        acks = 0
        for line in proc.stdout:
            if line.startswith("resume"):
                assert int(line.split()[1]) >= max_ack  # nothing acknowledged was lost
            elif line.startswith("ack"):
                max_ack = max(max_ack, int(line.split()[1]))
                acks += 1
                if acks >= kill_at:
                    time.sleep(rng.random() * 0.004)  # land anywhere in the next burst
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
                    break
            elif line.startswith("done"):
                finished = True
        proc.stdout.close()
        proc.wait(timeout=30)
        with EventLog(db, readonly=True) as log:
            stored = list(log.events())
        assert len(stored) >= max_ack
        assert stored == events[:len(stored)]  # a prefix: no gap, no duplicate, no garble
        if finished:
            break
    assert finished and kills >= 3
    rebuilt, clean = Core(), Core()
    with EventLog(db, readonly=True) as log:
        for e in log.events():
            rebuilt.handle(e)
    for e in events:
        clean.handle(e)
    assert rebuilt.snapshot() == clean.snapshot()
    assert rebuilt.snapshot()["counters"]["duplicates"] == len(events) // 2 - 1


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]))
