"""The ``matinee`` command line, on data dirs where no fleet runs or a fake one does."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from matinee import cli
from matinee.supervisor import FleetLock, FleetPaths, parse_apps, write_json_atomic


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_without_a_fleet_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status", "--data-dir", str(tmp_path))
    assert code == 1
    assert f"no fleet is running on {tmp_path.resolve()}" in err


def test_every_command_follows_matinee_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATINEE_DATA_DIR", str(tmp_path / "elsewhere"))
    for command in (["status"], ["scale", "catalog", "2"]):
        code, _, err = run(capsys, *command)
        assert code == 1
        assert str((tmp_path / "elsewhere").resolve()) in err
    code, out, _ = run(capsys, "down")
    assert code == 0
    assert "no fleet is running" in out


def test_data_dir_goes_before_or_after_the_command() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["--data-dir", "a", "status"]).data_dir == "a"
    assert parser.parse_args(["status", "--data-dir", "b"]).data_dir == "b"
    assert parser.parse_args(["status"]).data_dir in (
        ".matinee",
        os.environ.get("MATINEE_DATA_DIR"),
    )


def test_ports_come_from_flags_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATINEE_GATEWAY_PORT", "9080")
    monkeypatch.setenv("MATINEE_REGISTRY_PORT", "9761")
    args = cli.build_parser().parse_args(["up"])
    assert (args.gateway_port, args.registry_port) == (9080, 9761)
    args = cli.build_parser().parse_args(["up", "--gateway-port", "7080"])
    assert args.gateway_port == 7080
    monkeypatch.setenv("MATINEE_GATEWAY_PORT", "eighty")
    with pytest.raises(SystemExit, match="MATINEE_GATEWAY_PORT"):
        cli.build_parser()


def test_the_number_of_registry_peers_comes_from_a_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MATINEE_REGISTRIES", raising=False)
    assert cli.build_parser().parse_args(["up"]).registries == 2
    assert cli.build_parser().parse_args(["up", "--registries", "3"]).registries == 3
    monkeypatch.setenv("MATINEE_REGISTRIES", "1")
    assert cli.build_parser().parse_args(["up"]).registries == 1
    monkeypatch.setenv("MATINEE_REGISTRIES", "9")
    with pytest.raises(SystemExit, match="MATINEE_REGISTRIES"):
        cli.build_parser()


def test_bad_arguments_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["scale", "catalog", "-1"], ["up", "--gateway-port", "70000"], ["nope"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    assert "cannot be negative" in capsys.readouterr().err


@pytest.mark.parametrize("detach", [False, True])
def test_a_second_up_on_a_busy_data_dir_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detach: bool
) -> None:
    paths = FleetPaths.of(tmp_path)
    with FleetLock(paths.lock):
        argv = ["up", "--data-dir", str(tmp_path)] + (["--detach"] if detach else [])
        code, _, err = run(capsys, *argv)
    assert code == 1
    assert f"a fleet is already running on {paths.data_dir}" in err
    assert f"run `matinee down --data-dir {paths.data_dir}` first" in err


def _fake_running_fleet(tmp_path: Path) -> tuple[FleetPaths, FleetLock]:
    paths = FleetPaths.of(tmp_path)
    paths.create()
    lock = FleetLock(paths.lock)
    lock.acquire()
    write_json_atomic(
        paths.state,
        {
            "pid": 1,
            "phase": "running",
            "registry_url": "http://127.0.0.1:1/eureka",
            "gateway_url": "http://127.0.0.1:8080",
            "instances": [
                {"service": "catalog", "instance_id": "catalog-1", "pid": 4242,
                 "registers": True, "state": "up", "registry_status": "UP", "restarts": 0},
            ],
        },
    )  # fmt: skip
    return paths, lock


def test_status_prints_json_and_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = {
        "applications": {
            "application": [
                {
                    "name": "CATALOG",
                    "instance": [
                        {"instanceId": "catalog-1", "status": "UP", "ipAddr": "127.0.0.1",
                         "port": {"$": 5001}, "metadata": {"version": "0.3.0"}},
                    ],
                }
            ]
        }
    }  # fmt: skip
    monkeypatch.setattr(cli, "fetch_registered", lambda url: parse_apps(doc))
    _, lock = _fake_running_fleet(tmp_path)
    try:
        code, out, _ = run(capsys, "status", "--json", "--data-dir", str(tmp_path))
        assert code == 0
        [row] = json.loads(out)
        assert row["pid"] == 4242
        assert row["status"] == "UP"
        assert row["version"] == "0.3.0"
        assert row["url"] == "http://127.0.0.1:5001"
        code, out, _ = run(capsys, "status", "--data-dir", str(tmp_path))
        assert code == 0
        assert "catalog-1" in out
        assert "gateway http://127.0.0.1:8080" in out
    finally:
        lock.release()


def test_status_survives_a_registry_that_does_not_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(url: str) -> list[object]:
        raise OSError("connection refused")

    monkeypatch.setattr(cli, "fetch_registered", down)
    _, lock = _fake_running_fleet(tmp_path)
    try:
        code, out, err = run(capsys, "status", "--json", "--data-dir", str(tmp_path))
    finally:
        lock.release()
    assert code == 0
    assert "not answering" in err
    assert json.loads(out)[0]["status"] == "UP?"


def test_logs_are_prefixed_by_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = FleetPaths.of(tmp_path)
    for instance, text in (("catalog-1", "one\ntwo\n"), ("catalog-2", "three\n")):
        log = paths.instance_log("catalog", instance)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text)
    gateway = paths.instance_log("gateway", "gateway-1")
    gateway.parent.mkdir(parents=True)
    gateway.write_text("edge\n")
    code, out, _ = run(capsys, "logs", "catalog", "--data-dir", str(tmp_path))
    assert code == 0
    assert out.splitlines() == ["catalog-1 | one", "catalog-1 | two", "catalog-2 | three"]
    code, out, _ = run(capsys, "logs", "-n", "1", "--data-dir", str(tmp_path))
    assert "gateway-1 | edge" in out
    assert "catalog-1 | one" not in out
    code, _, err = run(capsys, "logs", "nope", "--data-dir", str(tmp_path))
    assert code == 1
    assert "services with logs: catalog, gateway" in err


def test_a_later_subcommand_is_one_row_in_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("title")

    def hello(args: argparse.Namespace) -> int:
        print(f"playing {args.title} from {Path(args.data_dir).name}")
        return 0

    cli.register("play-test", cli.Command("play a title", configure, hello))
    try:
        code, out, _ = run(capsys, "play-test", "heat", "--data-dir", "/tmp/x")
    finally:
        del cli.COMMANDS["play-test"]
    assert code == 0
    assert out.strip() == "playing heat from x"
