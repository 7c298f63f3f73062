"""`make gpu-check`: the GPU trainer checked on one GPU, in one run that ends by itself.

    python -m nint_lite.lab.gpu_check [--smoke] [--budget SECONDS] [--out results/gpu]

Seven parts run in order. Each gets a slot: its share (WEIGHTS) of the budget still left, so the
time one part does not use passes to the next ones. What a slot cannot fit is skipped with the
reason recorded instead of being started and killed. A subprocess that still outlives its slot
is stopped: a notebook (the least predictable) then counts as skipped, the GPU tests or the
distributed fit (seconds of work) as failed, since they hung.

    a. tests        tests/test_gpu.py: no host sync in any sampler's step (sync-debug "error"),
                    CPU = CUDA for matvec / diagonal / nint_scores, a short fit per sampler,
                    checkpoints across devices, the tf32 and bf16 policies. Pass/fail/skip counts.
    b. notebooks    notebooks 01–05 through nbval with CUDA visible, one pytest each.
    c. protocol     the paper's image protocol: 512², SIREN 5×256, Adam 1e-4, ratio 0.2, up to
                    5,000 steps or 35 dB, all eight samplers, seed 0 (lab.compare). Time and steps
                    to 30 and 35 dB as ratios to full batch, beside the paper's Table 4.3. Each run
                    gets a training-time cap (fit's seconds=) from what is left of the slot.
    d. bench        `bench ntk` at 512²: K·r and the NTK diagonal against one full-batch step.
    e. rank         `bench rank` (lab.costs): every NINT ranking variant's step cost, c_rank / c_step
                    and agreement at 64² (protocol v3's regime) and 512², and the cost model's
                    prediction of each sampler's time to 44 dB from protocol v3's committed steps —
                    the GPU prediction of issue 18, tested where a GPU is.
    f. scale        time and peak device memory of one NINT scoring pass (‖K r‖ over all N), one
                    NINT refresh step and one ordinary NINT step, SIREN 3×128, N up to 4096².
    g. distributed  `fit --distributed` under torchrun on one process (nccl on a GPU, else gloo).

Writes OUT/gpu_check.json (the machine with the precision policy; per part its status "ok",
"skipped" or "failed", the reason, seconds and results) after every part, and OUT/gpu_check.md.
Exit status 1 if a part failed, else 0. --smoke runs the same code at tiny sizes on any machine
(on a CPU the GPU tests skip and the distributed fit uses gloo) in well under a minute;
tests/test_gpu_check.py runs it. Its default --out is results/gpu_smoke, so that a smoke run
never overwrites a GPU run's results.

Used by `make gpu-check` (issue 17); the GPU path of notebooks/05_nint_trainer.ipynb.
"""
from __future__ import annotations

import argparse
import json
import os
import signal as signals
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

from .. import device as devices
from .. import ntk
from ..models import make_model
from ..samplers import SAMPLERS, make_sampler
from ..signals import grid, sample_signal
from ..train import train_step
from .compare import compare, summarise, write_json

__all__ = ["main", "CONFIGS", "WEIGHTS"]

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/ and notebooks/ live there
# Nominal seconds per part on one H100/H200 within the default 450 s budget (8 minutes with
# start-up): a part's slot is its weight's share of the time left when it starts.
WEIGHTS = {"tests": 45, "notebooks": 150, "protocol": 150, "bench": 15, "scale": 60, "distributed": 30, "rank": 60}

