"""Scenario loading, validation, round trip and the `colossus scenario` commands."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from colossus.cli import cli
from colossus.errors import InputError
from colossus.scenario import builtin_names, load_scenario, parse_scenario, scenario_to_dict
from colossus.scenario.builtin import __file__ as _builtin_init

MEMPHIS_TOML = Path(_builtin_init).with_name("memphis.toml")


def memphis_data() -> dict:
    return tomllib.loads(MEMPHIS_TOML.read_text())


def test_memphis_timeline_figures():
    scn = load_scenario()
    assert scn.name == "memphis"
    assert scn.gpus_online(0) == {"H100": 100_352}
    after = scn.gpus_online(92)
    assert sum(after.values()) == scn.total_gpus == 200_192
    assert after["H200"] == 50_176
    assert scn.cluster.gpus_per_array == 512
    assert {d.name for d in scn.divisions} == {"Grok Main/Voice", "Coding", "Data", "Macrohard"}
    assert sum(d.guaranteed_share for d in scn.divisions) <= 1.0
    assert scn.hero is not None and scn.hero.division == "Grok Main/Voice"
    # Llama 3 Table 5 sum: 419 interruptions over 2,424 GPU-years = 0.173 per GPU-year.
    assert scn.failures.total_per_gpu_year == pytest.approx(0.173, abs=0.001)
    # facts.md §2.3: ~1.68 kW facility per busy H100 at PUE 1.2 (we use 650 W sustained: ~1.62 kW).
    assert scn.facility_mw_per_gpu("H100") * 1e3 == pytest.approx(1.62, abs=0.05)


def test_every_memphis_value_has_a_source_comment():
    for lineno, line in enumerate(MEMPHIS_TOML.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("[") or stripped in ("]",):
            continue
        key = stripped.split("=")[0].strip()
        if key in ("name", "description", "enabled", "policy", "solver", "threads", "days", "sample_interval_s", "grid", "sku", "distribution"):
            continue
        assert "#" in line, f"memphis.toml line {lineno} has no source comment: {line!r}"


def test_builtins_listed_and_load():
    assert "memphis" in builtin_names()
    for name in builtin_names():
        load_scenario(name)


def _roundtrip(data: dict) -> dict:
    scn = parse_scenario(data, source="<test>")
    text = tomli_w.dumps(scenario_to_dict(scn))
    return scenario_to_dict(parse_scenario(tomllib.loads(text), source="<test>"))


@st.composite
def valid_scenarios(draw):
    data = memphis_data()
    data["cluster"]["halls"] = draw(st.integers(1, 8))
    data["power"]["pue"] = draw(st.floats(1.0, 2.0, allow_nan=False))
    n_div = draw(st.integers(1, 4))
    shares = draw(st.lists(st.floats(0, 0.25, allow_nan=False), min_size=n_div, max_size=n_div))
    data["divisions"] = [
        {"name": f"div{i}", "guaranteed_share": s, "weight": draw(st.floats(0.1, 5)),
         "borrow_limit_share": draw(st.floats(0, 1)), "load_share": s}
        for i, s in enumerate(shares)
    ]
    data["hero"]["division"] = "div0"
    data["capacity"]["demand_growth_per_month"] = {"div0": draw(st.floats(-0.1, 0.5))}
    data["capacity"]["wait_p95_slo_s"] = {}
    for ph in data["phases"]:
        ph["arrays"] = draw(st.integers(196, 400))
    for comp in data["failures"]["rates_per_gpu_year"]:
        data["failures"]["rates_per_gpu_year"][comp] = draw(st.floats(0, 1, allow_nan=False))
    data["checkpoint"]["interval_policy"] = draw(st.sampled_from(["fixed", "young", "daly"]))
    if draw(st.booleans()):
        del data["capacity"]
    return data


@given(valid_scenarios())
def test_valid_scenario_survives_toml_model_toml(data):
    once = scenario_to_dict(parse_scenario(data, source="<test>"))
    assert _roundtrip(once) == once


def test_dataclasses_are_frozen():
    scn = load_scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        scn.cluster.halls = 3  # type: ignore[misc]


def _mutate(path: tuple, value) -> dict:
    data = memphis_data()
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()

MALFORMED = [
    # (case id, mutation path, value, expected fragment of the message)
    ("unknown-top-key", ("colour",), "blue", "colour: unknown key"),
    ("unknown-nested-key", ("cluster", "gpus_per_nod"), 8, "cluster.gpus_per_nod: unknown key"),
    ("wrong-type-int", ("cluster", "gpus_per_node"), "8", "cluster.gpus_per_node"),
    ("wrong-type-float", ("power", "pue"), "1.2", "power.pue"),
    ("negative-arrays", ("phases", 0, "arrays"), -5, "phases[0].arrays"),
    ("zero-gpus-per-node", ("cluster", "gpus_per_node"), 0, "cluster.gpus_per_node"),
    ("share-above-one", ("divisions", 0, "guaranteed_share"), 0.9, "guaranteed_share adds up to"),
    ("single-share-above-one", ("divisions", 1, "guaranteed_share"), 1.5, "divisions[1].guaranteed_share"),
    ("unknown-sku-in-phase", ("phases", 1, "sku"), "A100", "phases[1].sku: unknown SKU 'A100'"),
    ("dates-out-of-order", ("phases", 2, "date"), __import__("datetime").date(2024, 10, 1), "phases[2].date"),
    ("missing-required", ("scenario", "start_date"), _DELETE, "scenario.start_date: required key is missing"),
    ("unknown-hero-division", ("hero", "division"), "Imagine", "hero.division: unknown division 'Imagine'"),
    ("bad-interval-policy", ("checkpoint", "interval_policy"), "often", "checkpoint.interval_policy"),
    ("unknown-policy", ("scheduler", "policy"), "random", "scheduler.policy: unknown policy"),
    ("negative-rate", ("failures", "rates_per_gpu_year", "gpu_hbm"), -0.1, "failures.rates_per_gpu_year.gpu_hbm"),
    ("pue-below-one", ("power", "pue"), 0.8, "power.pue"),
    ("grid-out-of-order", ("power", "grid", 1, "date"), __import__("datetime").date(2024, 1, 1), "power.grid[1].date"),
    ("hero-too-big", ("hero", "gpus"), 400_000, "hero.gpus"),
]


@pytest.mark.parametrize("case,path,value,fragment", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_scenario_exit_2_one_line(tmp_path, case, path, value, fragment):
    f = tmp_path / f"{case}.toml"
    f.write_text(tomli_w.dumps(_mutate(path, value)))
    res = CliRunner().invoke(cli, ["scenario", "validate", str(f)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"error: {f}: ")
    assert fragment in lines[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "content,fragment",
    [(b"[cluster\nhalls = 3", "not valid TOML"), (b"\xff\xfe\x00garbage", "not a text"), (b"", "required key is missing")],
    ids=["not-toml", "binary", "empty"],
)
def test_non_toml_files(tmp_path, content, fragment):
    f = tmp_path / "bad.toml"
    f.write_bytes(content)
    res = CliRunner().invoke(cli, ["scenario", "validate", str(f)])
    assert res.exit_code == 2
    assert fragment in res.stderr and res.stderr.count("\n") == 1


def test_missing_file_names_builtins(tmp_path):
    res = CliRunner().invoke(cli, ["scenario", "show", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "memphis" in res.stderr


def test_load_error_is_input_error():
    with pytest.raises(InputError, match="cluster.halls"):
        parse_scenario(_mutate(("cluster", "halls"), -1), source="x.toml")


def test_show_prints_timeline():
    res = CliRunner().invoke(cli, ["scenario", "show"])
    assert res.exit_code == 0, res.output
    assert "100,352" in res.output and "200,192" in res.output
    js = json.loads(CliRunner().invoke(cli, ["scenario", "show", "--json"]).stdout)
    assert js["timeline"][0]["gpus_total"] == 100_352
    assert js["timeline"][-1]["gpus_total"] == 200_192
    assert js["timeline"][-1]["peak_mw"] > js["timeline"][0]["peak_mw"]


def test_show_toml_is_a_loadable_template(tmp_path):
    res = CliRunner().invoke(cli, ["scenario", "show", "--toml"])
    f = tmp_path / "copy.toml"
    f.write_text(res.stdout)
    assert load_scenario(str(f)) == load_scenario()


def test_schema_is_json_schema():
    res = CliRunner().invoke(cli, ["scenario", "schema"])
    schema = json.loads(res.stdout)
    assert schema["additionalProperties"] is False
    assert {"scenario", "cluster", "skus", "phases", "power", "failures", "divisions"} <= set(schema["properties"])
