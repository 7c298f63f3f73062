"""`make gpu-check SMOKE=1`: the GPU check's script end to end at tiny sizes, on any machine.

The smoke run goes through every part's code (on a CPU the GPU tests all skip, which counts as
ok, and the distributed fit uses gloo) and must finish in under a minute; a tiny budget must
skip parts with a reason instead of running past it.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["tests", "notebooks", "protocol", "bench", "rank", "scale", "distributed"]


def _gpu_check(out, *args, timeout=120):
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "nint_lite.lab.gpu_check", "--smoke", "--out", str(out), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return p, time.perf_counter() - t0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu")
    p, seconds = _gpu_check(out)
    return p, seconds, out


def test_the_smoke_run_ends_by_itself_in_under_a_minute(smoke):
    p, seconds, out = smoke
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    if not torch.cuda.is_available():  # with CUDA, part a runs the GPU tests for real
        assert seconds < 60, f"the smoke run took {seconds:.0f} s"
    assert p.stdout.count("[gpu-check") >= 2 * len(PARTS)  # a line as each part starts and ends


def test_the_smoke_run_writes_a_status_and_reason_per_part(smoke):
    p, _, out = smoke
    report = json.loads((out / "gpu_check.json").read_text())
    assert list(report["parts"]) == PARTS and report["status"] == "ok"
    assert report["machine"]["precision"] == "fp32"
    for name, part in report["parts"].items():
        assert part["status"] in ("ok", "skipped"), (name, part["reason"], part.get("traceback"))
        assert part["status"] == "ok" or part["reason"], name
        assert part["seconds"] <= part["slot_s"] + 15, name  # a slot is kept (+ start-up slack)
    parts = report["parts"]
    if not report["machine"].get("gpu"):  # no CUDA: every GPU test is collected, then skipped
        tests = parts["tests"]["result"]
        assert tests["skipped"] > 0 and tests["passed"] == tests["failed"] == tests["errors"] == 0
    assert set(parts["protocol"]["result"]["table"]["summary"]) == {
        "full", "uniform", "int", "nint", "egra", "soft", "evos", "expansive"}
    md = (out / "gpu_check.md").read_text()
    assert "Table 4.3" in md and all(f"## {name}" in md for name in PARTS)


def test_a_tiny_budget_skips_with_reasons_instead_of_overrunning(tmp_path):
    p, seconds = _gpu_check(tmp_path, "--budget", "2", timeout=60)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert all(part["status"] == "skipped" and part["reason"] for part in report["parts"].values())
    assert report["seconds"] < 4
