"""``trackside plan``: print the pacing plan a coach tapes to the clipboard."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path

import click

from timing.paces import format_clock, parse_clock_s, parse_pace_s_per_400m
from timing.plan import VARIANTS, PlanError, build_plan, lap_totals_s, plan_to_dict, true_mile_s
from timing.track import MILE_M, STANDARD_TRACK, Track, TrackError, track_from_mapping
from timing.values import Plan


def load_track(path: Path | None) -> Track:
    """Read ``[track]`` (or the whole file) of a TOML file; the standard track if no path."""
    if path is None:
        return STANDARD_TRACK
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.UsageError(f"{path}: {exc}") from None
    try:
        return track_from_mapping(data.get("track", data))
    except TrackError as exc:
        raise click.UsageError(f"{path}: [track] {exc}") from None


def parse_override(text: str) -> tuple[tuple[int, str], str | float]:
    """``LAP:SEGMENT=EFFORT`` or ``LAP:SEGMENT=PACE`` (pace in s/400 m or m:ss)."""
    where, sep, value = text.partition("=")
    lap, colon, segment = where.partition(":")
    if not sep or not colon or not lap.strip().isdigit():
        raise click.BadParameter(f"{text!r}: write LAP:SEGMENT=EFFORT or LAP:SEGMENT=PACE",
                                 param_hint="--override")
    value = value.strip()
    parsed: str | float
    try:
        parsed = parse_pace_s_per_400m(value)
    except ValueError:
        parsed = value
    return (int(lap), segment.strip()), parsed


def render_table(plan: Plan, track: Track) -> str:
    """The clipboard table: per lap its segments with effort, target and cumulative."""
    lines = [f"Mile plan: 5K {format_clock(plan.five_k_s)}  lane {plan.lane}  "
             f"variant {plan.variant}  distance {plan.distance_m:.2f} m"]
    paces = "  ".join(f"{k} {v:.1f}" for k, v in plan.paces_s_per_400m.items())
    lines.append(f"Paces (s per 400 m of lane {plan.lane}): {paces}")
    lines.append(f"{'lap':>3}  {'segment':<12}{'from -> to':<28}{'m':>7}  {'effort':<6}"
                 f"{'target':>8}{'cum':>9}")
    totals = lap_totals_s(plan)
    last_of_lap = {s.lap: s for s in plan.segments}
    for segment in plan.segments:
        route = f"{segment.from_mark} -> {segment.to_mark}"
        lines.append(f"{segment.lap:>3}  {segment.segment:<12}{route:<28}{segment.distance_m:7.2f}"
                     f"  {segment.effort:<6}{segment.target_s:8.1f}"
                     f"{format_clock(segment.cum_target_s):>9}")
        if last_of_lap[segment.lap] is segment:
            lap_m = sum(s.distance_m for s in plan.segments if s.lap == segment.lap)
            pace = totals[segment.lap] * 400.0 / lap_m
            lines.append(f"{'':>5}lap {segment.lap}: {totals[segment.lap]:.1f} s"
                         f"  ({pace:.1f} s/400 m)")
    lines.append(f"Total {format_clock(plan.total_s)}   Riegel (1.06) predicts "
                 f"{format_clock(plan.riegel_mile_s)} for the mile")
    gap = (true_mile_s(plan) - plan.riegel_mile_s) / plan.riegel_mile_s
    if abs(gap) > 0.03:
        lines.append(f"Note: this plan is {abs(gap):.0%} {'faster' if gap < 0 else 'slower'} "
                     "than Riegel's prediction from the 5K")
    if abs(plan.distance_m - MILE_M) > 0.05:
        lines.append(f"Lane {plan.lane} runs {plan.distance_m:.2f} m "
                     f"(+{track.stagger_m(plan.lane):.2f} m a lap); as a true mile: "
                     f"{format_clock(true_mile_s(plan))}")
    return "\n".join(lines)


def render_csv(plan: Plan) -> str:
    """One row per segment, the columns of the JSON segments."""
    buffer = io.StringIO()
    rows = plan_to_dict(plan)["segments"]
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@click.command()
@click.option("--5k", "five_k", help="5K time, e.g. 20:00.")
@click.option("--pace", help="5K pace instead of a time: 4:00/km, 6:26/mi or 96/400.")
@click.option("--lane", type=int, default=None, help="Lane (1 for the standard mile, 8 for lane8).")
@click.option("--variant", type=click.Choice(VARIANTS), default="standard", show_default=True)
@click.option("--target", help="Target mile time; surge and lap-4 paces scale to hit it exactly.")
@click.option("--surge-pace", help="Surge pace per 400 m (s or m:ss).")
@click.option("--max-pace", help="Lap-4 pace per 400 m.")
@click.option("--kick-pace", help="Last home straight pace per 400 m (default: the lap-4 pace).")
@click.option("--lap3-turn2-5k", is_flag=True, help="Run lap 3's back turn at 5K pace.")
@click.option("--override", "overrides", multiple=True,
              help="LAP:SEGMENT=EFFORT or LAP:SEGMENT=PACE, e.g. 3:turn2=5k (repeatable).")
@click.option("--track", "track_file", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML file describing a non-standard track.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
def plan(five_k: str | None, pace: str | None, lane: int | None, variant: str,
         target: str | None, surge_pace: str | None, max_pace: str | None,
         kick_pace: str | None, lap3_turn2_5k: bool, overrides: tuple[str, ...],
         track_file: Path | None, fmt: str) -> None:
    """Build the mile pacing plan from a 5K time or pace."""
    if (five_k is None) == (pace is None):
        raise click.UsageError("give exactly one of --5k TIME or --pace PACE")

    def parsed(value: str | None, name: str, parse=parse_clock_s) -> float | None:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=name) from None

    five_k_s = (parsed(five_k, "--5k") if five_k is not None
                else parsed(pace, "--pace", parse_pace_s_per_400m) * 5000.0 / 400.0)
    track = load_track(track_file)
    try:
        result = build_plan(
            five_k_s, lane if lane is not None else (1 if variant == "standard" else 8), variant,
            track=track, target_s=parsed(target, "--target"),
            surge_pace_s_per_400m=parsed(surge_pace, "--surge-pace", parse_pace_s_per_400m),
            max_pace_s_per_400m=parsed(max_pace, "--max-pace", parse_pace_s_per_400m),
            kick_pace_s_per_400m=parsed(kick_pace, "--kick-pace", parse_pace_s_per_400m),
            lap3_turn2_5k=lap3_turn2_5k, overrides=dict(parse_override(o) for o in overrides))
    except PlanError as exc:
        option = {"5k": "--5k" if five_k is not None else "--pace"}.get(exc.field, exc.field)
        option = option if option.startswith(("--", "override")) else "--" + option.replace(
            "_", "-")
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint=option) from None
    if fmt == "json":
        click.echo(json.dumps(plan_to_dict(result, track)))
    elif fmt == "csv":
        click.echo(render_csv(result), nl=False)
    else:
        click.echo(render_table(result, track))
