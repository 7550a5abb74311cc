"""The ``trackside`` command line.

Each sub-command lives in its own module under ``dashboard/commands`` and is
imported only when it runs, so ``trackside plan`` never pays for OpenCV or
gevent start-up.
"""

from __future__ import annotations

import importlib
import logging

import click

#: command name -> "module:attribute" of a click command.
COMMANDS: dict[str, str] = {
    "plan": "dashboard.commands.plan:plan",
    "replay": "dashboard.commands.replay:replay",
    "export": "dashboard.commands.replay:export",
    "rfid": "dashboard.commands.rfid:rfid",
    "detect": "dashboard.commands.detect:detect",
    "serve": "dashboard.commands.serve:serve",
    "node": "dashboard.commands.node:node",
    "demo": "dashboard.commands.demo:demo",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None
        return getattr(module, attr)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Trackside: live timing and pacing-plan coaching for the 400 m track mile."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