CONFIGS = {
    "full": {
        "notebooks": ("01", "02", "03", "04", "05"),
        "protocol": {"signal": "astronaut", "size": 512, "hidden": 256, "layers": 5, "lr": 1e-4,
                     "steps": 5000, "targets": (30.0, 35.0), "eval_every": 25, "checkpoints": (250, 1000),
                     "overhead_s": 3.0},  # a first guess at a run's time beyond training (warm-up, evaluations)
        "bench": {"sizes": (512,), "repeats": 5},
        "scale": {"sizes": (512, 1024, 2048, 4096), "hidden": 128, "layers": 3},
        "distributed": {"size": 512, "steps": 20},
        # torch.compile's first call costs tens of seconds: the compiled variant runs at 64² only
        "rank": {"sizes": (64, 512), "compile_sizes": (64,), "warmup": 120, "steps": 40, "repeats": 5,
                 "variants": None},
        # below these many seconds left, a part (or one notebook / sampler run) is skipped
        "min_s": {"tests": 20, "notebook": 20, "run": 5, "bench": 10, "scale": 5, "distributed": 15, "rank": 20},
    },
    "smoke": {  # the same code at tiny sizes; lr 1e-3 so that 30 steps of a 2×16 SIREN reach 8 dB
        "notebooks": ("00",),
        "protocol": {"signal": "astronaut", "size": 16, "hidden": 16, "layers": 2, "lr": 1e-3,
                     "steps": 30, "targets": (6.0, 8.0), "eval_every": 5, "checkpoints": (10,),
                     "overhead_s": 0.3},
        "bench": {"sizes": (16,), "repeats": 2},
        "scale": {"sizes": (16, 32), "hidden": 128, "layers": 3},
        "distributed": {"size": 16, "steps": 3},
        "rank": {"sizes": (16,), "compile_sizes": (), "warmup": 4, "steps": 2, "repeats": 1,
                 "variants": ("full", "uniform", "nint", "nint bf16", "nint pool 1.5", "nint free")},
        "min_s": {"tests": 2, "notebook": 5, "run": 0.5, "bench": 1, "scale": 1, "distributed": 5, "rank": 1},
    },
}

_T0 = time.perf_counter()


def say(msg: str) -> None:
    print(f"[gpu-check {time.perf_counter() - _T0:5.0f} s] {msg}", flush=True)


class Slot:
    """A part's deadline on the perf_counter clock."""

    def __init__(self, seconds: float):
        self.seconds, self.end = seconds, time.perf_counter() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.perf_counter())


# --------------------------------------------------------------------------- subprocesses

