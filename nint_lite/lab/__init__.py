"""The lab around the core: comparisons, the benchmark protocol, micro-benchmarks, several processes, the CLI.

    compare.py      compare(...) -> Comparison(table, runs); summarise: the one JSON result layout
    protocol.py     the standard benchmark (python -m nint_lite bench) and its reports
    bench.py        micro-benchmarks: K·r vs one step (bench ntk), NINT as N grows (bench scale)
    distributed.py  NINT with coordinates sharded over torch.distributed ranks (fit --distributed)
    cli.py          python -m nint_lite {fit,compare,bench}
    gpu_check.py    make gpu-check: the one prepared GPU script (tests, notebooks, paper-size runs)

Each module is imported on first use (nint_lite.lab.protocol, or nl.lab.protocol after
`import nint_lite as nl`); the core never imports the lab.
Built in notebooks/05_nint_trainer.ipynb (compare) and notebooks/07_benchmark.ipynb (the benchmark).
"""
import importlib

_MODULES = ("bench", "cli", "compare", "distributed", "gpu_check", "protocol")


def __getattr__(name):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(f"{__name__}.{name}")
