"""Reading a Trackside config file (TOML) into values, once, at start-up.

The file describes the server, the track (or names the standard one), the
sensors at the marks and optionally a roster. Anything wrong is rejected here
with the file, the key and the reason, before a single port is opened.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sensors.config import ConfigError, SensorConfig, parse_sensors
from timing.track import STANDARD_TRACK, Track, TrackError, track_from_mapping

TOP_LEVEL_KEYS = {"server", "track", "sensor", "session", "athlete"}
SERVER_KEYS = {"host", "port", "db", "token"}


class ConfigFileError(ValueError):
    """A config file that cannot be used: names the file, the key and the reason."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        super().__init__(f"{path}: {key}: {reason}")
        self.path = path
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where the dashboard listens and where the event log lives."""

    host: str = "127.0.0.1"
    port: int = 5000
    db: str = "trackside.db"
    token: str | None = None


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything a config file says, parsed and checked."""

    path: str | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    track: Track = STANDARD_TRACK
    sensors: tuple[SensorConfig, ...] = ()
    #: The roster as a session-setup payload (the REST API's shape), or None.
    roster: dict[str, Any] | None = None

    def sensor(self, sensor_id: str) -> SensorConfig:
        """The sensor called ``sensor_id``; ``KeyError`` if the file has none."""
        for sensor in self.sensors:
            if sensor.id == sensor_id:
                return sensor
        raise KeyError(sensor_id)


def parse_config(data: dict[str, Any], path: str = "<config>") -> AppConfig:
    """Check and convert a parsed TOML document; raises ``ConfigFileError``."""
    try:
        unknown = sorted(set(data) - TOP_LEVEL_KEYS)
        if unknown:
            raise ConfigError(unknown[0], "unknown section (known: "
                                          f"{', '.join(sorted(TOP_LEVEL_KEYS))})")
        server = _server(data.get("server", {}))
        try:
            track = track_from_mapping(data.get("track", {}))
        except TrackError as exc:
            raise ConfigError(f"track.{exc.field}", str(exc).split(": ", 1)[1]) from None
        sensors = parse_sensors(data.get("sensor"))
        roster = _roster(data, track)
    except ConfigError as exc:
        raise ConfigFileError(path, exc.key, exc.reason) from None
    return AppConfig(path, server, track, sensors, roster)


def load_config(path: str | Path) -> AppConfig:
    """Read and check the TOML file at ``path``."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigFileError(str(path), "-", f"cannot read the file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(str(path), "-", f"not valid TOML ({exc})") from None
    return parse_config(data, str(path))


def _server(table: Any) -> ServerSettings:
    if not isinstance(table, dict):
        raise ConfigError("server", "must be a table")
    unknown = sorted(set(table) - SERVER_KEYS)
    if unknown:
        raise ConfigError(f"server.{unknown[0]}", "unknown setting")
    port = table.get("port", 5000)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("server.port", f"must be a port number 0-65535 (got {port!r})")
    for key in ("host", "db", "token"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"server.{key}", "must be a string")
    return ServerSettings(table.get("host", "127.0.0.1"), port, table.get("db", "trackside.db"),
                          table.get("token"))


def _roster(data: dict[str, Any], track: Track) -> dict[str, Any] | None:
    """The ``[session]`` and ``[[athlete]]`` tables as a setup payload, checked now."""
    athletes = data.get("athlete")
    if athletes is None:
        return None
    if not isinstance(athletes, list):
        raise ConfigError("athlete", "write athletes as [[athlete]] tables")
    session = data.get("session", {})
    if not isinstance(session, dict):
        raise ConfigError("session", "must be a table")
    payload = {**session, "athletes": athletes}
    from dashboard.validate import ValidationError, session_from_payload

    try:
        session_from_payload(payload, session_id="config")
    except ValidationError as exc:
        key = exc.field.replace("athletes[", "athlete[", 1)
        raise ConfigError(key, exc.message) from None
    return payload