def _env() -> dict:
    """This environment, with this checkout importable first, plots off-screen and, without a
    GPU, one thread per process (on a shared CPU two contending threads are far slower)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    one = {} if torch.cuda.is_available() else {"OMP_NUM_THREADS": "1"}
    return {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg", **one}


def _run(cmd: list, timeout: float) -> tuple:
    """(exit status, or None when stopped at `timeout` s; the last 3,000 characters of output).
    Runs in its own session from the repository root, so a timeout stops its children too."""
    p = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out = p.communicate(timeout=max(1.0, timeout))[0]
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signals.SIGKILL)
        out, rc = p.communicate()[0], None
    return rc, out[-3000:]


def _pytest(args: list, timeout: float) -> dict:
    """pytest in a subprocess: {"rc", "passed", "failed", "skipped", "errors", "failures", "tail"}
    (counts from its JUnit XML; failures: the failing tests' names)."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        rc, tail = _run([sys.executable, "-m", "pytest", "-q", f"--junitxml={xml}", *args], timeout)
        cases = ET.parse(xml).getroot().iter("testcase") if xml.exists() else []
        res = {"rc": rc, "passed": 0, "failed": 0, "skipped": 0, "errors": 0, "failures": [], "tail": tail}
        for case in cases:
            kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
            res[{"failure": "failed", "error": "errors"}.get(kind, kind)] += 1
            if kind in ("failure", "error"):
                res["failures"].append(f"{case.get('classname')}::{case.get('name')}")
    return res


def _outcome(rc) -> str | None:
    return None if rc == 0 else "timed out (stopped at the end of its slot)" if rc is None else f"exit status {rc}"


# --------------------------------------------------------------------------- the parts
# Each part(cfg, dev, slot, result) fills `result` as it goes (kept if it raises) and returns
# (status, reason).

def part_tests(cfg, dev, slot, result):
    """a. tests/test_gpu.py in a subprocess; its counts."""
    if not (ROOT / "tests" / "test_gpu.py").exists():
        return "skipped", "tests/test_gpu.py not found (run from a clone of the repository)"
    if slot.left() < cfg["min_s"]["tests"]:
        return "skipped", f"{slot.left():.0f} s left, below the {cfg['min_s']['tests']} s it needs"
    result.update(_pytest(["-p", "no:nbval", "tests/test_gpu.py"], slot.left()))  # nbval: 4 s to load
    bad = _outcome(result["rc"])
    counts = f"{result['passed']} passed, {result['failed']} failed, {result['skipped']} skipped"
    if bad:
        return "failed", f"{counts}; {bad}"
    if result["skipped"] and not result["passed"]:
        return "ok", f"{counts}: no CUDA, so every GPU test skips"
    return "ok", counts


def part_notebooks(cfg, dev, slot, result):
    """b. each notebook through nbval (pytest --nbval-lax --nbval-current-env), CUDA visible."""
    for prefix in cfg["notebooks"]:
        found = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
        if not found:
            result[prefix] = {"status": "skipped", "reason": "not found (run from a clone of the repository)"}
            continue
        rel = found[0].relative_to(ROOT).as_posix()
        if slot.left() < cfg["min_s"]["notebook"]:
            result[rel] = {"status": "skipped", "reason": f"{slot.left():.0f} s left in the slot"}
            continue
        say(f"   {rel} …")
        t0 = time.perf_counter()
        r = _pytest(["--nbval-lax", "--nbval-current-env", rel], slot.left())
        status = "ok" if r["rc"] == 0 else "skipped" if r["rc"] is None else "failed"
        result[rel] = {"status": status, "reason": _outcome(r["rc"]) or f"{r['passed']} cells passed",
                       "seconds": round(time.perf_counter() - t0, 1), **r}
        say(f"   {rel}: {result[rel]['status']} in {result[rel]['seconds']:.0f} s")
    return _worst(result, "notebooks")


def _worst(items: dict, what: str) -> tuple:
    """A part's status from its items': failed if one failed, skipped if one skipped, else ok."""
    for status in ("failed", "skipped"):
        hit = [k for k, v in items.items() if v["status"] == status]
        if hit:
            return status, "; ".join(f"{k}: {items[k]['reason']}" for k in hit)
    return "ok", f"{what}: all {len(items)} passed"


def part_protocol(cfg, dev, slot, result):
    """c. the paper's protocol: each sampler through lab.compare with a training-time cap from
    the slot (stop at the highest target), then lab.compare.summarise over all of them, so the
    time and step ratios to full batch are the package's own."""
    p = cfg["protocol"]
    sig = sample_signal(p["signal"], size=p["size"])
    names = ["full"] + sorted(set(SAMPLERS) - {"full"})  # the reference first
    shares = {n: 2 if n == "full" else 1 for n in names}  # the reference every ratio divides by
    runs, caps, skipped, blocks = {}, {}, {}, {}
    overhead = p["overhead_s"]  # then the most a run took beyond its training time
    for i, name in enumerate(names):
        todo = len(names) - i
        cap = (slot.left() - todo * overhead) * shares[name] / sum(shares[n] for n in names[i:])
        if cap < cfg["min_s"]["run"]:  # this run and the ones after it
            skipped = {n: f"{slot.left():.0f} s left for {todo} run(s)" for n in names[i:]}
            say(f"   {', '.join(skipped)}: skipped ({skipped[name]})")
            break
        t0 = time.perf_counter()
        res = compare(sig, [name], model="siren", hidden=p["hidden"], layers=p["layers"], steps=p["steps"],
                      seconds=cap, lr=p["lr"], targets=p["targets"], seeds=(0,), ratio=0.2, device=dev,
                      progress=False, stop_at_target=True, eval_every=p["eval_every"])
        runs[name] = res.runs[name]
        h = runs[name][0]
        overhead = max(overhead, time.perf_counter() - t0 - h.final["train_seconds"])
        caps[name] = {"cap_s": round(cap, 1), "capped": h.stopped_by == "seconds", "stopped_by": h.stopped_by}
        blocks = {"model": res.table["model"], "protocol": res.table["protocol"]}
        say(f"   {name}: {h.final['steps']} steps, {h.final['psnr']:.2f} dB, {h.final['train_seconds']:.1f} s "
            f"training (cap {cap:.0f} s, stopped by {h.stopped_by})")
    result.update(caps=caps, skipped=skipped)
    if runs:
        protocol = {**blocks["protocol"], "seconds": None, "seconds_caps": {n: c["cap_s"] for n, c in caps.items()},
                    "samplers": {n: {"name": n} for n in runs}}
        result["table"] = summarise(runs, p["targets"], checkpoints=p["checkpoints"], signal=sig,
                                    model=blocks["model"], protocol=protocol, device=dev)
    if skipped:
        return "skipped", f"{len(skipped)} of {len(names)} runs did not fit: {', '.join(skipped)}"
    capped = [k for k, v in caps.items() if v["capped"]]
    return "ok", f"capped before {max(p['targets']):g} dB: {', '.join(capped)}" if capped else "every run ended by itself"


def part_bench(cfg, dev, slot, result):
    """d. lab.bench.bench_ntk (the CLI's `bench ntk`), with matvec's peak memory on CUDA."""
    from .bench import bench_ntk

    if slot.left() < cfg["min_s"]["bench"]:
        return "skipped", f"{slot.left():.0f} s left, below the {cfg['min_s']['bench']} s it needs"
    b = cfg["bench"]
    result.update(bench_ntk(sizes=b["sizes"], repeats=b["repeats"], device=dev, memory=dev.type == "cuda",
                            out=lambda line: say(f"   {line}")))
    return "ok", "" if dev.type == "cuda" else "no memory runs on CPU (they spawn processes)"


def part_rank(cfg, dev, slot, result):
    """e. lab.costs.bench_rank (the CLI's `bench rank`) per size, with the cost model's prediction
    from protocol v3's committed steps to its top target."""
    from .compare import results_path
    from .costs import VARIANTS, bench_rank, predict, steps_from_protocol, with_same_ranking

    c = cfg["rank"]
    committed = results_path("paper_v3.json")
    steps = with_same_ranking(steps_from_protocol(json.loads(committed.read_text()))) if committed.is_file() else None
    result["sizes"], skipped = {}, []
    for size in c["sizes"]:
        if slot.left() < cfg["min_s"]["rank"]:
            skipped.append(f"{size}² ({slot.left():.0f} s left)")
            continue
        variants = tuple(v for v in (c["variants"] or VARIANTS) if v != "nint compiled" or size in c["compile_sizes"])
        res = bench_rank(variants, size=size, warmup=c["warmup"], steps=c["steps"], repeats=c["repeats"],
                         device=dev, threads=None, out=lambda line: say(f"   {line}"))
        if steps:
            res["predicted_time_x_full"] = predict(res["steps"], steps)
        result["sizes"][str(size)] = res
    result["steps_from"] = "paper_v3.json" if steps else None
    if not result["sizes"]:
        return "skipped", f"{slot.left():.0f} s left, below the {cfg['min_s']['rank']} s a size needs"
    return "ok", f"skipped {', '.join(skipped)}" if skipped else ("" if steps else "no committed paper_v3.json: costs only")


def _measure(fn, dev) -> dict:
    """Seconds of fn() (synchronised) and, on CUDA, the peak memory allocated meanwhile (MiB)."""
    devices.sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    fn()
    devices.sync(dev)
    return {"s": time.perf_counter() - t0,
            "peak_mib": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None}


def _scale_row(size: int, hidden: int, layers: int, dev) -> dict:
    """One size: a scoring pass over all N, a refresh step (t = 0: score, rank, train) and an
    ordinary step (t = 1: the cached ranking, error and random parts); NINT with its defaults,
    chunks and Adam as fit takes them on this device."""
    model = make_model("siren", 2, 3, hidden=hidden, layers=layers, seed=0).to(dev)
    x = grid((size, size)).to(dev)
    y = torch.rand(x.shape[0], 3, generator=torch.Generator(device=dev).manual_seed(0), device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
    chunk = devices.default_chunk(dev)
    smp = make_sampler("nint", seed=0).bind(model, x, y, (size, size), steps=100, chunk_size=chunk, optimizer=opt)

    def step(t):
        sel = smp(t)
        opt.zero_grad(set_to_none=True)
        train_step(model, x, y, sel, smp, t, chunk)
        opt.step()

    r = smp.view.residuals()  # f(X) − Y, chunked, as NINT scores it
    row = {"n": size * size, "resident_mib": torch.cuda.memory_allocated(dev) / 2**20 if dev.type == "cuda" else None}
    row["scoring"] = _measure(lambda: ntk.nint_scores(model, x, r, smp.chunk_size), dev)
    row["refresh_step"] = _measure(lambda: step(0), dev)
    row["step"] = _measure(lambda: step(1), dev)
    return row


def part_scale(cfg, dev, slot, result):
    """f. NINT as N grows, on the device; a size is skipped when the last one's time, scaled by
    N, would not fit in what is left of the slot."""
    c = cfg["scale"]
    if slot.left() < cfg["min_s"]["scale"]:
        return "skipped", f"{slot.left():.0f} s left, below the {cfg['min_s']['scale']} s it needs"
    _scale_row(16, c["hidden"], c["layers"], dev)  # warm-up: first calls are not a size's cost
    result.update(model=f"siren {c['layers']}x{c['hidden']}", sizes={}, skipped={})
    per_coord = None
    for size in c["sizes"]:
        need = per_coord * size * size * 1.2 if per_coord else cfg["min_s"]["scale"]
        if slot.left() < need:
            result["skipped"][str(size)] = f"needs ~{need:.0f} s, {slot.left():.0f} s left"
            continue
        t0 = time.perf_counter()
        row = result["sizes"][str(size)] = _scale_row(size, c["hidden"], c["layers"], dev)
        per_coord = (time.perf_counter() - t0) / (size * size)
        mem = "" if row["step"]["peak_mib"] is None else \
            f", peak {row['scoring']['peak_mib']:.0f} / {row['step']['peak_mib']:.0f} MiB"
        say(f"   {size}²: scoring {row['scoring']['s']:.3f} s, refresh step {row['refresh_step']['s']:.3f} s, "
            f"step {row['step']['s']:.3f} s{mem}")
    if result["skipped"]:
        return "skipped", "; ".join(f"{k}²: {v}" for k, v in result["skipped"].items())
    return "ok", f"up to {max(c['sizes'])}²"


def part_distributed(cfg, dev, slot, result):
    """g. the CLI's `fit --distributed` under torchrun, one process; its JSON result."""
    c = cfg["distributed"]
    if slot.left() < cfg["min_s"]["distributed"]:
        return "skipped", f"{slot.left():.0f} s left, below the {cfg['min_s']['distributed']} s it needs"
    result["backend"] = "nccl" if dev.type == "cuda" else "gloo"  # distributed.init's choice
    if dev.type == "cuda":
        torch.cuda.empty_cache()  # blocks this process cached in parts c–e are the child's to use
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "distributed.json"
        cmd = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m", "nint_lite",
               "fit", "--input", "camera", "--size", str(c["size"]), "--samplers", "nint", "--steps",
               str(c["steps"]), "--distributed", "--json", str(out), "--quiet", "--out", tmp]
        result["command"] = "python " + " ".join(cmd).replace(str(out), "OUT.json").replace(tmp, "OUT")
        rc, result["tail"] = _run([sys.executable, *cmd], slot.left())
        if out.exists():
            result["json"] = json.loads(out.read_text())
    bad = _outcome(rc) or (None if "json" in result else "no JSON written")
    if bad:
        return "failed", bad
    s = result["json"]["summary"]["nint"]
    return "ok", (f"{result['backend']}: {s['steps']['median']} steps, {s['final_psnr']['median']:.2f} dB "
                  f"on {result['json']['machine']['device']}")


PARTS = {"tests": part_tests, "notebooks": part_notebooks, "protocol": part_protocol,
         "bench": part_bench, "rank": part_rank, "scale": part_scale, "distributed": part_distributed}


# --------------------------------------------------------------------------- the report

def _table(head: list, rows: list) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join("—" if v is None else str(v) for v in r) + " |" for r in rows])


