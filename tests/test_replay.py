"""``trackside replay`` and ``trackside export`` on a recorded session log."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_core_support import T0, crossings_for, make_athlete, make_session, mark_times

from dashboard.cli import main
from timing.core import Core
from timing.events import SessionSetup, Start
from timing.export import COLUMNS, splits_rows, to_csv, to_json
from timing.outputs import format_output
from timing.store import EventLog

ROOT = Path(__file__).resolve().parents[1]


def record(path: Path, gap_s: float = 0.0) -> tuple[list, Core]:
    a, b = make_athlete("a"), make_athlete("b", five_k_s=1140, lane=2)
    crossings = crossings_for(a, mark_times(a.plan, T0, 1.01), skip=[6])
    crossings += crossings_for(b, mark_times(b.plan, T0, 0.98), source="camera",
                               by="athlete")[:9]
    crossings.sort(key=lambda c: c.time_s)
    events = [SessionSetup(make_session(a, b)), Start(T0), *crossings]
    core = Core()
    with EventLog(path) as log:
        for e in events:
            log.append(e)
            core.handle(e)
    return events, core


def expected_lines(events) -> list[str]:
    core = Core()
    return [format_output(o) for e in events for o in core.handle(e)]


def test_replay_prints_every_output_in_order(tmp_path):
    events, _ = record(tmp_path / "s.db")
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == expected_lines(events)
    assert "split a lap 2 backstretch" in result.output and "[estimated]" in result.output


def test_replay_is_identical_across_processes_and_hash_seeds(tmp_path):
    record(tmp_path / "s.db")
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", "from dashboard.cli import main; main()",
                               "replay", "--json", str(tmp_path / "s.db")],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) > 20
    kinds = {json.loads(line)["type"] for line in outs[0].splitlines()}
    assert kinds == {"split", "notice"}


def test_replay_speed_waits_in_session_time(tmp_path):
    path = tmp_path / "s.db"
    a = make_athlete("a")
    events = [SessionSetup(make_session(a)), Start(T0),
              *crossings_for(a, mark_times(a.plan, T0))[:1]]
    with EventLog(path) as log:
        log.append_many(events)
    began = time.perf_counter()
    result = CliRunner().invoke(main, ["replay", str(path), "--speed", "10"])
    elapsed = time.perf_counter() - began
    assert result.exit_code == 0
    # the first mark is 2.24 s after the gun: 0.22 s at 10x
    assert elapsed >= a.plan.segments[0].target_s / 10 * 0.9
    bad = CliRunner().invoke(main, ["replay", str(path), "--speed", "0"])
    assert bad.exit_code != 0 and "positive" in bad.output


def test_replay_and_export_report_missing_and_bad_logs(tmp_path):
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "nope.db")])
    assert result.exit_code != 0 and "no event log" in result.output
    path = tmp_path / "s.db"
    events, _ = record(path)
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("INSERT INTO events (type, time_s, body) VALUES ('x', 0, 'garbage')")
    db.commit()
    db.close()
    result = CliRunner().invoke(main, ["export", str(path)])
    assert result.exit_code != 0 and "cannot be read" in result.output
    assert "--skip-bad" in result.output
    ok = CliRunner().invoke(main, ["replay", "--skip-bad", str(path)])
    assert ok.exit_code == 0 and ok.output.splitlines() == expected_lines(events)


def test_export_csv_has_one_row_per_athlete_and_segment(tmp_path):
    events, core = record(tmp_path / "s.db")
    result = CliRunner().invoke(main, ["export", str(tmp_path / "s.db"), "--format", "csv"])
    assert result.exit_code == 0
    assert result.output == to_csv(core)
    rows = list(csv.DictReader(io.StringIO(result.output)))
    a_segs = core.athlete("a").plan.segments
    b_segs = core.athlete("b").plan.segments
    assert len(rows) == len(a_segs) + len(b_segs)
    assert tuple(rows[0]) == COLUMNS
    for row, seg in zip(rows[:len(a_segs)], a_segs, strict=True):
        assert (row["athlete"], row["segment"], int(row["lap"])) == ("a", seg.segment, seg.lap)
        assert float(row["target_s"]) == pytest.approx(seg.target_s, abs=1e-3)
        actual = float(row["actual_s"])
        assert float(row["deviation_s"]) == pytest.approx(actual - seg.target_s, abs=2e-3)
    assert rows[6]["flags"] == "estimated"
    b_rows = rows[len(a_segs):]
    assert [r["actual_s"] != "" for r in b_rows] == [i < 9 for i in range(len(b_segs))]
    assert all(r["source"] == "camera" for r in b_rows[:9])


def test_export_json_matches_the_rows_and_writes_files(tmp_path):
    _, core = record(tmp_path / "s.db")
    out = tmp_path / "splits.json"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "s.db"), "--format", "json",
                                       "-o", str(out)])
    assert result.exit_code == 0 and result.output == ""
    doc = json.loads(out.read_text())
    assert doc["rows"] == json.loads(json.dumps(splits_rows(core)))
    assert doc["session"]["name"] == "Tuesday intervals"
    assert out.read_text() == to_json(core)
