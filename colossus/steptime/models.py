"""Transformer model presets: one frozen :class:`ModelSpec` per model, plus user presets from TOML.

Public presets are transcribed from model cards / papers; ``grok-3`` is an ASSUMPTION (xAI has
published nothing about it) whose derivation is in :data:`GROK3_DERIVATION`.

User TOML format (``load_models_toml``)::

    [models.my-70b]            # one table per model; keys = ModelSpec fields
    layers = 80
    hidden = 8192
    ffn_hidden = 28672
    heads = 64
    kv_heads = 8
    vocab = 128256
    seq_len = 8192
    activation = "swiglu"      # gelu | swiglu | relu2 | geglu (gated gelu)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from colossus.errors import InputError

__all__ = [
    "ACTIVATIONS",
    "GROK3_DERIVATION",
    "PRESETS",
    "ModelSpec",
    "get_model",
    "load_models_toml",
    "model_names",
    "register_models",
]

ACTIVATIONS: dict[str, int] = {"gelu": 2, "relu2": 2, "swiglu": 3, "geglu": 3}
"""FFN activation -> number of h x F weight matrices (gated activations have three)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelSpec:
    """Shape of a decoder-only transformer (dense or mixture-of-experts).

    Attributes
    ----------
    name : str
        Preset key, e.g. ``"llama-3-70b"``.
    layers : int
        Transformer blocks L.
    hidden : int
        Model width h.
    ffn_hidden : int
        FFN width F; for MoE the width of one routed expert.
    heads : int
        Query heads H.
    kv_heads : int
        Key/value heads G (G = H: multi-head; G < H: grouped-query attention).
    head_dim : int
        Per-head width d_h; 0 means ``hidden // heads``.
    vocab : int
        Vocabulary size V.
    seq_len : int
        Training sequence length s, tokens.
    activation : str
        ``gelu``, ``relu2``, ``swiglu`` or ``geglu`` (gated gelu).
    moe_experts : int
        Routed experts E per MoE layer; 0 for a dense model.
    moe_topk : int
        Routed experts per token k (ignored when dense).
    moe_shared_experts : int
        Always-active shared experts of width ``ffn_hidden`` per MoE layer.
    dense_layers : int
        Leading dense (non-MoE) layers of an MoE model (DeepSeek-V3: 3).
    dense_ffn_hidden : int
        FFN width of those dense layers; 0 means ``ffn_hidden``.
    moe_node_limit : int
        Node-limited routing: each token's experts lie on at most this many EP nodes
        (DeepSeek-V3: 4); 0 = unlimited.
    kv_lora_rank : int
        > 0 selects multi-head latent attention (MLA, DeepSeek-V2/V3): keys and values are
        up-projected from a ``kv_lora_rank`` latent; ``head_dim`` is then the no-RoPE query/key
        width.  0 = standard multi-head / grouped-query attention.
    q_lora_rank : int
        MLA query latent rank (0: queries projected directly from h).
    rope_head_dim : int
        MLA decoupled RoPE query/key width per head (shared RoPE key).
    v_head_dim : int
        MLA value width per head; 0 means ``head_dim``.
    global_batch_tokens : int
        Default tokens per optimizer step for searches.
    train_tokens : float
        Default token budget for "days to train", tokens.
    """

    name: str
    layers: int
    hidden: int
    ffn_hidden: int
    heads: int
    kv_heads: int
    head_dim: int = 0
    vocab: int = 32000
    seq_len: int = 4096
    activation: str = "swiglu"
    moe_experts: int = 0
    moe_topk: int = 1
    moe_shared_experts: int = 0
    dense_layers: int = 0
    dense_ffn_hidden: int = 0
    moe_node_limit: int = 0
    kv_lora_rank: int = 0
    q_lora_rank: int = 0
    rope_head_dim: int = 0
    v_head_dim: int = 0
    global_batch_tokens: int = 4 * 1024 * 1024
    train_tokens: float = 1e12

    def __post_init__(self) -> None:
        for f in ("layers", "hidden", "ffn_hidden", "heads", "kv_heads", "vocab", "seq_len"):
            if getattr(self, f) < 1:
                raise ValueError(f"model {self.name!r}: {f} must be >= 1, got {getattr(self, f)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"model {self.name!r}: activation {self.activation!r} not in {sorted(ACTIVATIONS)}"
            )
        if self.heads % self.kv_heads:
            raise ValueError(f"model {self.name!r}: heads {self.heads} not a multiple of kv_heads {self.kv_heads}")
        if self.moe_experts < 0 or (self.moe_experts and not 1 <= self.moe_topk <= self.moe_experts):
            raise ValueError(f"model {self.name!r}: need 1 <= moe_topk <= moe_experts")
        if not 0 <= self.dense_layers <= self.layers:
            raise ValueError(f"model {self.name!r}: dense_layers must be in [0, layers]")

    # ---- derived shapes -------------------------------------------------------------------
    @property
    def d_head(self) -> int:
        """Per-head width d_h."""
        return self.head_dim or self.hidden // self.heads

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.moe_experts > 0

    @property
    def moe_layers(self) -> int:
        """Layers with routed experts."""
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def ffn_mats(self) -> int:
        """Weight matrices per FFN (3 gated, 2 otherwise)."""
        return ACTIVATIONS[self.activation]

    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (DeepSeek-V2/V3)."""
        return self.kv_lora_rank > 0

    def attention_core_dims(self) -> tuple[int, int]:
        """Per-head (query/key width, value width) of the attention core."""
        if self.is_mla:
            return self.d_head + self.rope_head_dim, self.v_head_dim or self.d_head
        return self.d_head, self.d_head

    def attention_params(self) -> float:
        """Parameters of one attention block (QKV + output projection).

        MLA (DeepSeek-V2 §2.1): ``h r_q + r_q H (d + d_R) + h (r_kv + d_R) + r_kv H (d + d_v)
        + H d_v h`` (``r_q`` = 0: ``h H (d + d_R)`` for the queries).
        """
        h, dh, H = self.hidden, self.d_head, self.heads
        if self.is_mla:
            dqk, dv = self.attention_core_dims()
            rq, rkv = self.q_lora_rank, self.kv_lora_rank
            q = h * rq + rq * H * dqk if rq else h * H * dqk
            return float(q + h * (rkv + self.rope_head_dim) + rkv * H * (dh + dv) + H * dv * h)
        return float(h * (self.heads + 2 * self.kv_heads) * dh + self.heads * dh * h)

    def ffn_params(self, width: int) -> float:
        """Parameters of one FFN of width ``width``."""
        return float(self.ffn_mats * self.hidden * width)

    def params_total(self) -> float:
        """All parameters (every expert, input and output embeddings untied)."""
        dense_f = self.dense_ffn_hidden or self.ffn_hidden
        p = self.layers * self.attention_params() + 2.0 * self.vocab * self.hidden
        if self.is_moe:
            per_moe = (self.moe_experts + self.moe_shared_experts) * self.ffn_params(self.ffn_hidden)
            p += self.moe_layers * (per_moe + self.hidden * self.moe_experts)  # + router
            p += self.dense_layers * self.ffn_params(dense_f)
        else:
            p += self.layers * self.ffn_params(self.ffn_hidden)
        return p

    def params_active(self) -> float:
        """Parameters touched per token (top-k + shared experts only)."""
        dense_f = self.dense_ffn_hidden or self.ffn_hidden
        p = self.layers * self.attention_params() + 2.0 * self.vocab * self.hidden
        if self.is_moe:
            act = (self.moe_topk + self.moe_shared_experts) * self.ffn_params(self.ffn_hidden)
            p += self.moe_layers * act + self.dense_layers * self.ffn_params(dense_f)
        else:
            p += self.layers * self.ffn_params(self.ffn_hidden)
        return p

    def to_dict(self) -> dict[str, Any]:
        """Field values, for hashing and JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


