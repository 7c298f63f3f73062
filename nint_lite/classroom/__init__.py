"""Classroom extras: nbgrader metadata, student copies, the hand-built module, the exercise
self-checks and the widgets.

Used by `make student` (notebooks/ -> notebooks/student/) and, through nl.checks and nl.widgets,
by the exercises of notebooks 01–08 and the explorers of notebooks/03_kernel_leverage.ipynb.

    nint_lite.classroom            mark, student_notebook, export_saved, generate (this file)
    nint_lite.classroom.checks     nl.checks: one self-check per exercise (nb01.py … nb08.py)
    nint_lite.classroom.widgets    nl.widgets: ipywidgets explorers over nint_lite.plots

One source, two copies. In the instructor notebooks
- an exercise is a code cell with a `### BEGIN SOLUTION` … `### END SOLUTION` region, followed
  by its check cell (a cell that calls `checks.`); the check is worth one point;
- an instructor answer to a discussion question is a markdown cell with a
  `<!-- BEGIN SOLUTION -->` … `<!-- END SOLUTION -->` region (ungraded: 0 points);
- the first code cell (setup) and the markdown cell just before each exercise are locked.
`mark` writes exactly that as nbgrader cell metadata (schema 3), so `nbgrader generate_assignment`
and `nbgrader autograde` work on the instructor notebooks. `student_notebook` does what nbgrader's
generate_assignment does, with no nbgrader installed: every solution region becomes CODE_STUB
(code) or TEXT_STUB (markdown), at the region's indentation, and every output is cleared. Give
nbgrader the same stub (NBGRADER_CONFIG) and both produce the same cells, metadata aside.

Code cells whose first line is `# @save` (notebook 04's hand-built NINT selection) are collected,
in notebook order, into nint_by_hand.py beside the notebooks and beside the student copies, so
notebook 05 imports the pieces 04 wrote instead of writing them twice (d2l's `#@save`).

    python -m nint_lite.classroom notebooks notebooks/student     (what `make student` runs)

Nothing heavy is imported here: nbformat is imported by `generate`, ipywidgets and matplotlib
by the widget builders, so `import nint_lite.classroom.checks` costs only the core.
"""
from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

__all__ = ["mark", "strip_solutions", "student_notebook", "export_saved", "generate",
           "CODE_STUB", "TEXT_STUB", "NBGRADER_CONFIG", "SAVED_MODULE"]

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"        # matched anywhere in a line, as nbgrader does
CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("Student exercise: replace this line with your code")'
TEXT_STUB = "YOUR ANSWER HERE"
NBGRADER_CONFIG = ("c = get_config()  # noqa\n"
                   f"c.ClearSolutions.code_stub = {{'python': {CODE_STUB!r}}}\n"
                   f"c.ClearSolutions.text_stub = {TEXT_STUB!r}\n")
SAVED_MODULE = "nint_by_hand.py"
SAVE_MARK = "# @save"