def _f(v, spec=".2f"):
    return None if v is None else format(v, spec)


def _med(stat, spec=".2f"):
    return None if not stat else _f(stat["median"], spec)


def _protocol_md(res: dict) -> str:
    from .protocol import PAPER

    t = res.get("table")
    if not t:
        return ""
    targets = [str(v) for v in t["targets"]]
    head = ["sampler", "steps", "final dB", "train s"]
    head += [h for k in targets for h in (f"s to {float(k):g} dB", "× full (time)", "× full (steps)")]
    head += ["paper × full, 30 / 35 dB"] + [f"dB @{c} (paper)" for c in t["checkpoints"]] + ["cap s", "capped"]
    at = {250: 0, 1000: 1}  # PAPER["psnr_at"] columns
    rows = []
    for name, s in t["summary"].items():
        row = [name, _med(s["steps"], ".0f"), _med(s["final_psnr"]), _med(s["train_seconds"], ".1f")]
        for k in targets:
            row += [_med(s["time_to"][k], ".1f"), _med(s["time_ratio"].get(k)), _med(s["steps_ratio"].get(k))]
        paper = PAPER["time_ratio"].get(name)
        row.append(f"{paper[0]:.2f} / {paper[1]:.2f}" if paper else None)
        for c in t["checkpoints"]:
            ours, ref = _med(s["at_step"][str(c)]), PAPER["psnr_at"].get(name)
            row.append(f"{ours or '—'} ({ref[at[c]]:.2f})" if ref and c in at else ours)
        cap = res["caps"].get(name, {})
        row += [cap.get("cap_s"), "yes" if cap.get("capped") else "no"]
        rows.append(row)
    return (_table(head, rows) + "\n\nTime ratios are training seconds to the target over full batch's "
            "(evaluation excluded); the paper's are wall-clock to 30 / 35 dB (Table 4.3), "
            "on DIV2K crops, ours on one image and one seed.")


