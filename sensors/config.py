"""Sensor settings: parsed from a config file's ``[[sensor]]`` tables into values.

Pure: takes the mapping ``tomllib`` produced, returns frozen dataclasses, and
raises ``ConfigError`` naming the key and the reason. Reading the file is the
shell's job (``dashboard.config``), so a sensor node on another machine and the
server parse the same text the same way.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sensors.rfid.estimate import METHODS
from sensors.rfid.shapefit import SHADOW_MAX_DB
from timing.values import MARKS

SENSOR_KINDS = ("camera", "rfid", "tap")
RFID_PROTOCOLS = ("chafon", "chafon288", "p3", "ascii")


class ConfigError(ValueError):
    """Invalid configuration: ``key`` is the dotted path of the setting at fault."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CameraSettings:
    """A camera at a mark: where frames come from and where the virtual line is."""

    source: str
    line: tuple[float, float, float, float]
    fps: float | None = None
    timestamps: str | None = None
    readout_s: float = 0.0
    #: Line position (0..1) -> lane, as calibration points ``((position, lane), ...)``
    #: sorted by position: from ``lanes = [first, last]`` (the lanes at the line's two
    #: ends) or ``lanes = {1 = 0.70, 4 = 0.40, 8 = 0.23}`` (where the camera saw runners
    #: of those lanes cross). ``None``: unknown, crossings carry no lane.
    lanes: tuple[tuple[float, float], ...] | None = None
    #: For a recorded file: the session (wall-clock) time of its first frame; ``None``
    #: plays the file at its own frame rate from the moment the node starts.
    start_s: float | None = None


def lane_at(position: float, points: tuple[tuple[float, float], ...]) -> float:
    """The lane at ``position`` along a camera line, from calibration ``points``.

    Straight lines between the points, extended past the outer ones. Two
    points (the line's two ends) are a straight mapping, which a camera's
    perspective bends by up to a lane or so in the middle; a point per two or
    three lanes brings it within a fraction of a lane.
    """
    if len(points) < 2:
        raise ValueError("a lane mapping needs at least two points")
    for (p0, l0), (p1, l1) in zip(points, points[1:], strict=False):
        if position <= p1 or (p1, l1) == points[-1]:
            return l0 + (position - p0) * (l1 - l0) / (p1 - p0)
    raise AssertionError("unreachable")  # the loop returns on its last pair


@dataclass(frozen=True, slots=True)
class RfidSettings:
    """An RFID reader: protocol, port or URL, and which antenna watches which mark."""

    protocol: str
    port: str
    baud: int = 57600
    poll_hz: float = 20.0
    #: Silence that ends a burst (None: the estimator's default, 0.2 s).
    quiet_s: float | None = None
    antennas: Mapping[int, str] = field(default_factory=dict)
    #: Crossing estimate (None: the protocol's best, ``sensors.rfid.reader.DEFAULT_METHOD``).
    method: str | None = None
    #: Per-mark calibration added to every crossing time (s).
    offset_s: float = 0.0
    #: Body shadow the ``shape`` fit expects (dB): 2 for chest bibs, 0 for shoe tags.
    shadow_db: float | None = None


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """One sensor: an id, its kind, its default mark, and the kind's settings."""

    id: str
    kind: str
    mark: str
    camera: CameraSettings | None = None
    rfid: RfidSettings | None = None
    #: Runs on another machine (``trackside node ... --server URL`` there): ``serve``
    #: does not start it, and shows it once it connects.
    remote: bool = False

    def marks(self) -> tuple[str, ...]:
        """Every mark this sensor reports (an RFID reader may watch several)."""
        if self.rfid and self.rfid.antennas:
            return tuple(sorted(set(self.rfid.antennas.values())))
        return (self.mark,)


