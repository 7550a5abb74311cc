"""The coach token: who may change a session, and who may only watch.

Read-only pages and reads (``/coach``, ``/screen``, ``GET /api/v1/...``, the
viewer Socket.IO namespace) need no token: a runner's screen must come up by
just opening its URL. Every mutating call (create, start, end, DNF, false
start, crossings, sensor-node link) needs the token, sent as
``Authorization: Bearer <token>`` or ``X-Trackside-Token: <token>``.

There is always a token, even on loopback, like a notebook server: without
one, any web page the coach's browser happens to open could POST to
``127.0.0.1:5000``. If none is configured one is generated and printed with a
ready-to-open coach URL (``/coach?token=...``; the page stores it and removes
it from the address bar).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app, jsonify, request

HEADER = "X-Trackside-Token"


def generate_token() -> str:
    """A fresh random token, short enough to type on a tablet (~128 bits)."""
    return secrets.token_urlsafe(16)


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(token: str | None) -> tuple[str, bool]:
    """The token to use and whether it was generated (so the caller prints it)."""
    if token:
        return token, False
    return generate_token(), True


def token_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison, so the token cannot be guessed byte by byte."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def presented_token() -> str | None:
    """The token the current request carries in its headers, if any."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get(HEADER)


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse a mutating view without the coach token: 401 when missing, 403 when wrong."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = presented_token()
        if not token:
            return jsonify(error="this call needs the coach token (Authorization: Bearer ...)",
                           field="token"), 401
        if not token_matches(current_app.config["TOKEN"], token):
            current_app.logger.warning("wrong coach token from %s", request.remote_addr)
            return jsonify(error="wrong coach token", field="token"), 403
        return view(*args, **kwargs)

    return wrapped