def __getattr__(name):
    # nint_lite.classroom.checks / .widgets on first use, without importing them up front
    if name in ("checks", "widgets"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def strip_solutions(source: str, stub: str = CODE_STUB) -> str:
    """Replace each solution region of a cell's source by `stub`, each stub line indented as the
    region's BEGIN line (nbgrader's ClearSolutions, line for line). ValueError if unmatched."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            if inside:
                raise ValueError(f"nested solution fence in cell:\n{source[:300]}")
            inside = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + s for s in stub.split("\n")]
        elif END in line:
            if not inside:
                raise ValueError(f"unmatched solution fence in cell:\n{source[:300]}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"unmatched solution fence in cell:\n{source[:300]}")
    return "\n".join(out)


def _is_exercise(cell) -> bool:
    return BEGIN in cell.source


def _meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
         "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return m


def mark(nb, prefix: str):
    """nb with nbgrader cell metadata (a copy; nb is not changed), grade ids `prefix`-ex1, …:
    exercise cells are solution cells, the check cell after each is an autograded test worth 1
    point, answer cells are manually graded answers worth 0, the setup cell and each exercise's
    statement are locked. Any other `nbgrader` metadata is removed. ValueError when an exercise is
    not followed by a check cell."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    for c in cells:
        c.metadata.pop("nbgrader", None)
    setup = next((i for i, c in enumerate(cells) if c.cell_type == "code"), None)
    n_ex = n_ans = 0
    for i, c in enumerate(cells):
        if not _is_exercise(c):
            continue
        if c.cell_type == "markdown":
            n_ans += 1
            c.metadata["nbgrader"] = _meta(f"{prefix}-answer{n_ans}", solution=True, grade=True, points=0)
            continue
        n_ex += 1
        nxt = cells[i + 1] if i + 1 < len(cells) else None
        if nxt is None or nxt.cell_type != "code" or "checks." not in nxt.source or _is_exercise(nxt):
            raise ValueError(f"exercise {n_ex} of {prefix} (cell {i}) is not followed by its check cell "
                             f"(a code cell that calls checks.):\n{c.source[:300]}")
        c.metadata["nbgrader"] = _meta(f"{prefix}-ex{n_ex}", solution=True)
        nxt.metadata["nbgrader"] = _meta(f"{prefix}-ex{n_ex}-check", grade=True, locked=True, points=1)
        if i > 0 and cells[i - 1].cell_type == "markdown" and not _is_exercise(cells[i - 1]):
            cells[i - 1].metadata["nbgrader"] = _meta(f"{prefix}-ex{n_ex}-statement", locked=True)
    if n_ex and setup is not None and "nbgrader" not in cells[setup].metadata:
        cells[setup].metadata["nbgrader"] = _meta(f"{prefix}-setup", locked=True)
    return nb


def student_notebook(nb):
    """The student version of a notebook (a copy; nb is not changed): solution regions replaced
    by CODE_STUB / TEXT_STUB and every output and execution count cleared, as nbgrader's
    generate_assignment does, and the saved widget state dropped (it is the instructor copy's
    output: the kernel-free explorers' frames)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if _is_exercise(cell) or END in cell.source:
            cell.source = strip_solutions(cell.source, CODE_STUB if cell.cell_type == "code" else TEXT_STUB)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def export_saved(notebooks) -> str:
    """The source of nint_by_hand.py: every code cell whose first line is `# @save`, from the
    notebooks (nbformat objects with their file names: [(name, nb), …]) in order."""
    parts = []
    for name, nb in notebooks:
        for c in nb.cells:
            if c.cell_type == "code" and c.source.startswith(SAVE_MARK):
                if _is_exercise(c):
                    raise ValueError(f"a `# @save` cell of {name} holds an exercise; saved code must be complete")
                parts.append(f"# ---- from notebooks/{name}\n" + c.source.split("\n", 1)[1].strip() + "\n")
    if not parts:
        return ""
    head = ('"""NINT\'s pieces as the notebooks build them by hand: the `# @save` cells, in order.\n\n'
            "Generated by `make student` (python -m nint_lite.classroom); do not edit: edit the notebook.\n"
            '"""\n')
    return head + "\n\n".join(parts)


def generate(src_dir, dst_dir, only=None) -> list[Path]:
    """Mark every src_dir/*.ipynb (or, with only="04", the notebooks whose name starts with it) for nbgrader (in place, metadata only), write the student copy
    dst_dir/NN_*.ipynb of each that has exercises, and nint_by_hand.py into both folders when
    some cell is saved. Returns the paths written under dst_dir. FileNotFoundError if src_dir is
    not a directory."""
    import nbformat

    if not Path(src_dir).is_dir():
        raise FileNotFoundError(f"src_dir {str(src_dir)!r} is not a directory of notebooks")
    written, read = [], []
    for path in sorted(Path(src_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        read.append((path.name, nb))
        if only is not None and not path.name.startswith(only):
            continue
        if not any(_is_exercise(c) for c in nb.cells):
            continue
        marked = mark(nb, path.stem.split("_")[0])
        if marked != nb:
            nbformat.write(marked, path)
        Path(dst_dir).mkdir(parents=True, exist_ok=True)
        nbformat.write(student_notebook(marked), Path(dst_dir) / path.name)
        written.append(Path(dst_dir) / path.name)
    saved = export_saved(read)
    # with `only`, rewrite the module only when one of those notebooks contributes to it
    contributes = any(c.source.startswith(SAVE_MARK) for n, nb in read if n.startswith(only or "") for c in nb.cells)
    if saved and contributes:
        for folder in (Path(src_dir), Path(dst_dir)):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / SAVED_MODULE).write_text(saved)
        written.append(Path(dst_dir) / SAVED_MODULE)
    return written