def _tests_md(res: dict) -> str:
    if "rc" not in res:
        return ""
    rows = [[res["passed"], res["failed"], res["skipped"], res["errors"], ", ".join(res["failures"]) or None]]
    return _table(["passed", "failed", "skipped", "errors", "failing"], rows)


def _notebooks_md(res: dict) -> str:
    return _table(["notebook", "status", "seconds", "detail"],
                  [[k, v["status"], v.get("seconds"), v["reason"]] for k, v in res.items()])


def _bench_md(res: dict) -> str:
    if "sizes" not in res:
        return ""
    rows = [[n, _f(r["step_s"], ".4f"), _f(r["matvec_s"], ".4f"), _f(r["diagonal_s"], ".4f"),
             _f(r["matvec_over_step"]), _f(r["diagonal_over_step"]),
             " / ".join(f"{v:.0f}" for v in r["matvec_peak_mib"].values()) if "matvec_peak_mib" in r else None]
            for n, r in res["sizes"].items()]
    return f"{res['model']}, medians of {res['repeats']}\n\n" + _table(
        ["N", "step s", "matvec s", "diagonal s", "matvec / step", "diagonal / step",
         "matvec peak MiB (chunk 1024 / 8192)"], rows)


def _scale_md(res: dict) -> str:
    if "sizes" not in res:
        return ""
    rows = [[n, r["n"], _f(r["resident_mib"], ".0f")] + [v for k in ("scoring", "refresh_step", "step")
                                                         for v in (_f(r[k]["s"], ".3f"), _f(r[k]["peak_mib"], ".0f"))]
            for n, r in res["sizes"].items()]
    rows += [[n, None, None, f"skipped: {why}", None, None, None, None, None] for n, why in res["skipped"].items()]
    return f"{res['model']}, RGB, NINT defaults\n\n" + _table(
        ["side", "N", "resident MiB", "scoring s", "peak MiB", "refresh step s", "peak MiB", "step s", "peak MiB"], rows)


