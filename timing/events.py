"""Every input the core accepts, and their JSON-safe form for the event log.

Each event carries its own time (``time_s``, Unix epoch seconds on the
session clock), so feeding the same events into a fresh ``Core`` always gives
the same outputs: that is what the log, replay and crash recovery rely on.

``event_to_dict`` / ``event_from_dict`` are the one wire form (``"v"`` is the
format version, ``"type"`` the kind). Unknown types, versions or fields raise
``EventFormatError`` naming what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from timing.values import Athlete, Crossing, Plan, PlanSegment, Session

FORMAT_VERSION = 1


class EventFormatError(ValueError):
    """A stored or received event that cannot be turned back into a value."""


@dataclass(frozen=True, slots=True)
class SessionSetup:
    """The roster (athletes with their plans); may be sent again to edit it."""

    session: Session


@dataclass(frozen=True, slots=True)
class Start:
    """The gun for ``athletes`` (``None``: everyone waiting). Staggered starts: several."""

    time_s: float
    athletes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FalseStart:
    """A recall: forget the start and every crossing since, back to waiting."""

    time_s: float
    athletes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Dnf:
    """The coach says ``athlete`` stopped at ``time_s``; later crossings are rejected."""

    athlete: str
    time_s: float


@dataclass(frozen=True, slots=True)
class EndSession:
    """The session is over; runners still going become DNF."""

    time_s: float


Event = SessionSetup | Start | Crossing | FalseStart | Dnf | EndSession

_TYPES: dict[str, type] = {
    "session_setup": SessionSetup,
    "start": Start,
    "crossing": Crossing,
    "false_start": FalseStart,
    "dnf": Dnf,
    "end_session": EndSession,
}
_NAMES: dict[type, str] = {cls: name for name, cls in _TYPES.items()}


def event_time_s(event: Event) -> float | None:
    """The time inside ``event`` (``None`` for a roster)."""
    return None if isinstance(event, SessionSetup) else event.time_s


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """A plan as plain JSON values (every field, segments as objects)."""
    out: dict[str, Any] = {}
    for f in fields(Plan):
        value = getattr(plan, f.name)
        if f.name == "segments":
            value = [{g.name: getattr(s, g.name) for g in fields(PlanSegment)} for s in value]
        elif f.name == "paces_s_per_400m":
            value = dict(sorted(value.items()))
        out[f.name] = value
    return out


def plan_from_json(data: dict[str, Any]) -> Plan:
    """Inverse of ``plan_to_json``."""
    data = dict(data)
    data["segments"] = tuple(PlanSegment(**s) for s in data["segments"])
    data["paces_s_per_400m"] = dict(data["paces_s_per_400m"])
    return Plan(**data)


def _athlete_to_json(athlete: Athlete) -> dict[str, Any]:
    return {"id": athlete.id, "name": athlete.name, "lane": athlete.lane,
            "variant": athlete.variant, "plan": plan_to_json(athlete.plan),
            "tags": list(athlete.tags), "marker_id": athlete.marker_id}


def _athlete_from_json(data: dict[str, Any]) -> Athlete:
    return Athlete(id=str(data["id"]), name=str(data["name"]), lane=int(data["lane"]),
                   variant=str(data["variant"]), plan=plan_from_json(data["plan"]),
                   tags=tuple(str(t) for t in data.get("tags", ())),
                   marker_id=data.get("marker_id"))


def event_to_dict(event: Event) -> dict[str, Any]:
    """``event`` as a JSON-safe dict with ``"v"`` and ``"type"``."""
    name = _NAMES.get(type(event))
    if name is None:
        raise EventFormatError(f"not a core event: {type(event).__name__}")
    if name == "crossing":  # the hot path of the event log: no field introspection
        c: Crossing = event  # type: ignore[assignment]
        return {"v": FORMAT_VERSION, "type": name, "mark": c.mark, "time_s": c.time_s,
                "athlete": c.athlete, "tag": c.tag, "source": c.source,
                "sensor_id": c.sensor_id, "confidence": c.confidence,
                "position": c.position, "flags": list(c.flags)}
    out: dict[str, Any] = {"v": FORMAT_VERSION, "type": name}
    if isinstance(event, SessionSetup):
        s = event.session
        out["session"] = {"id": s.id, "name": s.name,
                          "athletes": [_athlete_to_json(a) for a in s.athletes]}
        return out
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event that ``event_to_dict`` wrote; raises ``EventFormatError`` on anything else."""
    if not isinstance(data, dict):
        raise EventFormatError(f"an event must be a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if version != FORMAT_VERSION:
        raise EventFormatError(f"event format version {version!r} is not supported "
                               f"(this build reads version {FORMAT_VERSION})")
    name = data.get("type")
    cls = _TYPES.get(name)  # type: ignore[arg-type]
    if cls is None:
        raise EventFormatError(f"unknown event type {name!r} (one of {', '.join(_TYPES)})")
    body = {k: v for k, v in data.items() if k not in ("v", "type")}
    try:
        if cls is SessionSetup:
            s = body["session"]
            return SessionSetup(Session(id=str(s["id"]), name=str(s["name"]),
                                        athletes=tuple(_athlete_from_json(a)
                                                       for a in s["athletes"])))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise EventFormatError(f"{name} event has unknown fields: {', '.join(unknown)}")
        for key in ("athletes", "flags"):
            if isinstance(body.get(key), list):
                body[key] = tuple(body[key])
        event = cls(**body)
    except EventFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise EventFormatError(f"{name} event is malformed: {exc}") from None
    time_s = event_time_s(event)
    if time_s is not None and (not isinstance(time_s, int | float) or not math.isfinite(time_s)):
        raise EventFormatError(f"{name} event has no finite time_s ({time_s!r})")
    return event
