"""A real `trackside serve` (gevent) on 127.0.0.1 with real python-socketio clients."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio
from test_dashboard_support import ServerProcess, plan_crossings, roster_payload

from sensors.link import Backoff, LinkClient
from timing.values import Crossing

START_S = 1_700_000_000.0


class Recorder:
    """A python-socketio client that records every event with its arrival order."""

    def __init__(self, url: str, **auth) -> None:
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                   reconnection_delay_max=0.5)
        for name in ("snapshot", "split", "health", "notice", "rejected"):
            self.sio.on(name, self._handler(name))
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)

    def _handler(self, name):
        def handle(data):
            with self.cond:
                self.events.append((name, data))
                self.cond.notify_all()
        return handle

    def named(self, name: str) -> list[dict]:
        with self.cond:
            return [d for n, d in self.events if n == name]

    def wait(self, name: str, count: int, timeout_s: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while sum(1 for n, _ in self.events if n == name) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
        return self.named(name)

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture()
def server(tmp_path):
    with ServerProcess(tmp_path / "log.db") as srv:
        yield srv


def start_session(server: ServerProcess, names=("Ann", "Bo")) -> dict:
    assert server.post("/sessions", roster_payload(names)).status_code == 201
    assert server.post("/sessions/current/start", {"time_s": START_S}).status_code == 200
    return server.state()


def test_clients_get_snapshot_first_then_splits_by_room(server):
    state = start_session(server)
    coach = Recorder(server.url, role="coach")
    bo = Recorder(server.url, role="screen", athletes=["a2"])
    try:
        assert coach.wait("snapshot", 1) and coach.events[0][0] == "snapshot"
        assert bo.events[0][0] == "snapshot"
        for aid in ("a1", "a2"):
            for mark, t in plan_crossings(state, aid, START_S, [0.4, 1.0]):
                r = server.post("/crossings", {"mark": mark, "time_s": t, "athlete": aid})
                assert r.status_code == 200
        splits = coach.wait("split", 4)
        assert [(s["athlete"], round(s["cum_deviation_s"], 6)) for s in splits] == [
            ("a1", 0.4), ("a1", 1.0), ("a2", 0.4), ("a2", 1.0)]
        assert [s["athlete"] for s in bo.wait("split", 2)] == ["a2", "a2"]
        time.sleep(0.2)
        assert len(bo.named("split")) == 2
        # health reports reach the coach room only
        server.post("/nodes/finish-rfid/health", {"reads_per_s": 12.5})
        assert coach.wait("health", 1)[-1]["health"]["reads_per_s"] == 12.5
        time.sleep(0.2)
        assert bo.named("health") == []
    finally:
        coach.close()
        bo.close()


def test_unauthenticated_calls_are_refused_by_the_real_server(server):
    start_session(server)
    r = server.post("/crossings", {"mark": "finish", "time_s": START_S + 2, "athlete": "a1"},
                    auth=False)
    assert r.status_code == 401
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(server.url, namespaces=["/node"], auth={"token": "wrong", "node": "x"},
                    transports=["websocket"], wait_timeout=3)
    assert all(not a["splits"] for a in server.state()["athletes"])


def test_a_coach_socket_without_token_only_watches(server):
    """role=coach without a token joins the read-only coach room; no page event mutates."""
    state = start_session(server)
    before = server.state()
    watcher = Recorder(server.url, role="coach")  # no token anywhere
    try:
        assert watcher.wait("snapshot", 1)
        (mark, t), = plan_crossings(state, "a1", START_S, [0.2])
        crossing = {"mark": mark, "time_s": t, "athlete": "a1", "source": "tap"}
        for event, data in [("crossings", {"crossings": [{"seq": 1, **crossing}]}),
                            ("crossing", crossing), ("health", {"health": {"x": 1}}),
                            ("start", {"time_s": START_S + 5}), ("end", {}),
                            ("dnf", {"athlete": "a1"}), ("setup", roster_payload(("Eve",))),
                            ("follow", {"athletes": ["a1"]}), ("sync", {})]:
            watcher.sio.emit(event, data)
        reply = watcher.sio.call("clock", {}, timeout=5)  # read-only probes still answer
        assert reply["t2"] >= reply["t1"]
        time.sleep(0.3)
        after = server.state()
        assert after["athletes"] == before["athletes"] and after["ended_s"] is None
        assert requests.get(server.url + "/api/v1/health", timeout=2).json()["nodes"] == {}
        # ...and it does watch: a split posted with the token reaches it
        assert server.post("/crossings", crossing).status_code == 200
        assert watcher.wait("split", 1)[0]["athlete"] == "a1"
    finally:
        watcher.close()


@pytest.mark.slow
def test_a_frozen_client_does_not_delay_the_others(server):
    """A client that stops reading (its TCP buffers fill up) must not hold up the rest."""
    import socket as pysocket

    import requests

    frozen = pysocket.socket()
    frozen.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, 4096)
    frozen.connect(("127.0.0.1", server.port))
    frozen.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                   b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   b"Sec-WebSocket-Version: 13\r\n\r\n")
    # a masked text frame "40": the Socket.IO connect; then this client never reads again
    frozen.sendall(b"\x81\x82abcd" + bytes(a ^ b for a, b in zip(b"40", b"ab", strict=True)))
    live = Recorder(server.url, role="coach")
    try:
        health = requests.get(server.url + "/api/v1/health", timeout=2).json()
        assert health["clients"] == 2
        # flood every client with big snapshots (a 40-athlete roster, set up 30 times):
        # megabytes that the frozen client's socket cannot take
        roster = roster_payload(tuple(f"Runner {i}" for i in range(40)))
        for _ in range(30):
            assert server.post("/sessions", roster).status_code == 201
        live.wait("snapshot", 31, timeout_s=10)
        health = requests.get(server.url + "/api/v1/health", timeout=2).json()
        # the frozen client is megabytes behind: still connected with its bytes in its
        # own bounded buffer, or already cut off for passing the 4 MiB cap...
        frozen_left = health["clients"] == 2
        assert (health["max_buffered_bytes"] > 1 << 20) if frozen_left else (
            health["broadcast"]["cut_off"] == 1 and health["clients"] == 1), health
        state = server.state()
        server.post("/sessions/current/start", {"time_s": START_S})
        marks = plan_crossings(state, "a1", START_S, [0.1 * k for k in range(8)])
        latencies = []
        for mark, t in marks:  # ...and the live one still gets every split at once
            sent = time.perf_counter()
            server.post("/crossings", {"mark": mark, "time_s": t, "athlete": "a1"})
            live.wait("split", len(latencies) + 1)
            latencies.append(time.perf_counter() - sent)
        assert len(live.named("split")) == len(marks)
        # blocked behind the frozen client would mean seconds (until its ping timeout);
        # 2 s leaves room for a loaded CI box
        assert max(latencies) < 2.0, latencies
    finally:
        live.close()
        frozen.close()


@pytest.mark.slow
def test_node_link_loses_nothing_across_a_server_restart(tmp_path):
    server = ServerProcess(tmp_path / "log.db").start()
    try:
        state = start_session(server)
        marks = plan_crossings(state, "a1", START_S, [0.05 * k for k in range(10)])
        link = LinkClient(server.url, server.token, "finish-node",
                          backoff=Backoff(initial_s=0.05, max_s=0.3)).start()
        for mark, t in marks[:4]:
            link.send_crossing(Crossing(mark=mark, time_s=t, athlete="a1", source="rfid"))
        assert link.wait_idle(10)
        assert abs(link.offset_s) < 0.05  # same machine: clocks agree
        server.stop()
        for mark, t in marks[4:]:  # sent while the server is down: buffered
            link.send_crossing(Crossing(mark=mark, time_s=t, athlete="a1", source="rfid"))
        time.sleep(0.3)
        assert link.pending() == 6
        server.start()
        assert link.wait_idle(15), link.health()
        athletes = server.state()["athletes"]
        got = [s["time_s"] - START_S for s in athletes[0]["splits"]]
        # every crossing arrived once, moved by the measured offset (tiny on loopback)
        assert got == pytest.approx([t - START_S for _, t in marks], abs=0.005)
        assert link.health()["connects"] >= 2
        link.send_health({"reads_per_s": 3.0})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            nodes = server.state and __import__("requests").get(
                server.url + "/api/v1/health", timeout=2).json()["nodes"]
            if nodes.get("finish-node", {}).get("reads_per_s") == 3.0:
                break
            time.sleep(0.05)
        assert nodes["finish-node"]["reads_per_s"] == 3.0 and nodes["finish-node"]["connected"]
        link.stop()
    finally:
        server.stop()


@pytest.mark.slow
def test_page_client_resyncs_from_snapshot_after_restart(tmp_path):
    server = ServerProcess(tmp_path / "log.db").start()
    coach = None
    try:
        state = start_session(server)
        coach = Recorder(server.url, role="coach")
        coach.wait("snapshot", 1)
        (m1, t1), (m2, t2) = plan_crossings(state, "a1", START_S, [0.2, 0.3])
        server.post("/crossings", {"mark": m1, "time_s": t1, "athlete": "a1"})
        coach.wait("split", 1)
        server.stop()
        server.start()
        server.post("/crossings", {"mark": m2, "time_s": t2, "athlete": "a1"})
        snaps = coach.wait("snapshot", 2, timeout_s=10)
        assert len(snaps) >= 2
        # whatever happened while away is in the fresh snapshot or arrives after it
        time.sleep(0.3)
        last = snaps[-1]["state"]["athletes"][0]["splits"]
        seen = {s["seq"] for s in last} | {s["seq"] for s in coach.named("split")}
        assert {s["seq"] for s in server.state()["athletes"][0]["splits"]} <= seen
    finally:
        if coach:
            coach.close()
        server.stop()
