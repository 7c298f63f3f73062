"""Command line: python -m nint_lite {fit,compare,bench} ...

fit        train one INR (any sampler) on a bundled signal or an image file; print PSNR over
           time and a final line; save target | reconstruction | error as a PNG (+ JSON)
compare    the same model and initial weights with several samplers; print a table of final
           PSNR, time and steps to each target (ratios to full batch); write JSON + a PNG plot
bench      the standard protocol (issue 8): every sampler, NINT ablations, network size,
           audio and 3D, cost of scoring -> results/bench.{json,md} + PNGs (--full: paper sizes)
bench ntk  time K·r (matvec) and the NTK diagonal against one full-batch step, and matvec's
           peak memory at two chunk sizes
bench scale  time and peak memory of one NINT scoring pass and one NINT step as N grows
fit --distributed  under torchrun: coordinates sharded over ranks (see README, "Scaling out")
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import models, signals
from .train import compare, fit, predict, summarise
from .train import resolve_device as train_resolve


_MESH_SUFFIXES = (".ply", ".obj", ".off", ".stl", ".glb", ".gltf")


def _load(signal: str, size, clip=1.0, resolution=64):
    """A bundled name or a file: images take --size, audio --clip seconds, meshes --resolution."""
    loader = signals.SAMPLES[signal][0] if signal in signals.SAMPLES else (
        signals.load_audio if signal.lower().endswith(".wav") else
        signals.load_shape if signal.lower().endswith(_MESH_SUFFIXES) else signals.load_image)
    kw = ({"size": size} if loader is signals.load_image else
          {"seconds": clip} if loader is signals.load_audio else {"resolution": resolution})
    if signal in signals.SAMPLES:
        return signals.sample_signal(signal, **kw)
    return loader(signal, **kw)


def _model_kw(a, sig) -> dict:
    """SIREN on audio needs a high first-layer frequency (SIREN's paper: 3000)."""
    if a.model != "siren":
        return {}
    w0 = a.first_w0 or (3000.0 if sig.kind == "audio" else None)
    return {"first_w0": w0} if w0 else {}


def _targets(a):
    return [a.target_psnr] if a.target_psnr else [25.0, 30.0]


def _write_json(res, path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")


def cmd_fit(a) -> int:
    if a.distributed:
        return cmd_fit_distributed(a)
    sig = _load(a.signal, a.size, a.clip, a.resolution)
    model = models.make_model(a.model, sig.in_features, sig.channels, a.hidden, a.layers, seed=a.seed,
                              **_model_kw(a, sig))
    lr = a.lr or models.RECOMMENDED_LR[a.model]
    sampler = a.samplers.split(",")[0]
    budget = " and ".join(b for b in (a.steps and f"{a.steps} steps", a.seconds and f"{a.seconds:g} s") if b)
    print(f"fitting {a.model} {a.layers}x{a.hidden} to {sig.name} {sig.shape} "
          f"(N={sig.n}, C={sig.channels}), sampler {sampler}, Adam lr={lr:g}, {budget}, "
          f"{os.cpu_count()} CPU cores")
    t0 = time.perf_counter()
    h = fit(model, sig, sampler, steps=a.steps, seconds=a.seconds, lr=lr, target_psnr=a.target_psnr,
            eval_every=a.eval_every or (max(1, a.steps // 10) if a.steps else None),
            device=a.device, seed=a.seed, progress=not a.quiet,
            save_to=Path(a.out) / f"fit_{sig.name}_{a.model}_{sampler}.pt" if a.save else None)
    wall = time.perf_counter() - t0
    extra = next(iter(h.metrics), None)  # si_snr for audio, iou for shapes
    print(f"{'step':>6} {'train s':>8} {'PSNR dB':>8}" + (f" {extra:>8}" if extra else ""))
    for i, (s, t, p) in enumerate(zip(h.steps, h.train_seconds, h.psnr)):
        print(f"{s:>6d} {t:>8.1f} {p:>8.2f}" + (f" {h.metrics[extra][i]:>8.3f}" if extra else ""))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"fit_{sig.name}_{a.model}_{sampler}.png"
    if sig.kind == "image":
        from .plots import reconstruction
        fig = reconstruction(sig, predict(model, sig.coords.to(next(model.parameters()).device)).cpu(),
                             f"{a.model} {a.layers}x{a.hidden}, {sampler}, {h.final['steps']} steps")
        fig.savefig(png, dpi=100)
    if a.json:
        _write_json(summarise(sig, {"name": a.model, "hidden": a.hidden, "layers": a.layers, "lr": lr},
                              {sampler: [h]}, [a.seed], _targets(a),
                              {"steps": a.steps, "seconds": a.seconds, "ratio": 0.2}, a.device if a.device != "auto" else next(model.parameters()).device), a.json)
    ssim = f", SSIM {h.final['ssim']:.3f}" if "ssim" in h.final else ""
    ssim += f", {extra} {h.final[extra]:.3f}" if extra else ""
    print(f"final: PSNR {h.final['psnr']:.2f} dB{ssim} after {h.final['steps']} steps, "
          f"{h.final['train_seconds']:.1f} s training + {h.eval_seconds:.1f} s evaluation "
          f"({wall:.1f} s wall)" + (f"; figure: {png}" if sig.kind == "image" else ""))
    return 0


def cmd_fit_distributed(a) -> int:
    """fit under torchrun: every rank runs this; rank 0 prints."""
    from . import distributed
    if a.seconds is not None or a.target_psnr is not None:
        raise ValueError("--distributed takes a number of --steps (not --seconds or --target-psnr)")
    ctx = distributed.init()
    try:
        sig = _load(a.signal, a.size)
        model = models.make_model(a.model, sig.in_features, sig.channels, a.hidden, a.layers, seed=a.seed)
        lr = a.lr or models.RECOMMENDED_LR[a.model]
        sampler = a.samplers.split(",")[0]
        if ctx.rank == 0:
            print(f"fitting {a.model} {a.layers}x{a.hidden} to {sig.name} {sig.shape} (N={sig.n}), "
                  f"sampler {sampler}, {a.steps} steps, {ctx.world} ranks on {ctx.device}")
        h = distributed.fit(model, sig, a.steps, lr=lr, seed=a.seed, sampler=sampler,
                            eval_every=a.eval_every, device=ctx.device)
        if ctx.rank == 0:
            print(f"{'step':>6} {'train s':>8} {'PSNR dB':>8}")
            for s, t, p in zip(h.steps, h.train_seconds, h.psnr):
                print(f"{s:>6d} {t:>8.1f} {p:>8.2f}")
            print(f"final: PSNR {h.final['psnr']:.2f} dB after {h.final['steps']} steps, "
                  f"{h.final['train_seconds']:.1f} s training on {ctx.world} ranks")
            if a.save:
                from .train import save_checkpoint
                Path(a.out).mkdir(parents=True, exist_ok=True)
                save_checkpoint(Path(a.out) / f"fit_{sig.name}_{a.model}_{sampler}_x{ctx.world}.pt", model, h)
    finally:
        distributed.shutdown()
    return 0


def cmd_compare(a) -> int:
    sig = _load(a.signal, a.size, a.clip, a.resolution)
    names = a.samplers.split(",")
    seeds = list(range(a.seed, a.seed + a.seeds))
    targets = _targets(a)
    print(f"comparing {', '.join(names)} on {sig.name} {sig.shape}: {a.model} {a.layers}x{a.hidden}, "
          f"ratio 0.2, seeds {seeds}, same initial weights per seed")
    res, runs = compare(sig, names, model=a.model, hidden=a.hidden, layers=a.layers, steps=a.steps,
                        seconds=a.seconds, lr=a.lr, targets=targets, seeds=seeds, device=a.device,
                        progress=not a.quiet, stop_at_target=a.stop_at_target,
                        eval_every=a.eval_every, save_dir=a.out, model_kw=_model_kw(a, sig))
    ref = res["samplers"].get("full")
    head = f"{'sampler':<10} {'PSNR':>6} {'train s':>8} {'steps':>6}"
    for t in targets:
        head += f" {'s to ' + format(t, 'g') + ' dB':>12} {'vs full':>8}"
    print(head)
    for n, r in res["samplers"].items():
        line = f"{n:<10} {r['final_psnr']:>6.2f} {r['train_seconds']:>8.1f} {r['steps']:>6d}"
        for t in targets:
            tt = r["time_to"][str(t)]
            rt = ref["time_to"][str(t)] if ref else None
            line += f" {tt:>12.1f}" if tt is not None else f" {'not reached':>12}"
            line += f" {tt / rt:>8.2f}" if tt is not None and rt else f" {'—':>8}"
        print(line)
    print(f"(medians over {len(seeds)} seed(s); training time only, evaluation excluded; "
          f"load average {res['machine']['load_avg']})")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(res, a.json or out / f"compare_{sig.name}.json")
    from .plots import training_curves
    fig = training_curves({n: hs[0] for n, hs in runs.items()}, title=f"{sig.name} {sig.shape}, seed {seeds[0]}")
    fig.savefig(out / f"compare_{sig.name}.png", dpi=100)
    print(f"wrote {out / f'compare_{sig.name}.png'} and reconstruction_{sig.name}_<sampler>.png")
    return 0


def cmd_protocol(a) -> int:
    import torch

    from . import protocol
    name = "full" if a.full else (a.protocol or "cpu")
    dev = a.device
    if a.threads or (torch.device(train_resolve(dev)).type == "cpu"):
        torch.set_num_threads(a.threads or 1)
    parts = tuple(a.parts.split(",")) if a.parts else protocol.PARTS
    seeds = tuple(range(a.seeds)) if a.seeds else None
    print(f"benchmark protocol {name!r}: parts {', '.join(parts)}; {torch.get_num_threads()} torch "
          f"thread(s); see nint_lite/protocol.py for the sizes", flush=True)
    res = protocol.run(name, parts=parts, seeds=seeds, device=dev, progress=not a.quiet)
    print(protocol.markdown(res))
    for path in protocol.save(res, a.out):
        print(f"wrote {path}")
    return 0


def cmd_bench(a) -> int:
    from . import bench
    if a.what == "protocol":
        return cmd_protocol(a)
    if a.what == "scale":
        sizes = tuple(int(v) for v in (a.sizes or "64,256,1024,2048").split(","))
        res = bench.bench_scale(sizes=sizes, hidden=a.hidden, layers=a.layers, chunk_size=a.chunk_size)
        if a.json:
            bench.save_json(res, a.json)
            print(f"wrote {a.json}")
        return 0
    sizes = tuple(int(v) for v in (a.sizes or "128,256").split(","))
    res = bench.bench_ntk(sizes=sizes, hidden=a.hidden, layers=a.layers, repeats=a.repeats,
                          device=a.device, memory=not a.no_memory)
    if a.json:
        bench.save_json(res, a.json)
        print(f"wrote {a.json}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nint_lite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit one INR and save a reconstruction PNG")
    c = sub.add_parser("compare", help="several samplers, same model and initial weights")
    for q, default_samplers in ((f, "full"), (c, "full,uniform,int,nint")):
        # --input: the same option under torchrun, whose own parser takes --signal for a
        # prefix of its --signals-to-handle and stops ("ambiguous option")
        q.add_argument("--signal", "--input", dest="signal", default="image",
                       help=f"bundled name ({', '.join(signals.SAMPLES)}) or an image path")
        q.add_argument("--size", type=int, default=128, help="images: resize to SIZE x SIZE (centre crop)")
        q.add_argument("--clip", type=float, default=1.0, help="audio: seconds of the clip to fit")
        q.add_argument("--resolution", type=int, default=64, help="shapes: grid nodes per side")
        q.add_argument("--first-w0", type=float, default=None,
                       help="SIREN's first-layer frequency (default 30; 3000 for audio)")
        q.add_argument("--model", default="siren", choices=sorted(models.MODELS))
        q.add_argument("--hidden", type=int, default=128)
        q.add_argument("--layers", type=int, default=3)
        q.add_argument("--samplers", default=default_samplers,
                       help="comma-separated sampler names (fit uses the first)")
        q.add_argument("--steps", type=int, default=None)
        q.add_argument("--seconds", type=float, default=None, help="training-time budget per run")
        q.add_argument("--target-psnr", type=float, default=None, help="dB; fit stops there")
        q.add_argument("--lr", type=float, default=None, help="default: the model's recommended lr")
        q.add_argument("--eval-every", type=int, default=None)
        q.add_argument("--device", default="auto")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--json", default=None, help="write results in the JSON layout here")
        q.add_argument("--out", default="results")
        q.add_argument("--quiet", action="store_true", help="no progress bar")
    f.add_argument("--save", action="store_true", help="save the model + History checkpoint in --out")
    f.add_argument("--distributed", action="store_true",
                   help="shard coordinates over torchrun's ranks (nccl on GPUs, gloo on CPU)")
    c.add_argument("--seeds", type=int, default=1, help="number of seeds (seed, seed+1, …)")
    c.add_argument("--stop-at-target", action="store_true", help="stop each run at --target-psnr")
    b = sub.add_parser("bench", help="benchmarks (ratios to one full-batch step)")
    b.add_argument("what", nargs="?", default="protocol", choices=["protocol", "ntk", "scale"],
                   help="protocol (default): the standard benchmark; ntk, scale: micro-benchmarks")
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
                   "default 128,256 (ntk), 64,256,1024,2048 (scale)")
    b.add_argument("--chunk-size", type=int, default=8192, help="scale: coordinates per chunk")
    b.add_argument("--hidden", type=int, default=128)
    b.add_argument("--layers", type=int, default=3)
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--device", default="auto")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    b.add_argument("--json", default=None, help="also write the results as JSON here")
    b.add_argument("--quiet", action="store_true", help="protocol: no progress lines")
    a = p.parse_args(argv)
    try:
        if a.cmd in ("fit", "compare") and a.steps is None and a.seconds is None:
            a.steps = 500
        return {"fit": cmd_fit, "compare": cmd_compare, "bench": cmd_bench}[a.cmd](a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
