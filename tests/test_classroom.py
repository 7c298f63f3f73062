"""Classroom: nbgrader metadata and student copies (nint_lite.classroom).

(a) the generator on a small synthetic notebook: nbgrader cell metadata, stubs exactly as
    nbgrader's ClearSolutions writes them, outputs cleared, nint_by_hand.py from `# @save` cells;
(b) the committed instructor metadata, student copies and nint_by_hand.py are up to date, with
    2–4 exercises in each of 01–08;
(c) every student notebook, run from notebooks/student/ as Jupyter runs it, raises
    NotImplementedError at its first exercise (or that exercise's check cell) and nowhere earlier;
    00, which has no exercise, runs to the end (NINT_LITE_SKIP_STUDENT_RUN=1 skips this, ~3 min);
(d) every check is tested in tests/test_checks_nbNN.py, and no two notebooks' checks share a name.
The nbgrader round trip itself is tests/test_nbgrader.py.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nint_lite import classroom
from nint_lite.classroom import checks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS, STUDENT = ROOT / "notebooks", ROOT / "notebooks" / "student"
STUDENT_NBS = sorted(STUDENT.glob("*.ipynb"))

# --------------------------------------------------------------------------- (a) the generator

EXERCISE = '''import math


def f(a, b):
    """doc"""
    ### BEGIN SOLUTION
    s = a + b
    return s
    ### END SOLUTION


class Box:
    def area(self):
        if True:
            ### BEGIN SOLUTION
            return 2
            ### END SOLUTION'''

STUB = classroom.CODE_STUB.split("\n")


def _out(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _synthetic():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# Title"),
             code("import nint_lite as nl\nx = 1\nprint(x)", execution_count=1, outputs=[_out("1\n")]),
             md("**Exercise 1.** Write f and Box.area."),
             code(EXERCISE, execution_count=2, outputs=[_out("ok\n")]),
             code("nl.checks.thing(f)", execution_count=3, outputs=[_out("✓ thing\n")]),
             code("# @save\ndef helper(a):\n    return a + 1", execution_count=4),
             code("### BEGIN SOLUTION\ny = 2\n### END SOLUTION", execution_count=5, outputs=[_out("2\n")]),
             code("nl.checks.other(y)", execution_count=6, outputs=[_out("✓ other\n")]),
             md("**Q1.** Why?"),
             md("<!-- BEGIN SOLUTION -->\n**Answer.** Because.\n<!-- END SOLUTION -->")]
    return nbformat.v4.new_notebook(cells=cells)


def test_generator_writes_nbgrader_metadata_student_copies_and_the_saved_module(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    nb = _synthetic()
    nbformat.write(nb, src / "01_demo.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), src / "00_plain.ipynb")
    assert classroom.generate(src, dst) == [dst / "01_demo.ipynb", dst / "nint_by_hand.py"]  # 00: no exercise
    # the instructor copy: sources and outputs untouched, nbgrader metadata added
    marked = nbformat.read(src / "01_demo.ipynb", as_version=4)
    assert [(c.source, c.get("outputs")) for c in marked.cells] == [(c.source, c.get("outputs")) for c in nb.cells]
    meta = {i: c.metadata.get("nbgrader") for i, c in enumerate(marked.cells)}
    assert meta[1]["grade_id"] == "01-setup" and meta[1]["locked"] and not meta[1]["grade"]
    assert meta[2]["grade_id"] == "01-ex1-statement" and meta[2]["locked"]
    assert meta[3] == {"grade": False, "grade_id": "01-ex1", "locked": False, "schema_version": 3,
                       "solution": True, "task": False}
    assert meta[4] == {"grade": True, "grade_id": "01-ex1-check", "locked": True, "points": 1,
                       "schema_version": 3, "solution": False, "task": False}
    assert meta[6]["grade_id"] == "01-ex2" and meta[7]["grade_id"] == "01-ex2-check"
    assert meta[9] == {"grade": True, "grade_id": "01-answer1", "locked": False, "points": 0,
                       "schema_version": 3, "solution": True, "task": False}
    assert meta[0] is None and meta[5] is None and meta[8] is None
    assert classroom.generate(src, dst) and nbformat.read(src / "01_demo.ipynb", as_version=4) == marked  # idempotent
    # the student copy: solution regions -> stubs at their indentation, every output cleared
    out = nbformat.read(dst / "01_demo.ipynb", as_version=4)
    assert len(out.cells) == len(nb.cells)
    ex = out.cells[3].source
    assert "s = a + b" not in ex and "return 2" not in ex and "SOLUTION" not in ex
    assert "\n".join(["    \"\"\"doc\"\"\""] + ["    " + s for s in STUB]) + "\n" in ex
    assert "\n".join(["        if True:"] + ["            " + s for s in STUB]) in ex
    compile(ex, "exercise", "exec")
    assert out.cells[6].source == classroom.CODE_STUB
    assert out.cells[9].source == classroom.TEXT_STUB
    assert all(c.outputs == [] and c.execution_count is None for c in out.cells if c.cell_type == "code")
    assert [c.source for i, c in enumerate(out.cells) if i not in (3, 6, 9)] == \
        [c.source for i, c in enumerate(nb.cells) if i not in (3, 6, 9)]
    # the saved module, beside both copies
    mod = (src / "nint_by_hand.py").read_text()
    assert mod == (dst / "nint_by_hand.py").read_text()
    assert "def helper(a):\n    return a + 1" in mod and "# @save" not in mod.splitlines() and "from notebooks/01_demo.ipynb" in mod
    ns = {}
    exec(compile(mod, "nint_by_hand.py", "exec"), ns)
    assert ns["helper"](1) == 2


def test_an_exercise_without_its_check_cell_is_an_error(tmp_path):
    nb = _synthetic()
    del nb.cells[4]
    with pytest.raises(ValueError, match="not followed by its check cell"):
        classroom.mark(nb, "01")
    nb = _synthetic()
    nb.cells[5].source = "# @save\n### BEGIN SOLUTION\nz = 1\n### END SOLUTION"
    with pytest.raises(ValueError, match="holds an exercise"):
        classroom.export_saved([("01_demo.ipynb", nb)])


def test_strip_solutions_matches_nbgrader_line_for_line():
    from nbgrader.preprocessors import ClearSolutions
    pre = ClearSolutions(code_stub={"python": classroom.CODE_STUB})
    for source in (EXERCISE, "a = 1\n  # BEGIN SOLUTION x\n  b = 2\n  # END SOLUTION\nc = 3"):
        cell = nbformat.v4.new_code_cell(source)
        pre._replace_solution_region(cell, "python")
        assert classroom.strip_solutions(source) == cell.source


def test_unmatched_fence_is_an_error():
    with pytest.raises(ValueError, match="unmatched"):
        classroom.strip_solutions("def f():\n    ### BEGIN SOLUTION\n    return 1\n")


def test_missing_source_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="src_dir"):
        classroom.generate(tmp_path / "nowhere", tmp_path / "dst")
    res = subprocess.run([sys.executable, "-m", "nint_lite.classroom", str(tmp_path / "nowhere"), str(tmp_path)],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "src_dir" in res.stderr


def test_importing_the_checks_is_light():
    code = ("import sys, nint_lite.classroom.checks, nint_lite.classroom.widgets; "
            "print(sorted(m for m in ('ipywidgets', 'matplotlib', 'nbformat') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_command_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    nbformat.write(_synthetic(), src / "01_demo.ipynb")
    res = subprocess.run([sys.executable, "-m", "nint_lite.classroom", str(src), str(tmp_path / "dst")],
                         capture_output=True, text=True, check=True)
    assert "01_demo.ipynb" in res.stdout and (tmp_path / "dst" / "01_demo.ipynb").exists()


# --------------------------------------------------------------------------- (b) up to date

def test_committed_copies_are_up_to_date(tmp_path):
    """`make student` has been run: the instructor notebooks carry the nbgrader metadata the
    generator writes, and the student copies and nint_by_hand.py are what it writes now."""
    src = tmp_path / "src"
    src.mkdir()
    for p in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(p, src / p.name)
    fresh = classroom.generate(src, tmp_path / "dst")
    nbs = [p for p in fresh if p.suffix == ".ipynb"]
    assert [p.name for p in nbs] == [p.name for p in STUDENT_NBS], "run `make student`"
    assert len(nbs) >= 8
    for p in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert nbformat.read(src / p.name, as_version=4) == nbformat.read(p, as_version=4), \
            f"notebooks/{p.name} lacks its nbgrader metadata: run `make student`"
    for p in nbs:
        new, old = nbformat.read(p, as_version=4), nbformat.read(STUDENT / p.name, as_version=4)
        assert [(c.cell_type, c.source, c.get("outputs")) for c in old.cells] == \
            [(c.cell_type, c.source, c.get("outputs")) for c in new.cells], \
            f"notebooks/student/{p.name} is stale: run `make student`"
        exercises = [c for c in old.cells if "raise NotImplementedError(\"Student exercise" in c.source]
        if p.name[:2] != "00":                                 # 00 has questions, no exercises
            assert 2 <= len(exercises) <= 4, f"{p.name}: {len(exercises)} exercises (2–4 per notebook)"
    for folder in (NOTEBOOKS, STUDENT):
        assert (folder / classroom.SAVED_MODULE).read_text() == (src / classroom.SAVED_MODULE).read_text(), \
            f"{folder / classroom.SAVED_MODULE} is stale: run `make student`"


# --------------------------------------------------------------------------- (c) they stop at exercise 1

@pytest.mark.skipif(os.environ.get("NINT_LITE_SKIP_STUDENT_RUN") == "1", reason="NINT_LITE_SKIP_STUDENT_RUN=1")
@pytest.mark.parametrize("path", STUDENT_NBS, ids=[p.stem for p in STUDENT_NBS])
def test_student_notebook_stops_at_its_first_exercise(path):
    from ipykernel import kernelspec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    class CurrentEnv(KernelSpecManager):  # "python3" from this interpreter, as nbval --nbval-current-env
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=kernelspec.RESOURCES, **kernelspec.get_kernel_dict())

    nb = nbformat.read(path, as_version=4)
    first = next((i for i, c in enumerate(nb.cells)
                  if c.cell_type == "code" and "raise NotImplementedError" in c.source), None)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnv())
    client = NotebookClient(nb, km=km, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(STUDENT)}})  # where Jupyter runs it
    failed = None
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, i)
            except CellExecutionError as e:
                failed = (i, e.ename, e.evalue, str(e)[-1500:])
                break
    if first is None:                                # no exercise (00): it runs to the end
        assert failed is None, f"cell {failed[0]} raised {failed[1]}:\n{failed[3]}"
        return
    assert failed is not None, "the student notebook ran to the end without raising"
    i, ename, evalue, msg = failed
    # the stub raises in the exercise cell itself, or (a stub inside a function) in its check cell
    assert i in (first, first + 1) and ename == "NotImplementedError", \
        f"cell {i} raised {ename} (first exercise: cell {first}):\n{msg}"
    assert evalue.startswith("Student exercise")


# --------------------------------------------------------------------------- (d) the checks

def test_every_check_is_tested_and_named_once():
    import importlib
    names = [n for k in range(1, 9) for n in importlib.import_module(f"nint_lite.classroom.checks.nb{k:02d}").__all__]
    assert len(names) == len(set(names)), "two notebooks' checks share a name: the later one would win"
    tested = set()
    for n in range(1, 9):
        tested |= set(importlib.import_module(f"test_checks_nb{n:02d}").CASES)
    assert tested == set(checks.__all__)
