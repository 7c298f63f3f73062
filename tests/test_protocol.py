"""The benchmark protocol (nint_lite.lab.protocol): a tiny end-to-end run (every part), the
reports, the committed results still rendering, and bad input. Never timed. (The statistics
are checked by hand in test_compare.py.)"""
import json
from pathlib import Path

import pytest

from nint_lite.lab import protocol
from nint_lite.lab.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results"


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
    assert P["ablations"]["protocol"]["samplers"]["official bug (output norm)"] == {
        "name": "nint", "variant": "official", "score": "output_norm"}
    # every block is in summarise's layout, as compare writes it
    for block in (P["samplers"], P["ablations"], *P["scale"]["sizes"].values(), P["modalities"]["audio"]):
        assert {"signal", "model", "protocol", "targets", "metric", "checkpoints", "summary",
                "histories"} <= set(block)
    assert P["samplers"]["model"] == {"name": "siren", "hidden": 32, "layers": 2, "lr": 1e-3}
    assert list(P["scale"]["sizes"]) == ["2×16", "2×32"]
    assert set(P["modalities"]) >= {"audio", "shape"} and P["modalities"]["shape"]["metric"] == "iou"
    assert "iou" in P["modalities"]["shape"]["histories"]["nint"][0]["metrics"]
    assert set(P["cost"]["sizes"]) == {"256", "1024"}
    for p in P.values():
        assert p["wall_seconds"] >= 0 and len(p["load_before"]) == 3
    json.dumps(tiny)


def test_reports(tiny, tmp_path):
    md = protocol.markdown(tiny)
    for head in ("## 1. Every sampler — astronaut 24², siren 2×32", "## 2. Ablations of NINT",
                 "## 3. Network size — astronaut 24²", "## 4. Audio", "## 4. Shape", "## 5. Cost of scoring"):
        assert head in md
    assert "| official bug (output norm) |" in md
    paths = protocol.save(tiny, tmp_path / "r")
    names = sorted(p.name for p in paths)
    assert names == ["bench.json", "bench.md", "bench_ablations.png", "bench_samplers.png", "bench_scale.png"]
    assert json.loads((tmp_path / "r" / "bench.json").read_text())["protocol"] == "tiny"


def test_the_committed_results_still_render():
    import matplotlib.pyplot as plt

    res = json.loads((RESULTS / "bench.json").read_text())
    md = protocol.markdown(res)
    assert "## 1. Every sampler — astronaut 64², siren 3×128" in md and "## 5. Cost of scoring" in md
    figs = protocol.figures(res)
    assert set(figs) == {"samplers", "ablations", "scale"}
    for fig in figs.values():
        plt.close(fig)
    for name in ("beyond.json", "beyond2.json"):  # notebook 08 renders each image's block
        study = json.loads((RESULTS / name).read_text())
        for part in study["images"].values():
            lines = protocol.table(part)
            assert len(lines) == 2 + len(study["rules"])


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
