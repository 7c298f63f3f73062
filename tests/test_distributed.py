"""nint_lite.lab.distributed against the single-process code, with 2 real gloo processes.

One module fixture starts 2 ranks (subprocesses with torchrun's environment, a free port, one
thread each, a timeout) that compute everything the comparisons need; each test then checks one
result against the single-process reference. Shards are unequal on purpose (N = 169 and 37).
"""
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nint_lite as nl
from nint_lite import ntk
from nint_lite.lab import distributed as D
from nint_lite.lab.cli import main
from nint_lite.samplers import make_sampler

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds; a hung collective fails the test instead of hanging CI
STEPS, SIZE, HIDDEN = 20, 13, 32  # N = 169: shards of 84 and 85


def _setup():
    sig = nl.sample_signal("image", size=SIZE)
    model = nl.make_model("siren", 2, 3, HIDDEN, 2, seed=0)
    return sig, model


def _scores(n):
    return torch.rand(n, generator=torch.Generator().manual_seed(3))


def _worker(out_dir):
    """Runs on each rank: save this rank's results to out_dir/rank{r}.pt."""
    torch.set_num_threads(1)
    ctx = D.init(backend="gloo", timeout_s=TIMEOUT)  # CPU tensors, compared with one CPU process
    sig, model = _setup()
    res = {}
    for n in (sig.n, 37):  # 37: shards of 18 and 19
        lo, hi = D.shard(n, ctx.rank, ctx.world)
        x, y = sig.coords[:n], sig.values[:n]
        r = model(x).detach() - y
        res[f"kr{n}"] = (lo, D.matvec(model, x[lo:hi], r[lo:hi], chunk_size=16))
    lo, hi = D.shard(sig.n, ctx.rank, ctx.world)
    s = _scores(sig.n)
    res["topk"] = {k: D.global_topk(s[lo:hi], k, lo) for k in (1, 40, 120)}  # 120 > a shard
    hist = D.fit(model, sig, STEPS, lr=1e-3, seed=0, chunk_size=32, record_selections=range(STEPS))
    res["params"] = [p.detach() for p in model.parameters()]
    res["selections"], res["psnr"] = hist.selections, hist.psnr
    torch.save(res, Path(out_dir) / f"rank{ctx.rank}.pt")
    D.shutdown()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out, port = tmp_path_factory.mktemp("dist"), _free_port()
    code = f"import test_distributed as t; t._worker({str(out)!r})"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              env=_env(RANK=r, LOCAL_RANK=r, WORLD_SIZE=2, LOCAL_WORLD_SIZE=2,
                                       MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
             for r in range(2)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


# --------------------------------------------------------------------------- vs one process

@pytest.mark.parametrize("n", [SIZE * SIZE, 37])
def test_distributed_matvec_equals_ntk_matvec(ranks, n):
    sig, model = _setup()
    x, y = sig.coords[:n], sig.values[:n]
    ref = ntk.matvec(model, x, model(x).detach() - y)
    got = torch.empty_like(ref)
    sizes = []
    for res in ranks:
        lo, part = res[f"kr{n}"]
        got[lo:lo + len(part)] = part
        sizes.append(len(part))
    assert sum(sizes) == n and sizes[0] != sizes[1]  # unequal shards, together all of N
    assert ((got - ref).norm() / ref.norm()).item() <= 1e-5


@pytest.mark.parametrize("k", [1, 40, 120])
def test_global_topk_equals_single_process_topk(ranks, k):
    ref = torch.topk(_scores(SIZE * SIZE), k).indices
    for res in ranks:  # the same answer on every rank, best first
        assert torch.equal(res["topk"][k], ref)


def test_twenty_distributed_steps_equal_single_process_steps_on_the_same_selection(ranks):
    sig, model = _setup()
    sel = ranks[0]["selections"]
    assert sel == ranks[1]["selections"] and len(sel) == STEPS  # every rank selected alike
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for t in range(STEPS):  # plain PyTorch steps on the selection the ranks made
        idx = torch.tensor(sel[t])
        loss = torch.mean((model(sig.coords[idx]) - sig.values[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p, q0, q1 in zip(model.parameters(), ranks[0]["params"], ranks[1]["params"]):
        assert torch.equal(q0, q1)
        torch.testing.assert_close(q0, p.detach(), rtol=1e-5, atol=1e-6)
    assert ranks[0]["psnr"][-1] > ranks[0]["psnr"][0]  # and it learned something


def test_distributed_selection_equals_the_nint_sampler_in_fit(ranks):
    sig, model = _setup()
    h = nl.fit(model, sig, make_sampler("nint", ratio=0.2, seed=0), steps=STEPS, lr=1e-3,
               device="cpu", progress=False, record_selections=range(STEPS))
    assert h.selections == ranks[0]["selections"]


# --------------------------------------------------------------------------- bad input, one process

def test_shard_covers_all_coordinates_with_unequal_blocks():
    bounds = [D.shard(37, r, 4) for r in range(4)]
    assert bounds[0][0] == 0 and bounds[-1][1] == 37
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert {hi - lo for lo, hi in bounds} == {9, 10}


def test_world_larger_than_n_is_a_clear_error():
    with pytest.raises(ValueError, match="world size 4 is larger than the number of coordinates N=3"):
        D.shard(3, 0, 4)
    with pytest.raises(ValueError, match="rank must be in"):
        D.shard(10, 2, 2)


def test_bad_arguments_are_clear_errors(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(ValueError, match="torchrun"):
        D.init()
    env = {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1",
           "LOCAL_RANK": str(torch.cuda.device_count())}  # one past the last GPU (or CPU only)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match="one GPU per process"):
        D.init(backend="nccl")
    with pytest.raises(ValueError, match="unknown backend"):
        D.init(backend="mpi")
    for k in env:
        monkeypatch.delenv(k)
    with pytest.raises(ValueError, match="variant='paper'"):
        D.DistributedNINT(variant="official")
    sig, model = _setup()
    with pytest.raises(ValueError, match="samplers 'nint' and 'full'"):
        D.fit(model, sig, 5, sampler="uniform")
    with pytest.raises(ValueError, match="k must be a positive int"):
        D.global_topk(torch.rand(5), 0)
    with pytest.raises(ValueError, match="v must have shape"):
        D.matvec(model, sig.coords, torch.zeros(3, 3))


def test_one_process_fit_matches_train_fit_with_full_batch():
    sig, m1 = _setup()
    _, m2 = _setup()
    h1 = nl.fit(m1, sig, "full", steps=5, lr=1e-3, device="cpu", progress=False)
    h2 = D.fit(m2, sig, 5, lr=1e-3, sampler="full", chunk_size=50)  # no process group: world 1
    for p, q in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    assert h2.psnr[-1] == pytest.approx(h1.psnr[-1], abs=1e-3)


# --------------------------------------------------------------------------- torchrun end to end

def _torchrun(args, timeout=TIMEOUT):
    """torchrun in its own session, so a timeout kills its workers too, not just the launcher."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    p = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def test_cli_fit_distributed_under_torchrun_writes_the_json_layout(tmp_path):
    args = ["fit", "--input", "image", "--size", "12", "--hidden", "16", "--layers", "2", "--steps", "4",
            "--samplers", "nint", "--quiet", "--out", str(tmp_path)]
    p = _torchrun(["-m", "nint_lite", *args, "--distributed", "--json", str(tmp_path / "x2.json")])
    assert p.returncode == 0, p.stderr
    assert "2 ranks" in p.stdout and p.stdout.count("final: PSNR") == 1  # rank 0 prints, once
    assert p.stdout.count("wrote ") == 1
    res = json.loads((tmp_path / "x2.json").read_text())
    assert main([*args, "--json", str(tmp_path / "one.json")]) == 0  # the same fit, one process
    one = json.loads((tmp_path / "one.json").read_text())
    assert list(res) == list(one)
    # SSIM would need every rank's predictions on one rank: sharded fits report PSNR only
    assert [k for k in one["summary"]["nint"] if k != "final_ssim"] == list(res["summary"]["nint"])
    assert res["protocol"]["ranks"] == 2 and res["summary"]["nint"]["steps"]["median"] == 4
    assert res["model"] == one["model"] and res["signal"] == one["signal"]


def test_a_failing_rank_makes_torchrun_exit_nonzero(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from nint_lite.lab import distributed as D\n"
        "ctx = D.init(timeout_s=60)\n"
        "if ctx.rank == 1:\n"
        "    raise RuntimeError('rank 1 fails on purpose')\n"
        "dist.all_reduce(torch.ones(1))  # rank 0 waits for a peer that is gone\n")
    p = _torchrun([str(script)])
    assert p.returncode != 0
    assert "rank 1 fails on purpose" in p.stderr + p.stdout


def test_cli_distributed_without_torchrun_is_a_clear_error(monkeypatch, capsys):
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    assert main(["fit", "--distributed", "--steps", "1"]) == 2
    assert "torch.distributed.run" in capsys.readouterr().err
    assert main(["fit", "--distributed", "--seconds", "1"]) == 2
    assert "--steps" in capsys.readouterr().err
