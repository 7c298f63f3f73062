"""Classroom: student copies (nint_lite.classroom) and the exercise self-checks
(nint_lite.classroom.checks, which the notebooks call as nl.checks).

(a) the generator on a small synthetic notebook; (b) the committed student copies are up to date;
(c) every student notebook runs to its first exercise and raises NotImplementedError there and
nowhere earlier (set NINT_LITE_SKIP_STUDENT_RUN=1 to skip: it executes the notebooks, ~3 min);
(d) every check passes on a solution and fails, with a hint, on plausible wrong answers.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from torch.func import functional_call, jvp, vjp

from nint_lite import classroom, ntk
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
            ### END SOLUTION


nl.checks.thing(f)'''


def _out(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _synthetic():
    cells = [nbformat.v4.new_markdown_cell("# Title\n### BEGIN SOLUTION in prose is left alone"),
             nbformat.v4.new_code_cell("x = 1\nprint(x)", execution_count=1, outputs=[_out("1\n")]),
             nbformat.v4.new_code_cell(EXERCISE, execution_count=2, outputs=[_out("✓ thing\n")]),
             nbformat.v4.new_code_cell("nl.checks.other(f)", execution_count=3, outputs=[_out("✓ other\n")]),
             nbformat.v4.new_code_cell("### BEGIN SOLUTION\ny = 2\n### END SOLUTION", execution_count=4,
                                       outputs=[_out("2\n")]),
             nbformat.v4.new_code_cell("print(y)", execution_count=5, outputs=[_out("2\n")])]
    return nbformat.v4.new_notebook(cells=cells)


def test_generator_replaces_fences_and_keeps_everything_else(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    nb = _synthetic()
    nbformat.write(nb, src / "01_demo.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), src / "00_plain.ipynb")
    assert classroom.generate(src, dst) == [dst / "01_demo.ipynb"]     # no fences: no student copy
    out = nbformat.read(dst / "01_demo.ipynb", as_version=4)
    assert len(out.cells) == len(nb.cells)
    ex = out.cells[2].source
    assert "s = a + b" not in ex and "return 2" not in ex and "SOLUTION" not in ex
    assert ('    """doc"""\n    # YOUR CODE HERE\n    raise NotImplementedError("Student exercise: implement f")\n'
            in ex)
    assert ('        if True:\n            # YOUR CODE HERE\n'
            '            raise NotImplementedError("Student exercise: implement area")\n' in ex)
    assert ex.endswith("nl.checks.thing(f)") and ex.startswith("import math\n\n\ndef f(a, b):")
    compile(ex, "exercise", "exec")
    top = out.cells[4].source
    assert top == '# YOUR CODE HERE\nraise NotImplementedError("Student exercise: fill in this cell")'
    for i in (2, 3, 4):                                   # exercise cells and the check cell after one
        assert out.cells[i].outputs == [] and out.cells[i].execution_count is None
    for i in (0, 1, 5):                                   # everything else untouched
        assert out.cells[i] == nb.cells[i]
    assert nbformat.read(src / "01_demo.ipynb", as_version=4) == nb  # the source is not modified


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

def test_committed_student_copies_are_up_to_date(tmp_path):
    fresh = classroom.generate(NOTEBOOKS, tmp_path)
    assert [p.name for p in fresh] == [p.name for p in STUDENT_NBS], "run `make student`"
    assert len(fresh) >= 8
    for p in fresh:
        new = nbformat.read(p, as_version=4)
        old = nbformat.read(STUDENT / p.name, as_version=4)
        assert [(c.cell_type, c.source) for c in old.cells] == [(c.cell_type, c.source) for c in new.cells], \
            f"notebooks/student/{p.name} is stale: run `make student`"
        stubs = [c for c in old.cells if "raise NotImplementedError" in c.source]
        assert len(stubs) >= 1 and all(not c.outputs for c in stubs)  # 07 and 08 have one exercise each


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
    first = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    km = KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnv())
    client = NotebookClient(nb, km=km, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
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
    assert failed is not None, "the student notebook ran to the end without raising"
    i, ename, evalue, msg = failed
    assert (i, ename) == (first, "NotImplementedError"), f"cell {i} raised {ename} (first exercise: cell {first}):\n{msg}"
    assert evalue.startswith("Student exercise")


# --------------------------------------------------------------------------- (d) the checks

def _params(model):
    return {k: p.detach() for k, p in model.named_parameters()}


def _kv(model, x, v, keep=1):
    fx = lambda p: functional_call(model, p, (x,))       # noqa: E731
    params = _params(model)
    (u,) = vjp(fx, params)[1](v)
    return jvp(fx, (params,), (u,))[keep]


def _jac_loop(model, x):                                 # (N, C, P), one backward per (i, c)
    rows = []
    for i in range(x.shape[0]):
        out = model(x[i:i + 1])[0]
        rows.append(torch.stack([torch.cat([g.flatten() for g in torch.autograd.grad(
            out[c], list(model.parameters()), retain_graph=True)]) for c in range(out.shape[0])]))
    return torch.stack(rows)


def _chunked(model, x, v, chunk, mode="ok"):
    params = _params(model)
    u = {k: torch.zeros_like(p) for k, p in params.items()}
    outs = []
    for xc, vc in zip(x.split(chunk), v.split(chunk)):
        (g,) = vjp(lambda p: functional_call(model, p, (xc,)), params)[1](vc)
        u = g if mode == "no-accumulate" else {k: u[k] + g[k] for k in u}
        if mode == "block":
            outs.append(jvp(lambda p: functional_call(model, p, (xc,)), (params,), (g,))[1])
    if mode == "block":
        return torch.cat(outs)
    return torch.cat([jvp(lambda p: functional_call(model, p, (xc,)), (params,), (u,))[1] for xc in x.split(chunk)])


def _row(model, x, q, mode="ok"):
    n, C = x.shape[0], model(x[:1]).shape[1]
    row = torch.zeros(n)
    for c in range(1 if mode == "channel0" else C):
        v = torch.zeros(n, C)
        v[q, c] = 1.0
        kv = ntk.matvec(model, x, v)
        row += kv.sum(1) if mode == "cross" else kv[:, c]
    return row


def _step(model, opt, x, y, idx, zero=True, full=False, reduce=torch.mean):
    """A textbook step and, with zero / full / reduce, the mistakes train_step must name."""
    sel = slice(None) if full else idx
    if zero:
        opt.zero_grad()
    reduce((model(x[sel]) - y[sel]) ** 2).backward()
    opt.step()


def _time_to(seconds, psnr, target, op=float.__ge__, last=False, index=False, missing=None):
    hits = [i for i, p in enumerate(psnr) if op(float(p), target)]
    if not hits:
        return missing
    i = hits[-1] if last else hits[0]
    return i if index else seconds[i]


def _grid(shape, ij="ij", dim=-1, centres=False):
    axes = [(torch.arange(n) + 0.5) / n * 2 - 1 if centres else torch.linspace(-1, 1, n) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing=ij), dim=dim).reshape(-1, len(shape))


def _psnr(pred, target, data_range=1.0, log=math.log10, k=10, use_range=True, red=torch.mean):
    return k * log((data_range if use_range else 1.0) ** 2 / red((pred - target) ** 2).item())


def _nint_mix(score, error, B, n_ntk, n_rand, generator, random_part=True):
    taken = torch.zeros(score.numel(), dtype=torch.bool)
    a = torch.topk(score, n_ntk).indices
    taken[a] = True
    b = torch.topk(error.masked_fill(taken, -math.inf), B - n_ntk - n_rand).indices
    taken[b] = True
    keys = torch.rand(score.numel(), generator=generator) if random_part else -error
    c = torch.topk(keys.masked_fill(taken, math.inf), n_rand, largest=False).indices
    return torch.cat([a, b, c])


def _block(n, b, g):                                     # a random contiguous block: not uniform
    s = int(torch.randint(0, n - b + 1, (1,), generator=g))
    return torch.arange(s, s + b)


def _si_snr(p, t, centre=True, power=2, scale=True):
    if centre:
        p, t = p - p.mean(), t - t.mean()
    s = (p @ t) / (t @ t) * t if scale else t
    return 10 * math.log10(float((s @ s) ** (power / 2)) / float(((p - s) @ (p - s)) ** (power / 2)))


def _iou(p, t, sign=1, denom="union"):
    a, b = sign * p < 0, sign * t < 0
    inter = (a & b).sum().item()
    d = {"union": (a | b).sum().item(), "target": b.sum().item(), "sum": (a.sum() + b.sum()).item()}[denom]
    return 1.0 if d == 0 else inter / d


def _paired(times, full, mode="ok"):
    import statistics
    pairs = [(a, b) for a, b in zip(times, full) if a is not None and b is not None]
    if len(pairs) < len(times) and mode != "skip_missing":
        return None
    if mode == "of_medians":
        return statistics.median(a for a, _ in pairs) / statistics.median(b for _, b in pairs)
    if mode == "inverse":
        return statistics.median(b / a for a, b in pairs)
    return (statistics.mean if mode == "mean" else statistics.median)(a / b for a, b in pairs)


def _sender(m, x, r, probes, g, mode="ok"):
    acc = torch.zeros(len(r))
    for _ in range(probes):
        z = torch.randint(0, 2, r.shape, generator=g).float() * 2 - 1
        kz = ntk.matvec(m, x, z)
        acc += {"ok": (r * kz).sum(1) ** 2, "no_square": (r * kz).sum(1),
                "norm": kz.pow(2).sum(1)}[mode if mode != "sqrt" else "ok"]
    out = acc / probes
    return out.clamp_min(0).sqrt() if mode == "sqrt" else out


CASES = {  # check: (solution, [(wrong answer, expected hint)])
    "make_grid": (_grid, [(lambda s: _grid(s, "xy"), "indexing='xy'"),
                          (lambda s: _grid(s, centres=True), "pixel centres"),
                          (lambda s: _grid(s, dim=0), "last axis")]),
    "psnr_by_hand": (_psnr, [(lambda p, t, r=1.0: _psnr(p, t, r, k=20), "20·log10"),
                             (lambda p, t, r=1.0: _psnr(p, t, r, use_range=False), "data_range"),
                             (lambda p, t, r=1.0: _psnr(p, t, r, red=torch.sum), "not the sum"),
                             (lambda p, t, r=1.0: _psnr(p, t, r, log=math.log), "natural log")]),
    "siren_init_bounds": (lambda n, w0, first: 1 / n if first else math.sqrt(6 / n) / w0,
                          [(lambda n, w0, first: 1 / n if first else math.sqrt(6 / n), "divide sqrt"),
                           (lambda n, w0, first: 1 / n / w0 if first else math.sqrt(6 / n) / w0, "not divided by w0")]),
    "k_times_v": (_kv, [(lambda m, x, v: _kv(m, x, v, keep=0), "primal, tangent")]),
    "jacobian": (_jac_loop, [(lambda m, x: _jac_loop(m, x).transpose(1, 2), "transposed"),
                             (lambda m, x: m(x).detach()[..., None].expand(-1, -1, ntk.num_params(m)), "primal, tangent")]),
    "k_times_v_chunked": (_chunked, [(lambda m, x, v, c: _chunked(m, x, v, c, "block"), "ALL chunks"),
                                     (lambda m, x, v, c: _chunked(m, x, v, c, "no-accumulate"), "last chunk"),
                                     (lambda m, x, v, c: _kv(m, x, v, keep=0), "primal, tangent")]),
    "self_leverage": (lambda m, x: _jac_loop(m, x).pow(2).sum((1, 2)),
                      [(lambda m, x: _jac_loop(m, x).norm(dim=(1, 2)), "squared norm"),
                       (lambda m, x: _jac_loop(m, x)[:, 0].pow(2).sum(1), "all channels")]),
    "coupling_row": (_row, [(lambda m, x, q: _row(m, x, q, "channel0"), "only channel 0"),
                            (lambda m, x, q: _row(m, x, q, "cross"), "cross-channel")]),
    "int_selection": (lambda r, B: torch.topk(r.abs().sum(1), B).indices,
                      [(lambda r, B: torch.topk(r.norm(dim=1), B).indices, "ℓ2")]),
    "nint_mix": (_nint_mix, [(lambda *a: _nint_mix(*a, random_part=False), "did not change with the generator")]),
    "train_step": (_step, [(lambda *a: _step(*a, zero=False), "zero_grad"),
                           (lambda *a: _step(*a, full=True), "all coordinates"),
                           (lambda *a: _step(*a, reduce=torch.sum), "not the sum")]),
    "uniform_indices": (lambda n, b, g: torch.randperm(n, generator=g)[:b],
                        [(lambda n, b, g: torch.randint(0, n, (b,), generator=g), "with replacement"),
                         (lambda n, b, g: torch.randperm(n)[:b], "generator"),
                         (lambda n, b, g: torch.randperm(b, generator=g), "randperm\\(B\\)"),
                         (_block, "not uniform")]),
    "time_to": (_time_to, [(lambda s, p, t: _time_to(s, p, t, op=float.__gt__), "use ≥"),
                           (lambda s, p, t: _time_to(s, p, t, last=True), "FIRST"),
                           (lambda s, p, t: _time_to(s, p, t, index=True), "index"),
                           (lambda s, p, t: _time_to(s, p, t, missing=float("nan")), "None")]),
    "si_snr_by_hand": (_si_snr, [(lambda p, t: _si_snr(p, t, centre=False), "zero-mean"),
                                 (lambda p, t: _si_snr(p, t, power=1), "energies"),
                                 (lambda p, t: _si_snr(p, t, scale=False), "plain SNR")]),
    "paired_ratio": (_paired, [(lambda a, b: _paired(a, b, "of_medians"), "ratio of medians"),
                               (lambda a, b: _paired(a, b, "mean"), "the mean"),
                               (lambda a, b: _paired(a, b, "inverse"), "divide by the full-batch"),
                               (lambda a, b: _paired(a, b, "skip_missing"), "return None")]),
    "sender_scores": (_sender, [(lambda m, x, r, p, g: ntk.matvec(m, x, r).pow(2).sum(1), "receiver"),
                                (lambda m, x, r, p, g: _sender(m, x, r, p, g, "sqrt"), "square each probe"),
                                (lambda m, x, r, p, g: _sender(m, x, r, p, g, "norm"), "weight by the residual")]),
    "iou_by_hand": (_iou, [(lambda p, t: _iou(p, t, sign=-1), "NEGATIVE"),
                           (lambda p, t: _iou(p, t, denom="target"), "not by the target"),
                           (lambda p, t: _iou(p, t, denom="sum"), "counts shared nodes once"),
                           (lambda p, t: float("nan") if not (p < 0).any() and not (t < 0).any() else _iou(p, t),
                            "return 1")]),
}


def test_every_check_is_tested():
    assert set(CASES) == set(checks.__all__)


@pytest.mark.parametrize("name", list(CASES))
def test_check_passes_on_a_solution(name, capsys):
    getattr(checks, name)(CASES[name][0])
    assert capsys.readouterr().out.startswith(f"✓ {name}")


@pytest.mark.parametrize("name,k", [(n, k) for n, (_, wrong) in CASES.items() for k in range(len(wrong))])
def test_check_fails_on_a_plausible_mistake(name, k, capsys):
    fn, hint = CASES[name][1][k]
    with pytest.raises(AssertionError, match=hint):
        getattr(checks, name)(fn)
    assert capsys.readouterr().out.startswith(f"✗ {name}")
