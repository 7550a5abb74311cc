"""Payload validation for the REST API and the sensor link: JSON in, values out.

Pure. Every check raises ``ValidationError(field, message)`` naming the field
at fault with a dotted path (``athletes[2].five_k_s``), so a 400 tells the
caller exactly what to fix. Unknown extra fields are ignored (a newer client
may send more); missing or ill-typed known fields are errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from timing.values import MARKS, SOURCE_PRECISION, Crossing

#: Longest accepted id, name or tag: long enough for any EPC, short enough for a screen.
MAX_TEXT = 120
MAX_ATHLETES = 200
#: Plan options a coach may set, for the whole roster or per athlete (see timing.plan.build_plan).
PLAN_OPTIONS: dict[str, type] = {
    "target_s": float,
    "surge_pace_s_per_400m": float,
    "max_pace_s_per_400m": float,
    "kick_pace_s_per_400m": float,
    "lap3_turn2_5k": bool,
}


class ValidationError(ValueError):
    """A payload field is missing or wrong; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def require_object(body: Any, field: str = "body") -> Mapping[str, Any]:
    """The payload must be a JSON object."""
    if not isinstance(body, Mapping):
        raise ValidationError(field, "must be a JSON object")
    return body


def number(body: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = True,
           minimum: float | None = None, maximum: float | None = None) -> float | None:
    """A finite number (booleans are not numbers), optionally bounded."""
    field = prefix + key
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(field, "must be a finite number")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum:g}")
    return value


