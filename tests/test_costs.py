"""The cost model and `bench rank` (nint_lite.lab.costs): the arithmetic by hand, the benchmark's
structure at toy sizes (its timings are never asserted), and the CLI."""
import json

import pytest

from nint_lite.lab import cli, costs

STEPS = {"full": 1.0, "uniform": 1.44, "nint": 1.06, "nint pool 1.5": 1.15}


def test_predict_multiplies_steps_by_the_step_cost_ratio():
    sec = {"full": 0.035, "uniform": 0.0095, "nint": 0.022, "nint pool 1.5": 0.0125}
    pred = costs.predict(sec, STEPS)
    assert pred["full"] == pytest.approx(1.0)
    assert pred["uniform"] == pytest.approx(1.44 * 0.0095 / 0.035)
    assert pred["nint"] == pytest.approx(1.06 * 0.022 / 0.035)
    assert costs.predict({"full": {"seconds": 2.0}, "nint": {"seconds": 1.0}}, {"nint": 0.5, "x": 9}) == {"nint": 0.25}
    with pytest.raises(ValueError, match="full"):
        costs.predict({"uniform": 1.0}, STEPS)


def test_break_even_is_where_ranking_cost_cancels_the_saved_steps():
    be = costs.break_even(STEPS)
    assert be["nint"] == pytest.approx(1.44 / 1.06 - 1) and "uniform" not in be
    assert be["full"] == pytest.approx(0.44)
    # at exactly that c_rank / c_step NINT's predicted time equals uniform's
    c_step = 1.0
    sec = {"full": 3.0, "uniform": c_step, "nint": c_step * (1 + be["nint"])}
    pred = costs.predict(sec, STEPS)
    assert pred["nint"] == pytest.approx(pred["uniform"])


def _fake_result(tmp_path):
    cell = lambda s, t: {"steps": {"gmean": s}, "time": {"gmean": t}}  # noqa: E731
    res = {"protocol": {"targets": [30.0, 44.0]},
           "ratios": {"pooled": {"full": {"30.0": cell(1, 1), "44.0": cell(1, 1)},
                                 "uniform": {"30.0": cell(1.2, .3), "44.0": cell(1.44, .35)},
                                 "nint": {"30.0": cell(.9, .6), "44.0": cell(1.06, .64)},
                                 "nint free": {"30.0": cell(1.1, .3), "44.0": {"steps": None, "time": None}}}}}
    path = tmp_path / "paper.json"
    path.write_text(json.dumps(res))
    return res, path


def test_steps_from_protocol_reads_the_top_target_and_skips_unreached(tmp_path):
    res, _ = _fake_result(tmp_path)
    assert costs.steps_from_protocol(res) == {"full": 1, "uniform": 1.44, "nint": 1.06}
    assert costs.steps_from_protocol(res, 30.0)["nint free"] == 1.1


@pytest.fixture(scope="module")
def tiny():
    return costs.bench_rank(("full", "uniform", "nint", "nint bf16", "nint pool 1.5", "nint free"), size=8,
                            hidden=8, layers=2, warmup=70, steps=2, repeats=2, out=lambda line: None)


def test_bench_rank_reports_every_variant_with_cost_and_agreement(tiny):
    assert list(tiny["steps"]) == ["full", "uniform", "nint", "nint bf16", "nint pool 1.5", "nint free"]
    u = tiny["steps"]["uniform"]
    assert u["x_uniform"] == pytest.approx(1.0) and u["c_rank"] == pytest.approx(0.0) and u["agreement"] is None
    assert tiny["steps"]["nint"]["agreement"] == pytest.approx(1.0)  # the exact ranking agrees with itself
    for k in ("nint bf16", "nint pool 1.5", "nint free"):
        assert 0.0 <= tiny["steps"][k]["agreement"] <= 1.0
    assert set(tiny["forward"]) >= {"fp32 no_grad", "fp32 inference_mode", "bf16 autocast", "fp16 autocast"}
    assert tiny["config"]["agreement_at"] == [71, 73]
    md = costs.markdown(tiny, {"full": 1.0, "uniform": 1.44, "nint": 1.06})
    assert "agreement" in md and "predicted fastest:" in md and "break-even" in md


def test_bench_rank_refuses_unknown_variants():
    with pytest.raises(ValueError, match="uniform"):
        costs.bench_rank(("full", "nint"), size=8)
    with pytest.raises(ValueError, match="nint turbo"):
        costs.bench_rank(("full", "uniform", "nint turbo"), size=8)


def test_cli_bench_rank_predicts_from_a_result_file(tmp_path, capsys):
    _, path = _fake_result(tmp_path)
    out = tmp_path / "rank.json"
    assert cli.main(["bench", "rank", "--sizes", "8", "--hidden", "8", "--layers", "2", "--repeats", "1",
                     "--samplers", "full,uniform,nint", "--steps-from", str(path), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "predicted fastest:" in printed and "measured time × full" in printed
    res = json.loads(out.read_text())
    assert set(res["prediction"]["predicted_time_x_full"]) == {"full", "uniform", "nint"}
    assert res["prediction"]["measured_time_x_full"]["nint"] == 0.64


def test_the_committed_cpu_costs_cover_every_variant_and_predict_v3s_order():
    from nint_lite.lab.compare import results_path

    rank = json.loads(results_path("rank_cpu.json").read_text())
    v3 = json.loads(results_path("paper_v3.json").read_text())
    assert list(rank["steps"]) == list(costs.VARIANTS)
    assert rank["steps"]["nint"]["agreement"] == pytest.approx(1.0)
    assert rank["config"]["warmup"] >= 70  # past NINT's last NTK refresh (t = 60 at B = 819)
    steps = costs.steps_from_protocol(v3)
    pred = costs.predict(rank["steps"], steps)
    measured = {k: row["44.0"]["time"]["gmean"] for k, row in v3["ratios"]["pooled"].items() if row["44.0"]["time"]}
    assert sorted(measured, key=pred.get) == sorted(measured, key=measured.get)
