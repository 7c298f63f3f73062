"""The classroom workflow with real nbgrader (0.9), in a temporary course directory.

(a) `nbgrader generate_assignment` on every instructor notebook writes the same cells as
    `make student` (nint_lite.classroom), metadata aside;
(b) `nbgrader autograde` on two notebooks: a solved submission (the instructor copy) scores full
    marks, the unsolved release copy scores zero, and the only cells that raise in the unsolved
    copy are its exercises and their checks. ~3 min: it executes each notebook twice.

nbgrader runs as a subprocess of this interpreter with the environment's bin folder first on
PATH (nbgrader calls `alembic` to create its gradebook).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nint_lite import classroom

pytest.importorskip("nbgrader")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS, STUDENT = ROOT / "notebooks", ROOT / "notebooks" / "student"
ROUND_TRIP = ["02_empirical_ntk", "07_benchmark"]   # two of the quickest notebooks with exercises


def _course(tmp_path, assignment, names):
    """A course directory with source/<assignment>/ holding the named instructor notebooks and
    the hand-built module (notebook 05 imports it), and nbgrader_config.py with our stub."""
    course = tmp_path / "course"
    src = course / "source" / assignment
    src.mkdir(parents=True)
    for name in names:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", src)
    shutil.copy(NOTEBOOKS / classroom.SAVED_MODULE, src)
    (course / "nbgrader_config.py").write_text(
        classroom.NBGRADER_CONFIG + f'c.CourseDirectory.course_id = "nint_lite"\n'
        f'c.Exchange.root = {str(tmp_path / "exchange")!r}\n')
    return course


def _nbgrader(course, *args, timeout=600):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("NINT_LITE_RESULTS", None)
    res = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def test_generate_assignment_writes_what_make_student_writes(tmp_path):
    names = [p.stem for p in sorted(STUDENT.glob("*.ipynb"))]
    assert len(names) >= 8
    course = _course(tmp_path, "series", names)
    _nbgrader(course, "generate_assignment", "series", "--create", "--force")
    for name in names:
        ours = nbformat.read(STUDENT / f"{name}.ipynb", as_version=4)
        theirs = nbformat.read(course / "release" / "series" / f"{name}.ipynb", as_version=4)
        assert [(c.cell_type, c.source, c.get("outputs")) for c in theirs.cells] == \
            [(c.cell_type, c.source, c.get("outputs")) for c in ours.cells], f"{name}: nbgrader and make student differ"
        graded = [c for c in theirs.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert graded and all("checksum" in c.metadata["nbgrader"] for c in graded)
    assert (course / "release" / "series" / classroom.SAVED_MODULE).is_file()


def test_autograde_gives_full_marks_to_a_solution_and_zero_to_the_unsolved_copy(tmp_path):
    from nbgrader.api import Gradebook

    course = _course(tmp_path, "ps", ROUND_TRIP)
    _nbgrader(course, "generate_assignment", "ps", "--create", "--force")
    for student, folder in (("solved", NOTEBOOKS), ("unsolved", course / "release" / "ps")):
        sub = course / "submitted" / student / "ps"
        sub.mkdir(parents=True)
        for name in ROUND_TRIP:
            shutil.copy(folder / f"{name}.ipynb", sub)
        shutil.copy(NOTEBOOKS / classroom.SAVED_MODULE, sub)
    _nbgrader(course, "autograde", "ps", "--create", "--force", timeout=900)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in ROUND_TRIP:
            solved = gb.find_submission_notebook(name, "ps", "solved")
            unsolved = gb.find_submission_notebook(name, "ps", "unsolved")
            assert solved.max_score >= 2
            assert solved.score == solved.max_score, f"{name}: the solution scores {solved.score}/{solved.max_score}"
            assert unsolved.score == 0, f"{name}: the unsolved copy scores {unsolved.score}"
    for name in ROUND_TRIP:
        for student in ("solved", "unsolved"):
            nb = nbformat.read(course / "autograded" / student / "ps" / f"{name}.ipynb", as_version=4)
            raised = [c.metadata.get("nbgrader", {}).get("grade_id", f"cell {i}") for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
            exercise_cells = [gid for gid in raised if re.fullmatch(r"\d\d-ex\d+(-check)?", gid)]
            if student == "solved":
                assert raised == [], f"{name}: cells raised in the solved notebook: {raised}"
            else:
                assert raised and raised == exercise_cells, f"{name}: cells other than exercises raised: {raised}"