def _distributed_md(res: dict) -> str:
    j = res.get("json")
    if not j:
        return f"`{res.get('command', '')}`"
    s = j["summary"]["nint"]
    return f"`{res['command']}`\n\n" + _table(
        ["backend", "device", "steps", "final dB", "train s"],
        [[res["backend"], j["machine"]["device"], _med(s["steps"], ".0f"), _med(s["final_psnr"]),
          _med(s["train_seconds"], ".1f")]])


def _rank_md(res: dict) -> str:
    from .costs import markdown as rank_markdown

    return "\n\n".join(rank_markdown(r) + ("\n\npredicted time to the top target × full: " + ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(r["predicted_time_x_full"].items(), key=lambda kv: kv[1]))
        if "predicted_time_x_full" in r else "") for r in res.get("sizes", {}).values())


def markdown(report: dict) -> str:
    m = report["machine"]
    where = (f"{m['gpu']}, CUDA {m['cuda']}, driver {m['driver']}" if "gpu" in m
             else f"no GPU: {m['cpu']} CPU, {m['cpu_count']} cores")
    lines = [f"# GPU check{' (smoke)' if report['smoke'] else ''}", "",
             f"{report['date']}: {where}, torch {m['torch']}, precision {m['precision']}. "
             f"{report['seconds']:.0f} s of a {report['budget_s']:.0f} s budget; "
             f"status **{report['status']}**.", "",
             _table(["part", "status", "seconds", "slot s", "reason"],
                    [[k, v["status"], v["seconds"], v["slot_s"], v["reason"] or None]
                     for k, v in report["parts"].items()])]
    render = {"tests": _tests_md, "notebooks": _notebooks_md, "protocol": _protocol_md, "bench": _bench_md,
              "scale": _scale_md, "distributed": _distributed_md, "rank": _rank_md}
    for name, part in report["parts"].items():
        body = render[name](part["result"])
        what = " ".join(PARTS[name].__doc__.split("\n\n")[0].split())  # the part's docstring, one line
        lines += ["", f"## {name}", "", what] + (["", body] if body else [])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main

