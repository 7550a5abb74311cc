"""``trackside node``: run one configured sensor as a sensor node."""

from __future__ import annotations

import signal
import sys
import threading

import click

from dashboard.config import ConfigFileError, load_config


@click.command()
@click.option("--config", "config_file", required=True,
              type=click.Path(exists=True, dir_okay=False), help="The serve config (TOML).")
@click.option("--sensor", "sensor_id", help="The [[sensor]] id to run.")
@click.option("--mark", help="Or: run the (only) sensor at this mark.")
@click.option("--server", "server_url", required=True, help="http://host:port of trackside serve.")
@click.option("--token", envvar="TRACKSIDE_TOKEN", required=True,
              help="The node (coach) token; or set TRACKSIDE_TOKEN.")
def node(config_file: str, sensor_id: str | None, mark: str | None, server_url: str,
         token: str) -> None:
    """Run one sensor from a config file and send its crossings to the server."""
    from sensors.node import run_node

    try:
        config = load_config(config_file)
    except ConfigFileError as exc:
        raise click.ClickException(str(exc)) from None
    if sensor_id:
        try:
            sensor = config.sensor(sensor_id)
        except KeyError:
            raise click.BadParameter(f"no sensor {sensor_id!r} in {config_file}",
                                     param_hint="--sensor") from None
    else:
        matches = [s for s in config.sensors if mark and mark in s.marks()]
        if len(matches) != 1:
            raise click.BadParameter(f"{len(matches)} sensors at mark {mark!r}; use --sensor",
                                     param_hint="--mark")
        sensor = matches[0]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_node(sensor, server_url, token, stop)
    except KeyboardInterrupt:
        pass
    sys.exit(0)
