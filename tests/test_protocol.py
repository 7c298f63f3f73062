"""The benchmark protocol (nint_lite.protocol): summary statistics by hand on made-up histories,
a tiny end-to-end run (every part), the reports, and bad input. Never timed."""
import json

import pytest

from nint_lite import protocol
from nint_lite.__main__ import main
from nint_lite.train import History


def _h(secs, psnr, steps=None):
    steps = steps or [10 * i for i in range(len(psnr))]
    return History(steps=steps, train_seconds=secs, psnr=psnr,
                   final={"psnr": psnr[-1], "steps": steps[-1], "train_seconds": secs[-1]})


def test_summary_by_hand():
    runs = {"full": [_h([0, 2, 4, 6], [5, 20, 26, 31]), _h([0, 2, 4, 6], [5, 21, 25, 29]),
                     _h([0, 3, 6, 9], [5, 22, 27, 30])],
            "fast": [_h([0, 1, 2, 3], [5, 25, 28, 30]), _h([0, 1, 2, 3], [5, 26, 29, 31]),
                     _h([0, 1, 2, 3], [5, 24, 27, 29])]}
    s = protocol.summary(runs, targets=(25.0, 30.0), checkpoints=(10, 30))
    f, q = s["full"], s["fast"]
    assert f["final_psnr"] == {"median": 30, "min": 29, "max": 31, "n": 3}
    assert f["at_step"]["10"]["median"] == 21 and f["at_step"]["30"]["max"] == 31
    # full reaches 25 dB at 4, 4, 6 s; fast at 1, 1, 2 s -> per-seed ratios 0.25, 0.25, 0.333
    assert f["time_to"]["25.0"]["median"] == 4 and q["time_to"]["25.0"] == {"median": 1, "min": 1, "max": 2, "n": 3}
    assert q["time_ratio"]["25.0"]["median"] == pytest.approx(0.25)
    assert q["time_ratio"]["25.0"]["max"] == pytest.approx(2 / 6)
    assert q["steps_ratio"]["25.0"]["median"] == pytest.approx(10 / 20)
    assert f["time_ratio"]["25.0"]["median"] == 1.0
    # 30 dB: full misses it in seed 1, fast in seed 2 -> no median, no ratio, counts kept
    assert f["time_to"]["30.0"] is None and "30.0" not in q["time_ratio"]
    assert f["reached"]["30.0"] == 2 and q["reached"]["30.0"] == 2


def test_summary_other_metric():
    h = _h([0, 1, 2], [5, 6, 7])
    h.metrics = {"iou": [0.1, 0.6, 0.9]}
    h.final["iou"] = 0.9
    s = protocol.summary({"full": [h], "x": [h]}, targets=(0.5,), metric="iou")
    assert s["x"]["time_to"]["0.5"]["median"] == 1 and s["x"]["final_iou"]["median"] == 0.9


@pytest.fixture(scope="module")
def tiny():
    return protocol.run("tiny", seeds=(0,), progress=False)


def test_tiny_protocol_runs_every_part(tiny):
    P = tiny["parts"]
    assert list(P) == list(protocol.PARTS)
    assert list(P["samplers"]["summary"]) == ["full", "uniform", "egra", "int (dense)", "int (incremental)",
                                              "soft", "evos", "expansive", "nint"]
    assert len(P["ablations"]["summary"]) == 7
    # the ablations reuse the sampler part's full and paper-schedule NINT runs (same seeds, same config)
    assert P["ablations"]["histories"]["full"] == P["samplers"]["histories"]["full"]
    assert P["ablations"]["histories"]["nint (paper schedule)"] == P["samplers"]["histories"]["nint"]
    assert P["ablations"]["histories"]["pure NTK top-B"] != P["samplers"]["histories"]["nint"]
    assert list(P["scale"]["sizes"]) == ["2×16", "2×32"]
    assert set(P["modalities"]) >= {"audio", "shape"} and P["modalities"]["shape"]["metric"] == "iou"
    assert "iou" in P["modalities"]["shape"]["histories"]["nint"][0]["metrics"]
    assert set(P["cost"]["sizes"]) == {"256", "1024"}
    for p in P.values():
        assert p["wall_seconds"] >= 0 and len(p["load_before"]) == 3
    json.dumps(tiny)


def test_reports(tiny, tmp_path):
    md = protocol.markdown(tiny)
    for head in ("## 1. Every sampler", "## 2. Ablations of NINT", "## 3. Network size", "## 4. Audio",
                 "## 4. Shape", "## 5. Cost of scoring"):
        assert head in md
    assert "| official bug (output norm) |" in md
    paths = protocol.save(tiny, tmp_path / "r")
    names = sorted(p.name for p in paths)
    assert names == ["bench.json", "bench.md", "bench_ablations.png", "bench_samplers.png", "bench_scale.png"]
    assert json.loads((tmp_path / "r" / "bench.json").read_text())["protocol"] == "tiny"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol.run("huge")
    with pytest.raises(ValueError, match="unknown parts"):
        protocol.run("tiny", parts=("samplers", "everything"))
    with pytest.raises(ValueError, match="at least one seed"):
        protocol.run("tiny", seeds=())


def test_cli_bench_protocol(tmp_path, capsys):
    assert main(["bench", "--protocol", "tiny", "--parts", "samplers", "--seeds", "1", "--quiet",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "## 1. Every sampler" in out and (tmp_path / "bench.md").exists()
    assert main(["bench", "--protocol", "tiny", "--parts", "nope", "--quiet", "--out", str(tmp_path)]) == 2
