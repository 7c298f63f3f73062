"""pytest set-up shared by unit tests and nbval notebook runs."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collectstart(collector):
    # nbval: never compare stderr (progress bars, warnings) — only what a cell asserts or prints.
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript",
                                   "application/vnd.jupyter.widget-view+json")