GROK3_DERIVATION = """\
grok-3 (ASSUMPTION; xAI has published no architecture).
Compute target: facts.md §1.9 -- ~100,000 H100 x 989.4e12 FLOP/s x 0.40 MFU x 90 days x 86,400 s
~= 3.1e26 FLOP, consistent with "~10x Grok 2" and the 3e26-6e26 outside estimate.
Architecture: Grok-1's recipe (gated-GELU MoE, 8 KV heads of width 128, top-2 routing, vocab
131072, seq 8192) scaled up: L=128, h=16384 (128 query heads), 16 experts of width 24576.
=> ~2.55e12 total parameters (near the widely repeated ~2.7T rumour), ~3.9e11 active per token.
Token budget from C = 6 N_active D: D = 3.1e26 / (6 x 3.9e11) ~= 1.3e14 tokens.
Global batch 64M tokens (8192 sequences; Llama-3 405B ended at 16M on 16k GPUs, DeepSeek-V3 used
63M on 2k H800s), so data parallelism can span ~100k GPUs.
"""

_P: list[ModelSpec] = [
    # Grok-1 open release (github.com/xai-org/grok-1 model card): 314B MoE.
    ModelSpec(name="grok-1", layers=64, hidden=6144, ffn_hidden=32768, heads=48, kv_heads=8,
              head_dim=128, vocab=131072, seq_len=8192, activation="geglu", moe_experts=8,
              moe_topk=2, global_batch_tokens=8 * 1024 * 1024, train_tokens=6e12),
    ModelSpec(name="grok-3", layers=128, hidden=16384, ffn_hidden=24576, heads=128, kv_heads=8,
              head_dim=128, vocab=131072, seq_len=8192, activation="geglu", moe_experts=16,
              moe_topk=2, global_batch_tokens=8192 * 8192, train_tokens=1.3e14),
    # Llama 3 herd paper (arXiv 2407.21783) Table 3.
    ModelSpec(name="llama-3-8b", layers=32, hidden=4096, ffn_hidden=14336, heads=32, kv_heads=8,
              vocab=128256, seq_len=8192, global_batch_tokens=4 * 1024 * 1024, train_tokens=15e12),
    ModelSpec(name="llama-3-70b", layers=80, hidden=8192, ffn_hidden=28672, heads=64, kv_heads=8,
              vocab=128256, seq_len=8192, global_batch_tokens=8 * 1024 * 1024, train_tokens=15e12),
    ModelSpec(name="llama-3-405b", layers=126, hidden=16384, ffn_hidden=53248, heads=128,
              kv_heads=8, vocab=128256, seq_len=8192, global_batch_tokens=16 * 1024 * 1024,
              train_tokens=15.6e12),
    # GPT-3 (Brown et al. 2020) 175B: 96 layers, d=12288, 96 heads, 2048 context, 3.2M-token batch.
    ModelSpec(name="gpt-3-175b", layers=96, hidden=12288, ffn_hidden=49152, heads=96, kv_heads=96,
              vocab=50257, seq_len=2048, activation="gelu", global_batch_tokens=1536 * 2048,
              train_tokens=300e9),
    # Mixtral 8x7B (arXiv 2401.04088).
    ModelSpec(name="mixtral-8x7b", layers=32, hidden=4096, ffn_hidden=14336, heads=32, kv_heads=8,
              vocab=32000, seq_len=4096, moe_experts=8, moe_topk=2,
              global_batch_tokens=4 * 1024 * 1024, train_tokens=8e12),
    # DeepSeek-V3 (arXiv 2412.19437): 61 layers (3 dense, F=18432), 256 routed experts of 2048
    # + 1 shared, top-8, vocab 129280, seq 4096, 14.8T tokens. MLA is approximated as multi-head
    # attention with 128 heads of width 128 (ASSUMPTION: MLA's low-rank projections not modelled).
    # MLA ranks: Megatron DeepSeek-V3 recipe (q_lora_rank 1536, kv_lora_rank 512, qk_head_dim 128,
    # qk_pos_emb_head_dim 64, v_head_dim 128), as in the HF config.json
    ModelSpec(name="deepseek-v3", layers=61, hidden=7168, ffn_hidden=2048, heads=128,
              kv_heads=128, head_dim=128, vocab=129280, seq_len=4096, moe_experts=256,
              moe_topk=8, moe_shared_experts=1, dense_layers=3, dense_ffn_hidden=18432,
              kv_lora_rank=512, q_lora_rank=1536, rope_head_dim=64, v_head_dim=128, moe_node_limit=4,
              global_batch_tokens=15360 * 4096, train_tokens=14.8e12),
]  # fmt: skip

