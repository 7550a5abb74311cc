"""The REST API under ``/api/v1`` (documented in docs/api.md).

Handlers are thin: validate the payload into values (``validate.py``), turn
it into a core event, hand it to ``Service.submit`` (log, core, broadcast),
answer with what the core said. Reads need no token; every mutating call is
wrapped in ``require_token``. A bad payload is a 400 ``{"error", "field"}``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from dashboard import wire
from dashboard.auth import require_token
from dashboard.link import accept_batch
from dashboard.service import Service
from dashboard.validate import (
    ValidationError,
    crossing_from_payload,
    optional_time,
    require_object,
    session_from_payload,
    text,
    text_list,
)
from timing import events
from timing.values import SplitUpdate

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def service() -> Service:
    """The app's one ``Service``."""
    return current_app.extensions["trackside"]


def payload() -> Any:
    """The request's JSON body; a body that is not JSON is a 400 naming ``body``."""
    body = request.get_json(silent=True)
    if body is None:
        if request.get_data():
            raise ValidationError("body", "is not valid JSON")
        body = {}
    return body


@bp.errorhandler(ValidationError)
def bad_payload(exc: ValidationError) -> tuple[Response, int]:
    current_app.logger.info("400 %s %s: %s", request.method, request.path, exc)
    return jsonify(error=f"{exc.field}: {exc.message}", field=exc.field), 400


def answer(event_id: int, outputs: list[Any], status: int = 200) -> tuple[Response, int]:
    """The common reply: the log id and every output as its wire message."""
    messages = [wire.output_message(o) for o in outputs]
    rejected = [m for m in messages if m["type"] == "rejected"]
    return jsonify(ok=not rejected or any(isinstance(o, SplitUpdate) for o in outputs),
                   event_id=event_id, outputs=messages), status


def _athletes(body: Any) -> tuple[str, ...] | None:
    return text_list(require_object(body), "athletes")


@bp.get("/health")
def health() -> Response:
    svc = service()
    backlogs = svc.broadcaster.backlogs()
    buffered = svc.broadcaster.buffered_bytes()
    return jsonify(ok=True, server_time_s=svc.clock(), nodes=svc.nodes.as_dict(),
                   counters=svc.counters, broadcast=svc.broadcaster.counters,
                   fanout=svc.broadcaster.fanout.counters,
                   clients=len(backlogs), max_backlog=max(backlogs.values(), default=0),
                   max_buffered_bytes=max(buffered.values(), default=0),
                   lagging=svc.broadcaster.lagging_count())


@bp.get("/stages")
def stages() -> Response:
    """Per-split stage timestamps (``dashboard/stages.py``); empty unless tracing is on."""
    trace = service().broadcaster.stages
    return jsonify(enabled=trace.enabled, splits=trace.as_dict())


@bp.get("/state")
def state() -> Response:
    return jsonify(service().snapshot_message())


@bp.get("/plan")
def plan_preview() -> Response:
    """The plan a roster entry would get, for the setup form (read-only)."""
    args = request.args.to_dict()
    entry: dict[str, Any] = {"name": "preview", "lane": int(args.get("lane", 1) or 1),
                             "variant": args.get("variant") or "standard"}
    if "five_k" in args:
        entry["five_k"] = args["five_k"]
    else:
        entry["five_k_s"] = float(args.get("five_k_s", 1200))
    session = session_from_payload({"athletes": [entry]}, session_id="preview")
    return jsonify(wire.json_safe(session.athletes[0].plan))


@bp.post("/sessions")
@require_token
def create_session() -> tuple[Response, int]:
    session = session_from_payload(payload(), session_id=uuid.uuid4().hex[:8])
    event_id, outputs = service().submit(events.SessionSetup(session=session))
    reply, _ = answer(event_id, outputs)
    body = reply.get_json()
    body["session"] = {"id": session.id, "name": session.name,
                       "athletes": [a.id for a in session.athletes]}
    return jsonify(body), 201


def _control(make: Any) -> tuple[Response, int]:
    body = payload()
    time_s = optional_time(body, service().clock())
    return answer(*service().submit(make(body, time_s)))


@bp.post("/sessions/<session_id>/start")
@require_token
def start(session_id: str) -> tuple[Response, int]:
    return _control(lambda b, t: events.Start(time_s=t, athletes=_athletes(b)))


@bp.post("/sessions/<session_id>/false_start")
@require_token
def false_start(session_id: str) -> tuple[Response, int]:
    return _control(lambda b, t: events.FalseStart(time_s=t, athletes=_athletes(b)))


@bp.post("/sessions/<session_id>/dnf")
@require_token
def dnf(session_id: str) -> tuple[Response, int]:
    return _control(lambda b, t: events.Dnf(athlete=text(require_object(b), "athlete"),
                                            time_s=t))


@bp.post("/sessions/<session_id>/end")
@require_token
def end(session_id: str) -> tuple[Response, int]:
    return _control(lambda b, t: events.EndSession(time_s=t))


@bp.post("/crossings")
@require_token
def crossing() -> tuple[Response, int]:
    received_at = time.perf_counter()  # the stage trace's "received"
    body = payload()
    if isinstance(body, dict) and isinstance(body.get("crossings"), list):
        node = str(body.get("node") or request.remote_addr)
        return jsonify(accept_batch(service(), node, body, received_at)), 200
    return answer(*service().submit(crossing_from_payload(body), received_at))


@bp.post("/clock")
@require_token
def clock() -> Response:
    """The HTTP form of the NTP-style exchange: ``{"t0"}`` in, ``{"t0", "t1", "t2"}`` out."""
    t1 = service().clock()
    body = payload()
    t0 = body.get("t0") if isinstance(body, dict) else None
    return jsonify(t0=t0, t1=t1, t2=service().clock())


@bp.post("/nodes/<node_id>/health")
@require_token
def node_health(node_id: str) -> Response:
    body = require_object(payload())
    return jsonify(ok=True, health=service().report_health(node_id[:120], dict(body)))


@bp.get("/export.<fmt>")
def export(fmt: str) -> tuple[Response, int] | Response:
    from timing import export as exporter

    core = service().core
    with service().lock:
        if fmt == "csv":
            data, mime = exporter.to_csv(core), "text/csv"
        elif fmt == "json":
            data, mime = exporter.to_json(core), "application/json"
        else:
            return jsonify(error="format must be csv or json", field="format"), 404
    filename = f"trackside-splits.{fmt}"
    return Response(data, mimetype=mime,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
