"""Backend selection, model presets and TOML user presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colossus.errors import InputError
from colossus.steptime import backend
from colossus.steptime.models import PRESETS, get_model, load_models_toml, model_names


def test_numpy_forced(monkeypatch):
    monkeypatch.setenv("COLOSSUS_ARRAY", "numpy")
    assert backend.get_xp() is np


def test_bad_backend_name(monkeypatch):
    monkeypatch.setenv("COLOSSUS_ARRAY", "torch")
    with pytest.raises(ValueError, match="COLOSSUS_ARRAY"):
        backend.get_xp()


def test_auto_never_crashes(monkeypatch):
    monkeypatch.delenv("COLOSSUS_ARRAY", raising=False)
    xp = backend.get_xp()
    assert backend.backend_name(xp) in ("numpy", "cupy")
    cp, reason = backend.cupy_status()
    assert isinstance(reason, str)
    if cp is None:
        assert xp is np
        with pytest.raises(RuntimeError, match="cupy"):
            backend.get_xp("cupy")


def test_to_numpy_passthrough():
    a = np.arange(3.0)
    assert backend.to_numpy(a) is a or np.array_equal(backend.to_numpy(a), a)
    assert backend.xp_of(a) is np


def test_required_presets_and_sizes():
    need = {"grok-1", "grok-3", "llama-3-8b", "llama-3-70b", "llama-3-405b", "gpt-3-175b", "mixtral-8x7b", "deepseek-v3"}
    assert need <= set(model_names())
    # published parameter counts (billions), within 3 %
    for name, billions in {"grok-1": 314, "llama-3-8b": 8.0, "llama-3-70b": 70.6, "llama-3-405b": 405,
                           "gpt-3-175b": 175, "mixtral-8x7b": 46.7}.items():  # fmt: skip
        assert get_model(name).params_total() / 1e9 == pytest.approx(billions, rel=0.03), name
    assert get_model("mixtral-8x7b").params_active() / 1e9 == pytest.approx(12.9, rel=0.03)
    assert get_model("GROK1") is PRESETS["grok-1"]
    with pytest.raises(KeyError, match="known"):
        get_model("gpt-5")


def test_toml_presets(tmp_path: Path):
    f = tmp_path / "m.toml"
    f.write_text('[models.tiny]\nlayers = 2\nhidden = 256\nffn_hidden = 1024\nheads = 4\nkv_heads = 2\n'
                 'activation = "gelu"\ntrain_tokens = 1e9\n')  # fmt: skip
    models = load_models_toml(f)
    assert models["tiny"].kv_heads == 2 and models["tiny"].activation == "gelu"
    f.write_text("[models.tiny]\nlayers = 2\nhiden = 256\n")
    with pytest.raises(InputError, match=r"models\.tiny\.hiden"):
        load_models_toml(f)
    f.write_text('[models.tiny]\nlayers = "two"\n')
    with pytest.raises(InputError, match=r"models\.tiny\.layers"):
        load_models_toml(f)


def test_cli_forced_cupy_without_cupy_is_one_line_exit_2(monkeypatch):
    """COLOSSUS_ARRAY=cupy on a machine without usable CuPy: one line naming the variable, exit 2."""
    from click.testing import CliRunner

    from colossus.cli import cli

    if backend.cupy_status()[0] is not None:
        pytest.skip("CuPy is usable here")
    for value in ("cupy", "torch"):
        res = CliRunner().invoke(cli, ["steptime", "estimate", "-m", "llama-3-8b", "-n", "8",
                                       "--layout", "tp=1,pp=1"], env={"COLOSSUS_ARRAY": value})  # fmt: skip
        assert res.exit_code == 2, res.output
        err = res.stderr.strip()
        assert len(err.splitlines()) == 1 and "COLOSSUS_ARRAY" in err and "Traceback" not in res.output
        assert isinstance(res.exception, SystemExit)
