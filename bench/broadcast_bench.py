"""Crossing posted -> `split` received: latency of the live broadcast, end to end.

    .venv/bin/python bench/broadcast_bench.py            # full matrix, ~6 minutes
    .venv/bin/python bench/broadcast_bench.py --quick    # shorter runs, ~3 minutes
    .venv/bin/python bench/broadcast_bench.py --quick --repeat 3 \
        --only bare:100:20,gevent:100:20:noload,gevent:100:500:link:noload

What runs where (2 cores here, like CI):
- the server: `python -m dashboard.commands.serve` in its own process (gevent,
  or threading for the comparison), with its real event log, and
  `TRACKSIDE_TRACE_STAGES=1` so it stamps each split's stages (received,
  logged, core, fan-out start and end; ``dashboard/stages.py``); the bench
  reads them from ``GET /api/v1/stages`` and prints where the time went;
- the baseline, in the same run: a bare Flask-SocketIO gevent app that emits a
  split-sized payload per POST (no core, no log), same listener, same clients;
- the clients: one process holding N Socket.IO connections (websocket
  transport, opted in to ``splits`` batches). They speak the Engine.IO /
  Socket.IO wire protocol directly over non-blocking sockets and epoll; once
  connected they only stamp each ``recv`` and keep the bytes, and parse the
  frames after the run (each split gets the time of the ``recv`` that
  completed its frame), so their own cost in the figures is one ``recv`` per
  client and write (~3 us here, with 64 KiB reads);
- the poster: this process, 16 HTTP connections posting `POST /api/v1/crossings`
  on a fixed schedule (like several sensor nodes), or one sensor node's
  `LinkClient` (`link` rows); a split's latency runs from just before its
  crossing is sent to its arrival at each client (perf_counter is
  CLOCK_MONOTONIC, shared by all processes);
- optionally a camera-like load: a process doing OpenCV blur + MOG2 on 720p
  frames without pause (one core, like a detector node).

``--repeat N`` runs the matrix N times (bare and dashboard alternate) and the
summary gives medians. Ends by printing one JSON line with every run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = str(Path(__file__).resolve().parent / "broadcast_peers.py")
TOKEN = "bench-token"


# --------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


class Server:
    def __init__(self, mode: str, db: Path) -> None:
        import requests

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bare = mode == "bare"
        if mode == "bare":
            cmd = [sys.executable, PEERS, "--bare", str(self.port)]
        else:
            cmd = [sys.executable, "-m", "dashboard.commands.serve", "--port", str(self.port),
                   "--db", str(db), "--token", TOKEN, "--async-mode", mode]
        env = {**os.environ, "TRACKSIDE_TRACE_STAGES": "1"}  # see stage_breakdown
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/health", timeout=0.5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def session_crossings(server: Server, run: int, athletes: int) -> list[dict]:
    """Set up a fresh roster; return its crossings (every mark of every athlete) in time order."""
    import requests

    rng = random.Random(run)
    roster = {"name": f"bench {run}", "athletes": [
        {"id": f"r{run}_{i}", "name": f"Runner {i}", "five_k_s": 1000 + rng.random() * 500,
         "lane": 1 + i % 8} for i in range(athletes)]}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.post(server.url + "/api/v1/sessions", json=roster, headers=auth, timeout=30)
    r.raise_for_status()
    start_s = 1_700_000_000.0 + run * 10_000
    requests.post(server.url + "/api/v1/sessions/x/start", json={"time_s": start_s},
                  headers=auth, timeout=30).raise_for_status()
    state = requests.get(server.url + "/api/v1/state", timeout=30).json()["state"]
    out = []
    for a in state["athletes"]:
        for index, seg in enumerate(a["plan"]["segments"]):
            jitter = rng.uniform(-0.5, 0.5)
            out.append({"mark": seg["to_mark"], "athlete": a["id"], "source": "rfid",
                        "time_s": start_s + seg["cum_target_s"] + jitter, "_index": index})
    out.sort(key=lambda c: c["time_s"])
    return out


def post_schedule(server: Server, crossings: list[dict], rate: float, workers: int = 16):
    """Post at ``rate``/s from ``workers`` keep-alive connections; returns {seq: sent_t}, lags.

    http.client, not requests: requests spends ~2.5 ms of client CPU per call
    here, which would be counted as broadcast latency.
    """
    import http.client

    sent: dict[int, float] = {}
    lags: list[float] = []
    lock = threading.Lock()
    index = iter(range(len(crossings)))
    t0 = time.perf_counter() + 0.2
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps({k: v for k, v in c.items() if k != "_index"}).encode()
              for c in crossings]  # bytes: one packet with the headers

    def work():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                conn.close()
                return
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t = time.perf_counter()
            conn.request("POST", "/api/v1/crossings", body=bodies[i], headers=headers)
            body = json.loads(conn.getresponse().read())
            with lock:
                lags.append(t - due)
                for o in body.get("outputs", ()):
                    if o.get("type") == "split":
                        sent[o["seq"]] = t

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sent, lags


def link_schedule(server: Server, crossings: list[dict], rate: float):
    """Send at ``rate``/s through a sensor node's link (``sensors.link.LinkClient``).

    Returns {seq: sent_t}: the split seqs are read back from the server's
    state by (athlete, plan index) once everything is acked.
    """
    import requests

    from sensors.link import LinkClient
    from timing.values import Crossing

    link = LinkClient(server.url, TOKEN, "bench-node", batch_max=500).start()
    deadline = time.monotonic() + 10
    while link.offset_s is None and time.monotonic() < deadline:
        time.sleep(0.01)
    sent_by_key: dict[tuple[str, int], float] = {}
    lags = []
    t0 = time.perf_counter() + 0.2
    for i, c in enumerate(crossings):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = time.perf_counter()
        lags.append(t - due)
        # the node's clock is the server's here (same machine): no offset to undo
        link.send_crossing(Crossing(mark=c["mark"], time_s=c["time_s"] - (link.offset_s or 0),
                                    athlete=c["athlete"], source="rfid"))
        sent_by_key[(c["athlete"], c["_index"])] = t
    link.wait_idle(30)
    link.stop(0)
    state = requests.get(server.url + "/api/v1/state", timeout=30).json()["state"]
    sent = {}
    for a in state["athletes"]:
        for u in a["splits"]:
            key = (a["id"], u["index"])
            if key in sent_by_key:
                sent[u["seq"]] = sent_by_key[key]
    return sent, lags


def stage_breakdown(server: Server, sent: dict[int, float],
                    received: list[tuple[int, float]]) -> dict[str, dict[str, float]]:
    """Where the time went, per split: p50/p99 ms of each step between stage stamps.

    ``sent`` is the bench's send time, the server's stamps come from
    ``GET /api/v1/stages`` (perf_counter = CLOCK_MONOTONIC in both processes),
    ``first``/``last`` are the first and last client's receive times.
    """
    import requests

    stamps = requests.get(server.url + "/api/v1/stages", timeout=30).json().get("splits", {})
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for seq, t in received:
        first[seq] = min(first.get(seq, t), t)
        last[seq] = max(last.get(seq, t), t)
    steps = {"post->received": ("sent", "received"), "received->logged": ("received", "logged"),
             "logged->core": ("logged", "core"), "core->emit_start": ("core", "emit_start"),
             "emit_start->emit_end": ("emit_start", "emit_end"),
             "emit_end->last_client": ("emit_end", "last"),
             "emit_start->first_client": ("emit_start", "first")}
    values: dict[str, list[float]] = {name: [] for name in steps}
    for seq, t_sent in sent.items():
        record = stamps.get(str(seq))
        if not record or "emit_end" not in record or seq not in last:
            continue
        record = {**record, "sent": t_sent, "first": first[seq], "last": last[seq]}
        for name, (a, b) in steps.items():
            values[name].append((record[b] - record[a]) * 1000)
    out = {}
    for name, vals in values.items():
        vals.sort()
        out[name] = {"p50_ms": round(percentile(vals, 0.5), 2),
                     "p99_ms": round(percentile(vals, 0.99), 2)}
    return out


def run_one(server: Server, run: int, clients: int, rate: float, duration_s: float,
            load: bool, tmp: Path, transport: str = "http") -> dict:
    count = int(rate * duration_s)
    if server.bare:
        crossings = [{"mark": "finish", "athlete": f"b{i}", "time_s": float(i), "_index": 0}
                     for i in range(count)]
    else:
        crossings = session_crossings(server, run, athletes=max(20, count // 17 + 2))[:count]
    time.sleep(0.5)
    out = tmp / f"recv_{run}.json"
    cproc = subprocess.Popen([sys.executable, PEERS, "--clients", str(clients),
                              "--port", str(server.port), "--out", str(out)],
                             stdout=subprocess.PIPE, text=True)
    assert cproc.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # let the connect snapshots drain
    loader = None
    if load:
        loader = subprocess.Popen([sys.executable, PEERS, "--load"])
        time.sleep(0.5)
    started = time.perf_counter()
    if transport == "link":
        sent, lags = link_schedule(server, crossings, rate)
    else:
        sent, lags = post_schedule(server, crossings, rate)
    post_s = time.perf_counter() - started
    time.sleep(min(10.0, 1.0 + duration_s))  # drain
    if loader:
        loader.kill()
        loader.wait()
    cproc.send_signal(signal.SIGTERM)
    cproc.wait(timeout=30)
    received = json.loads(out.read_text())
    latencies = sorted((t - sent[seq]) * 1000 for seq, t in received if seq in sent)
    expected = len(sent) * clients
    lags.sort()
    stages = None if server.bare else stage_breakdown(server, sent, received)
    return {"stages": stages, "clients": clients, "rate_per_s": rate, "camera_load": load,
            "transport": transport,
            "posted": count,
            "splits": len(sent), "expected": expected, "received": len(latencies),
            "lost": expected - len(latencies), "achieved_rate_per_s": round(count / post_s, 1),
            "p50_ms": round(percentile(latencies, 0.5), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(latencies[-1], 2) if latencies else None,
            "poster_lag_p99_ms": round(percentile(lags, 0.99) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the whole matrix (bare and dashboard alternate); "
                             "the summary gives medians over rounds")
    parser.add_argument("--only", default="",
                        help="comma-separated row filters, e.g. 'bare:100:20,gevent:100:500:link'")
    args = parser.parse_args()

    d20, d500 = (3.0, 1.5) if args.quick else (6.0, 3.0)
    # (mode, clients, rate, camera load, transport)
    matrix = [("bare", 1, 20, False, "http"), ("bare", 100, 20, False, "http"),
              ("bare", 100, 500, False, "http")]
    matrix += [("gevent", c, 20, load, "http") for load in (False, True) for c in (1, 20, 100)]
    matrix += [("gevent", c, 500, load, "link") for load in (False, True) for c in (1, 20, 100)]
    matrix += [("gevent", 100, 500, False, "http")]
    matrix += [("threading", 100, 20, False, "http"), ("threading", 20, 500, False, "link"),
               ("threading", 100, 500, False, "link")]
    if args.only:
        wanted = [w.split(":") for w in args.only.split(",") if w]

        def chosen(row):
            text = [row[0], str(row[1]), str(row[2]), row[4], "load" if row[3] else "noload"]
            return any(all(part in text for part in w) for w in wanted)

        matrix = [row for row in matrix if chosen(row)]
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="broadcast-bench-"))
    run = 0
    for round_no in range(args.repeat):
        for mode in ("bare", "gevent", "threading"):
            rows = [row for row in matrix if row[0] == mode]
            if not rows:
                continue
            server = Server(mode, tmp / f"{mode}-{round_no}.db")
            try:
                for _, clients, rate, load, transport in rows:
                    run += 1
                    res = {"mode": mode, "round": round_no,
                           **run_one(server, run, clients, rate, d20 if rate == 20 else d500,
                                     load, tmp, transport)}
                    results.append(res)
                    print(f"{mode:9s} {transport:4s} clients={clients:3d} rate={rate:3.0f}/s "
                          f"load={'yes' if load else 'no ':3s} p50={res['p50_ms']:8.2f} ms "
                          f"p99={res['p99_ms']:8.2f} ms max={res['max_ms']} ms "
                          f"lost={res['lost']}/{res['expected']}", flush=True)
                    if res["stages"] and clients == 100:
                        print("          stages p50/p99 ms: " + ", ".join(
                            f"{k} {v['p50_ms']}/{v['p99_ms']}"
                            for k, v in res["stages"].items()), flush=True)
            finally:
                server.stop()

    def pick(mode, clients, rate, load=False, transport=None):
        """The row's median p50/p99 over rounds, every round's p99, total lost."""
        rows = [r for r in results if (r["mode"], r["clients"], r["rate_per_s"],
                                       r["camera_load"]) == (mode, clients, rate, load)
                and transport in (None, r["transport"])]
        if not rows:
            return {"p99_ms": None, "lost": None, "p99_each": []}
        return {"p50_ms": statistics.median(r["p50_ms"] for r in rows),
                "p99_ms": statistics.median(r["p99_ms"] for r in rows),
                "p99_each": [r["p99_ms"] for r in rows], "lost": sum(r["lost"] for r in rows)}

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    g20 = pick("gevent", 100, 20)
    bare20 = pick("bare", 100, 20)
    g500 = pick("gevent", 100, 500, transport="link")
    summary = {
        "bench": "broadcast",
        "rounds": args.repeat,
        "p99_ms_100_clients_20_per_s": g20["p99_ms"],
        "p99_ms_each_round_100_clients_20_per_s": g20["p99_each"],
        "bare_p99_ms_each_round_100_clients_20_per_s": bare20["p99_each"],
        "bare_flask_socketio_p99_ms_100_clients_20_per_s": bare20["p99_ms"],
        "ratio_to_bare_p99_100_clients_20_per_s": ratio(g20["p99_ms"], bare20["p99_ms"]),
        "target_p99_under_15ms_met": g20["p99_ms"] is not None and g20["p99_ms"] < 15,
        "p99_ms_100_clients_500_per_s_link": g500["p99_ms"],
        "p99_ms_each_round_100_clients_500_per_s_link": g500["p99_each"],
        "lost_100_clients_500_per_s_link": g500["lost"],
        "target_500_per_s_met": (g500["p99_ms"] is not None and g500["p99_ms"] < 150
                                 and g500["lost"] == 0),
        "p99_ms_100_clients_500_per_s_link_camera_load":
            pick("gevent", 100, 500, True, "link")["p99_ms"],
        "bare_p99_ms_100_clients_500_per_s_http": pick("bare", 100, 500)["p99_ms"],
        "threading_p99_ms_100_clients_500_per_s_link":
            pick("threading", 100, 500, transport="link")["p99_ms"],
        "runs": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
