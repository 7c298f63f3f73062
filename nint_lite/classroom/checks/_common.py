"""What every exercise check shares: failing with a message, comparing tensors, small models, and
`forbid` — running the learner's function with the package's own implementation patched out.

Used by nint_lite/classroom/checks/nb01.py … nb08.py.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

import torch

from ...models import make_model


class PackageCalled(Exception):
    """Raised, inside a check, by a package function that `forbid` patched out."""


def _stand_in(target):
    what = f"{target.__module__}.{getattr(target, '__qualname__', target.__name__)}"

    def patched(*args, **kwargs):
        raise PackageCalled(what)
    return patched


@contextmanager
def forbid(*targets):
    """While the block runs, every module-level name bound to one of `targets` (functions or
    classes) raises PackageCalled when called: nl.ntk.matvec, nint_lite.matvec, and a
    `from nint_lite.ntk import matvec` in the notebook (IPython's namespace is the module
    __main__) alike. Everything is restored on exit, also after an error."""
    ids = {id(t): t for t in targets}
    patched = []
    try:
        for mod in list(sys.modules.values()):
            d = getattr(mod, "__dict__", None)
            if not isinstance(d, dict):
                continue
            for k, v in list(d.items()):
                if id(v) in ids and v is ids[id(v)]:
                    patched.append((d, k, v))
                    d[k] = _stand_in(v)
        yield
    finally:
        for d, k, v in reversed(patched):
            d[k] = v


def run_forbidden(name: str, fn, *args, forbidden=(), **kwargs):
    """fn(*args, **kwargs) with the package's implementations in `forbidden` patched out (see
    forbid); an answer that calls one of them fails the check `name`, naming the function."""
    try:
        with forbid(*forbidden):
            return fn(*args, **kwargs)
    except PackageCalled as e:
        _fail(name, f"your answer calls {e}, the package's own implementation — the exercise is to "
                    "write it yourself (this check patches the package out while it runs)")

def _fail(name: str, msg: str):
    print(f"✗ {name}: {msg}")
    raise AssertionError(f"{name}: {msg}")


def _check_indices(name, idx, n, count):
    if not torch.is_tensor(idx):
        _fail(name, f"expected a tensor of indices, got {type(idx).__name__}")
    if idx.ndim != 1:
        _fail(name, f"indices must be 1-D (B,), got shape {tuple(idx.shape)}")
    if idx.dtype not in (torch.int64, torch.int32):
        _fail(name, f"indices must be integers (torch.long), got {idx.dtype}")
    if idx.numel() != count:
        _fail(name, f"expected {count} indices, got {idx.numel()}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= n):
        _fail(name, f"indices must lie in [0, {n}), got range [{idx.min().item()}, {idx.max().item()}]")
    if torch.unique(idx).numel() != idx.numel():
        _fail(name, f"indices must be distinct; {idx.numel() - torch.unique(idx).numel()} repeated")


def _compare(name, out, ref, tol, hints=(), case=""):
    """out must have ref's shape and max |out − ref| ≤ tol · max |ref|. On failure, name the first
    plausible mistake (alt, message) in `hints` whose alt the answer reproduces."""
    if not torch.is_tensor(out):
        _fail(name, f"expected a tensor of shape {tuple(ref.shape)}, got {type(out).__name__}{case}")
    out = out.detach().to(ref.dtype)
    scale = ref.abs().max().clamp_min(1e-12)
    ok = tuple(out.shape) == tuple(ref.shape) and ((out - ref).abs().max() / scale).item() <= tol
    if ok:
        return
    hint = next((f" — {msg}" for alt, msg in hints if tuple(alt.shape) == tuple(out.shape)
                 and ((out - alt.to(out.dtype)).abs().max() / scale).item() <= tol), "")
    if tuple(out.shape) != tuple(ref.shape):
        _fail(name, f"shape {tuple(ref.shape)} expected, got {tuple(out.shape)}{case}{hint}")
    _fail(name, f"max relative error {((out - ref).abs().max() / scale).item():.1e} "
                f"(tolerance {tol:.0e}){case}{hint}")


def _as_float(name, out):
    try:
        return float(out)
    except (TypeError, ValueError):
        _fail(name, f"expected a number (float), got {type(out).__name__}")


def _small(trial, n, c, name="siren", hidden=8):
    g = torch.Generator().manual_seed(500 + trial)
    model = make_model(name, 2, c, hidden=hidden, layers=2, seed=trial)
    return model, torch.rand(n, 2, generator=g) * 2 - 1, torch.randn(n, c, generator=g)


