"""Micro-benchmarks behind the numbers the README quotes (`python -m nint_lite bench ntk|scale`).

Timings are medians of repeats taken side by side in one process, reported as ratios to one
full-batch Adam step (train.train_step + Adam, as fit takes it), because this machine is shared
and noisy. Never timed in unit tests.

Built in notebooks/07_benchmark.ipynb (part 5, the cost of scoring).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import resource
import statistics
import time

import torch

from .. import device as devices
from .. import ntk
from ..models import DEFAULTS, make_model
from ..samplers import Selection
from ..signals import grid
from ..train import predict, train_step

__all__ = ["bench_ntk", "bench_scale", "bench_steps"]


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that over
    fork + exec, so a child started by the benchmark would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss():
    try:  # "5" resets VmHWM to the current RSS (Linux ≥ 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _matvec_peak_cpu(size, hidden, layers, chunk_size, q):
    """In a fresh process: growth of peak resident memory (MiB) during one matvec over size²."""
    torch.set_num_threads(1)
    model = make_model("siren", 2, 3, hidden, layers)
    x = grid((size, size))
    # small chunks before the measurement, so freed-but-resident memory cannot hide matvec's own
    r = predict(model, x, 256) - torch.rand(x.shape[0], 3, generator=torch.Generator().manual_seed(0))
    ntk.matvec(model, x[:16], r[:16])  # warm-up: lazy imports and thread pools are not the kernel's
    _reset_peak_rss()
    base = _rss_mib()
    ntk.matvec(model, x, r, chunk_size=chunk_size)
    q.put(_peak_rss_mib() - base)


def _matvec_peak(size, hidden, layers, chunk_size, dev) -> float:
    if dev.type == "cuda":
        model = make_model("siren", 2, 3, hidden, layers).to(dev)
        x = grid((size, size)).to(dev)
        r = predict(model, x, 4096) - torch.rand(x.shape[0], 3, device=dev)
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        ntk.matvec(model, x, r, chunk_size=chunk_size)
        torch.cuda.synchronize(dev)
        return (torch.cuda.max_memory_allocated(dev) - base) / 2**20
    # CPU: a child process, so the peak is this matvec's alone (ru_maxrss never goes down).
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_matvec_peak_cpu, args=(size, hidden, layers, chunk_size, q))
    p.start()
    val = q.get(timeout=600)
    p.join()
    return val


def bench_ntk(sizes=(128, 256), hidden: int | None = None, layers: int | None = None, repeats: int = 5,
              chunk_sizes=(1024, 8192), device="auto", memory: bool = True, out=print) -> dict:
    """Time one full-batch Adam step, `ntk.matvec` and `ntk.diagonal` over all N = size²
    coordinates (SIREN layers×hidden, default models.DEFAULTS, RGB), interleaved, medians of
    `repeats`; and the peak memory growth of `matvec` at each chunk size. Returns a JSON-ready dict."""
    hidden, layers = hidden or DEFAULTS["hidden"], layers or DEFAULTS["layers"]
    dev = devices.resolve(device)
    res = {"benchmark": "ntk", "model": f"siren {layers}x{hidden}", "machine": devices.machine_info(dev),
           "repeats": repeats, "sizes": {}}
    out(f"ntk benchmark: SIREN {layers}x{hidden}, RGB, {dev}, medians of {repeats} "
        f"(load {res['machine']['load_avg']})")
    out(f"{'N':>8} {'step s':>8} {'matvec s':>9} {'diag s':>8} {'matvec/step':>12} {'diag/step':>10}")
    for size in sizes:
        model = make_model("siren", 2, 3, hidden, layers).to(dev)
        x = grid((size, size)).to(dev)
        y = torch.rand(x.shape[0], 3, generator=torch.Generator().manual_seed(0)).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        every = Selection(torch.arange(x.shape[0], device=dev), full=True)

        def step():
            opt.zero_grad(set_to_none=True)
            train_step(model, x, y, every)
            opt.step()

        r = predict(model, x) - y

        def mv():
            ntk.matvec(model, x, r)

        def dg():
            ntk.diagonal(model, x)

        times = {"step": [], "matvec": [], "diagonal": []}
        for f in (step, mv, dg):  # warm-up
            f()
        for _ in range(repeats):  # interleaved, so load changes hit all three alike
            for name, f in (("step", step), ("matvec", mv), ("diagonal", dg)):
                devices.sync(dev)
                t0 = time.perf_counter()
                f()
                devices.sync(dev)
                times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {f"{k}_s": v for k, v in med.items()}
        row["matvec_over_step"] = med["matvec"] / med["step"]
        row["diagonal_over_step"] = med["diagonal"] / med["step"]
        res["sizes"][str(size * size)] = row
        out(f"{size * size:>8d} {med['step']:>8.3f} {med['matvec']:>9.3f} {med['diagonal']:>8.3f} "
            f"{row['matvec_over_step']:>12.2f} {row['diagonal_over_step']:>10.2f}")
    if memory:
        out(f"peak memory growth of matvec ({'allocator' if dev.type == 'cuda' else 'resident set, fresh process'}), MiB")
        out(f"{'N':>8} " + " ".join(f"{'chunk ' + str(c):>12}" for c in chunk_sizes))
        for size in sizes:
            mem = {str(c): _matvec_peak(size, hidden, layers, c, dev) for c in chunk_sizes}
            res["sizes"][str(size * size)]["matvec_peak_mib"] = mem
            out(f"{size * size:>8d} " + " ".join(f"{mem[str(c)]:>12.1f}" for c in chunk_sizes))
    return res


# --------------------------------------------------------------------------- bench scale

def _scale_child(what, size, hidden, layers, chunk_size, ratio, threads, q):
    """In a fresh process (so earlier passes' freed memory cannot hide this one's): time (s) and
    peak resident growth (MiB) of one pass, `what` = "scoring" (residual pass, ‖K r‖ over all N,
    top-k), "step" (a non-refresh NINT step, train.train_step backpropagating B chunk by chunk)
    or "step_one_shot" (the same step with one forward over all B: a chunk as large as B)."""
    from ..samplers import NINT, View

    torch.set_num_threads(threads)
    model = make_model("siren", 2, 3, hidden, layers, seed=0)
    x = grid((size, size))
    g = torch.Generator().manual_seed(0)
    y = torch.rand(x.shape[0], 3, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    view = View(model, x, y, (size, size), "image", steps=100, chunk_size=chunk_size)
    smp = NINT(ratio=ratio, seed=0, chunk_size=chunk_size)
    smp.setup(view)
    n_ntk = round(smp.share(0) * smp.batch_size(0, 100))
    # A step's cost does not depend on which coordinates the last refresh ranked first.
    smp.cache, smp.last_refresh = torch.randperm(x.shape[0], generator=g)[:n_ntk], 0
    train_step(model, x[:16], y[:16], torch.arange(16))  # warm-up: autograd, Adam state
    opt.step()
    ntk.matvec(model, x[:16], y[:16])  # and torch.func: lazy imports are not the pass's cost

    def step(one_shot):  # t = 1: no refresh; error pass over N, random part, train on B
        view.new_step()
        idx = smp.select(1, view).indices
        opt.zero_grad(set_to_none=True)
        train_step(model, x, y, idx, chunk_size=len(idx) if one_shot else chunk_size)
        opt.step()

    fn = {"scoring": lambda: torch.topk(smp.scores(view), n_ntk).indices,
          "step": lambda: step(False), "step_one_shot": lambda: step(True)}[what]
    _reset_peak_rss()
    base, t0 = _rss_mib(), time.perf_counter()
    fn()
    q.put({"s": time.perf_counter() - t0, "peak_mib": _peak_rss_mib() - base})


def bench_scale(sizes=(64, 256, 1024, 2048), hidden: int | None = None, layers: int | None = None,
                chunk_size: int = 8192, ratio: float = 0.2, threads: int | None = None,
                out=print) -> dict:
    """Time and peak memory of one NINT scoring pass and one NINT step at N = size² (SIREN
    layers×hidden, default models.DEFAULTS, RGB, CPU), each pass in a fresh process. At a fixed chunk size the time
    should grow linearly in N and the working set stay flat; what does grow is the N-sized
    results every pass must return (residuals, scores), a few bytes per coordinate, like the
    signal itself. Returns a JSON-ready dict."""
    hidden, layers = hidden or DEFAULTS["hidden"], layers or DEFAULTS["layers"]
    threads = threads or torch.get_num_threads()
    res = {"benchmark": "scale", "model": f"siren {layers}x{hidden}", "chunk_size": chunk_size,
           "ratio": ratio, "threads": threads, "machine": devices.machine_info("cpu"), "sizes": {}}
    out(f"scale benchmark: SIREN {layers}x{hidden}, RGB, CPU, {threads} thread(s), chunk {chunk_size}, "
        f"ratio {ratio}, each pass in a fresh process (load {res['machine']['load_avg']})")
    out(f"{'N':>9} {'signal MiB':>10} {'score s':>8} {'score MiB':>9} {'step s':>7} {'step MiB':>8} "
        f"{'1-shot s':>8} {'1-shot MiB':>10} {'score µs/coord':>14}")
    ctx = mp.get_context("spawn")
    for size in sizes:
        n, row = size * size, {"signal_mib": size * size * (2 + 3) * 4 / 2**20}
        for what in ("scoring", "step", "step_one_shot"):
            q = ctx.Queue()
            p = ctx.Process(target=_scale_child, args=(what, size, hidden, layers, chunk_size, ratio, threads, q))
            p.start()
            row[what] = q.get(timeout=1800)
            p.join()
        row["score_us_per_coord"] = row["scoring"]["s"] / n * 1e6
        res["sizes"][str(n)] = row
        sc, st, one = row["scoring"], row["step"], row["step_one_shot"]
        out(f"{n:>9d} {row['signal_mib']:>10.1f} {sc['s']:>8.2f} {sc['peak_mib']:>9.1f} {st['s']:>7.2f} "
            f"{st['peak_mib']:>8.1f} {one['s']:>8.2f} {one['peak_mib']:>10.1f} {row['score_us_per_coord']:>14.2f}")
    return res


# --------------------------------------------------------------------------- bench steps

def bench_steps(samplers=("full", "uniform", "soft", "evos", "egra", "expansive", "int", "nint"),
                size: int = 64, hidden: int = 128, layers: int = 3, ratio: float = 0.2,
                steps: int = 60, repeats: int = 5, device="cpu", threads: int | None = None,
                out=print) -> dict:
    """The cost of a whole fit step per sampler: selection (sampler(t)), train_step and Adam's
    step, as fit takes them, without evaluation. SIREN layers×hidden on sample_signal("astronaut",
    size=size) (RGB, N = size²), each sampler at `ratio` with its own model and optimizer.

    After one untimed warm-up block, `repeats` blocks of `steps` consecutive steps per sampler,
    interleaved across samplers so that load changes hit all alike; a block is timed as a whole
    (synchronised at its end) and its seconds divided by `steps`, so periodic work (EVOS key
    steps, NINT refreshes) is amortised as in a fit. threads: torch.set_num_threads for the
    run (restored after). Returns {sampler: {"seconds_per_step": median, "x_uniform": ratio to
    uniform, "x_full": ratio to full}} (the ratios need "uniform" / "full" among `samplers`)."""
    from ..samplers import View, make_sampler
    from ..signals import sample_signal

    dev = devices.resolve(device)
    was_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        sig = sample_signal("astronaut", size=size)
        x, y = sig.coords.to(dev), sig.values.to(dev)
        chunk = devices.default_chunk(dev)
        runs = {}
        for name in samplers:
            model = make_model("siren", 2, sig.channels, hidden, layers, seed=0).to(dev)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
            smp = make_sampler(name, ratio=ratio, seed=0)
            smp.setup(View(model, x, y, sig.shape, sig.kind, (repeats + 1) * steps, chunk, optimizer=opt))
            runs[name] = {"model": model, "opt": opt, "smp": smp, "t": 0, "times": []}

        def block(r):  # `steps` fit steps of one sampler, continuing its run
            for _ in range(steps):
                sel = r["smp"](r["t"])
                r["opt"].zero_grad(set_to_none=True)
                train_step(r["model"], x, y, sel, r["smp"], r["t"], chunk)
                r["opt"].step()
                r["t"] += 1

        for r in runs.values():  # warm-up: lazy initialisation, allocator, first key steps
            block(r)
        for _ in range(repeats):
            for r in runs.values():
                devices.sync(dev)
                t0 = time.perf_counter()
                block(r)
                devices.sync(dev)
                r["times"].append((time.perf_counter() - t0) / steps)
    finally:
        torch.set_num_threads(was_threads)
    med = {name: statistics.median(r["times"]) for name, r in runs.items()}
    res = {name: {"seconds_per_step": s,
                  "x_uniform": s / med["uniform"] if "uniform" in med else None,
                  "x_full": s / med["full"] if "full" in med else None} for name, s in med.items()}
    out(f"step cost: SIREN {layers}x{hidden}, {size}², ratio {ratio}, {dev}, median of {repeats} "
        f"blocks of {steps} steps")
    out(f"{'sampler':>10} {'ms/step':>8} {'x uniform':>10} {'x full':>8}")
    for name, row in res.items():
        xu, xf = (f"{v:.2f}" if v is not None else "-" for v in (row["x_uniform"], row["x_full"]))
        out(f"{name:>10} {1e3 * row['seconds_per_step']:>8.2f} {xu:>10} {xf:>8}")
    return res
