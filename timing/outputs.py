"""Core outputs as plain JSON values and as one-line text; the session snapshot.

Pure helpers the dashboard, the replay command and the export share, so the
wire, the terminal and the files all say the same thing.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from timing.events import event_to_dict, plan_to_json
from timing.values import Notice, Rejected, SplitUpdate

if TYPE_CHECKING:
    from timing.core import Core, Output

SNAPSHOT_VERSION = 1


def update_to_dict(u: SplitUpdate) -> dict[str, Any]:
    """A split update as JSON values (``next_cue`` as ``{"effort", "text"}``)."""
    out: dict[str, Any] = {}
    for f in fields(SplitUpdate):
        value = getattr(u, f.name)
        if f.name == "next_cue":
            value = None if value is None else {"effort": value.effort, "text": value.text}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def output_to_dict(o: Output) -> dict[str, Any]:
    """Any core output as JSON values with a ``"type"``: split, rejected or notice."""
    if isinstance(o, SplitUpdate):
        return {"type": "split", **update_to_dict(o)}
    if isinstance(o, Rejected):
        return {"type": "rejected", "seq": o.seq, "code": o.code, "reason": o.reason,
                "athlete": o.athlete, "crossing": event_to_dict(o.crossing)}
    if isinstance(o, Notice):
        return {"type": "notice", "seq": o.seq, "kind": o.kind, "time_s": o.time_s,
                "athlete": o.athlete, "text": o.text, "lap": o.lap, "segment": o.segment}
    raise TypeError(f"not a core output: {type(o).__name__}")


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}"


def format_output(o: Output) -> str:
    """One human line per output (what ``trackside replay`` prints)."""
    if isinstance(o, SplitUpdate):
        flags = f" [{','.join(o.flags)}]" if o.flags else ""
        lap = f" lap {o.lap_time_s:.2f} ({_signed(o.lap_deviation_s)})" if o.lap_time_s else ""
        cue = f" next: {o.next_cue.text}" if o.next_cue else ""
        return (f"#{o.seq} split {o.athlete} lap {o.lap} {o.segment} at {o.time_s:.3f}: "
                f"{o.split_s:.2f} s (plan {o.target_s:.2f}, {_signed(o.deviation_s)}){lap} "
                f"cum {o.cum_s:.2f} ({_signed(o.cum_deviation_s)}) "
                f"pace {o.pace_s_per_400m:.1f}/{o.plan_pace_s_per_400m:.1f} s/400m "
                f"ghost {o.ghost_gap_m:+.1f} m proj {o.projected_finish_s:.2f} s "
                f"via {o.source}{cue}{flags}")
    if isinstance(o, Rejected):
        who = f" {o.athlete}" if o.athlete else ""
        return (f"#{o.seq} rejected{who} {o.crossing.mark} at {o.crossing.time_s:.3f} "
                f"({o.code}): {o.reason}")
    who = f" {o.athlete}" if o.athlete else ""
    at = f" at {o.time_s:.3f}" if o.time_s is not None else ""
    return f"#{o.seq} {o.kind}{who}{at}: {o.text}"


def snapshot(core: Core) -> dict[str, Any]:
    """The whole session state as JSON values (see ``Core.snapshot``)."""
    athletes = []
    for aid in core.athlete_ids():
        track = core.track(aid)
        a = track.athlete
        splits = core.splits(aid)
        last = splits[-1] if splits else None
        nxt = track.idx.plan.segments[last.index + 1] if last and last.index + 1 < track.idx.n \
            else None
        athletes.append({
            "id": a.id, "name": a.name, "lane": a.lane, "variant": a.variant,
            "tags": list(a.tags), "marker_id": a.marker_id,
            "status": track.status, "start_s": track.start_s,
            "start_source": track.start_source or None, "stop_s": track.limit_s,
            "lap": last.lap if last else None, "segment": last.segment if last else None,
            "next_segment": None if nxt is None else {"lap": nxt.lap, "segment": nxt.segment},
            "next_cue": None if last is None or last.next_cue is None else
            {"effort": last.next_cue.effort, "text": last.next_cue.text},
            "plan": plan_to_json(a.plan),
            "splits": [update_to_dict(u) for u in splits],
            "last_update": update_to_dict(last) if last else None,
        })
    session = core.session
    last_update = core.last_update
    return {
        "version": SNAPSHOT_VERSION,
        "seq": core.seq,
        "session": None if session is None else {"id": session.id, "name": session.name},
        "ended_s": core.ended_s,
        "athletes": athletes,
        "last_update": update_to_dict(last_update) if last_update else None,
        "counters": core.counters(),
        "unknown_tags": core.unknown_tags(),
    }
