"""Does the default RFID estimate depend on the body shadow it expects? Both kinds of pass.

The ``shape`` fit expects a body shadow once the tag is past the antenna
(``BurstConfig.shadow_db``, 2 dB: a chest bib). This bench runs the same
simulated channel (``sensors/rfid/passmodel.py``: 5-8 m/s, 1-2.5 m, Rician
multipath, whole-dB RSSI) twice: "bib" passes with the simulator's 1-4 dB
shadow, and "no shadow" passes (a shoe tag, a tag on a stick), identical but
for ``body_shadow_db = 0``. Each goes through the real burst estimator (the
default early rule) with ``shadow_db`` 2 and 0, and through ``fit`` and
``first`` for reference: p50/p95/bias of the error in ms, at 40 reads/s.

    .venv/bin/python bench/rfid_shadow_bench.py [--passes 200] [--seed 40]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rfid_bench import decide  # noqa: E402

from sensors.rfid.burst import BurstConfig  # noqa: E402
from sensors.rfid.passmodel import random_pass, simulate_reads  # noqa: E402

RATE_HZ = 40.0
#: (label, BurstConfig settings) in the order printed.
ESTIMATES = (("shape, shadow_db 2 (default)", {"method": "shape"}),
             ("shape, shadow_db 0", {"method": "shape", "shadow_db": 0.0}),
             ("fit", {"method": "fit"}),
             ("first", {"method": "first"}))


def passes(count: int, seed: int, shadowless: bool):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        p = random_pass(f"T{i}", 1000.0 + 20.0 * i, rng)
        if shadowless:
            p = dataclasses.replace(p, body_shadow_db=0.0)
        reads = simulate_reads(p, RATE_HZ, seed=seed * 100_000 + i)
        if len(reads) >= 2:
            out.append((p, reads))
    return out


def figures(errors_ms: list[float]) -> dict:
    ordered = sorted(abs(e) for e in errors_ms)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(round(0.95 * (len(ordered) - 1)))], 1),
            "bias_ms": round(statistics.fmean(errors_ms), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=40)
    args = parser.parse_args()
    summary: dict = {"bench": "rfid_shadow", "passes": args.passes, "seed": args.seed,
                     "reads_per_s": RATE_HZ}
    print(f"{args.passes} passes per kind at {RATE_HZ:.0f} reads/s, seed {args.seed}; "
          "|error| p50 / p95 and bias, ms")
    for kind, shadowless in (("bib (1-4 dB shadow)", False), ("no shadow", True)):
        print(kind)
        rows = {}
        sample = passes(args.passes, args.seed, shadowless)
        for label, settings in ESTIMATES:
            config = BurstConfig(**settings)
            row = figures([1000 * (decide(config, reads).time_s - p.crossing_s)
                           for p, reads in sample])
            rows[label] = row
            print(f"  {label:30s} p50 {row['p50_ms']:7.1f}  p95 {row['p95_ms']:7.1f}  "
                  f"bias {row['bias_ms']:+7.1f}", flush=True)
        summary["no_shadow" if shadowless else "bib"] = rows
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