def _get(table: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...],
         default: Any = ..., ) -> Any:
    if key not in table:
        if default is ...:
            raise ConfigError(f"{where}.{key}", "is required")
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ConfigError(f"{where}.{key}", f"must not be true/false (got {value!r})")
    if not isinstance(value, kind):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ConfigError(f"{where}.{key}", f"must be a {names} (got {value!r})")
    return value


def _mark(value: str, key: str) -> str:
    if value not in MARKS:
        raise ConfigError(key, f"unknown mark {value!r} (one of {', '.join(MARKS)})")
    return value


def _lanes(table: Mapping[str, Any], where: str) -> tuple[tuple[float, float], ...] | None:
    """``lanes``: ``[first, last]`` at the line's ends, or ``{lane = position, ...}``."""
    value = table.get("lanes")
    key = f"{where}.lanes"
    if value is None:
        return None

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if isinstance(value, list):
        if len(value) != 2 or not all(number(v) for v in value):
            raise ConfigError(key, "must be two lane numbers [at the line's first point, at "
                                   "its second point], or a table {lane = position}")
        points = ((0.0, float(value[0])), (1.0, float(value[1])))
    elif isinstance(value, Mapping):
        pairs = []
        for lane, position in value.items():
            if not str(lane).isdigit() or not number(position) or not 0 <= position <= 1:
                raise ConfigError(f"{key}.{lane}", "write lane = position along the line, "
                                                   "e.g. 4 = 0.40 (a position from 0 to 1)")
            pairs.append((float(position), float(lane)))
        points = tuple(sorted(pairs))
        if len(points) < 2:
            raise ConfigError(key, "give at least two lanes")
    else:
        raise ConfigError(key, "must be [first, last] or a table {lane = position}")
    if not all(0 <= lane <= 12 for _, lane in points):
        raise ConfigError(key, f"lanes are numbered from 1 to at most 12 (got {value})")
    if len({p for p, _ in points}) < len(points) or len({lane for _, lane in points}) < 2:
        raise ConfigError(key, "two lanes at one position, or one lane everywhere")
    return points


def _start_s(table: Mapping[str, Any], where: str) -> float | None:
    """``start_s``: epoch seconds, or a TOML date-time, of a recorded file's first frame."""
    value = table.get("start_s")
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ConfigError(f"{where}.start_s", "give the time zone, e.g. "
                                                  "2026-11-29T09:30:00Z or +01:00")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.start_s", "must be a date-time (2026-11-29T09:30:00Z) or "
                                              f"Unix seconds (got {value!r})")
    return float(value)


