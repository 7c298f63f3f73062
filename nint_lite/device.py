"""Where tensors live: resolve a device name, wait for it, and describe the machine for results.

    resolve(None | "auto" | "cpu" | "cuda[:k]" | torch.device) -> torch.device
    sync(device)            wait for queued GPU work (a no-op on CPU), so clocks are honest
    machine_info(device)    the "machine" block of every result JSON

Built in notebooks/05_nint_trainer.ipynb (the GPU path).
"""
from __future__ import annotations

import os
import platform

import torch

__all__ = ["resolve", "sync", "machine_info"]


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


def machine_info(device=None) -> dict:
    """What a number was measured on: CPU, cores, load, torch and (on CUDA) GPU and versions."""
    dev = resolve(device)
    info = {"torch": torch.__version__, "device": str(dev), "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
            "load_avg": [round(v, 2) for v in os.getloadavg()]}
    if dev.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(dev), cuda=torch.version.cuda)
    return info
