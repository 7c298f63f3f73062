"""Where tensors live: resolve a device name, wait for it, and describe the machine for results.

    resolve(None | "auto" | "cpu" | "cuda[:k]" | torch.device) -> torch.device
    sync(device)            wait for queued GPU work (a no-op on CPU), so clocks are honest
    machine_info(device)    the "machine" block of every result JSON
    precision(policy, device)   "fp32" | "tf32" | "bf16" for the duration of a fit
    default_chunk(device)   coordinates per chunk of a forward: 65,536 on CPU, 262,144 on a GPU

Built in notebooks/05_nint_trainer.ipynb (the GPU path).
"""
from __future__ import annotations

import contextlib
import os
import platform
import re

import torch

__all__ = ["resolve", "sync", "machine_info", "precision", "PRECISIONS", "default_chunk"]

# fp32: true float32 everywhere (TF32 off: SIREN's ω0 = 30 amplifies its rounding);
# tf32: TensorFloat-32 matmuls and convolutions on NVIDIA GPUs; bf16: autocast to bfloat16.
PRECISIONS = ("fp32", "tf32", "bf16")


def resolve(device=None) -> torch.device:
    """None or "auto" -> CUDA if available else CPU; "cpu", "cuda", "cuda:1", a torch.device."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:k]'") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r}; use 'auto', 'cpu' or 'cuda[:k]'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use 'cpu' or 'auto'")
    return dev


def sync(device) -> None:
    """Block until `device` has finished its queued work (CUDA runs asynchronously)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def default_chunk(device) -> int:
    """Coordinates per chunk: a GPU amortises each launch over more of them (SIREN 5×256 at
    262,144 coordinates keeps about 3 GiB of activations), a CPU gains nothing past 65,536."""
    return 262_144 if torch.device(device).type == "cuda" else 65_536


def machine_info(device=None, precision: str | None = None) -> dict:
    """What a number was measured on: CPU, cores, load, torch, the precision policy and (on
    CUDA) the GPU, CUDA and driver versions."""
    dev = resolve(device)
    info = {"torch": torch.__version__, "device": str(dev), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
            "load_avg": [round(v, 2) for v in os.getloadavg()]}
    if precision is not None:
        info["precision"] = precision
    if dev.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(dev), cuda=torch.version.cuda, driver=_driver())
    return info


def _driver():
    """The NVIDIA kernel driver's version (Linux), or None."""
    try:
        with open("/proc/driver/nvidia/version") as f:
            m = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", f.read())
        return m.group(1) if m else None
    except OSError:
        return None


@contextlib.contextmanager
def precision(policy: str, device):
    """Run the body under a precision policy and restore the global flags afterwards.

    "fp32" (default of fit): float32 matmuls in full precision, TF32 off; "tf32": TF32 matmuls
    and convolutions (NVIDIA GPUs; no effect on CPU); "bf16": autocast to bfloat16 (the body's
    forward passes; parameters, optimiser state and evaluation stay float32).
    """
    if policy not in PRECISIONS:
        raise ValueError(f"unknown precision {policy!r}; valid: {', '.join(PRECISIONS)}")
    dev = torch.device(device)
    saved = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    fast = policy == "tf32"
    torch.set_float32_matmul_precision("high" if fast else "highest")
    torch.backends.cudnn.allow_tf32 = fast
    try:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=policy == "bf16"):
            yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]
