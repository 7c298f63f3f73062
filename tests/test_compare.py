"""nint_lite.lab.compare: compare() -> Comparison, the one JSON layout (summarise) by hand on
made-up histories, Sampler instances, defaults, and reading the layout compare wrote before."""
import json
from pathlib import Path

import pytest

import nint_lite as nl
from nint_lite import device as devices
from nint_lite.lab import protocol
from nint_lite.lab.compare import Comparison, compare, read_json, summarise
from nint_lite.train import History

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results"


@pytest.fixture(scope="module")
def cam():
    return nl.sample_signal("camera", size=16)


def _h(secs, psnr, steps=None):
    steps = steps or [10 * i for i in range(len(psnr))]
    return History(steps=steps, train_seconds=secs, psnr=psnr,
                   final={"psnr": psnr[-1], "steps": steps[-1], "train_seconds": secs[-1]})


# --------------------------------------------------------------------------- summarise by hand

def test_summarise_by_hand():
    runs = {"full": [_h([0, 2, 4, 6], [5, 20, 26, 31]), _h([0, 2, 4, 6], [5, 21, 25, 29]),
                     _h([0, 3, 6, 9], [5, 22, 27, 30])],
            "fast": [_h([0, 1, 2, 3], [5, 25, 28, 30]), _h([0, 1, 2, 3], [5, 26, 29, 31]),
                     _h([0, 1, 2, 3], [5, 24, 27, 29])]}
    res = summarise(runs, targets=(25.0, 30.0), checkpoints=(10, 30))
    assert res["targets"] == [25.0, 30.0] and res["metric"] == "psnr" and res["checkpoints"] == [10, 30]
    assert "signal" not in res and "machine" not in res  # recorded only when given
    f, q = res["summary"]["full"], res["summary"]["fast"]
    assert f["final_psnr"] == {"median": 30, "min": 29, "max": 31, "n": 3}
    assert f["at_step"]["10"]["median"] == 21 and f["at_step"]["30"]["max"] == 31
    # interpolated between evaluations (History.time_to): full crosses 25 dB at 2 + 5/6·2, 4 and
    # 3 + 3/5·3 s (steps 18.33, 20, 16); fast at 1, 20/21 and 4/3 s (steps 10, 9.52, 13.33)
    assert f["time_to"]["25.0"]["median"] == pytest.approx(4.0)
    assert q["time_to"]["25.0"] == {"median": pytest.approx(1.0), "min": pytest.approx(20 / 21),
                                   "max": pytest.approx(4 / 3), "n": 3}
    ratios = [1 / (2 + 5 / 3), (20 / 21) / 4, (4 / 3) / 4.8]  # paired per seed
    assert q["time_ratio"]["25.0"]["median"] == pytest.approx(sorted(ratios)[1])
    assert q["time_ratio"]["25.0"]["max"] == pytest.approx(max(ratios))
    assert q["steps_ratio"]["25.0"]["median"] == pytest.approx(10 / (10 + 50 / 6))
    assert f["time_ratio"]["25.0"]["median"] == 1.0
    # 30 dB: full misses it in seed 1, fast in seed 2 -> no median, no ratio, counts kept
    assert f["time_to"]["30.0"] is None and "30.0" not in q["time_ratio"]
    assert f["reached"]["30.0"] == 2 and q["reached"]["30.0"] == 2
    assert [len(v) for v in res["histories"].values()] == [3, 3]
    assert set(res["histories"]["fast"][0]) == {"steps", "train_seconds", "psnr", "metrics", "final"}
    json.dumps(res)


def test_summarise_other_metric_and_bad_input():
    h = _h([0, 1, 2], [5, 6, 7])
    h.metrics = {"iou": [0.1, 0.6, 0.9]}
    h.final["iou"] = 0.9
    s = summarise({"full": [h], "x": [h]}, targets=(0.5,), metric="iou")["summary"]
    # IoU 0.1 → 0.6 between 0 and 1 s: 0.5 is crossed at 0.8 s (interpolated)
    assert s["x"]["time_to"]["0.5"]["median"] == pytest.approx(0.8) and s["x"]["final_iou"]["median"] == 0.9
    with pytest.raises(ValueError, match="at least one History"):
        summarise({"full": []})


# --------------------------------------------------------------------------- compare

def test_compare_same_initial_weights_and_layout(cam):
    res = compare(cam, ["full", "uniform", "nint"], hidden=16, layers=2, steps=20, lr=1e-3,
                  targets=(10.0, 99.0), seeds=(0, 1), device="cpu", progress=False)
    assert isinstance(res, Comparison)
    runs = res.runs
    # every sampler starts from the same weights for a seed: identical PSNR at step 0
    for i in range(2):
        assert len({hs[i].psnr[0] for hs in runs.values()}) == 1
    assert runs["full"][0].psnr[0] != runs["full"][1].psnr[0]  # but seeds differ
    t = res.table
    assert list(t) == ["signal", "model", "protocol", "machine", "targets", "metric", "checkpoints",
                       "summary", "histories"]
    s = t["summary"]["nint"]
    assert set(s) >= {"final_psnr", "train_seconds", "steps", "time_to", "steps_to", "time_ratio", "reached"}
    assert s["time_to"]["99.0"] is None and s["steps_to"]["99.0"] is None
    assert s["steps"]["median"] == 20 and t["machine"]["cpu_count"] >= 1
    assert t["signal"] == {"name": "camera", "shape": [16, 16], "kind": "image"}
    assert t["protocol"]["seeds"] == [0, 1] and len(t["histories"]["nint"]) == 2
    json.dumps(t)