def run(smoke: bool = False, budget: float = 450.0, out=None) -> dict:
    """Run the parts in order within `budget` seconds; write the report to `out` (default
    results/gpu, or results/gpu_smoke for a smoke run) and return it."""
    out = out or ("results/gpu_smoke" if smoke else "results/gpu")
    cfg = CONFIGS["smoke" if smoke else "full"]
    dev = devices.resolve(None)
    end = time.perf_counter() + budget
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "smoke": smoke, "budget_s": budget,
              "machine": devices.machine_info(dev, "fp32"), "parts": {}, "status": "ok", "seconds": 0.0}
    say(f"{'smoke run' if smoke else 'GPU check'} on {report['machine'].get('gpu', dev)}, budget {budget:.0f} s")
    names = list(PARTS)
    for i, name in enumerate(names):
        share = WEIGHTS[name] / sum(WEIGHTS[n] for n in names[i:])
        slot = Slot(max(0.0, end - time.perf_counter()) * share)
        say(f"{chr(ord('a') + i)}. {name}: slot {slot.seconds:.0f} s")
        t0, result, extra = time.perf_counter(), {}, {}
        try:
            status, reason = PARTS[name](cfg, dev, slot, result)
        except Exception as e:  # the part failed; what it measured so far stays, the others still run
            status, reason = "failed", f"{type(e).__name__}: {e}"
            extra["traceback"] = traceback.format_exc()[-3000:]
        report["parts"][name] = {"status": status, "reason": reason, "seconds": round(time.perf_counter() - t0, 1),
                                 "slot_s": round(slot.seconds, 1), "result": result, **extra}
        say(f"{chr(ord('a') + i)}. {name}: {status}" + (f" ({reason})" if reason else ""))
        if status == "failed":
            report["status"] = "failed"
        report["seconds"] = round(time.perf_counter() - (end - budget), 1)
        write_json(report, Path(out) / "gpu_check.json")
    md = Path(out) / "gpu_check.md"
    md.write_text(markdown(report))
    say(f"wrote {Path(out) / 'gpu_check.json'} and {md}: {report['status']} in {report['seconds']:.0f} s")
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nint_lite.lab.gpu_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: the same code on any machine in < 1 min")
    p.add_argument("--budget", type=float, default=450.0, help="seconds for all parts (default 450)")
    p.add_argument("--out", default=None, help="folder for gpu_check.json and gpu_check.md "
                   "(default results/gpu; with --smoke results/gpu_smoke)")
    a = p.parse_args(argv)
    if not a.budget > 0:
        p.error("--budget must be positive")
    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # as _env(): one thread on a shared CPU
    return 1 if run(a.smoke, a.budget, a.out)["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
