"""ONNX Runtime execution providers by short name, and the choice among those installed.

Config names providers briefly (`[model] onnx_providers = ["cuda", "cpu"]`); "auto" means
TensorRT, then CUDA, then CPU, keeping those this onnxruntime build offers. CPU is always
appended last, so a Jetson whose GPU provider fails to load still runs.
"""

from __future__ import annotations

from collections.abc import Sequence

ONNX_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO = ("tensorrt", "cuda", "cpu")
PROVIDER_CHOICES = ("auto", *ONNX_PROVIDERS)
DEFAULT_PROVIDERS = ("cpu",)


def check_provider_names(names: Sequence[str]) -> None:
    """Raise ValueError naming the first unknown provider (config validation uses this)."""
    for n in names:
        if n not in PROVIDER_CHOICES:
            raise ValueError(
                f"unknown ONNX Runtime provider {n!r} (known: {', '.join(PROVIDER_CHOICES)})"
            )


def select_providers(wanted: Sequence[str], available: Sequence[str]) -> list[str]:
    """The onnxruntime provider list for `wanted` short names, given the build's
    `available` providers: unknown names refused, missing ones skipped, CPU last."""
    check_provider_names(wanted)
    order: list[str] = []
    for name in wanted:
        for short in AUTO if name == "auto" else (name,):
            full = ONNX_PROVIDERS[short]
            if full in available and full not in order:
                order.append(full)
    cpu = ONNX_PROVIDERS["cpu"]
    if cpu not in order:
        order.append(cpu)
    return order
