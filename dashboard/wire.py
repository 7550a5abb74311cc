"""The wire format of the live broadcast: values in, versioned JSON-safe dicts out.

Pure, like python-socketio's ``packet.py``: no sockets, no clock, no app. Every
message carries ``v`` (the format version) and ``type`` so a page can refuse a
message it does not understand instead of drawing garbage. The Socket.IO event
name is the ``type`` (``split``, ``snapshot``, ``health``, ``notice``,
``rejected``); see docs/api.md for the fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from timing.values import Cue, SplitUpdate

#: Bump when a field changes meaning or disappears (adding fields does not bump it).
WIRE_VERSION = 1


def json_safe(value: Any) -> Any:
    """Turn a value (dataclass, tuple, dict, float) into plain JSON types.

    Non-finite floats become ``None``: JSON has no NaN, and a browser's
    ``JSON.parse`` rejects it, which would kill the whole message.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def cue_message(cue: Cue | None) -> dict[str, str] | None:
    """The ``next_cue`` field: ``{"effort", "text"}`` or ``None`` after the finish."""
    if cue is None:
        return None
    return {"effort": cue.effort, "text": cue.text}


def split_message(update: SplitUpdate) -> dict[str, Any]:
    """A ``split`` message: every field of the update, the cue as a small dict."""
    body = json_safe(update)
    body["next_cue"] = cue_message(update.next_cue)
    body["flags"] = list(update.flags)
    return {"v": WIRE_VERSION, "type": "split", **body}


def snapshot_message(snapshot: Mapping[str, Any], *, server_time_s: float,
                     extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``snapshot`` message: the core's whole state plus what the shell knows.

    ``server_time_s`` lets a page estimate its clock offset and draw the ghost
    between crossings; ``extra`` carries shell state (sensor health, token need).
    """
    message = {"v": WIRE_VERSION, "type": "snapshot", "server_time_s": server_time_s,
               "state": json_safe(snapshot)}
    if extra:
        message.update(json_safe(extra))
    return message


def health_message(node_id: str, health: Mapping[str, Any], *,
                   received_s: float) -> dict[str, Any]:
    """A ``health`` message for one sensor node (connected, rates, errors, last event)."""
    return {"v": WIRE_VERSION, "type": "health", "node": node_id, "received_s": received_s,
            "health": json_safe(health)}


def output_message(output: Any) -> dict[str, Any]:
    """Any core output as a message: ``split``, ``rejected`` or ``notice``.

    Rejections and notices use the core's own JSON form
    (``timing.outputs.output_to_dict``), so the wire, ``trackside replay`` and
    the exports say the same thing.
    """
    if isinstance(output, SplitUpdate):
        return split_message(output)
    from timing.outputs import output_to_dict

    body = json_safe(output_to_dict(output))
    return {"v": WIRE_VERSION, **body}


def coalesce_key(message: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What a newer message replaces when both wait in a burst; ``None`` never coalesces.

    A split replaces an older pending split for the same athlete, lap and
    segment (a correction); a health report replaces the node's older one.
    Notices and rejections are never dropped.
    """
    kind = message.get("type")
    if kind == "split":
        return ("split", message.get("athlete"), message.get("lap"), message.get("segment"))
    if kind == "health":
        return ("health", message.get("node"))
    if kind == "snapshot":
        return ("snapshot",)
    return None
