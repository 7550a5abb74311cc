"""Where tests leave files for a person to look at (screenshots).

Why not docs/img: a test run must not rewrite tracked files. The browser tests
write here (``artifacts/screenshots`` in the checkout, or ``$TRACKSIDE_ARTIFACTS``
on CI); ``make screenshots`` copies them into docs/img for the README.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def screenshot_path(name: str) -> Path:
    """A fresh path for the screenshot ``name`` (its folder is created)."""
    folder = Path(os.environ.get("TRACKSIDE_ARTIFACTS") or ROOT / "artifacts") / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
