"""Packaging: a wheel built from the sources carries the bundled data (and no cached shape grids),
installs outside the checkout and loads nl.sample_signal("camera") there; importing the core and
nint_lite.shapes loads none of the heavy optional libraries. About 15 s, most of it the build."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "skimage", "scipy", "trimesh", "igl", "PIL")


def _run(args, cwd, env=None, timeout=180):
    """Run a command; on failure, fail the test with its output."""
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def test_importing_core_and_shapes_loads_nothing_heavy():
    code = ("import sys, nint_lite.signals, nint_lite.metrics, nint_lite.plots, nint_lite.shapes; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert _run([sys.executable, "-c", code], cwd=ROOT, timeout=120).strip() == "[]"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel` builds from a copy of the sources (so no build/ folder, stale or new,
    lands in the checkout), with a cached grid planted in data/ that must stay out of it."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("building needs setuptools>=77 (pip install 'nint_lite[dev]')")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("nint_lite", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "data" / "shapes" / "bunny.sdf-8.cache.npz").write_bytes(b"a cached grid")
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
          "--quiet", "-w", str(out)], cwd=src)
    (whl,) = out.glob("nint_lite-*.whl")
    return whl


def test_wheel_carries_every_subpackage_and_the_data_but_no_caches(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "nint_lite").rglob("__init__.py")
                if "__pycache__" not in p.parts]
    assert "nint_lite/shapes" in packages
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    data = [p.relative_to(ROOT / "data").as_posix() for p in (ROOT / "data").rglob("*")
            if p.is_file() and not p.name.endswith(".cache.npz")]
    assert "images/camera.png" in data and "README.md" in data and "audio/COPYING" in data
    assert not [f for f in data if f"nint_lite/data/{f}" not in names]
    assert not [n for n in names if n.endswith(".cache.npz")]
    protocols = [p.name for p in (ROOT / "nint_lite" / "lab" / "protocols").glob("*.json")]
    assert "v2.json" in protocols  # the pre-registered benchmark protocols travel with the code
    assert not [f for f in protocols if f"nint_lite/lab/protocols/{f}" not in names]


def test_installed_wheel_loads_bundled_signals_outside_the_checkout(wheel, tmp_path):
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
          str(wheel)], cwd=elsewhere)
    env = {k: v for k, v in os.environ.items() if k != "NINT_LITE_DATA"}
    env["PYTHONPATH"] = str(target)  # first on sys.path: the checkout's nint_lite is not used
    code = f"""
from pathlib import Path
import nint_lite as nl
here = Path(nl.__file__).resolve().parent
assert here == Path({str(target)!r}).resolve() / "nint_lite", here
assert nl.signals.data_dir() == here / "data", nl.signals.data_dir()
sig = nl.sample_signal("camera", size=16)
assert sig.shape == (16, 16) and sig.channels == 1, sig
assert nl.sample_signal("audio", seconds=0.1).n == 1600
print("ok")
"""
    assert _run([sys.executable, "-c", code], cwd=elsewhere, env=env).strip() == "ok"
