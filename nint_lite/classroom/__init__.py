"""Classroom extras: student copies of the notebooks, the exercise self-checks and the widgets.

Used by `make student` (notebooks/ -> notebooks/student/) and, through nl.checks and nl.widgets,
by the exercises of notebooks 01–08 and the explorers of notebooks/03_kernel_leverage.ipynb.

    nint_lite.classroom            strip_solutions, student_notebook, generate (this file)
    nint_lite.classroom.checks     nl.checks: one self-check per exercise
    nint_lite.classroom.widgets    nl.widgets: ipywidgets explorers over nint_lite.plots

Student copies: every `### BEGIN SOLUTION` … `### END SOLUTION` block becomes `# YOUR CODE HERE`
and `raise NotImplementedError("Student exercise: …")` at the block's indentation; the outputs
and execution counts of the exercise cells and of their check cells are cleared; everything else
(prose, figures, other outputs) is kept. The fences are nbgrader's, so nbgrader's
`generate_assignment` works on the instructor notebooks too.

    python -m nint_lite.classroom notebooks notebooks/student     (what `make student` runs)

Nothing heavy is imported here: nbformat is imported by `generate`, ipywidgets and matplotlib
by the widget builders, so `import nint_lite.classroom.checks` costs only the core.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

__all__ = ["strip_solutions", "student_notebook", "generate"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
_FENCE = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*", re.M | re.S)
_DEF = re.compile(r"^[ \t]*def (\w+)\(", re.M)


def __getattr__(name):
    # nint_lite.classroom.checks / .widgets on first use, without importing them up front
    if name in ("checks", "widgets"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def strip_solutions(source: str) -> str:
    """Replace each solution block of a cell's source by a stub that raises, indentation kept."""
    def stub(m):
        defs = _DEF.findall(source[:m.start()])
        what = f"implement {defs[-1]}" if defs else "fill in this cell"
        return f'{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError("Student exercise: {what}")'
    out = _FENCE.sub(stub, source)
    if BEGIN in out or END in out:
        raise ValueError(f"unmatched solution fence in cell:\n{source[:300]}")
    return out


def _clear(cell):
    cell.outputs, cell.execution_count = [], None


def student_notebook(nb):
    """The student version of a notebook (a copy; nb is not changed). Cells that call `checks.`
    right after an exercise cell are its check cells."""
    import copy
    nb = copy.deepcopy(nb)
    after_exercise = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if BEGIN in cell.source or END in cell.source:
            cell.source = strip_solutions(cell.source)
            _clear(cell)
            after_exercise = True
        elif after_exercise and "checks." in cell.source:
            _clear(cell)
        else:
            after_exercise = False
    return nb


def generate(src_dir, dst_dir) -> list[Path]:
    """Write dst_dir/NN_*.ipynb for every src_dir/*.ipynb that has solution fences; returns the
    paths written. FileNotFoundError if src_dir is not a directory."""
    import nbformat

    if not Path(src_dir).is_dir():
        raise FileNotFoundError(f"src_dir {str(src_dir)!r} is not a directory of notebooks")
    written = []
    for path in sorted(Path(src_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not any(c.cell_type == "code" and BEGIN in c.source for c in nb.cells):
            continue
        Path(dst_dir).mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(nb), Path(dst_dir) / path.name)
        written.append(Path(dst_dir) / path.name)
    return written
