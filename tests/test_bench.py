"""The micro-benchmarks (nint_lite.lab.bench) run end to end on tiny sizes and report what they
promise (no timing asserts)."""
import json

from nint_lite.lab import bench
from nint_lite.lab.cli import main


def test_bench_ntk_structure():
    lines = []
    # the memory run spawns a fresh process per (size, chunk): keep it to one
    res = bench.bench_ntk(sizes=(8,), hidden=8, layers=2, repeats=1, chunk_sizes=(16,),
                          device="cpu", out=lines.append)
    assert set(res["sizes"]) == {"64"} and res["model"] == "siren 2x8"
    for row in res["sizes"].values():
        for k in ("step_s", "matvec_s", "diagonal_s", "matvec_over_step", "diagonal_over_step"):
            assert row[k] > 0
        assert set(row["matvec_peak_mib"]) == {"16"}
    assert res["machine"]["cpu_count"] >= 1 and "torch" in res["machine"]
    assert any("matvec/step" in line for line in lines)


def test_bench_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "ntk.json"
    assert main(["bench", "ntk", "--sizes", "8,12", "--hidden", "8", "--layers", "2", "--repeats", "1",
                 "--no-memory", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["benchmark"] == "ntk" and set(res["sizes"]) == {"64", "144"}
    assert "matvec/step" in capsys.readouterr().out


def test_bench_scale_reports_every_size():
    lines = []
    res = bench.bench_scale(sizes=(8,), hidden=8, layers=2, chunk_size=32, threads=1, out=lines.append)
    assert set(res["sizes"]) == {"64"} and res["chunk_size"] == 32
    for row in res["sizes"].values():
        for part in ("scoring", "step", "step_one_shot"):
            assert row[part]["s"] > 0 and row[part]["peak_mib"] >= 0
    assert "score s" in lines[1] and len(lines) == 3
    json.dumps(res)  # JSON-ready
