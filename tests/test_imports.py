"""The package's shape: no import cycle between any two modules, the core never imports an
extra (a subpackage), and `import nint_lite` loads none of the heavy optional libraries."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "nint_lite"
HEAVY = ("matplotlib", "ipywidgets", "skimage", "scipy", "trimesh", "igl", "tqdm", "nbformat")


def _modules() -> dict:
    """{dotted module name: path} for every nint_lite/**/*.py (a package is its __init__)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict) -> set:
    """The nint_lite modules that `name` imports anywhere in its file (inside functions too),
    relative imports resolved; `from pkg import x` counts pkg.x when x is a module, else pkg."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import nint_lite.lab.cli` -> that module
                t = t.rpartition(".")[0]
            if t.startswith("nint_lite") and t != name:
                found.add(t)
    return found


def _graph() -> dict:
    modules = _modules()
    # the facade may import anything: it is never a source of edges
    return {m: _imports(m, p, modules) for m, p in modules.items() if m != "nint_lite"}


def test_the_graph_sees_relative_and_function_level_imports():
    g = _graph()
    assert "nint_lite.lab.compare" in g["nint_lite.lab.protocol"]          # from .compare import …
    assert "nint_lite.samplers" in g["nint_lite.beyond.scores"]            # from ..samplers import …
    assert "nint_lite.lab.distributed" in g["nint_lite.lab.cli"]           # from . import distributed (in a function)


def test_no_import_cycle():
    g = _graph()
    state, stack = {}, []

    def visit(m):  # depth-first search; a grey node reached again closes a cycle
        state[m] = "grey"
        stack.append(m)
        for n in sorted(g.get(m, ())):
            if state.get(n) == "grey":
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "black"

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_the_core_imports_no_subpackage():
    g = _graph()
    subpackages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    core = [m for m in g if m.count(".") == 1 and m.split(".")[1] not in subpackages]
    assert "nint_lite.train" in core and "nint_lite.lab" not in core
    # __main__ is the command line's entry point: three lines that call nint_lite.lab.cli
    bad = {m: sorted(t for t in g[m] if t.count(".") >= 1 and t.split(".")[1] in subpackages)
           for m in core if m != "nint_lite.__main__"}
    assert not {m: t for m, t in bad.items() if t}, "core modules importing extras"
    assert g["nint_lite.__main__"] == {"nint_lite.lab.cli"}


def test_import_nint_lite_loads_no_heavy_library():
    # torch itself loads some of these (torch.hub imports tqdm): only what nint_lite adds counts
    code = ("import sys, torch; before = set(sys.modules); import nint_lite; "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            f"print(sorted(new & set({HEAVY!r})))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", f"import nint_lite loaded {p.stdout.strip()}"
