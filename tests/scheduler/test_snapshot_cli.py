"""Snapshot JSON format, its JSON Schema, and the `colossus schedule` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scheduler import SchedulerInputError, check_decision, make_policy
from scheduler.snapshot import (
    SCHEMA_PATH,
    decision_to_dict,
    load_snapshot,
    parse_snapshot,
    snapshot_schema,
    snapshot_to_dict,
)
from scheduler.synthetic import random_snapshot

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "snapshots").glob("*.json"))


def test_shipped_schema_matches_models():
    assert json.loads(SCHEMA_PATH.read_text()) == snapshot_schema()


def test_round_trip_gives_same_decision():
    view, pending, running, now = random_snapshot(np.random.default_rng(2), num_pools=2, nodes_per_pool=8, n_pending=30)
    data = json.loads(json.dumps(snapshot_to_dict(view, pending, running, now)))
    v2, p2, r2, n2 = parse_snapshot(data)
    assert np.array_equal(v2.free_gpus, view.free_gpus) and p2 == pending and r2 == running and n2 == now
    a = make_policy("milp").schedule(view, pending, running, now)
    b = make_policy("milp").schedule(v2, p2, r2, n2)
    assert decision_to_dict(a, timings=False) == decision_to_dict(b, timings=False)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_and_schedule(path):
    view, pending, running, now = load_snapshot(path)
    for name in ("milp", "fifo", "backfill", "fairshare"):
        check_decision(view, pending, running, make_policy(name).schedule(view, pending, running, now))


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["pending"][0].update(num_gpus=0), "pending.0.num_gpus"),
        (lambda d: d["pending"][0].update(division="nope"), "pending.0.division"),
        (lambda d: d["running"][0].update(allocation=[[10_000, 8]]), "running.0.allocation.0"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["cluster"].update(gpus_per_node=6), "cluster.gpus_per_node"),
    ],
)
def test_bad_input_names_file_and_key(tmp_path, mutate, where):
    view, pending, running, now = random_snapshot(np.random.default_rng(4), num_pools=1, nodes_per_pool=8, n_pending=3, occupancy=0.5)
    data = snapshot_to_dict(view, pending, running, now)
    mutate(data)
    f = tmp_path / "snap.json"
    f.write_text(json.dumps(data))
    with pytest.raises(SchedulerInputError) as e:
        load_snapshot(f)
    msg = str(e.value)
    assert str(f) in msg and where in msg and "\n" not in msg


def test_invalid_json_names_line(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text("{\n  nope")
    with pytest.raises(SchedulerInputError, match="line 2"):
        load_snapshot(f)


def test_cli_schedule_table_and_json():
    from colossus.commands.schedule import schedule_cmd

    runner = CliRunner()
    path = str(EXAMPLES[0])
    r = runner.invoke(schedule_cmd, [path])
    assert r.exit_code == 0, r.output
    assert "started" in r.stdout
    r = runner.invoke(schedule_cmd, [path, "--json", "--policy", "backfill"])
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["record"]["policy"] == "backfill"
    assert set(out) >= {"starts", "preemptions", "reservations", "explanations", "record"}


def test_cli_bad_input_exits_2(tmp_path):
    try:
        from colossus.cli import cli
        cli.list_commands(None)  # type: ignore[arg-type]
    except ImportError as exc:  # another command module may be missing while the CLI is assembled
        pytest.skip(f"colossus CLI not loadable: {exc}")
    f = tmp_path / "bad.json"
    f.write_text('{"version": 1, "cluster": {"pools": []}, "divisions": []}')
    r = CliRunner().invoke(cli, ["schedule", str(f)])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and "cluster.pools" in r.stderr


def _cli_or_skip():
    try:
        from colossus.cli import cli
        cli.list_commands(None)  # type: ignore[arg-type]
    except ImportError as exc:
        pytest.skip(f"colossus CLI not loadable: {exc}")
    return cli


def _small_snapshot_text() -> str:
    view, pending, running, now = random_snapshot(np.random.default_rng(5), num_pools=1, nodes_per_pool=8, n_pending=3, occupancy=0.5)
    return json.dumps(snapshot_to_dict(view, pending, running, now))


@pytest.mark.parametrize(("token", "key"), [("NaN", "pending.1.submit_time_s"), ("Infinity", "now_s"), ("-Infinity", "pending.0.submit_time_s")])
def test_non_finite_constants_are_rejected_with_key(tmp_path, token, key):
    data = json.loads(_small_snapshot_text())
    marker = "__MARK__"
    if key == "now_s":
        data["now_s"] = marker
    else:
        i = int(key.split(".")[1])
        data["pending"][i]["submit_time_s"] = marker
    text = json.dumps(data).replace(f'"{marker}"', token)
    f = tmp_path / "nan.json"
    f.write_text(text)
    with pytest.raises(SchedulerInputError) as e:
        load_snapshot(f)
    msg = str(e.value)
    assert str(f) in msg and key in msg and token in msg and "\n" not in msg


def test_non_finite_in_decoded_dict_is_rejected():
    data = json.loads(_small_snapshot_text())
    data["pending"][0]["expected_duration_s"] = float("inf")
    with pytest.raises(SchedulerInputError, match="pending.0.expected_duration_s"):
        parse_snapshot(data, "x.json")


def test_non_utf8_bytes_name_file_and_byte(tmp_path):
    f = tmp_path / "latin1.json"
    f.write_bytes(b'{"version": 1,\n "note": "caf\xe9"}')
    with pytest.raises(SchedulerInputError) as e:
        load_snapshot(f)
    msg = str(e.value)
    assert str(f) in msg and "UTF-8" in msg and "line 2" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (b"\xff\xfe\x00garbage", [], "UTF-8"),
        (None, ["--time-limit", "-1"], "--time-limit"),
        (None, ["--time-limit", "nan"], "--time-limit"),
        (None, ["--time-limit", "0"], "--time-limit"),
        (b'{"version": NaN}', [], "version"),
    ],
)
def test_cli_bad_snapshot_or_option_exit_2_one_line(tmp_path, content, args, needle):
    cli = _cli_or_skip()
    f = tmp_path / "snap.json"
    if content is None:
        f.write_text(_small_snapshot_text())
    else:
        f.write_bytes(content)
    r = CliRunner().invoke(cli, ["schedule", str(f), *args])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and needle in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    if content is not None:
        assert str(f) in r.stderr
