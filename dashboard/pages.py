"""The two pages: the coach's tablet and the trackside screen (read-only to open).

Templates rely on Jinja autoescaping; everything a user typed (athlete names,
tags) reaches the page through Socket.IO and is drawn with ``textContent``.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from werkzeug.wrappers import Response

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> Response:
    return redirect(url_for("pages.coach"))


@bp.get("/coach")
def coach() -> str:
    return render_template("coach.html")


@bp.get("/screen")
def screen() -> str:
    return render_template("screen.html")
