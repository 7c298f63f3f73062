"""The NTK benchmark runs end to end on tiny sizes and reports what it promises (no timing asserts)."""
import json

from nint_lite import bench
from nint_lite.__main__ import main


def test_bench_ntk_structure():
    lines = []
    # memory runs spawn a fresh process per (size, chunk): keep it to two
    res = bench.bench_ntk(sizes=(8,), hidden=8, layers=2, repeats=1, chunk_sizes=(16, 64),
                          device="cpu", out=lines.append)
    assert set(res["sizes"]) == {"64"}
    for row in res["sizes"].values():
        for k in ("step_s", "matvec_s", "diagonal_s", "matvec_over_step", "diagonal_over_step"):
            assert row[k] > 0
        assert set(row["matvec_peak_mib"]) == {"16", "64"}
    assert res["machine"]["cpu_count"] >= 1 and "torch" in res["machine"]
    assert any("matvec/step" in line for line in lines)


def test_bench_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "ntk.json"
    assert main(["bench", "ntk", "--sizes", "8,12", "--hidden", "8", "--layers", "2", "--repeats", "1",
                 "--no-memory", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["benchmark"] == "ntk" and set(res["sizes"]) == {"64", "144"}
    assert "matvec/step" in capsys.readouterr().out