def parse_sensor(table: Mapping[str, Any], where: str) -> SensorConfig:
    """Parse one ``[[sensor]]`` table; ``where`` is its dotted path for messages."""
    if not isinstance(table, Mapping):
        raise ConfigError(where, "must be a table")
    kind = _get(table, "kind", where, str)
    if kind not in SENSOR_KINDS:
        raise ConfigError(f"{where}.kind", f"unknown kind {kind!r} (one of "
                                           f"{', '.join(SENSOR_KINDS)})")
    sensor_id = _get(table, "id", where, str)
    if not sensor_id or not sensor_id.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}.id", "use letters, digits, - and _ only")
    mark = _get(table, "mark", where, str, "" if kind == "rfid" else ...)
    if mark:
        _mark(mark, f"{where}.mark")
    camera = rfid = None
    if kind == "camera":
        line = _get(table, "line", where, list)
        if len(line) != 4 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                     for v in line):
            raise ConfigError(f"{where}.line", "must be four numbers [x1, y1, x2, y2]")
        if line[:2] == line[2:]:
            raise ConfigError(f"{where}.line", "its two points are the same")
        source = _get(table, "source", where, (str, int))
        fps = _get(table, "fps", where, (int, float), None)
        if fps is not None and not 1 <= fps <= 1000:
            raise ConfigError(f"{where}.fps", f"must be between 1 and 1000 (got {fps})")
        readout_s = float(_get(table, "readout_s", where, (int, float), 0.0))
        if not 0 <= readout_s < 1:
            raise ConfigError(f"{where}.readout_s", "must be in seconds, from 0 to 1")
        camera = CameraSettings(str(source), tuple(float(v) for v in line),
                                None if fps is None else float(fps),
                                _get(table, "timestamps", where, str, None), readout_s,
                                _lanes(table, where), _start_s(table, where))
    elif kind == "rfid":
        protocol = _get(table, "protocol", where, str)
        if protocol not in RFID_PROTOCOLS:
            raise ConfigError(f"{where}.protocol", f"unknown protocol {protocol!r} (one of "
                                                   f"{', '.join(RFID_PROTOCOLS)})")
        baud = _get(table, "baud", where, int, 57600)
        if baud <= 0:
            raise ConfigError(f"{where}.baud", "must be positive")
        poll_hz = float(_get(table, "poll_hz", where, (int, float), 20.0))
        if not 0 < poll_hz <= 500:
            raise ConfigError(f"{where}.poll_hz", "must be between 0 and 500 polls a second")
        quiet_s = _get(table, "quiet_s", where, (int, float), None)
        if quiet_s is not None and not 0 < quiet_s <= 5:
            raise ConfigError(f"{where}.quiet_s", "must be between 0 and 5 seconds")
        method = _get(table, "method", where, str, None)
        if method is not None and method not in METHODS:
            raise ConfigError(f"{where}.method", f"unknown method {method!r} (one of "
                                                 f"{', '.join(METHODS)})")
        offset_s = float(_get(table, "offset_s", where, (int, float), 0.0))
        if not -2 <= offset_s <= 2:
            raise ConfigError(f"{where}.offset_s", "must be between -2 and 2 seconds")
        shadow_db = _get(table, "shadow_db", where, (int, float), None)
        if shadow_db is not None and not 0 <= shadow_db <= SHADOW_MAX_DB:
            raise ConfigError(f"{where}.shadow_db", f"must be between 0 and {SHADOW_MAX_DB:g} dB")
        antennas: dict[int, str] = {}
        for key, value in _get(table, "antennas", where, Mapping, {}).items():
            akey = f"{where}.antennas.{key}"
            if not str(key).isdigit() or not 0 <= int(key) <= 64:
                raise ConfigError(akey, "antenna numbers are whole numbers from 0 to 64")
            if not isinstance(value, str):
                raise ConfigError(akey, "must name a mark")
            antennas[int(key)] = _mark(value, akey)
        if not mark and not antennas:
            raise ConfigError(f"{where}.mark", "give a mark or an antennas table")
        rfid = RfidSettings(protocol, _get(table, "port", where, str), baud, poll_hz,
                            None if quiet_s is None else float(quiet_s), antennas, method,
                            offset_s, None if shadow_db is None else float(shadow_db))
    remote = table.get("remote", False)
    if not isinstance(remote, bool):
        raise ConfigError(f"{where}.remote", "must be true or false")
    known = {"kind", "id", "mark", "remote", "line", "source", "fps", "timestamps", "readout_s",
             "lanes", "start_s", "protocol", "port", "baud", "poll_hz", "quiet_s", "antennas",
             "method", "offset_s", "shadow_db"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}", "unknown setting")
    return SensorConfig(sensor_id, kind, mark, camera, rfid, remote)


def parse_sensors(tables: Any) -> tuple[SensorConfig, ...]:
    """Parse the list of ``[[sensor]]`` tables; ids must be unique."""
    if tables is None:
        return ()
    if not isinstance(tables, list):
        raise ConfigError("sensor", "write sensors as [[sensor]] tables")
    sensors = tuple(parse_sensor(t, f"sensor[{i}]") for i, t in enumerate(tables))
    seen: set[str] = set()
    for i, sensor in enumerate(sensors):
        if sensor.id in seen:
            raise ConfigError(f"sensor[{i}].id", f"duplicate sensor id {sensor.id!r}")
        seen.add(sensor.id)
    return sensors
