"""Config files: the shipped examples load; every mistake names the file, key and reason."""

import datetime
from pathlib import Path

import pytest

from dashboard.config import ConfigFileError, load_config, parse_config
from sensors.config import lane_at

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


@pytest.mark.parametrize("name", ["finish_camera", "rfid_four_marks", "mixed"])
def test_shipped_examples_load(name):
    config = load_config(CONFIG_DIR / f"{name}.toml")
    assert config.sensors
    assert all(sensor.marks() for sensor in config.sensors)


def test_mixed_example_maps_antennas_to_marks():
    config = load_config(CONFIG_DIR / "mixed.toml")
    far = config.sensor("far-side")
    assert far.rfid.antennas == {1: "backstretch", 2: "back_turn"}
    assert far.marks() == ("back_turn", "backstretch")
    assert config.sensor("finish-cam").camera.line == (960.0, 120.0, 960.0, 1040.0)


def test_a_remote_sensor_is_not_started_by_serve(tmp_path):
    from dashboard.supervisor import start_supervisor

    path = tmp_path / "remote.toml"
    path.write_text('[[sensor]]\nid = "cam"\nkind = "camera"\nmark = "finish"\nsource = "0"\n'
                    'line = [1, 2, 3, 4]\nremote = true\n')
    assert load_config(path).sensor("cam").remote is True
    app = type("App", (), {"config": {"CONFIG_FILE": str(path)}, "extensions": {}})()
    assert start_supervisor(app, "http://127.0.0.1:1", "t") is None  # nothing to start here


def test_camera_lanes_and_recorded_start_time():
    config = parse_config({"sensor": [{**GOOD_SENSOR, "lanes": [8, 0.5],
                                       "start_s": datetime.datetime(
                                           2026, 11, 29, 9, 30, tzinfo=datetime.UTC)}]})
    camera = config.sensor("cam").camera
    assert camera.lanes == ((0.0, 8.0), (1.0, 0.5))
    assert camera.start_s == 1795944600.0
    assert parse_config({"sensor": [{**GOOD_SENSOR, "start_s": 1795944600.5}]}
                        ).sensor("cam").camera.start_s == 1795944600.5
    assert load_config(CONFIG_DIR / "finish_camera.toml").sensor("finish-cam").camera.lanes
    table = parse_config({"sensor": [{**GOOD_SENSOR, "lanes": {"8": 0.23, "1": 0.7, "4": 0.4}}]})
    assert table.sensor("cam").camera.lanes == ((0.23, 8.0), (0.4, 4.0), (0.7, 1.0))


def test_lane_at_interpolates_between_calibration_points_and_extends_past_them():
    points = ((0.23, 8.0), (0.4, 4.0), (0.7, 1.0))
    assert lane_at(0.4, points) == pytest.approx(4.0)
    assert lane_at(0.55, points) == pytest.approx(2.5)
    assert lane_at(0.315, points) == pytest.approx(6.0)
    assert lane_at(0.8, points) == pytest.approx(0.0)  # past the last point: same slope
    assert lane_at(0.1, points) == pytest.approx(8.0 + 0.13 / 0.17 * 4)
    assert lane_at(0.25, ((0.0, 8.0), (1.0, 0.0))) == 6.0


GOOD_SENSOR = {"id": "cam", "kind": "camera", "mark": "finish", "source": "0",
               "line": [1, 2, 3, 4]}


@pytest.mark.parametrize("change, key", [
    ({"sensor": [{**GOOD_SENSOR, "mark": "first_bend"}]}, "sensor[0].mark"),
    ({"sensor": [{**GOOD_SENSOR, "line": [1, 2, 3]}]}, "sensor[0].line"),
    ({"sensor": [{**GOOD_SENSOR, "kind": "radar"}]}, "sensor[0].kind"),
    ({"sensor": [{**GOOD_SENSOR, "remote": "yes"}]}, "sensor[0].remote"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": [1]}]}, "sensor[0].lanes"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": [3, 3]}]}, "sensor[0].lanes"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": [1, 40]}]}, "sensor[0].lanes"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": {"1": 0.7}}]}, "sensor[0].lanes"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": {"1": 0.7, "x": 0.2}}]}, "sensor[0].lanes.x"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": {"1": 0.7, "8": 1.5}}]}, "sensor[0].lanes.8"),
    ({"sensor": [{**GOOD_SENSOR, "lanes": {"1": 0.7, "8": 0.7}}]}, "sensor[0].lanes"),
    ({"sensor": [{**GOOD_SENSOR, "start_s": "yesterday"}]}, "sensor[0].start_s"),
    ({"sensor": [{**GOOD_SENSOR, "start_s": datetime.datetime(2026, 11, 29, 9, 30)}]},
     "sensor[0].start_s"),
    ({"sensor": [GOOD_SENSOR, GOOD_SENSOR]}, "sensor[1].id"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "chafon", "port": "/dev/x"}]},
     "sensor[0].mark"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "impinj", "port": "/dev/x",
                  "mark": "finish"}]}, "sensor[0].protocol"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "chafon", "port": "/dev/x",
                  "antennas": {"1": "moon"}}]}, "sensor[0].antennas.1"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "ascii", "port": "/dev/x",
                  "mark": "finish", "method": "guess"}]}, "sensor[0].method"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "ascii", "port": "/dev/x",
                  "mark": "finish", "shadow_db": 9}]}, "sensor[0].shadow_db"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "ascii", "port": "/dev/x",
                  "mark": "finish", "offset_s": "late"}]}, "sensor[0].offset_s"),
    ({"sensor": [{"id": "r", "kind": "rfid", "protocol": "ascii", "port": "/dev/x",
                  "mark": "finish", "quiet_s": 0}]}, "sensor[0].quiet_s"),
    ({"sensor": [{**GOOD_SENSOR, "fps": True}]}, "sensor[0].fps"),
    ({"server": {"port": 70000}}, "server.port"),
    ({"track": {"lanes": 12}}, "track.lanes"),
    ({"tracks": {}}, "tracks"),
    ({"athlete": [{"name": "Ana", "lane": 1, "five_k": "soon"}]}, "athlete[0].five_k"),
])
def test_invalid_config_names_the_key(change, key):
    with pytest.raises(ConfigFileError) as info:
        parse_config(change, "trial.toml")
    assert info.value.key == key
    assert str(info.value).startswith(f"trial.toml: {key}: ")


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport = 1\n")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        load_config(bad)


def test_rfid_burst_settings_reach_the_reader():
    """quiet_s, method, offset_s and shadow_db in the file are what the reader uses."""
    from sensors.node import rfid_reader_config

    table = {"id": "r", "kind": "rfid", "protocol": "ascii", "port": "/dev/x", "mark": "finish"}
    plain = rfid_reader_config(parse_config({"sensor": [table]}, "t.toml").sensors[0]).burst
    chosen = rfid_reader_config(parse_config({"sensor": [{
        **table, "quiet_s": 0.5, "method": "fit", "offset_s": -0.03, "shadow_db": 0}]},
        "t.toml").sensors[0]).burst
    assert (plain.method, plain.offset_s, plain.shadow_db) == ("shape", 0.0, 2.0)
    assert (chosen.quiet_s, chosen.method, chosen.offset_s, chosen.shadow_db) == (
        0.5, "fit", -0.03, 0.0)
    assert chosen.max_quiet_s >= chosen.quiet_s
