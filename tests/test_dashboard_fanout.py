"""The fan-out against a real `trackside serve`: batches, rooms, and a lagging client's resync.

Clients are real: python-socketio clients and a raw websocket that stops
reading (its kernel buffers fill, like a tablet whose Wi-Fi froze).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
import socketio
from test_dashboard_support import ServerProcess, plan_crossings, roster_payload

from dashboard.fanout import event_text, pieces_for

START_S = 1_700_000_000.0


def test_pieces_merge_runs_of_splits_only_for_batch_clients():
    msgs = [{"type": "split", "seq": 1}, {"type": "split", "seq": 2}, {"type": "notice"},
            {"type": "split", "seq": 3}, {"type": "split", "seq": 4}, {"type": "split", "seq": 5}]
    batched = pieces_for(msgs, range(6), batch=True)
    assert [(k, e) for k, e, _ in batched] == [((0, 1), "splits"), ((2,), "notice"),
                                               ((3, 4, 5), "splits")]
    plain = pieces_for(msgs, [0, 1, 2, 4], batch=False)
    assert [(k, e) for k, e, _ in plain] == [((0,), "split"), ((1,), "split"),
                                             ((2,), "notice"), ((4,), "split")]
    assert pieces_for(msgs, [3], batch=True) == [((3,), "split", "split")]
    assert event_text("split", {"a": "é"}) == '42["split",{"a":"\\u00e9"}]'
    with pytest.raises(ValueError):  # NaN is not JSON; a browser would drop the message
        event_text("split", {"x": float("nan")})


class Client:
    """A python-socketio page client recording split seqs, per event kind."""

    def __init__(self, url: str, **auth) -> None:
        self.seqs: list[int] = []
        self.kinds: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("split", lambda m: self._got("split", [m]))
        self.sio.on("splits", lambda ms: self._got("splits", ms))
        self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=5)

    def _got(self, kind: str, messages: list[dict]) -> None:
        with self.lock:
            self.kinds.append((kind, len(messages)))
            self.seqs.extend(m["seq"] for m in messages)

    def wait(self, count: int, timeout_s: float = 5.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while len(self.seqs) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.seqs)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("fanout") / "log.db") as srv:
        yield srv


def test_a_burst_reaches_every_client_once_in_order_batched_only_for_opted_in(server):
    assert server.post("/sessions", roster_payload(("Ann", "Bo"))).status_code == 201
    server.post("/sessions/current/start", {"time_s": START_S})
    state = server.state()
    batch = Client(server.url, role="coach", batch=True)
    plain = Client(server.url, role="coach")
    bo = Client(server.url, role="screen", athletes=["a2"], batch=True)
    try:
        crossings = [{"seq": i, "mark": mark, "time_s": t, "athlete": aid, "source": "rfid"}
                     for aid in ("a1", "a2")
                     for i, (mark, t) in enumerate(plan_crossings(
                         state, aid, START_S, [0.1 * k for k in range(10)]))]
        crossings.sort(key=lambda c: c["time_s"])
        # one node batch: twenty splits filed before the sender runs, one flush
        r = server.post("/crossings", {"node": "burst", "crossings": crossings})
        assert r.status_code == 200 and not r.json()["errors"]
        want = sorted(s["seq"] for a in server.state()["athletes"] for s in a["splits"])
        assert len(want) == 20
        assert batch.wait(20) == want and plain.wait(20) == want
        assert any(kind == "splits" and n > 1 for kind, n in batch.kinds)
        assert {kind for kind, _ in plain.kinds} == {"split"}  # never a batch unasked
        bo_want = sorted(s["seq"] for s in server.state()["athletes"][1]["splits"])
        assert bo.wait(10) == bo_want
        time.sleep(0.2)
        assert batch.seqs == want and plain.seqs == want and bo.seqs == bo_want  # no repeats
    finally:
        for c in (batch, plain, bo):
            c.sio.disconnect()


class FrozenSocket:
    """A raw Socket.IO websocket client that connects, then stops reading."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Version: 13\r\n\r\n")
        self.send_text(b'40{"role":"coach"}')
        self.buf = b""

    def send_text(self, text: bytes) -> None:
        mask = b"abcd"
        self.sock.sendall(bytes((0x81, 0x80 | len(text))) + mask
                          + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))

    def read_frames(self, until, timeout_s: float) -> list[bytes]:
        """Read text frames (answering pings) until ``until(frame)`` or the timeout."""
        frames: list[bytes] = []
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout_s
        if b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        if self.buf.startswith(b"HTTP/"):
            self.buf = self.buf.split(b"\r\n\r\n", 1)[1]
        while time.monotonic() < deadline:
            while len(self.buf) >= 2:
                n, start = self.buf[1] & 0x7F, 2
                if n == 126:
                    n, start = int.from_bytes(self.buf[2:4], "big"), 4
                elif n == 127:
                    n, start = int.from_bytes(self.buf[2:10], "big"), 10
                if len(self.buf) < start + n:
                    break
                payload, self.buf = self.buf[start:start + n], self.buf[start + n:]
                frames.append(payload)
                if payload == b"2":
                    self.send_text(b"3")
                if until(payload):
                    return frames
            try:
                self.buf += self.sock.recv(1 << 20)
            except TimeoutError:
                continue
        return frames


