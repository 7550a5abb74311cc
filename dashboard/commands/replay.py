"""``trackside replay`` and ``trackside export``: re-run a recorded session's event log.

Replay feeds every logged event into a fresh core and prints every output, one
line each; the same log always prints the same lines. ``--speed K`` waits
between events as the session did, K times faster (the wall clock is read
here, in the shell, never in the core).
"""

from __future__ import annotations

import json
import sys
import time

import click

from timing.core import Core
from timing.events import event_time_s
from timing.export import to_csv, to_json
from timing.outputs import format_output, output_to_dict
from timing.store import EventLog, EventLogError


def _open(path: str) -> EventLog:
    try:
        return EventLog(path, readonly=True)
    except EventLogError as exc:
        raise click.ClickException(str(exc)) from None


def _rebuild(log: EventLog, on_error: str) -> Core:
    core = Core()
    try:
        for event in log.events(on_error=on_error):
            core.handle(event)
    except EventLogError as exc:
        raise click.ClickException(f"{exc} (use --skip-bad to go on without it)") from None
    return core


@click.command()
@click.argument("session_db", type=click.Path(dir_okay=False))
@click.option("--speed", type=float, default=None,
              help="Replay in session time divided by K (e.g. 10); default: as fast as possible.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per output.")
@click.option("--skip-bad", is_flag=True, help="Skip events that cannot be read (logged).")
def replay(session_db: str, speed: float | None, as_json: bool, skip_bad: bool) -> None:
    """Re-run the session in SESSION_DB through the core and print every update."""
    if speed is not None and speed <= 0:
        raise click.BadParameter("must be a positive factor", param_hint="--speed")
    log = _open(session_db)
    core = Core()
    prev_s: float | None = None
    out = sys.stdout
    try:
        for event in log.events(on_error="skip" if skip_bad else "raise"):
            t = event_time_s(event)
            if speed is not None and t is not None:
                if prev_s is not None and t > prev_s:
                    time.sleep((t - prev_s) / speed)
                prev_s = t if prev_s is None else max(prev_s, t)
            for o in core.handle(event):
                line = json.dumps(output_to_dict(o), sort_keys=True) if as_json \
                    else format_output(o)
                out.write(line + "\n")
            if speed is not None:
                out.flush()
    except EventLogError as exc:
        raise click.ClickException(f"{exc} (use --skip-bad to go on without it)") from None
    finally:
        log.close()


@click.command()
@click.argument("session_db", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@click.option("--skip-bad", is_flag=True, help="Skip events that cannot be read (logged).")
def export(session_db: str, fmt: str, output: str | None, skip_bad: bool) -> None:
    """Export the splits of the session in SESSION_DB (one row per athlete and segment)."""
    log = _open(session_db)
    try:
        core = _rebuild(log, "skip" if skip_bad else "raise")
    finally:
        log.close()
    text = to_csv(core) if fmt == "csv" else to_json(core)
    if output is None:
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
