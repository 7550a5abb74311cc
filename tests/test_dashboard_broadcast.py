"""The broadcaster: coalescing under bursts, bounded pending, cutting off slow clients.

Runs against a real Flask-SocketIO server object and its test clients; the
sender loop is not started, so the test decides when the burst is flushed.
"""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO, join_room

from dashboard import wire
from dashboard.broadcast import COACH, Broadcaster, rooms_for


def make(max_pending=10_000, max_backlog=5):
    app = Flask(__name__)
    sio = SocketIO(app, async_mode="threading")

    @sio.on("connect")
    def connect(auth=None):
        join_room(COACH)

    b = Broadcaster(sio, max_pending=max_pending, max_backlog=max_backlog)
    b._wake = sio.server.eio.create_event()  # file messages; the test flushes
    return app, sio, b


def split(athlete="a1", lap=1, segment="turn1", split_s=20.0, seq=1):
    return {"v": 1, "type": "split", "athlete": athlete, "lap": lap, "segment": segment,
            "split_s": split_s, "seq": seq}


def test_a_burst_of_corrections_is_coalesced_to_the_newest():
    app, sio, b = make()
    client = sio.test_client(app)
    client.get_received()
    for i in range(50):
        b.publish(split(split_s=20.0 + i, seq=i))
    b.publish(split(segment="backstretch", seq=99))
    assert b.flush() == 2
    got = [m["args"][0] for m in client.get_received()]
    assert [(m["segment"], m["split_s"]) for m in got] == [("turn1", 69.0), ("backstretch", 20.0)]
    assert b.counters["coalesced"] == 49 and b.counters["emitted"] == 2


def test_a_snapshot_supersedes_waiting_splits_but_not_notices():
    app, sio, b = make()
    client = sio.test_client(app)
    client.get_received()
    b.publish(split())
    b.publish({"v": 1, "type": "notice", "kind": "dnf", "text": "a2 stopped"})
    b.publish(wire.snapshot_message({"athletes": []}, server_time_s=1.0))
    b.flush()
    assert [m["name"] for m in client.get_received()] == ["notice", "snapshot"]


def test_uncoalescable_messages_are_capped_oldest_first():
    app, sio, b = make(max_pending=3)
    client = sio.test_client(app)
    client.get_received()
    for i in range(10):
        b.publish({"v": 1, "type": "rejected", "reason": f"r{i}"})
    b.flush()
    assert [m["args"][0]["reason"] for m in client.get_received()] == ["r7", "r8", "r9"]
    assert b.counters["dropped"] == 7


def test_rooms():
    assert rooms_for(split("bo")) == ["coach", "all", "athlete:bo"]
    assert rooms_for({"type": "snapshot"}) is None
    assert rooms_for({"type": "health"}) == ["coach"]


def test_clients_past_the_backlog_limit_are_cut_off():
    app, sio, b = make(max_backlog=5)
    cut: list[str] = []
    assert b.cut_off_slow({"fast": 0, "slow": 6, "edge": 5}, disconnect=cut.append) == ["slow"]
    assert cut == ["slow"] and b.counters["cut_off"] == 1
    # and the real engine.io view is readable (one connected test client: empty queue)
    sio.test_client(app)
    assert all(size >= 0 for size in b.backlogs().values())


def test_batched_frames_are_standard_websocket_frames():
    from dashboard.wsbatch import frame

    assert frame(b"42", 0x1) == b"\x81\x0242"
    mid = frame(b"x" * 300, 0x1)
    assert mid[:4] == b"\x81\x7e\x01\x2c" and len(mid) == 304
    big = frame(b"y" * 70_000, 0x2)
    assert big[:2] == b"\x82\x7f" and int.from_bytes(big[2:10], "big") == 70_000


def test_direct_writer_keeps_order_bounds_a_stalled_peer_and_reports_the_drain():
    """Real sockets under gevent: the writer never blocks, keeps byte order, flags lagging."""
    import gevent
    from gevent import socket as gsocket

    from dashboard.wsbatch import DirectWriter

    ours, peer = gsocket.socketpair()
    ours.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_SNDBUF, 4096)
    drained: list[int] = []
    writer = DirectWriter(ours, gevent.spawn, max_buffered_bytes=64 * 1024)
    writer.on_drained = lambda w: drained.append(w.buffered_bytes)
    chunks = [f"{i:06d}".encode() * 200 for i in range(200)]  # 240 kB, peer not reading
    for chunk in chunks:
        assert writer.write(chunk)  # returns at once even though the peer is stalled
    assert writer.lagging and writer.buffered_bytes > 64 * 1024
    got = bytearray()

    def read_all():
        while len(got) < sum(map(len, chunks)):
            got.extend(peer.recv(1 << 16))

    gevent.spawn(read_all).join(timeout=10)
    gevent.sleep(0.01)
    assert bytes(got) == b"".join(chunks)  # every byte, in the order written
    assert not writer.lagging and drained == [0] and writer.buffered_bytes == 0
    peer.close()
    gevent.sleep(0.01)
    for _ in range(50):  # a dead peer: writes are refused, nothing piles up
        if not writer.write(b"x" * 10_000):
            break
        gevent.sleep(0.001)
    assert writer.closed and writer.buffered_bytes == 0
    ours.close()


def test_snapshot_bytes_do_not_make_a_client_lag():
    """A resync snapshot bigger than the bound must not start the next lag by itself."""
    import gevent
    from gevent import socket as gsocket

    from dashboard.wsbatch import DirectWriter

    ours, peer = gsocket.socketpair()
    ours.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_SNDBUF, 4096)
    writer = DirectWriter(ours, gevent.spawn, max_buffered_bytes=16 * 1024)
    snapshot = b"s" * 200_000
    assert writer.write(snapshot, exempt=len(snapshot))
    assert writer.buffered_bytes > 16 * 1024 and not writer.lagging
    for _ in range(5):  # updates behind it do count
        writer.write(b"u" * 2_000)
    assert not writer.lagging
    writer.write(b"u" * 10_000)
    assert writer.lagging
    peer.close()
    ours.close()
    gevent.sleep(0.01)
