"""Beyond the paper: other kernel scores for NINT's NTK set, and the study that tested them.

    scores.py       sender_scores, last_layer_matvec, adam_preconditioner, and the NINT scores
                    "sender", "leverage", "last_layer", "adam" (registered on import, so
                    make_sampler("nint", score="last_layer") works)
    experiments.py  the notebook-08 study: python -m nint_lite.beyond.experiments regenerates
                    notebooks/results/beyond.json and beyond2.json (imported on first use)

nint_lite imports this package, so the scores are there after `import nint_lite`.
Built in notebooks/08_beyond_the_paper.ipynb.
"""
import importlib

from .scores import adam_preconditioner, last_layer_matvec, sender_scores

__all__ = ["sender_scores", "last_layer_matvec", "adam_preconditioner"]


def __getattr__(name):  # nl.beyond.experiments, imported on first use (it pulls in the lab)
    if name != "experiments":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(f"{__name__}.experiments")