@pytest.mark.slow
def test_a_lagging_client_gets_no_splits_then_a_fresh_snapshot_and_others_do_not_wait(server):
    health = lambda: requests.get(server.url + "/api/v1/health", timeout=2).json()  # noqa: E731
    frozen = FrozenSocket(server.port)
    live = Client(server.url, role="coach", batch=True)
    try:
        # 40 athletes: the setup snapshot alone is big, but snapshots do not make a
        # client lag (else every resync over a slow link would start the next lag)
        names = tuple(f"Runner {i}" for i in range(40))
        assert server.post("/sessions", roster_payload(names)).status_code == 201
        start_s = START_S + 10_000  # a later heat than the other test's (same server)
        server.post("/sessions/current/start", {"time_s": start_s})
        state = server.state()
        assert health()["lagging"] == 0
        # a burst of ~1 MB of splits (39 runners x 25 marks) the frozen client cannot take
        burst = [{"seq": k, "mark": mark, "time_s": t, "athlete": f"a{i}", "source": "rfid"}
                 for i in range(1, 40)
                 for k, (mark, t) in enumerate(plan_crossings(state, f"a{i}", start_s,
                                                              [0.0] * 30))]
        burst.sort(key=lambda c: c["time_s"])
        count = lambda: sum(len(a["splits"]) for a in server.state()["athletes"])  # noqa: E731
        before = count()
        assert server.post("/crossings", {"node": "burst", "crossings": burst}).ok
        splits = count() - before
        assert splits > 500 and len(live.wait(splits, timeout_s=10)) == splits
        assert health()["lagging"] == 1, health()
        # one more split, for a40: the lagging client is spared it, the live one is not
        (mark, t), = plan_crossings(state, "a40", start_s, [0.3])
        sent = time.perf_counter()
        reply = server.post("/crossings", {"mark": mark, "time_s": t, "athlete": "a40"}).json()
        seq = reply["outputs"][0]["seq"]
        while seq not in live.seqs and time.perf_counter() - sent < 5:
            time.sleep(0.005)
        assert time.perf_counter() - sent < 2.0  # not held up by the frozen one
        assert health()["fanout"]["skipped_lagging"] >= 1
        # the frozen client reads again: it drains, then gets the state with the split

        def has_split(frame: bytes) -> bool:
            if not frame.startswith(b'42["snapshot"'):
                return False
            athletes = json.loads(frame[2:])[1]["state"]["athletes"]
            return any(s["seq"] == seq for a in athletes for s in a["splits"])

        frames = frozen.read_frames(has_split, timeout_s=8)
        assert frames and has_split(frames[-1]), [f[:40] for f in frames[-3:]]
        assert not any(f.startswith(b'42["split') and b'"a40"' in f for f in frames)
        assert health()["broadcast"]["resyncs"] >= 1 and health()["lagging"] == 0
    finally:
        live.sio.disconnect()
        frozen.sock.close()
