"""The REST API and Socket.IO handlers through Flask's test client (no network)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_dashboard_support import AUTH, TOKEN, plan_crossings, roster_payload

from dashboard import create_app

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture()
def app(tmp_path):
    return create_app({"DB_PATH": str(tmp_path / "log.db"), "TOKEN": TOKEN,
                       "ASYNC_MODE": "threading"})


@pytest.fixture()
def client(app):
    return app.test_client()


def sio_client(app, client, **auth):
    return app.extensions["trackside_socketio"].test_client(app, flask_test_client=client,
                                                            auth=auth or None)


def wait_for(sio, name, count=1, timeout_s=2.0):
    """Collect received events until ``count`` named ``name`` arrived (the sender is a thread)."""
    import time

    got, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got += sio.get_received()
        if sum(1 for m in got if m["name"] == name) >= count:
            break
        time.sleep(0.01)
    return got


def setup_and_start(client, start_s=1_700_000_000.0, names=("Ann", "Bo")):
    r = client.post("/api/v1/sessions", json=roster_payload(names), headers=AUTH)
    assert r.status_code == 201, r.get_json()
    r = client.post(f"/api/v1/sessions/{r.get_json()['session']['id']}/start",
                    json={"time_s": start_s}, headers=AUTH)
    assert r.status_code == 200
    return client.get("/api/v1/state").get_json()["state"]


MUTATING = [
    ("/api/v1/sessions", roster_payload()),
    ("/api/v1/sessions/current/start", {"time_s": 1.0}),
    ("/api/v1/sessions/current/false_start", {}),
    ("/api/v1/sessions/current/dnf", {"athlete": "a1"}),
    ("/api/v1/sessions/current/end", {}),
    ("/api/v1/crossings", {"mark": "finish", "time_s": 1.0, "athlete": "a1"}),
    ("/api/v1/clock", {"t0": 1.0}),
    ("/api/v1/nodes/cam/health", {"fps": 30}),
]


@pytest.mark.parametrize("path, body", MUTATING)
def test_mutating_calls_need_the_token(client, path, body):
    assert client.post(path, json=body).status_code == 401
    wrong = client.post(path, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.get_json()["field"] == "token"
    assert client.post(path, json=body, headers={"X-Trackside-Token": "nope"}).status_code == 403
    # nothing reached the log
    assert client.get("/api/v1/health").get_json()["counters"]["events"] == 0


def test_reads_need_no_token(client):
    for path in ("/coach", "/screen", "/api/v1/state", "/api/v1/health", "/api/v1/export.csv",
                 "/api/v1/export.json", "/static/vendor/socket.io-client/socket.io.min.js",
                 "/static/vendor/chart.js/chart.umd.min.js"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/crossings", {"time_s": 1.0, "athlete": "a1"}, "mark"),
    ("/api/v1/crossings", {"mark": "finish", "time_s": "later", "athlete": "a1"}, "time_s"),
    ("/api/v1/crossings", {"mark": "finish", "time_s": 1.0}, "athlete"),
    ("/api/v1/crossings", ["finish"], "body"),
    ("/api/v1/sessions", {"athletes": [{"name": "A"}]}, "athletes[0].five_k_s"),
    ("/api/v1/sessions", {"athletes": [{"name": "A", "five_k_s": 1200, "lane": 11}]},
     "athletes[0].lane"),
    ("/api/v1/sessions/current/start", {"time_s": "now"}, "time_s"),
    ("/api/v1/sessions/current/start", {"athletes": "a1"}, "athletes"),
    ("/api/v1/sessions/current/dnf", {}, "athlete"),
])
def test_malformed_payloads_are_400_naming_the_field(client, path, body, field):
    r = client.post(path, json=body, headers=AUTH)
    assert r.status_code == 400
    assert r.get_json()["field"] == field and field in r.get_json()["error"]


def test_invalid_json_body_is_400(client):
    r = client.post("/api/v1/crossings", data="{not json", headers={**AUTH,
                    "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["field"] == "body"


def test_snapshot_first_then_splits_with_contract_fields(app, client):
    state = setup_and_start(client)
    coach = sio_client(app, client, role="coach")
    first = coach.get_received()
    assert first and first[0]["name"] == "snapshot"
    snap = first[0]["args"][0]
    assert [a["name"] for a in snap["state"]["athletes"]] == ["Ann", "Bo"]
    assert snap["state"]["athletes"][0]["status"] == "running"

    (mark, t), (mark2, t2) = plan_crossings(state, "a1", 1_700_000_000.0, [0.3, 1.5])
    r = client.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": "a1"},
                    headers=AUTH)
    assert r.status_code == 200 and r.get_json()["outputs"][0]["type"] == "split"
    client.post("/api/v1/crossings", json={"mark": mark2, "time_s": t2, "tag": "TAG1",
                                           "source": "rfid"}, headers=AUTH)
    splits = [m["args"][0] for m in wait_for(coach, "split", 2) if m["name"] == "split"]
    assert len(splits) == 2
    s = splits[1]
    for key in ("athlete", "lap", "segment", "mark", "time_s", "split_s", "target_s",
                "deviation_s", "cum_deviation_s", "projected_finish_s", "next_cue", "flags"):
        assert key in s
    assert s["athlete"] == "a1" and s["mark"] == mark2 and s["source"] == "rfid"
    assert s["cum_deviation_s"] == pytest.approx(1.5, abs=1e-6)
    assert s["deviation_s"] == pytest.approx(1.2, abs=1e-6)
    assert set(s["next_cue"]) == {"effort", "text"} and s["next_cue"]["text"]


def test_screen_following_one_athlete_gets_only_theirs(app, client):
    state = setup_and_start(client)
    screen_bo = sio_client(app, client, role="screen", athletes=["a2"])
    screen_all = sio_client(app, client, role="screen")
    screen_bo.get_received(), screen_all.get_received()
    for aid in ("a1", "a2"):
        (mark, t), = plan_crossings(state, aid, 1_700_000_000.0, [0.1])
        client.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": aid},
                    headers=AUTH)
    got_all = [m["args"][0]["athlete"] for m in wait_for(screen_all, "split", 2)
               if m["name"] == "split"]
    got_bo = [m["args"][0]["athlete"] for m in wait_for(screen_bo, "split", 1)
              if m["name"] == "split"]
    assert sorted(got_all) == ["a1", "a2"] and got_bo == ["a2"]
    # following someone else switches rooms
    screen_bo.emit("follow", {"athletes": ["a1"]})
    screen_bo.get_received()
    (mark, t), (mark2, t2) = plan_crossings(state, "a2", 1_700_000_000.0, [0.1, 0.2])
    client.post("/api/v1/crossings", json={"mark": mark2, "time_s": t2, "athlete": "a2"},
                headers=AUTH)
    wait_for(screen_all, "split", 1)
    assert not [m for m in screen_bo.get_received() if m["name"] == "split"]


def test_xss_in_names_is_data_not_markup(app, client):
    r = client.post("/api/v1/sessions", json={"athletes": [{"name": XSS, "five_k_s": 1200}]},
                    headers=AUTH)
    assert r.status_code == 201
    # pages never render roster data server-side; it only travels as JSON text
    for page in ("/coach", "/screen"):
        html = client.get(page).get_data(as_text=True)
        assert "alert" not in html and "onerror" not in html
    state = client.get("/api/v1/state")
    assert state.mimetype == "application/json"
    assert state.get_json()["state"]["athletes"][0]["name"] == XSS


def test_control_events_dnf_false_start_end(client):
    state = setup_and_start(client)
    (mark, t), = plan_crossings(state, "a1", 1_700_000_000.0, [0.0])
    client.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": "a1"},
                headers=AUTH)
    r = client.post("/api/v1/sessions/current/dnf", json={"athlete": "a2", "time_s": t},
                    headers=AUTH)
    assert r.status_code == 200
    statuses = {a["id"]: a["status"] for a in
                client.get("/api/v1/state").get_json()["state"]["athletes"]}
    assert statuses == {"a1": "running", "a2": "dnf"}
    client.post("/api/v1/sessions/current/false_start", json={"time_s": t + 1}, headers=AUTH)
    after = client.get("/api/v1/state").get_json()["state"]["athletes"]
    assert after[0]["status"] == "waiting" and after[0]["splits"] == []
    client.post("/api/v1/sessions/current/start", json={"time_s": t + 10}, headers=AUTH)
    r = client.post("/api/v1/sessions/current/end", json={"time_s": t + 20}, headers=AUTH)
    assert r.status_code == 200
    assert client.get("/api/v1/state").get_json()["state"]["ended_s"] == t + 20


def test_export_csv_and_json_match_the_splits(client):
    state = setup_and_start(client)
    for mark, t in plan_crossings(state, "a1", 1_700_000_000.0, [0.5, 0.7, 0.4]):
        client.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": "a1"},
                    headers=AUTH)
    r = client.get("/api/v1/export.csv")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert rows, "one row per athlete and segment"
    data = json.loads(client.get("/api/v1/export.json").get_data(as_text=True))
    assert data
    assert client.get("/api/v1/export.xml").status_code == 404


def test_restart_replays_the_log(tmp_path):
    cfg = {"DB_PATH": str(tmp_path / "log.db"), "TOKEN": TOKEN, "ASYNC_MODE": "threading"}
    first = create_app(cfg).test_client()
    state = setup_and_start(first)
    for mark, t in plan_crossings(state, "a2", 1_700_000_000.0, [0.2, 0.9]):
        first.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": "a2"},
                   headers=AUTH)
    before = first.get("/api/v1/state").get_json()["state"]
    again = create_app(cfg).test_client().get("/api/v1/state").get_json()["state"]
    assert again["athletes"] == before["athletes"] and again["seq"] == before["seq"]


def test_http_node_link_clock_and_health(client):
    r = client.post("/api/v1/clock", json={"t0": 123.0}, headers=AUTH)
    body = r.get_json()
    assert body["t0"] == 123.0 and body["t1"] <= body["t2"]
    r = client.post("/api/v1/nodes/finish-cam/health", json={"fps": 59.9, "connected": True},
                    headers=AUTH)
    assert r.status_code == 200
    nodes = client.get("/api/v1/health").get_json()["nodes"]
    assert nodes["finish-cam"]["fps"] == 59.9
    # a batch with one bad record: the good one lands, the bad one is named and acked
    setup_and_start(client)
    state = client.get("/api/v1/state").get_json()["state"]
    (mark, t), = plan_crossings(state, "a1", 1_700_000_000.0, [0.0])
    r = client.post("/api/v1/crossings", headers=AUTH, json={"node": "n1", "crossings": [
        {"seq": 1, "mark": mark, "time_s": t, "athlete": "a1"},
        {"seq": 2, "mark": "moon", "time_s": t, "athlete": "a1"}]})
    body = r.get_json()
    assert body["acked"] == [1, 2] and body["errors"][0]["field"] == "mark"
    splits = client.get("/api/v1/state").get_json()["state"]["athletes"][0]["splits"]
    assert len(splits) == 1 and splits[0]["sensor_id"] == "n1"


def test_concurrent_posts_log_in_the_order_the_core_saw(tmp_path):
    """Group commit under concurrency: a restart replays to exactly the same state."""
    import threading

    cfg = {"DB_PATH": str(tmp_path / "log.db"), "TOKEN": TOKEN, "ASYNC_MODE": "threading"}
    app = create_app(cfg)
    client = app.test_client()
    names = tuple(f"R{i}" for i in range(6))
    state = setup_and_start(client, names=names)
    errors = []

    def run(aid):
        c = app.test_client()
        for mark, t in plan_crossings(state, aid, 1_700_000_000.0, [0.1 * k for k in range(8)]):
            r = c.post("/api/v1/crossings", json={"mark": mark, "time_s": t, "athlete": aid},
                       headers=AUTH)
            if r.status_code != 200:
                errors.append(r.get_json())

    threads = [threading.Thread(target=run, args=(f"a{i + 1}",)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    live = client.get("/api/v1/state").get_json()["state"]
    assert all(len(a["splits"]) == 8 for a in live["athletes"])
    health = client.get("/api/v1/health").get_json()["counters"]
    assert health["events"] == 2 + 6 * 8 and health["commits"] <= health["events"]
    replayed = create_app(cfg).test_client().get("/api/v1/state").get_json()["state"]
    assert replayed == live
