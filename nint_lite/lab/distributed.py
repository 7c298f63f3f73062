"""NINT on several processes with torch.distributed: coordinates sharded over ranks.

    ctx = init()                         # from torchrun's env (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*)
    lo, hi = shard(n, ctx.rank, ctx.world)
    kr = matvec(model, x[lo:hi], r[lo:hi])            # this rank's rows of K r
    idx = global_topk(scores_local, k, offset=lo)     # the exact global top-k, on every rank
    hist = fit(model, signal, steps=…)                # NINT training, one shard per rank

K r = J (Jᵀ r): Jᵀ r is a sum over coordinates, so each rank does the VJP on its shard and one
all-reduce of a parameter-sized vector makes it global; J u is row-local (the JVP per shard).
A training step is the core's train.train_step on each rank's share of the selected
coordinates (chunk by chunk, the mean taken over the global B), then one all-reduce of the
gradients (one flat vector), so every rank takes the same Adam step.
Every function also runs without a process group (one process, world size 1), which keeps the
working set of every pass bounded by the chunk size on one device too.
Backend: nccl when CUDA is available, else gloo. See README.md, "Scaling out".

Used by `python -m nint_lite fit --distributed`; the GPU path of notebooks/05_nint_trainer.ipynb.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .. import device as devices
from .. import ntk
from ..samplers import NINT, Selection, View
from ..train import History, predict, train_step

__all__ = ["Context", "init", "shutdown", "shard", "matvec", "nint_scores", "global_topk",
           "global_step", "ShardView", "DistributedNINT", "fit"]


@dataclass
class Context:
    """This process's place in the group and the device its tensors live on."""
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def init(backend: str | None = None, timeout_s: float = 300.0) -> Context:
    """Join the process group described by torchrun's environment; returns this rank's Context.

    backend: None -> "nccl" when every process on this node has a GPU of its own (torchrun's
    LOCAL_WORLD_SIZE ≤ the GPU count; rank r uses cuda:LOCAL_RANK), else "gloo" on the CPU —
    the same choice on every rank. A collective that waits longer than timeout_s (a dead peer)
    raises instead of hanging."""
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"distributed mode needs torchrun's environment; {', '.join(missing)} not "
                         "set (launch with python -m torch.distributed.run --nproc_per_node K …)")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    backend = backend or ("nccl" if 0 < local_world <= gpus else "gloo")
    if backend not in ("nccl", "gloo"):
        raise ValueError(f"unknown backend {backend!r}; valid: 'nccl' (GPUs), 'gloo' (CPU)")
    device = torch.device("cpu")
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", 0))
        if local >= gpus:
            raise ValueError(f"backend 'nccl' needs one GPU per process on a node; local rank {local} "
                             f"but {gpus} GPU(s); use fewer processes per node or backend 'gloo'")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return Context(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, rank: int, world: int) -> tuple[int, int]:
    """[lo, hi) of rank's contiguous block of n coordinates; sizes differ by at most one."""
    if world > n:
        raise ValueError(f"world size {world} is larger than the number of coordinates N={n}; "
                         "use fewer processes or a larger signal")
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, {world}), got {rank}")
    return n * rank // world, n * (rank + 1) // world


