"""Command line: python -m nint_lite {fit,bench} ...

fit        train one INR on a bundled signal (or an image file), print PSNR over time and a
           final line, save target | reconstruction | error as a PNG
bench ntk  time K·r (matvec) and the NTK diagonal against one full-batch step, and matvec's
           peak memory at two chunk sizes
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import models, signals
from .train import fit, predict


def _load(signal: str, size):
    if signal in signals.SAMPLES:
        return signals.sample_signal(signal, size=size)
    return signals.load_image(signal, size=size)


def cmd_fit(a) -> int:
    sig = _load(a.signal, a.size)
    model = models.make_model(a.model, sig.in_features, sig.channels, a.hidden, a.layers, seed=a.seed)
    lr = a.lr or models.RECOMMENDED_LR[a.model]
    print(f"fitting {a.model} {a.layers}x{a.hidden} to {sig.name} {sig.shape} "
          f"(N={sig.n}, C={sig.channels}), full batch, Adam lr={lr:g}, {a.steps} steps, "
          f"{os.cpu_count()} CPU cores")
    t0 = time.perf_counter()
    h = fit(model, sig, steps=a.steps, lr=lr, eval_every=a.eval_every or max(1, a.steps // 10),
            device=a.device, seed=a.seed, progress=not a.quiet)
    wall = time.perf_counter() - t0
    print(f"{'step':>6} {'train s':>8} {'PSNR dB':>8}")
    for s, t, p in zip(h.steps, h.train_seconds, h.psnr):
        print(f"{s:>6d} {t:>8.1f} {p:>8.2f}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"fit_{sig.name}_{a.model}.png"
    if sig.kind == "image":
        from .plots import reconstruction
        fig = reconstruction(sig, predict(model, sig.coords.to(next(model.parameters()).device)).cpu(),
                             f"{a.model} {a.layers}x{a.hidden}, {a.steps} steps")
        fig.savefig(png, dpi=100)
    ssim = f", SSIM {h.final['ssim']:.3f}" if "ssim" in h.final else ""
    print(f"final: PSNR {h.final['psnr']:.2f} dB{ssim} after {h.final['steps']} steps, "
          f"{h.final['train_seconds']:.1f} s training + {h.eval_seconds:.1f} s evaluation "
          f"({wall:.1f} s wall); figure: {png}")
    return 0


def cmd_bench(a) -> int:
    from . import bench
    sizes = tuple(int(v) for v in a.sizes.split(","))
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
    f.add_argument("--signal", default="image",
                   help=f"bundled name ({', '.join(signals.SAMPLES)}) or an image path")
    f.add_argument("--size", type=int, default=128, help="resize to SIZE x SIZE (centre crop)")
    f.add_argument("--model", default="siren", choices=sorted(models.MODELS))
    f.add_argument("--hidden", type=int, default=128)
    f.add_argument("--layers", type=int, default=3)
    f.add_argument("--steps", type=int, default=500)
    f.add_argument("--lr", type=float, default=None, help="default: the model's recommended lr")
    f.add_argument("--eval-every", type=int, default=None)
    f.add_argument("--device", default="auto")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", default="results")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    b = sub.add_parser("bench", help="benchmarks (ratios to one full-batch step)")
    b.add_argument("what", choices=["ntk"])
    b.add_argument("--sizes", default="128,256", help="image sides, comma separated (N = side²)")
    b.add_argument("--hidden", type=int, default=128)
    b.add_argument("--layers", type=int, default=3)
    b.add_argument("--repeats", type=int, default=5)
    b.add_argument("--device", default="auto")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    b.add_argument("--json", default=None, help="also write the results as JSON here")
    a = p.parse_args(argv)
    try:
        return {"fit": cmd_fit, "bench": cmd_bench}[a.cmd](a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