PRESETS: dict[str, ModelSpec] = {m.name: m for m in _P}
_ALIASES = {"grok1": "grok-1", "grok3": "grok-3", "gpt3-175b": "gpt-3-175b", "gpt-3": "gpt-3-175b",
            "llama3-8b": "llama-3-8b", "llama3-70b": "llama-3-70b", "llama3-405b": "llama-3-405b",
            "mixtral": "mixtral-8x7b", "deepseek": "deepseek-v3"}  # fmt: skip
_USER: dict[str, ModelSpec] = {}


def model_names() -> list[str]:
    """Preset names (built-in first, then registered user presets)."""
    return list(PRESETS) + [n for n in _USER if n not in PRESETS]


def get_model(name: str | ModelSpec) -> ModelSpec:
    """Look up a preset by name or alias (case-insensitive); a ModelSpec passes through.

    Raises
    ------
    KeyError
        With the known names, when ``name`` is unknown.
    """
    if isinstance(name, ModelSpec):
        return name
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _USER:
        return _USER[key]
    if key in PRESETS:
        return PRESETS[key]
    raise KeyError(f"unknown model {name!r}; known: {', '.join(model_names())}")


def register_models(models: dict[str, ModelSpec]) -> None:
    """Make user presets visible to :func:`get_model` (process-wide registry)."""
    _USER.update({k.lower(): v for k, v in models.items()})


def load_models_toml(path: str | Path) -> dict[str, ModelSpec]:
    """Read ``[models.<name>]`` tables from a TOML file (does not register them).

    Raises
    ------
    InputError
        One line naming the file and the key, for unreadable files, unknown keys, wrong types
        or impossible values.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{p}: cannot read TOML ({exc})") from None
    tables = data.get("models")
    if not isinstance(tables, dict) or not tables:
        raise InputError(f"{p}: no [models.<name>] tables")
    known = {f.name: f.type for f in fields(ModelSpec)}
    out: dict[str, ModelSpec] = {}
    for name, tab in tables.items():
        if not isinstance(tab, dict):
            raise InputError(f"{p}: models.{name}: expected a table")
        for key, val in tab.items():
            if key not in known or key == "name":
                raise InputError(f"{p}: models.{name}.{key}: unknown key (known: {', '.join(k for k in known if k != 'name')})")
            want = str if key == "activation" else (float if key == "train_tokens" else int)
            ok = isinstance(val, want) and not isinstance(val, bool)
            if want is float and isinstance(val, int) and not isinstance(val, bool):
                ok = True
            if not ok:
                raise InputError(f"{p}: models.{name}.{key}: expected {want.__name__}, got {val!r}")
        try:
            out[name] = ModelSpec(name=name, **tab)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{p}: models.{name}: {exc}") from None
    return out
