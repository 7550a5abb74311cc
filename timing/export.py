"""A session's splits as rows, CSV and JSON: one row per athlete and plan segment.

Every segment of every athlete's plan gets a row, reached or not, so a coach
sees the whole plan beside what happened; segments not reached have empty
actual values. ``flags`` joins the update's flags with ``;`` (``estimated``
marks an interpolated mark, ``ambiguous`` an anonymous crossing assigned with
doubt). Numbers are rounded to the millisecond, so exports are stable text.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from timing.core import Core

COLUMNS: tuple[str, ...] = (
    "athlete", "name", "lane", "variant", "status", "index", "lap", "segment", "from_mark",
    "to_mark", "distance_m", "effort", "target_s", "actual_s", "deviation_s",
    "cum_target_s", "cum_s", "cum_deviation_s", "lap_time_s", "lap_deviation_s",
    "pace_s_per_400m", "plan_pace_s_per_400m", "surge_faster", "time_s", "source", "flags",
)


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def splits_rows(core: Core) -> list[dict[str, Any]]:
    """One dict per athlete (roster order) and plan segment (plan order)."""
    rows: list[dict[str, Any]] = []
    for aid in core.athlete_ids():
        athlete = core.athlete(aid)
        status = core.status(aid)
        by_index = {u.index: u for u in core.splits(aid)}
        for k, seg in enumerate(athlete.plan.segments):
            u = by_index.get(k)
            rows.append({
                "athlete": aid, "name": athlete.name, "lane": athlete.lane,
                "variant": athlete.variant, "status": status, "index": k, "lap": seg.lap,
                "segment": seg.segment, "from_mark": seg.from_mark, "to_mark": seg.to_mark,
                "distance_m": _r(seg.distance_m), "effort": seg.effort,
                "target_s": _r(seg.target_s),
                "actual_s": _r(u.split_s) if u else None,
                "deviation_s": _r(u.deviation_s) if u else None,
                "cum_target_s": _r(seg.cum_target_s),
                "cum_s": _r(u.cum_s) if u else None,
                "cum_deviation_s": _r(u.cum_deviation_s) if u else None,
                "lap_time_s": _r(u.lap_time_s) if u else None,
                "lap_deviation_s": _r(u.lap_deviation_s) if u else None,
                "pace_s_per_400m": _r(u.pace_s_per_400m, 2) if u else None,
                "plan_pace_s_per_400m": _r(seg.target_s / seg.distance_m * 400.0, 2),
                "surge_faster": u.surge_faster if u else None,
                "time_s": _r(u.time_s) if u else None,
                "source": u.source if u else None,
                "flags": ";".join(f for f in u.flags if f != "correction") if u else "",
            })
    return rows


def to_csv(core: Core) -> str:
    """The rows as CSV with a header line (empty cells for segments not reached)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in splits_rows(core):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def to_json(core: Core) -> str:
    """The rows as one JSON document: ``{"session", "counters", "rows"}``."""
    session = core.session
    doc = {
        "session": None if session is None else {"id": session.id, "name": session.name},
        "counters": core.counters(),
        "rows": splits_rows(core),
    }
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n"
