"""``trackside rfid``: listen to a reader, or decode a capture.

``listen`` prints one line per crossing (``--json``: one JSON object per
line with tag, time_s, reads, rssi_peak, method, decided_after_s).
``decode`` turns a capture into JSON lines, one per record; the capture may
be hex lines (one frame a line, as ``amb.out``), raw bytes, or a raw log
written by a reader (``--raw-log``).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from sensors.rfid.burst import BurstConfig, BurstResult
from sensors.rfid.estimate import METHODS
from sensors.rfid.events import NEED_DATA, DecoderStatus, FrameError, TagRead
from sensors.rfid.reader import DEFAULT_METHOD, PROTOCOLS, ReaderConfig, RfidReader, make_codec
from sensors.rfid.shapefit import SHADOW_MAX_DB, SHADOW_PRIOR_DB
from sensors.rfid.transport import FROM_READER, read_raw_log

_HEX_TEXT = re.compile(rb"^[0-9a-fA-F\s:]*$")


@click.group()
def rfid() -> None:
    """RFID readers: listen for crossings, decode captures."""


def result_json(result: BurstResult) -> dict[str, Any]:
    """The JSON object ``listen --json`` prints for one crossing."""
    out: dict[str, Any] = {
        "tag": result.tag, "time_s": round(result.time_s, 6), "reads": result.reads,
        "rssi_peak": result.rssi_peak, "method": result.method,
        "decided_after_s": round(result.decided_after_s, 6), "rule": result.rule,
    }
    if result.stray:
        out["stray"] = True
    out["mark"] = result.mark
    return out


@rfid.command()
@click.option("--protocol", type=click.Choice(PROTOCOLS), required=True)
@click.option("--port", "url", required=True,
              help="Serial device (/dev/ttyUSB0, COM3) or pyserial URL (socket://host:port).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per crossing.")
@click.option("--baud", type=int, default=57600, show_default=True)
@click.option("--poll-hz", type=float, default=20.0, show_default=True,
              help="Inventory polls per second (Chafon).")
@click.option("--quiet-s", type=float, default=0.2, show_default=True,
              help="Silence that ends a burst of reads.")
@click.option("--dead-time-s", type=float, default=8.0, show_default=True)
@click.option("--method", type=click.Choice(METHODS), default=None,
              help="Crossing estimate (default: best for the protocol).")
@click.option("--shadow-db", type=click.FloatRange(0.0, SHADOW_MAX_DB), default=SHADOW_PRIOR_DB,
              show_default=True,
              help="Body shadow the shape fit expects past the antenna: 2 for chest bibs, "
                   "0 for shoe tags or a tag with no body behind it.")
@click.option("--offset-s", type=float, default=0.0, show_default=True,
              help="Per-mark calibration added to every crossing time.")
@click.option("--mark", default="finish", show_default=True)
@click.option("--early/--no-early", default=True, show_default=True,
              help="Decide once the tag is clearly past the antenna (RSSI methods).")
@click.option("--ascii-pattern", default="TAG,EPOCH_MS,RSSI", show_default=True)
@click.option("--raw-log", type=click.Path(dir_okay=False), default=None,
              help="Append every byte, timestamped, to this file.")
@click.option("--count", type=int, default=0, help="Exit after this many crossings.")
@click.option("--seconds", type=float, default=0.0, help="Exit after this many seconds.")
def listen(protocol: str, url: str, as_json: bool, baud: int, poll_hz: float, quiet_s: float,
           dead_time_s: float, method: str | None, shadow_db: float, offset_s: float, mark: str,
           early: bool, ascii_pattern: str, raw_log: str | None, count: int,
           seconds: float) -> None:
    """Print one line per crossing seen by a reader."""
    try:
        burst = BurstConfig(method=method or DEFAULT_METHOD[protocol],
                            dead_time_s=dead_time_s, early=early, shadow_db=shadow_db,
                            offset_s=offset_s).with_quiet(quiet_s)
        config = ReaderConfig(url=url, protocol=protocol, baud=baud, poll_hz=poll_hz, mark=mark,
                              burst=burst, ascii_pattern=ascii_pattern, raw_log_path=raw_log)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    done = threading.Event()
    seen = 0

    def show(result: BurstResult) -> None:
        nonlocal seen
        if as_json:
            click.echo(json.dumps(result_json(result)))
        else:
            kind = "STRAY" if result.stray else "cross"
            stamp = time.strftime("%H:%M:%S", time.localtime(result.time_s))
            frac = f"{result.time_s % 1:.3f}"[1:]
            click.echo(f"{kind} {result.mark} {result.tag} {stamp}{frac} reads={result.reads} "
                       f"rssi_peak={result.rssi_peak} method={result.method} "
                       f"decided_after={result.decided_after_s:.3f}s ({result.rule})")
        if not result.stray:
            seen += 1
            if count and seen >= count:
                done.set()

    reader = RfidReader(config, on_crossing=lambda _c: None, on_result=show)
    reader.start()
    try:
        done.wait(seconds if seconds > 0 else None)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
        health = reader.health()
        if not health["crossings_total"] and health["last_error"]:
            click.echo(f"reader: {health['last_error']}", err=True)


def load_capture(data: bytes) -> list[tuple[float, bytes]]:
    """Chunks of a capture: hex lines (each line one chunk) or raw bytes (one chunk)."""
    if data and _HEX_TEXT.match(data):
        chunks = []
        for line in data.splitlines():
            text = re.sub(rb"[\s:]", b"", line)
            if text:
                if len(text) % 2:
                    raise ValueError(f"odd number of hex digits in line {line[:40]!r}")
                chunks.append((0.0, bytes.fromhex(text.decode())))
        return chunks
    return [(0.0, data)]


def event_json(event: TagRead | DecoderStatus | FrameError) -> dict[str, Any]:
    """One decoded record as a JSON-able dict."""
    if isinstance(event, TagRead):
        out: dict[str, Any] = {"type": "read", "tag": event.tag, "time_s": event.time_s,
                               "rssi": event.rssi, "hits": event.hits, "antenna": event.antenna}
        if "passing_number" in dict(event.extra):
            out.update(type="passing", transponder=event.tag, strength=event.rssi)
        return {**out, **dict(event.extra)}
    if isinstance(event, DecoderStatus):
        return {"type": "status", "code": event.code, "name": event.text, **dict(event.fields)}
    return {"type": "error", "reason": event.reason, "skipped": event.skipped}


@rfid.command()
@click.option("--protocol", type=click.Choice(PROTOCOLS), required=True)
@click.option("--raw-log", "is_raw_log", is_flag=True,
              help="FILE is a reader's raw log (timestamped chunks).")
@click.option("--ascii-pattern", default="TAG,EPOCH_MS,RSSI", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def decode(protocol: str, is_raw_log: bool, ascii_pattern: str, file: str) -> None:
    """Decode a capture to JSON lines, one per record."""
    config = ReaderConfig(url="file", protocol=protocol, ascii_pattern=ascii_pattern)
    codec = make_codec(config)
    try:
        if is_raw_log:
            chunks = [(at, data) for at, d, data in read_raw_log(file) if d == FROM_READER]
        else:
            chunks = load_capture(Path(file).read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from None
    errors = 0
    for at_s, data in chunks:
        codec.receive_data(data, at_s)
        while (event := codec.next_event()) is not NEED_DATA:
            errors += isinstance(event, FrameError)
            click.echo(json.dumps(event_json(event)))  # type: ignore[arg-type]
    if errors:
        click.echo(f"{errors} undecodable stretch(es) skipped", err=True)
        sys.exit(1)