def _all_reduce_flat(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Sum each tensor over ranks with ONE all-reduce of their concatenation."""
    if _world() == 1:
        return tensors
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    return [p.view_as(t) for p, t in zip(flat.split([t.numel() for t in tensors]), tensors)]


def _k_times(model, x, v, chunk_size, per_chunk):
    """per_chunk((K v)_chunk) for this rank's chunks, concatenated. Pass 1: u = Jᵀ v, each rank
    summing its VJPs, then one all-reduce; pass 2: the JVP J u chunk by chunk. Collective."""
    x = ntk._check_x(model, x)
    ntk._check_chunk(chunk_size)
    ntk._check_v(v, x.shape[0], ntk._out_channels(model, x), "v")
    u = ntk.vjp_sum(model, x, v, chunk_size)
    u = dict(zip(u, _all_reduce_flat(list(u.values()))))
    return ntk.jvp_chunks(model, x, u, chunk_size, per_chunk)


def matvec(model, x, v, chunk_size: int = ntk.DEFAULT_CHUNK) -> torch.Tensor:
    """This rank's rows of K v: (n_local, C), x: (n_local, d), v: (n_local, C). Collective."""
    return _k_times(model, x, v, chunk_size, lambda kv: kv)


def nint_scores(model, x, residual, chunk_size: int = ntk.DEFAULT_CHUNK) -> torch.Tensor:
    """‖(K r)_i‖₂ for this rank's rows: (n_local,). Norms are taken chunk by chunk, so the only
    N-sized temporary is the result. Collective."""
    return _k_times(model, x, residual, chunk_size, lambda kv: kv.norm(dim=1))


def global_topk(scores: torch.Tensor, k: int, offset: int = 0) -> torch.Tensor:
    """Global indices (k,) of the k largest scores over all ranks, best first, the same on every
    rank. scores: (n_local,), this rank's coordinates offset … offset + n_local − 1.

    Each rank sends its own top-k (a rank's top-k contains every global winner it holds), so
    the exchange is world·k pairs, never N. Ties go to the lower global index."""
    if not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    kk = min(k, scores.numel())
    vals, idx = torch.topk(scores, kk)
    cand = torch.full((2, k), -float("inf"), dtype=torch.float64, device=scores.device)
    cand[0, :kk], cand[1, :kk] = vals.double(), (idx + offset).double()  # exact below 2**53
    if _world() > 1:
        parts = [torch.empty_like(cand) for _ in range(_world())]
        dist.all_gather(parts, cand)
        cand = torch.cat(parts, dim=1)
    by_index = torch.argsort(cand[1])  # padding (-inf, -inf) sorts first by index, last by score
    order = by_index[torch.sort(cand[0, by_index], descending=True, stable=True).indices[:k]]
    return cand[1, order].long()


def global_step(model, opt, x, y, local_idx, batch_size: int, chunk_size: int = ntk.DEFAULT_CHUNK):
    """One Adam step on the mean squared error over the globally selected coordinates.

    local_idx: (b_local,) rows of this rank's x (N_local, d), y (N_local, C); batch_size: the
    global B. train.train_step backpropagates this rank's rows chunk by chunk (bounded memory)
    with the mean taken over B; the gradients are summed over ranks in one all-reduce, so every
    rank takes the step a single process would take on all B.
    Returns the global loss (a 0-d tensor, no host sync)."""
    opt.zero_grad(set_to_none=False)
    loss = train_step(model, x, y, local_idx, chunk_size=chunk_size, total=batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    # a rank whose share of the selection is empty has no gradients: it adds zeros
    grads = _all_reduce_flat([p.grad if p.grad is not None else torch.zeros_like(p)
                              for p in params] + [loss])
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    return grads[-1]


class ShardView(View):
    """A View of one rank's shard: coords/values/residuals are local rows lo … hi − 1, while
    `n` is the global N (batch sizes and the shared random draw are global)."""

    def __init__(self, model, coords, values, shape, kind, steps, chunk_size, n_global, offset):
        super().__init__(model, coords, values, shape, kind, steps, chunk_size)
        self.n_global, self.offset = n_global, offset

    @property
    def n(self) -> int:
        return self.n_global


class DistributedNINT(NINT):
    """NINT (paper variant, ‖K r‖ score) whose parts are chosen over all ranks' coordinates:
    the NTK and error sets by global_topk, the random set from the shared seed (every rank draws
    the same N keys), so select() returns the same global indices on every rank — and the same
    as NINT.select in one process. Selection.indices are global."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        if self.variant != "paper" or self.score != "ntk":
            raise ValueError("distributed NINT supports variant='paper' with score='ntk' only")

    def select(self, t, view: ShardView | None = None):
        view = view or self.view
        b, none = self.batch_size(t, view.steps), torch.zeros(0, dtype=torch.long, device=view.device)
        n_ntk = round(self.share(t) * b)
        if self._due(t) and n_ntk > 0:
            s = nint_scores(view.model, view.coords, view.residuals(), self.chunk_size)
            self.cache = global_topk(s, n_ntk, view.offset)
            self.last_refresh, self.refreshes = t, self.refreshes + 1
        ntk_idx = self.cache[:n_ntk] if n_ntk > 0 and self.cache is not None else none
        n_rand = min(round(self.xi * b), b - len(ntk_idx))
        n_err = max(0, b - len(ntk_idx) - n_rand)
        parts = [ntk_idx]
        if n_err:
            err = view.residuals().norm(dim=1)
            mine = ntk_idx - view.offset
            err[mine[(mine >= 0) & (mine < len(err))]] = -1.0
            parts.append(global_topk(err, n_err, view.offset))
        if n_rand:
            parts.append(self._random_excluding(n_rand, torch.cat(parts)))
        return Selection(torch.cat(parts))


def fit(model, signal, steps: int, ratio: float = 0.2, lr: float = 1e-4, seed: int = 0,
        sampler: str = "nint", eval_every: int | None = None, chunk_size: int = ntk.DEFAULT_CHUNK,
        device=None, record_selections=()) -> History:
    """Train `model` on `signal` with coordinates sharded over the process group (or alone).

    sampler "nint" (DistributedNINT) or "full". Every rank holds the same model, makes the same
    selection and ends with the same parameters; PSNR is global. SSIM and the signal's own
    measures (SI-SNR, IoU) would need every rank's predictions on one rank, so they are not
    computed (History.metrics stays empty, History.final has psnr, steps and train_seconds). device: None trains where
    the model's parameters are; an explicit device moves the model there (as in train.fit).
    Returns a History (rank 0's clock; evaluation excluded from train_seconds)."""
    if sampler not in ("nint", "full"):
        raise ValueError(f"distributed fit supports samplers 'nint' and 'full', got {sampler!r}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    rank, world = (dist.get_rank(), dist.get_world_size()) if _world() > 1 else (0, 1)
    if device is not None:  # as in train.fit: an explicit device moves the model there
        model.to(devices.resolve(device))
    dev = next(model.parameters()).device
    lo, hi = shard(signal.n, rank, world)
    # clone: a slice would keep the whole signal alive on every rank
    x, y = signal.coords[lo:hi].clone().to(dev), signal.values[lo:hi].clone().to(dev)
    for p in model.parameters() if world > 1 else ():  # identical start, whatever each rank built
        dist.broadcast(p.data, 0)
    view = ShardView(model, x, y, signal.shape, signal.kind, steps, chunk_size, signal.n, lo)
    smp = DistributedNINT(ratio=ratio, seed=seed, chunk_size=chunk_size) if sampler == "nint" else None
    if smp is not None:
        smp.setup(view)
    opt, hist = torch.optim.Adam(model.parameters(), lr=lr), History(sampler=f"{sampler} x{world}")
    eval_every, train_time, record = eval_every or max(1, steps // 10), 0.0, set(record_selections)

    data_range = float(signal.meta.get("data_range", 1.0))

    def evaluate(step):
        # global MSE from each rank's squared-error sum (float64), one all-reduce
        (sq,) = _all_reduce_flat([((predict(model, x, chunk_size) - y).double() ** 2).sum()])
        mse = sq.item() / (signal.n * signal.channels)  # the one host sync, at evaluations only
        if not math.isfinite(mse):  # the same on every rank: all of them stop together
            raise FloatingPointError(f"the loss became NaN or inf by step {step}; try a lower "
                                     f"learning rate (lr={lr:g}, e.g. lr={lr / 10:g})")
        hist.steps.append(step)
        hist.train_seconds.append(train_time)
        hist.psnr.append(math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse))

    evaluate(0)
    t0 = time.perf_counter()
    for t in range(steps):
        view.new_step()
        if smp is None:
            glob, local = None, torch.arange(hi - lo, device=dev)
        else:
            glob = smp.select(t, view).indices
            mine = (glob >= lo) & (glob < hi)
            local = glob[mine] - lo
        if t in record and glob is not None:
            hist.selections[t] = glob.tolist()
        global_step(model, opt, x, y, local, len(glob) if glob is not None else signal.n, chunk_size)
        if (t + 1) % eval_every == 0 or t + 1 == steps:
            devices.sync(dev)
            train_time += time.perf_counter() - t0
            evaluate(t + 1)
            t0 = time.perf_counter()
    hist.stopped_by = "steps"
    hist.final = {"psnr": hist.psnr[-1], "steps": steps, "train_seconds": train_time}
    return hist
