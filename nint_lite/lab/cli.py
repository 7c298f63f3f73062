"""Command line: python -m nint_lite {fit,compare,bench} ...

fit        train one INR (any sampler) on a bundled signal or a file (--input); print PSNR over
           time and a final line; save target | reconstruction | error as a PNG (+ --json)
compare    the same model and initial weights with several samplers; print final PSNR, time to
           each target and the per-seed ratio to full batch; write JSON + a PNG plot
bench      the quick protocol (400 steps: the LOW-TARGET regime): every sampler, NINT ablations,
           network size, audio and 3D, cost of scoring -> results/bench.{json,md} + PNGs
           (--full: the paper's sizes, for a GPU)
bench --paper-length  the pre-registered paper-length protocol (nint_lite/lab/protocols/v2.json:
           4 images, 5,000 steps, 4 targets, paired bootstrap intervals), 43 min on two
           CPU cores, resumable -> results/paper_v2.{json,md} + PNGs (nint_lite.lab.paper)
bench ntk  time K·r (matvec) and the NTK diagonal against one full-batch step, and matvec's
           peak memory at two chunk sizes
bench scale  time and peak memory of one NINT scoring pass and one NINT step as N grows
bench steps  one whole fit step (selection + forward/backward + Adam) per sampler, as a multiple
           of a uniform step and of a full-batch step (--sizes 64: the image side)
bench rank  NINT's error-ranking variants (nint_lite.lab.costs.VARIANTS: bf16/fp16, compiled, pools,
           periodic / rolling / free refresh): step cost, c_rank / c_step, agreement with the exact
           ranking, and the cost model time = steps × (c_step + c_rank) fed with the committed
           protocol v3 steps (--steps-from another result): which sampler is fastest on this device
fit --distributed  under torchrun: coordinates sharded over ranks (see README, "Scaling out")

--input names the signal (a bundled name, an image, a .wav or a mesh file); --signal is an
alias, but under torchrun use --input: torchrun's own parser takes --signal as an abbreviation
of its --signals-to-handle. Model sizes default to nint_lite.models.DEFAULTS and the learning
rate to the family's RECOMMENDED_LR, as in make_model, fit and compare. Every --json file has
the layout of nint_lite.lab.compare.summarise.

Built in notebooks/05_nint_trainer.ipynb (fit, compare) and notebooks/07_benchmark.ipynb (bench).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .. import device as devices
from .. import models, signals
from ..train import fit, save_checkpoint
from .compare import compare, model_info, summarise, write_json

__all__ = ["main"]

_MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl", ".glb", ".gltf")


def _load(name: str, size, clip=1.0, resolution=64):
    """A bundled name or a file: images take --size, audio --clip seconds, meshes --resolution."""
    if name in signals.SAMPLES:
        loader = signals.SAMPLES[name][0]
    elif name.lower().endswith(".wav"):
        loader = signals.load_audio
    elif name.lower().endswith(_MESH_SUFFIXES):
        from ..shapes import load_shape as loader
    else:
        loader = signals.load_image
    kw = {"load_image": {"size": size}, "load_audio": {"seconds": clip}}.get(
        loader.__name__, {"resolution": resolution})
    return signals.sample_signal(name, **kw) if name in signals.SAMPLES else loader(name, **kw)


def _model(a, sig):
    """make_model from the options: in/out features and SIREN's first-layer frequency (3000 for
    audio) from the signal unless --first-w0 is given; sizes default to models.DEFAULTS."""
    kw = {"first_w0": a.first_w0} if a.first_w0 is not None else {}
    return models.make_model(a.model, sig, hidden=a.hidden, layers=a.layers, seed=a.seed, **kw)


def _targets(a) -> list:
    return [a.target_psnr] if a.target_psnr else [25.0, 30.0]


def _write(res: dict, path) -> None:
    print(f"wrote {write_json(res, path)}")


def _print_history(h) -> None:
    """One row per evaluation: step, training seconds, PSNR (and the signal's own measure)."""
    extra = next(iter(h.metrics), None)  # si_snr for audio, iou for shapes
    print(f"{'step':>6} {'train s':>8} {'PSNR dB':>8}" + (f" {extra:>8}" if extra else ""))
    for i, (s, t, p) in enumerate(zip(h.steps, h.train_seconds, h.psnr)):
        print(f"{s:>6d} {t:>8.1f} {p:>8.2f}" + (f" {h.metrics[extra][i]:>8.3f}" if extra else ""))


def _fit_protocol(a, sampler: str, **extra) -> dict:
    return {"steps": a.steps, "seconds": a.seconds, "ratio": 0.2, "seeds": [a.seed],
            "eval_every": a.eval_every, **extra, "samplers": {sampler: {"name": sampler}}}


def cmd_fit(a) -> int:
    if a.distributed:
        return cmd_fit_distributed(a)
    sig = _load(a.input, a.size, a.clip, a.resolution)
    model = _model(a, sig)
    lr = a.lr or models.RECOMMENDED_LR[a.model]
    sampler = a.samplers.split(",")[0]
    budget = " and ".join(b for b in (a.steps and f"{a.steps} steps", a.seconds and f"{a.seconds:g} s") if b)
    print(f"fitting {a.model} {a.layers}x{a.hidden} to {sig.name} {sig.shape} "
          f"(N={sig.n}, C={sig.channels}), sampler {sampler}, Adam lr={lr:g}, {budget}, "
          f"{os.cpu_count()} CPU cores")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    h = fit(model, sig, sampler, steps=a.steps, seconds=a.seconds, lr=lr, target_psnr=a.target_psnr,
            eval_every=a.eval_every or (max(1, a.steps // 10) if a.steps else None),
            device=a.device, seed=a.seed, progress=not a.quiet,
            save_to=out / f"fit_{sig.name}_{a.model}_{sampler}.pt" if a.save else None)
    wall = time.perf_counter() - t0
    _print_history(h)
    png = out / f"fit_{sig.name}_{a.model}_{sampler}.png"
    dev = next(model.parameters()).device
    if sig.kind == "image":
        from ..plots import save_reconstruction

        save_reconstruction(sig, model, png, f"{a.model} {a.layers}x{a.hidden}, {sampler}, "
                            f"{h.final['steps']} steps", dpi=100)
    if a.json:
        _write(summarise({sampler: [h]}, _targets(a), signal=sig, model=model_info(model, lr),
                         protocol=_fit_protocol(a, sampler), device=dev), a.json)
    extra = next(iter(h.metrics), None)
    ssim = f", SSIM {h.final['ssim']:.3f}" if "ssim" in h.final else ""
    ssim += f", {extra} {h.final[extra]:.3f}" if extra else ""
    print(f"final: PSNR {h.final['psnr']:.2f} dB{ssim} after {h.final['steps']} steps, "
          f"{h.final['train_seconds']:.1f} s training + {h.eval_seconds:.1f} s evaluation "
          f"({wall:.1f} s wall)" + (f"; figure: {png}" if sig.kind == "image" else ""))
    return 0


def cmd_fit_distributed(a) -> int:
    """fit under torchrun: every rank runs this; rank 0 prints and writes."""
    from . import distributed

    if a.seconds is not None or a.target_psnr is not None:
        raise ValueError("--distributed takes a number of --steps (not --seconds or --target-psnr)")
    ctx = distributed.init()
    try:
        sig = _load(a.input, a.size, a.clip, a.resolution)
        model = _model(a, sig)
        lr = a.lr or models.RECOMMENDED_LR[a.model]
        sampler = a.samplers.split(",")[0]
        if ctx.rank == 0:
            print(f"fitting {a.model} {a.layers}x{a.hidden} to {sig.name} "
                  f"{sig.shape} (N={sig.n}), sampler {sampler}, {a.steps} steps, {ctx.world} ranks on {ctx.device}")
        h = distributed.fit(model, sig, a.steps, lr=lr, seed=a.seed, sampler=sampler,
                            eval_every=a.eval_every, device=ctx.device)
        if ctx.rank == 0:
            _print_history(h)
            print(f"final: PSNR {h.final['psnr']:.2f} dB after {h.final['steps']} steps, "
                  f"{h.final['train_seconds']:.1f} s training on {ctx.world} ranks")
            if a.save:
                Path(a.out).mkdir(parents=True, exist_ok=True)
                save_checkpoint(Path(a.out) / f"fit_{sig.name}_{a.model}_{sampler}_x{ctx.world}.pt", model, h)
            if a.json:
                _write(summarise({sampler: [h]}, _targets(a), signal=sig, model=model_info(model, lr),
                                 protocol=_fit_protocol(a, sampler, ranks=ctx.world), device=ctx.device),
                       a.json)
    finally:
        distributed.shutdown()
    return 0


def cmd_compare(a) -> int:
    sig = _load(a.input, a.size, a.clip, a.resolution)
    names = a.samplers.split(",")
    seeds = list(range(a.seed, a.seed + a.seeds))
    targets = _targets(a)
    kw = {"first_w0": a.first_w0} if a.first_w0 is not None else {}
    print(f"comparing {', '.join(names)} on {sig.name} {sig.shape}: {a.model} {a.layers}x{a.hidden}, "
          f"ratio 0.2, seeds {seeds}, same initial weights per seed")
    res = compare(sig, names, model=a.model, hidden=a.hidden, layers=a.layers, steps=a.steps,
                  seconds=a.seconds, lr=a.lr, targets=targets, seeds=seeds, device=a.device,
                  progress=not a.quiet, stop_at_target=a.stop_at_target, save_dir=a.out, model_kw=kw,
                  eval_every=a.eval_every)
    head = f"{'sampler':<10} {'PSNR':>6} {'train s':>8} {'steps':>6}"
    for t in targets:
        head += f" {'s to ' + format(t, 'g') + ' dB':>12} {'vs full':>8}"
    print(head)
    for n, r in res.table["summary"].items():
        line = f"{n:<10} {r['final_psnr']['median']:>6.2f} {r['train_seconds']['median']:>8.1f} {r['steps']['median']:>6.0f}"
        for t in map(str, res.table["targets"]):
            tt, ratio = r["time_to"][t], r["time_ratio"].get(t)
            line += f" {tt['median']:>12.1f}" if tt else f" {'not reached':>12}"
            line += f" {ratio['median']:>8.2f}" if ratio else f" {'—':>8}"
        print(line)
    print(f"(medians over {len(seeds)} seed(s), vs full: median of per-seed time ratios; training "
          f"time only, evaluation excluded; load average {res.table['machine']['load_avg']})")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    _write(res.table, a.json or out / f"compare_{sig.name}.json")
    import matplotlib.pyplot as plt

    from ..plots import training_curves

    fig = training_curves({n: hs[0] for n, hs in res.runs.items()}, title=f"{sig.name} {sig.shape}, seed {seeds[0]}")
    fig.savefig(out / f"compare_{sig.name}.png", dpi=100)
    plt.close(fig)
    print(f"wrote {out / f'compare_{sig.name}.png'} and reconstruction_{sig.name}_<sampler>.png")
    return 0


def cmd_protocol(a) -> int:
    import torch

    from . import protocol

    name = "full" if a.full else (a.protocol or "cpu")
    if a.threads or devices.resolve(a.device).type == "cpu":
        torch.set_num_threads(a.threads or 1)  # one thread on a shared CPU, so ratios survive load
    parts = tuple(a.parts.split(",")) if a.parts else protocol.PARTS
    seeds = tuple(range(a.seeds)) if a.seeds else None
    print(f"benchmark protocol {name!r}: parts {', '.join(parts)}; {torch.get_num_threads()} torch "
          f"thread(s); see nint_lite/lab/protocol.py for the sizes", flush=True)
    res = protocol.run(name, parts=parts, seeds=seeds, device=a.device, progress=not a.quiet)
    print(protocol.markdown(res))
    for path in protocol.save(res, a.out):
        print(f"wrote {path}")
    return 0


def cmd_paper(a) -> int:
    from . import paper

    p = paper.load_protocol(a.protocol_file)
    workers = a.workers or p.get("workers", 1)
    print(f"paper-length benchmark: protocol v{p['version']} ({p['file']}), {workers} process(es) × "
          f"{p.get('threads_per_worker', 1)} thread; partial results in {a.out}/ (re-run to resume)", flush=True)
    res = paper.run(p, out=a.out, workers=workers, progress=not a.quiet)
    for path in paper.save(res, a.out):
        print(f"wrote {path}")
    return 0


def cmd_rank(a) -> int:
    """bench rank: NINT's ranking variants' cost and agreement, and the cost model's prediction
    from a paper-length result's steps (default: the committed protocol v3 result), checked
    against that result's measured times when it ran on this kind of device."""
    from . import costs
    from .compare import results_path

    variants = tuple(a.samplers.split(",")) if a.samplers else tuple(costs.VARIANTS)
    res = costs.bench_rank(variants, size=int(a.sizes or 64), hidden=a.hidden or 128, layers=a.layers or 3,
                           repeats=a.repeats, device=a.device, threads=a.threads or 1, out=lambda line: None)
    path = Path(a.steps_from) if a.steps_from else results_path("paper_v3.json")
    steps = measured = None
    if path.is_file():
        proto = json.loads(path.read_text())
        steps = costs.with_same_ranking(costs.steps_from_protocol(proto))
        top = str(float(max(proto["protocol"]["targets"])))
        measured = {k: row[top]["time"]["gmean"] for k, row in proto["ratios"]["pooled"].items() if row[top]["time"]}
        res["prediction"] = {"steps_from": str(path), "target": float(top), "steps_x_full": steps,
                             "predicted_time_x_full": costs.predict(res["steps"], steps), "measured_time_x_full": measured}
    print(costs.markdown(res, steps, measured))
    if steps:
        print(f"(steps to {top} dB from {path}; measured: that run's times, on its own machine)")
    if a.json:
        _write(res, a.json)
    return 0


def cmd_bench(a) -> int:
    from . import bench

    if a.paper_length:
        return cmd_paper(a)
    if a.what == "protocol":
        return cmd_protocol(a)
    if a.what == "steps":
        names = tuple((a.samplers or "full,uniform,soft,evos,egra,expansive,int,nint").split(","))
        res = bench.bench_steps(samplers=names, size=int(a.sizes or 64), hidden=a.hidden, layers=a.layers,
                                repeats=a.repeats, device=a.device, threads=a.threads or 1)
    elif a.what == "rank":
        return cmd_rank(a)
    elif a.what == "scale":
        sizes = tuple(int(v) for v in (a.sizes or "64,256,1024,2048").split(","))
        res = bench.bench_scale(sizes=sizes, hidden=a.hidden, layers=a.layers, chunk_size=a.chunk_size)
    else:
        sizes = tuple(int(v) for v in (a.sizes or "128,256").split(","))
        res = bench.bench_ntk(sizes=sizes, hidden=a.hidden, layers=a.layers, repeats=a.repeats,
                              device=a.device, memory=not a.no_memory)
    if a.json:
        _write(res, a.json)
    return 0


def _parser() -> argparse.ArgumentParser:
    d = models.DEFAULTS
    p = argparse.ArgumentParser(prog="python -m nint_lite", description=__doc__.split("\n\nBuilt in")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit one INR and save a reconstruction PNG")
    c = sub.add_parser("compare", help="several samplers, same model and initial weights")
    for q, default_samplers in ((f, "full"), (c, "full,uniform,int,nint")):
        q.add_argument("--input", "--signal", dest="input", default="image", metavar="INPUT",
                       help=f"bundled name ({', '.join(signals.SAMPLES)}) or a file: an image, a .wav "
                            "or a mesh (--signal is an alias; under torchrun use --input)")
        q.add_argument("--size", type=int, default=128, help="images: resize to SIZE x SIZE (centre crop)")
        q.add_argument("--clip", type=float, default=1.0, help="audio: seconds of the clip to fit")
        q.add_argument("--resolution", type=int, default=64, help="shapes: grid nodes per side")
        q.add_argument("--first-w0", type=float, default=None,
                       help="SIREN's first-layer frequency (default: 30, or 3000 for audio)")
        q.add_argument("--model", default="siren", choices=sorted(models.MODELS))
        q.add_argument("--hidden", type=int, default=d["hidden"], help="width (models.DEFAULTS)")
        q.add_argument("--layers", type=int, default=d["layers"], help="hidden layers (models.DEFAULTS)")
        q.add_argument("--samplers", default=default_samplers,
                       help="comma-separated sampler names (fit uses the first)")
        q.add_argument("--steps", type=int, default=None, help="default 500 unless --seconds is given")
        q.add_argument("--seconds", type=float, default=None, help="training-time budget per run")
        q.add_argument("--target-psnr", type=float, default=None, help="dB; fit stops there")
        q.add_argument("--lr", type=float, default=None, help="default: the model's recommended lr")
        q.add_argument("--eval-every", type=int, default=None)
        q.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda[:k]")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--json", default=None, help="write the results (summarise's layout) here")
        q.add_argument("--out", default="results")
        q.add_argument("--quiet", action="store_true", help="no progress bar")
    f.add_argument("--save", action="store_true", help="save the model + History checkpoint in --out")
    f.add_argument("--distributed", action="store_true",
                   help="shard coordinates over torchrun's ranks (nccl on GPUs, gloo on CPU)")
    c.add_argument("--seeds", type=int, default=1, help="number of seeds (seed, seed+1, …)")
    c.add_argument("--stop-at-target", action="store_true", help="stop each run at --target-psnr")
    b = sub.add_parser("bench", help="benchmarks (ratios to one full-batch step)")
    b.add_argument("what", nargs="?", default="protocol", choices=["protocol", "ntk", "scale", "steps", "rank"],
                   help="protocol (default): the quick benchmark (400 steps, the low-target regime); "
                        "ntk, scale, steps, rank: micro-benchmarks (steps: one whole fit step per sampler, "
                        "× uniform and × full; rank: NINT's ranking variants and the cost model)")
    b.add_argument("--samplers", default=None, help="steps: comma-separated sampler names; rank: "
                   "comma-separated labels of nint_lite.lab.costs.VARIANTS (must include full and uniform)")
    b.add_argument("--steps-from", default=None, help="rank: a paper-length result JSON whose steps to "
                   "its top target feed the cost model (default: the committed paper_v3.json)")
    b.add_argument("--paper-length", action="store_true",
                   help="the pre-registered paper-length protocol (5,000 steps, protocols/v2.json; "
                        "43 min on 2 CPU cores); `bench` alone is the quick low-target view")
    b.add_argument("--protocol-file", default=None, help="--paper-length: another protocol file")
    b.add_argument("--workers", type=int, default=None,
                   help="--paper-length: single-thread processes side by side (default: the protocol's)")
    b.add_argument("--full", action="store_true", help="protocol: the paper's sizes (for a GPU)")
    b.add_argument("--protocol", default=None, choices=["cpu", "tiny", "full"],
                   help="protocol: which sizes (default cpu; tiny is a one-minute smoke run)")
    b.add_argument("--parts", default=None, help="protocol: comma-separated subset of "
                   "samplers,ablations,scale,modalities,cost")
    b.add_argument("--seeds", type=int, default=None, help="protocol: number of seeds (default 3)")
    b.add_argument("--threads", type=int, default=None,
                   help="torch threads (protocol default on CPU: 1, so ratios survive a shared machine)")
    b.add_argument("--out", default="results", help="protocol: folder for bench.json, bench.md, PNGs")
    b.add_argument("--sizes", default=None, help="image sides, comma separated (N = side²); "
                   "default 128,256 (ntk), 64,256,1024,2048 (scale), 64 (steps)")
    b.add_argument("--chunk-size", type=int, default=8192, help="scale: coordinates per chunk")
    b.add_argument("--hidden", type=int, default=d["hidden"], help="SIREN width (models.DEFAULTS)")
    b.add_argument("--layers", type=int, default=d["layers"], help="SIREN hidden layers (models.DEFAULTS)")
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--device", default="auto")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    b.add_argument("--json", default=None, help="also write the results as JSON here")
    b.add_argument("--quiet", action="store_true", help="protocol: no progress lines")
    return p


def main(argv=None) -> int:
    """Run the command line; returns the exit status (2 for bad input, with the reason on stderr)."""
    a = _parser().parse_args(argv)
    try:
        if a.cmd in ("fit", "compare") and a.steps is None and a.seconds is None:
            a.steps = 500
        return {"fit": cmd_fit, "compare": cmd_compare, "bench": cmd_bench}[a.cmd](a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
