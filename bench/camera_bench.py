"""Camera sensor benchmark: timing accuracy on rendered footage, and speed.

Accuracy: single runners in a clear lane, short exposure (1 ms), rendered as
640x360 mp4v files and decoded with OpenCV, at 30/60/120/240 fps. For each
crossing: the detector's error and, in the same run, the naive method's (the
time of the first frame whose line pixels change). Empty scenes (light ramps,
flicker, shake, walkers) count false crossings.

Speed: frames per second including decoding, on one core (affinity pinned,
OpenCV single-threaded), at 1280x720 (120 fps footage) and 1920x1080 (60 fps).

Run: .venv/bin/python bench/camera_bench.py [--quick]
Ends with one line of JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from sensors.camera.detector import Detector  # noqa: E402
from sensors.camera.line import Line  # noqa: E402
from sensors.camera.render import random_scene, render_clip  # noqa: E402
from sensors.camera.source import FrameSource  # noqa: E402


def one_core() -> None:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    cv2.setNumThreads(1)


def run_clip(path: Path, line) -> tuple[list, float | None, int, float]:
    """Detector crossings, naive time, frames, seconds spent (decode + detect)."""
    det = Detector(Line(*line))
    out = []
    naive = None
    centre = det.geometry.center_row
    n = 0
    t0 = time.perf_counter()
    with FrameSource(str(path), live=False) as src:
        for f in src.frames():
            out += det.feed(f.image, f.time_s)
            n += 1
            if naive is None and n > 1:
                # Naive: the first frame in which the line's own pixels changed.
                fg = det.background.last_mask
                if fg is not None and fg[centre - 1 : centre + 2].sum() >= 3:
                    naive = f.time_s
    out += det.flush()
    return out, naive, n, time.perf_counter() - t0


def accuracy(tmp: Path, fps: float, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    errs, naive_errs, missed, false = [], [], 0, 0
    for i in range(n):
        scene = random_scene(rng, "single", 640, 360, fps=fps, duration_s=1.0)
        truth = render_clip(tmp / f"a{i}.mp4", scene).crossings[0]
        found, naive, _, _ = run_clip(tmp / f"a{i}.mp4", scene.line)
        match = [c for c in found if abs(c.time_s - truth.time_s) < 0.05]
        if match:
            best = min(match, key=lambda c: abs(c.time_s - truth.time_s))
            errs.append(best.time_s - truth.time_s)
            false += len(found) - 1
        else:
            missed += 1
            false += len(found)
        if naive is not None:
            naive_errs.append(naive - truth.time_s)
    e, ne = np.array(errs) * 1000, np.array(naive_errs) * 1000
    return {
        "fps": fps, "n": n, "missed": missed, "false": false,
        "bias_ms": round(float(e.mean()), 2), "p50_ms": round(float(np.median(np.abs(e))), 2),
        "p95_ms": round(float(np.percentile(np.abs(e), 95)), 2),
        "naive_bias_ms": round(float(ne.mean()), 2),
        "naive_p95_ms": round(float(np.percentile(np.abs(ne), 95)), 2),
    }


def empty(tmp: Path, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    false = 0
    for i in range(n):
        scene = random_scene(rng, "empty", 640, 360, fps=30, duration_s=2.0)
        render_clip(tmp / f"e{i}.mp4", scene)
        false += len(run_clip(tmp / f"e{i}.mp4", scene.line)[0])
    return {"clips": n, "false_crossings": false}


def speed(tmp: Path, width: int, height: int, fps: float, seconds: float) -> dict:
    rng = np.random.default_rng(99)
    scene = random_scene(rng, "single", width, height, fps=fps, duration_s=seconds)
    path = tmp / f"s{width}.mp4"
    render_clip(path, scene)
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    k = 0
    while cap.read()[0]:
        k += 1
    decode_fps = k / (time.perf_counter() - t0)
    _, _, n, spent = run_clip(path, scene.line)
    return {
        "size": f"{width}x{height}", "footage_fps": fps, "frames": n,
        "fps_with_decode": round(n / spent, 1), "decode_only_fps": round(decode_fps, 1),
        "x_real_time": round(n / spent / fps, 2),
        "detector_ms_per_frame": round(1000 * (spent / n - 1 / decode_fps), 3),
    }


def main() -> None:
    quick = "--quick" in sys.argv
    one_core()
    n = 8 if quick else 25
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        acc = [accuracy(tmp, fps, n, 100 + int(fps)) for fps in (30, 60, 120, 240)]
        print("accuracy (single runner, clear lane, 1 ms exposure, 640x360 mp4v):")
        for a in acc:
            print(f"  {a['fps']:>5.0f} fps  n={a['n']}  missed={a['missed']}  false={a['false']}  "
                  f"bias {a['bias_ms']:+.2f} ms  p50 {a['p50_ms']:.2f}  p95 {a['p95_ms']:.2f} ms"
                  f"  | naive bias {a['naive_bias_ms']:+.2f}  p95 {a['naive_p95_ms']:.2f} ms")
        emp = empty(tmp, 4 if quick else 20, 7)
        print(f"empty scenes: {emp['clips']} clips, {emp['false_crossings']} false crossings")
        spd = [speed(tmp, 1280, 720, 120.0, 1.0 if quick else 2.0),
               speed(tmp, 1920, 1080, 60.0, 1.0 if quick else 2.0)]
        print("speed (one core, decode + detect):")
        for s in spd:
            print(f"  {s['size']} @{s['footage_fps']:.0f}: {s['fps_with_decode']} frames/s "
                  f"({s['x_real_time']}x real time; decode alone {s['decode_only_fps']} frames/s,"
                  f" detector ~{s['detector_ms_per_frame']} ms/frame)")
    print(json.dumps({"camera": {"accuracy": acc, "empty": emp, "speed": spd}}))


if __name__ == "__main__":
    main()
