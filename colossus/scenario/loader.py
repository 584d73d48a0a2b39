"""Load, validate and serialise scenario files (TOML).

The input boundary: TOML is parsed with the standard library's ``tomllib``, validated by pydantic
into the frozen dataclasses of :mod:`colossus.scenario.types`, then checked across sections
(shares, SKU names, date order). Every problem is an :class:`~colossus.errors.InputError` with one
line ``<file>: <key.path>: <what is wrong>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic
from pydantic import TypeAdapter

from colossus.errors import InputError
from colossus.scenario.types import Scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "builtin_names",
    "load_scenario",
    "parse_scenario",
    "scenario_json_schema",
    "scenario_to_dict",
]

DEFAULT_SCENARIO = "memphis"
_BUILTIN_PKG = "colossus.scenario.builtin"


@functools.cache
def _adapter() -> TypeAdapter[Scenario]:
    return TypeAdapter(Scenario)


def builtin_names() -> list[str]:
    """Names of the scenarios shipped as package data."""
    files = resources.files(_BUILTIN_PKG)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def _read_source(name_or_path: str | Path | None) -> tuple[str, str]:
    """Return ``(label, text)`` for a built-in name or a file path."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCENARIO
    text_name = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in builtin_names():
        res = resources.files(_BUILTIN_PKG).joinpath(f"{name_or_path}.toml")
        return f"<builtin:{name_or_path}>", res.read_text(encoding="utf-8")
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(builtin_names())
        raise InputError(f"{text_name}: no such scenario file or built-in scenario (built-ins: {known})")
    if path.is_dir():
        raise InputError(f"{text_name}: is a directory, expected a scenario TOML file")
    try:
        return str(path), path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text (UTF-8) file: {exc.reason}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def load_scenario(name_or_path: str | Path | None = None) -> Scenario:
    """Load a scenario by built-in name (``memphis``, the default) or TOML file path.

    Raises
    ------
    InputError
        One line naming the file and the key path of the first problem.
    """
    label, text = _read_source(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{label}: not valid TOML: {exc}") from None
    return parse_scenario(data, source=label)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<top>"


def _format_error(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"{_loc(loc)}: unknown key"
    if kind == "missing" or kind == "missing_keyword_argument":
        return f"{_loc(loc)}: required key is missing"
    msg = err["msg"]
    value = err.get("input")
    if isinstance(value, (str, int, float, bool, dt.date)) and not isinstance(value, Mapping):
        msg = f"{msg} (got {value!r})"
    return f"{_loc(loc)}: {msg}"


def parse_scenario(data: Mapping[str, Any], *, source: str = "<scenario>") -> Scenario:
    """Validate a parsed TOML mapping into a :class:`Scenario` (see :func:`load_scenario`)."""
    try:
        scn = _adapter().validate_python(dict(data))
    except pydantic.ValidationError as exc:
        raise InputError(f"{source}: {_format_error(exc.errors()[0], data)}") from None
    problem = _cross_check(scn)
    if problem is not None:
        raise InputError(f"{source}: {problem}")
    return scn


def _cross_check(s: Scenario) -> str | None:
    """Checks that span sections; returns ``"key.path: problem"`` or ``None``."""
    for i, ph in enumerate(s.phases):
        if ph.sku not in s.skus:
            return f"phases[{i}].sku: unknown SKU {ph.sku!r} (known: {', '.join(s.skus)})"
        if i and ph.date < s.phases[i - 1].date:
            return f"phases[{i}].date: {ph.date} is before the previous phase's {s.phases[i - 1].date}"
    if s.phases[0].date < s.scenario.start_date:
        return f"phases[0].date: {s.phases[0].date} is before scenario.start_date {s.scenario.start_date}"
    for i, step in enumerate(s.power.grid):
        if i and step.date < s.power.grid[i - 1].date:
            return f"power.grid[{i}].date: {step.date} is before the previous step's {s.power.grid[i - 1].date}"
    names = [d.name for d in s.divisions]
    for i, n in enumerate(names):
        if n in names[:i]:
            return f"divisions[{i}].name: duplicate division {n!r}"
    total = sum(d.guaranteed_share for d in s.divisions)
    if total > 1.0 + 1e-9:
        return f"divisions: guaranteed_share adds up to {total:.3f}, above 1"
    load = sum(d.load_share for d in s.divisions)
    if load > 1.0 + 1e-9:
        return f"divisions: load_share adds up to {load:.3f}, above 1"
    if s.hero is not None:
        h = s.hero
        if h.division not in names:
            return f"hero.division: unknown division {h.division!r} (known: {', '.join(names)})"
        if h.sku not in s.skus:
            return f"hero.sku: unknown SKU {h.sku!r} (known: {', '.join(s.skus)})"
        if h.gpus % s.cluster.gpus_per_node:
            return f"hero.gpus: {h.gpus} is not a multiple of cluster.gpus_per_node ({s.cluster.gpus_per_node})"
        online = sum(ph.arrays for ph in s.phases if ph.sku == h.sku) * s.cluster.gpus_per_array
        if h.gpus + h.hot_spare_nodes * s.cluster.gpus_per_node > online:
            return f"hero.gpus: {h.gpus} GPUs plus {h.hot_spare_nodes} spare nodes exceed the {online} {h.sku} GPUs of all phases"
    if s.workload.fitted is not None:
        for div in s.workload.fitted.arrivals:
            if div not in names:
                return f"workload.fitted.arrivals.{div}: unknown division (known: {', '.join(names)})"
    if s.capacity is not None:
        for i, opt in enumerate(s.capacity.options):
            if opt.sku not in s.skus:
                return f"capacity.options[{i}].sku: unknown SKU {opt.sku!r} (known: {', '.join(s.skus)})"
        for key in ("demand_growth_per_month", "wait_p95_slo_s"):
            for div in getattr(s.capacity, key):
                if div not in names:
                    return f"capacity.{key}.{div}: unknown division (known: {', '.join(names)})"
    try:
        s.scheduler.objective.milp_weights(s.wait_targets_s)
    except ValueError as exc:
        return str(exc).replace("MilpWeights.", "scheduler.objective.").replace("MilpWeights:", "scheduler.objective:")
    if s.scheduler.policy not in _policy_names():
        return f"scheduler.policy: unknown policy {s.scheduler.policy!r} (known: {', '.join(_policy_names())})"
    return None


def _policy_names() -> list[str]:
    from scheduler.policy import policy_names

    return policy_names()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, pydantic.BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def scenario_to_dict(scn: Scenario) -> dict[str, Any]:
    """A TOML-ready mapping of ``scn`` (``None`` values dropped, since TOML has no null)."""

    def drop_none(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: drop_none(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [drop_none(x) for x in v]
        return v

    return drop_none(_plain(scn))


def scenario_json_schema() -> str:
    """JSON Schema of scenario files, for editors (e.g. Taplo / Even Better TOML)."""
    schema = _adapter().json_schema()
    schema["title"] = "colossus scenario"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True)