def text(body: Mapping[str, Any], key: str, prefix: str = "", *, required: bool = True,
         choices: tuple[str, ...] | None = None) -> str | None:
    """A non-empty string of at most ``MAX_TEXT`` characters, optionally from ``choices``."""
    field = prefix + key
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(field, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_TEXT:
        raise ValidationError(field, f"must be at most {MAX_TEXT} characters")
    if choices is not None and value not in choices:
        raise ValidationError(field, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def text_list(body: Mapping[str, Any], key: str, prefix: str = "") -> tuple[str, ...] | None:
    """An optional list of strings (athlete ids, tags, flags)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError(prefix + key, "must be a list of strings")
    items = []
    for i, item in enumerate(value):
        field = f"{prefix}{key}[{i}]"
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_TEXT:
            raise ValidationError(field, f"must be a non-empty string of at most {MAX_TEXT} "
                                         "characters")
        items.append(item.strip())
    return tuple(items)


def crossing_from_payload(body: Any) -> Crossing:
    """A ``Crossing`` from ``{"mark", "time_s", "athlete" or "tag", "source", ...}``.

    ``time_s`` is Unix epoch seconds on the server's clock. A crossing without
    ``athlete`` and ``tag`` is only accepted from a camera (anonymous, the core
    assigns it by predicted arrival).
    """
    body = require_object(body)
    mark = text(body, "mark", choices=MARKS)
    time_s = number(body, "time_s", minimum=0.0)
    athlete = text(body, "athlete", required=False)
    tag = text(body, "tag", required=False)
    source = text(body, "source", required=False, choices=SOURCE_PRECISION) or "tap"
    if athlete is None and tag is None and source != "camera":
        raise ValidationError("athlete", "athlete or tag is required (only a camera may be "
                                         "anonymous)")
    confidence = number(body, "confidence", required=False, minimum=0.0, maximum=1.0)
    position = number(body, "position", required=False, minimum=0.0, maximum=1.0)
    sensor_id = body.get("sensor_id", "")
    if not isinstance(sensor_id, str) or len(sensor_id) > MAX_TEXT:
        raise ValidationError("sensor_id", f"must be a string of at most {MAX_TEXT} characters")
    return Crossing(mark=mark, time_s=time_s, athlete=athlete, tag=tag, source=source,
                    sensor_id=sensor_id, confidence=1.0 if confidence is None else confidence,
                    position=position, flags=text_list(body, "flags") or ())


def _plan_options(body: Any, prefix: str) -> dict[str, Any]:
    body = require_object(body, prefix.rstrip("."))
    options: dict[str, Any] = {}
    for key, kind in PLAN_OPTIONS.items():
        if body.get(key) is None:
            continue
        if kind is bool:
            if not isinstance(body[key], bool):
                raise ValidationError(prefix + key, "must be true or false")
            options[key] = body[key]
        else:
            options[key] = number(body, key, prefix, minimum=1.0)
    return options


def _five_k_s(body: Mapping[str, Any], prefix: str) -> float:
    """``five_k_s`` in seconds, or ``five_k`` as text (``"20:00"``, ``"19:45.5"``)."""
    if body.get("five_k_s") is None and isinstance(body.get("five_k"), str):
        from timing.paces import parse_clock_s

        try:
            return parse_clock_s(body["five_k"])
        except ValueError as exc:
            raise ValidationError(prefix + "five_k", str(exc)) from exc
    return number(body, "five_k_s", prefix, minimum=600.0, maximum=7200.0)


def athlete_spec(body: Any, index: int, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """One roster entry as plain values (the plan is built by ``session_from_payload``)."""
    prefix = f"athletes[{index}]."
    body = require_object(body, prefix.rstrip("."))
    from timing.plan import VARIANTS

    variant = text(body, "variant", prefix, required=False, choices=VARIANTS) or "standard"
    lane = body.get("lane", 8 if variant.startswith("lane8") else 1)
    if isinstance(lane, bool) or not isinstance(lane, int) or not 1 <= lane <= 9:
        raise ValidationError(prefix + "lane", "must be a whole number from 1 to 9")
    marker = body.get("marker_id")
    if marker is not None and (isinstance(marker, bool) or not isinstance(marker, int)):
        raise ValidationError(prefix + "marker_id", "must be a whole number or null")
    plan = dict(defaults)
    if body.get("plan") is not None:
        plan.update(_plan_options(body["plan"], prefix + "plan."))
    return {
        "id": text(body, "id", prefix, required=False) or f"a{index + 1}",
        "name": text(body, "name", prefix),
        "lane": lane,
        "variant": variant,
        "five_k_s": _five_k_s(body, prefix),
        "tags": text_list(body, "tags", prefix) or (),
        "marker_id": marker,
        "plan": plan,
    }


def session_from_payload(body: Any, *, session_id: str) -> Any:
    """A ``timing.values.Session`` with every athlete's plan built, from the setup payload.

    ``{"name", "plan": {options}, "athletes": [{"id", "name", "lane", "variant",
    "five_k_s" | "five_k", "tags", "marker_id", "plan": {options}}]}``. Ids and
    tags must be unique; a plan the geometry cannot build is a 400 naming the
    athlete's field.
    """
    from timing.plan import PlanError, build_plan
    from timing.values import Athlete, Session

    body = require_object(body)
    name = text(body, "name", required=False) or "Session"
    sid = text(body, "id", required=False) or session_id
    defaults = _plan_options(body["plan"], "plan.") if body.get("plan") is not None else {}
    roster = body.get("athletes")
    if not isinstance(roster, list) or not roster:
        raise ValidationError("athletes", "must be a non-empty list")
    if len(roster) > MAX_ATHLETES:
        raise ValidationError("athletes", f"at most {MAX_ATHLETES} athletes per session")
    specs = [athlete_spec(entry, i, defaults) for i, entry in enumerate(roster)]
    seen_ids: set[str] = set()
    seen_tags: dict[str, str] = {}
    athletes = []
    for i, spec in enumerate(specs):
        prefix = f"athletes[{i}]."
        if spec["id"] in seen_ids:
            raise ValidationError(prefix + "id", f"duplicate athlete id {spec['id']!r}")
        seen_ids.add(spec["id"])
        for tag in spec["tags"]:
            if tag in seen_tags:
                raise ValidationError(prefix + "tags", f"tag {tag!r} already belongs to "
                                                       f"{seen_tags[tag]!r}")
            seen_tags[tag] = spec["id"]
        try:
            plan = build_plan(spec["five_k_s"], spec["lane"], spec["variant"], **spec["plan"])
        except PlanError as exc:
            message = str(exc).split(": ", 1)[-1]
            raise ValidationError(prefix + _plan_field(exc.field), message) from exc
        except ValueError as exc:
            raise ValidationError(prefix + "plan", str(exc)) from exc
        athletes.append(Athlete(id=spec["id"], name=spec["name"], lane=spec["lane"],
                                variant=spec["variant"], plan=plan, tags=spec["tags"],
                                marker_id=spec["marker_id"]))
    return Session(id=sid, name=name, athletes=tuple(athletes))


def _plan_field(field: str) -> str:
    """Map a ``PlanError`` field to the payload key that set it."""
    if field in ("five_k_s", "lane", "variant"):
        return field
    return "plan." + field


def optional_time(body: Any, default_s: float) -> float:
    """``time_s`` of a control event, or the server's clock when it is left out."""
    body = require_object(body)
    value = number(body, "time_s", required=False, minimum=0.0)
    return default_s if value is None else value