def test_compare_labelled_configurations_and_other_metrics(cam):
    configs = {"mix": ("nint", {"ntk_share": 0.0}), "nint": "nint", "dense": ("int", {"interval": "dense"})}
    res = compare(cam, configs, hidden=16, layers=2, steps=10, lr=1e-3, targets=(10.0,),
                  seeds=(0,), device="cpu", progress=False)
    assert list(res.runs) == ["mix", "nint", "dense"] and res.runs["mix"][0].sampler == "mix"
    assert res.table["protocol"]["samplers"]["mix"] == {"name": "nint", "ntk_share": 0.0}
    # the mix really ran without the NTK part: its selections differ from the paper schedule's
    assert res.runs["mix"][0].psnr[-1] != res.runs["nint"][0].psnr[-1]
    with pytest.raises(ValueError, match="repeat"):
        compare(cam, ["nint", "nint"], steps=2, progress=False)
    with pytest.raises(ValueError, match="repeat"):
        compare(cam, [nl.make_sampler("nint"), "nint"], steps=2, progress=False)
    with pytest.raises(ValueError, match="bad parameter"):
        compare(cam, {"x": ("nint", {"nope": 1})}, steps=2, progress=False)
    with pytest.raises(ValueError, match="unknown model"):
        compare(cam, ["full"], model="banana", steps=2, progress=False)
    audio = nl.sample_signal("audio", seconds=0.01)
    res = compare(audio, ["full", "nint"], hidden=16, layers=2, steps=6, lr=1e-4, targets=(-100.0, 500.0),
                  seeds=(0,), device="cpu", progress=False, metric="si_snr", model_kw={"first_w0": 300.0})
    s = res.table["summary"]["nint"]
    assert s["time_to"]["-100.0"]["median"] == 0.0 and s["time_to"]["500.0"] is None
    assert s["final_si_snr"]["median"] == res.runs["nint"][0].final["si_snr"]
    assert res.table["model"]["first_w0"] == 300.0 and res.table["metric"] == "si_snr"


def test_a_sampler_instance_keeps_its_parameters_and_seed(cam):
    uni = nl.make_sampler("uniform", ratio=0.1, seed=7)
    mix = nl.make_sampler("nint", ratio=0.1, seed=3, ntk_share=0.2)
    res = compare(cam, [uni, mix], hidden=16, layers=2, steps=3, lr=1e-3, targets=(10.0,), seeds=(0, 1),
                  device="cpu", progress=False, record_selections=(0, 2))
    # each run got a copy: the instances were never set up, so they can be used again
    assert uni.view is None and mix.view is None
    own = nl.fit(nl.make_model("siren", cam, hidden=16, layers=2), cam, nl.make_sampler("uniform", ratio=0.1, seed=7),
                 steps=3, lr=1e-3, progress=False, record_selections=(0, 2))
    for h in res.runs["uniform"]:  # both seeds drew with the instance's seed 7, at its ratio
        assert h.selections == own.selections and len(h.selections[0]) == round(0.1 * cam.n)
    assert all(len(h.selections[0]) == round(0.1 * cam.n) for h in res.runs["nint"])
    rec = res.table["protocol"]["samplers"]
    assert rec["uniform"] == {"name": "uniform", "ratio": 0.1, "seed": 7, "schedule": "constant"}
    assert rec["nint"]["ntk_share"] == 0.2 and rec["nint"]["seed"] == 3


def test_defaults_come_from_models_and_device(cam, tmp_path):
    res = compare(cam, "uniform", steps=1, targets=(), progress=False)
    m = res.table["model"]
    assert (m["hidden"], m["layers"]) == (nl.models.DEFAULTS["hidden"], nl.models.DEFAULTS["layers"])
    assert m["lr"] == nl.RECOMMENDED_LR["siren"]
    assert res.table["machine"]["device"] == str(devices.resolve(None))
    path = res.save(tmp_path / "sub" / "c.json")
    assert json.loads(path.read_text()) == json.loads(json.dumps(res.table))


# --------------------------------------------------------------------------- results written before

def test_the_compare_layout_written_before_is_read_and_renders():
    res = read_json(RESULTS / "compare_astronaut128.json")
    assert set(res) >= {"signal", "model", "targets", "metric", "summary", "histories"}
    s = res["summary"]["nint"]
    assert s["final_psnr"]["n"] == 3 and s["time_to"]["30.0"]["median"] == pytest.approx(47.70535657899927)
    raw = json.loads((RESULTS / "compare_astronaut128.json").read_text())["samplers"]
    want = sorted(a["time_to"]["30.0"] / b["time_to"]["30.0"] for a, b in zip(raw["nint"]["per_seed"], raw["full"]["per_seed"]))
    assert s["time_ratio"]["30.0"]["median"] == pytest.approx(want[1])
    lines = protocol.table(res)
    assert len(lines) == 2 + 4 and lines[-1].startswith("| nint | ")
    assert read_json(RESULTS / "bench.json")["parts"]  # the current layout passes through


def test_results_path_finds_the_committed_results_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the notebooks' folder: the path must not depend on it
    assert nl.results_path("bench.json").name == "bench.json"
    assert nl.results_path("bench.json").is_file()
    with pytest.raises(FileNotFoundError, match="NINT_LITE_RESULTS"):
        nl.results_path("no-such.json")
    monkeypatch.setenv("NINT_LITE_RESULTS", str(tmp_path))
    (tmp_path / "mine.json").write_text("{}")
    assert nl.results_path("mine.json") == tmp_path / "mine.json"
