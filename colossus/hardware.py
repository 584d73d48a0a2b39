"""GPU hardware specifications: one frozen record per SKU and a built-in catalog.

Numbers come from ``shared/reference/facts.md`` §2 (vendor datasheets; dense, i.e. without
sparsity). A scenario's ``[skus.*]`` tables produce the same :class:`GpuSpec` records, so the
step-time model, the simulation and the planner all read one type.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GpuSpec", "CATALOG", "get_gpu", "gpu_names"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GpuSpec:
    """Per-GPU hardware figures.

    Attributes
    ----------
    name : str
        Catalog key, e.g. ``"H100"``.
    bf16_tflops : float
        Dense BF16/FP16 tensor throughput, TFLOP/s.
    fp8_tflops : float
        Dense FP8 tensor throughput, TFLOP/s.
    hbm_gb : float
        Usable HBM capacity, GB (1e9 bytes).
    hbm_tb_s : float
        HBM bandwidth, TB/s.
    nvlink_gb_s : float
        NVLink bandwidth per GPU, GB/s, *bidirectional* as vendors quote it (900 for H100).
    nvlink_domain_gpus : int
        GPUs in one NVLink domain (8 for HGX, 72 for NVL72).
    network_gbit_s : float
        Scale-out (back-end) network per GPU, Gbit/s.
    power_w : float
        Board power (TDP), W.
    price_usd : float
        Purchase price per GPU, USD (GPU only; server and network are costed in the scenario).
    """

    name: str
    bf16_tflops: float
    fp8_tflops: float
    hbm_gb: float
    hbm_tb_s: float
    nvlink_gb_s: float
    nvlink_domain_gpus: int = 8
    network_gbit_s: float = 400.0
    power_w: float = 700.0
    price_usd: float = 0.0

    def peak_tflops(self, precision: str) -> float:
        """Dense peak TFLOP/s for ``precision`` (``bf16``, ``fp16`` or ``fp8``)."""
        if precision in ("bf16", "fp16"):
            return self.bf16_tflops
        if precision == "fp8":
            return self.fp8_tflops
        raise ValueError(f"unknown precision {precision!r} (expected bf16, fp16 or fp8)")


# fmt: off
CATALOG: dict[str, GpuSpec] = {
    # A100: NVIDIA A100 datasheet (312 TF dense BF16, no FP8; 1.555 / 2.039 TB/s; NVLink 3 600 GB/s).
    "A100-40GB": GpuSpec(name="A100-40GB", bf16_tflops=312.0, fp8_tflops=312.0, hbm_gb=40.0,
                         hbm_tb_s=1.555, nvlink_gb_s=600.0, network_gbit_s=200.0, power_w=400.0,
                         price_usd=10_000.0),
    "A100-80GB": GpuSpec(name="A100-80GB", bf16_tflops=312.0, fp8_tflops=312.0, hbm_gb=80.0,
                         hbm_tb_s=2.039, nvlink_gb_s=600.0, network_gbit_s=200.0, power_w=400.0,
                         price_usd=15_000.0),
    # H100 SXM5: facts.md §2.1 (989.4 / 1978.9 TF dense, 80 GB, 3.35 TB/s, 900 GB/s, 700 W).
    "H100": GpuSpec(name="H100", bf16_tflops=989.4, fp8_tflops=1978.9, hbm_gb=80.0, hbm_tb_s=3.35,
                    nvlink_gb_s=900.0, network_gbit_s=400.0, power_w=700.0, price_usd=27_500.0),
    # H100 96 GB HBM2e at 500 W (Meta Grand Teton, torchtitan rows): ASSUMPTION 2.4 TB/s, ~90% clocks.
    "H100-96GB": GpuSpec(name="H100-96GB", bf16_tflops=890.5, fp8_tflops=1781.0, hbm_gb=96.0,
                         hbm_tb_s=2.4, nvlink_gb_s=900.0, network_gbit_s=400.0, power_w=500.0,
                         price_usd=27_500.0),
    # H800: H100 compute with NVLink cut to 400 GB/s (export variant).
    "H800": GpuSpec(name="H800", bf16_tflops=989.4, fp8_tflops=1978.9, hbm_gb=80.0, hbm_tb_s=3.35,
                    nvlink_gb_s=400.0, network_gbit_s=400.0, power_w=700.0, price_usd=27_500.0),
    # H200 SXM: facts.md §2.1 (141 GB HBM3e, 4.8 TB/s, 700 W); price ASSUMPTION (facts.md §5).
    "H200": GpuSpec(name="H200", bf16_tflops=989.4, fp8_tflops=1978.9, hbm_gb=141.0, hbm_tb_s=4.8,
                    nvlink_gb_s=900.0, network_gbit_s=400.0, power_w=700.0, price_usd=35_000.0),
    # B200 HGX (1,000 W): facts.md §2.1; price ASSUMPTION.
    "B200": GpuSpec(name="B200", bf16_tflops=2250.0, fp8_tflops=4500.0, hbm_gb=180.0, hbm_tb_s=8.0,
                    nvlink_gb_s=1800.0, network_gbit_s=800.0, power_w=1000.0, price_usd=40_000.0),
    # B200 in GB200 NVL72 (1,200 W): facts.md §2.1-2.2; price ASSUMPTION ($2.5M rack / 72).
    "GB200": GpuSpec(name="GB200", bf16_tflops=2500.0, fp8_tflops=5000.0, hbm_gb=186.0, hbm_tb_s=8.0,
                     nvlink_gb_s=1800.0, nvlink_domain_gpus=72, network_gbit_s=800.0, power_w=1200.0,
                     price_usd=45_000.0),
}
# fmt: on

_ALIASES = {
    "H100-SXM-80GB": "H100",
    "H100-SXM": "H100",
    "H100-96GB-500W": "H100-96GB",
    "H200-141GB": "H200",
    "H800-80GB": "H800",
    "A100": "A100-80GB",
}


def gpu_names() -> list[str]:
    """Names accepted by :func:`get_gpu` (catalog keys, without aliases)."""
    return list(CATALOG)


def get_gpu(name: str) -> GpuSpec:
    """Look up a GPU by catalog name or alias (case-insensitive).

    Raises
    ------
    KeyError
        With the list of known names, when ``name`` is unknown.
    """
    key = _ALIASES.get(name, name)
    for cand, spec in CATALOG.items():
        if cand.lower() == key.lower():
            return spec
    for alias, target in _ALIASES.items():
        if alias.lower() == name.lower():
            return CATALOG[target]
    raise KeyError(f"unknown GPU {name!r}; known: {', '.join(CATALOG)}")
