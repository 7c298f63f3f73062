"""The command line (nint_lite.lab.cli, python -m nint_lite): fit, compare, their JSON, bad input."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from nint_lite.lab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--size", "16", "--hidden", "16", "--layers", "2"]


def _run_cli(argv):
    try:
        return main(argv)
    except SystemExit as e:  # argparse errors exit rather than return
        return e.code


def test_cli_fit(tmp_path, capsys):
    rc = main(["fit", "--input", "camera", *SMALL, "--steps", "5", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("fitting siren 2x16 to camera (16, 16)")
    final = out[-1]
    assert final.startswith("final: PSNR ") and "after 5 steps" in final
    png = tmp_path / "fit_camera_siren_full.png"
    assert png.is_file() and str(png) in final
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        assert im.size[0] > 100 and im.size[1] > 100
    # the table: header, then one row per evaluation (every steps // 10 -> every step)
    rows = [line.split() for line in out if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3, 4, 5]


def test_cli_image_path_with_the_signal_alias(tmp_path):
    img = tmp_path / "tiny.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(img)
    rc = main(["fit", "--signal", str(img), "--size", "12", "--model", "relu", "--hidden", "16",
               "--layers", "2", "--steps", "3", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    assert (tmp_path / "o" / "fit_tiny_relu_full.png").is_file()


def test_cli_compare_and_fit_json(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["compare", "--input", "camera", *SMALL, "--samplers", "full,nint", "--steps", "10",
                 "--out", str(out), "--quiet", "--target-psnr", "8"]) == 0
    text = capsys.readouterr().out
    assert "vs full" in text and "nint" in text
    res = json.loads((out / "compare_camera.json").read_text())
    assert set(res["summary"]) == {"full", "nint"} and (out / "compare_camera.png").exists()
    assert (out / "reconstruction_camera_nint.png").exists()
    assert main(["fit", "--input", "camera", *SMALL, "--samplers", "int", "--steps", "5", "--out", str(out),
                 "--quiet", "--json", str(out / "fit.json"), "--save"]) == 0
    one = json.loads((out / "fit.json").read_text())
    assert list(one["summary"]) == ["int"] and len(one["histories"]["int"]) == 1
    assert (out / "fit_camera_siren_int.pt").exists()
    # one layout: the same keys at every level (statistics and the model and protocol blocks)
    assert list(one) == list(res)
    assert list(one["summary"]["int"]) == list(res["summary"]["nint"])
    assert one["model"] == res["model"] == {"name": "siren", "hidden": 16, "layers": 2, "lr": 1e-4}
    assert set(one["protocol"]) <= set(res["protocol"]) | {"eval_every"}
    assert main(["compare", "--samplers", "full,banana", "--steps", "2", "--size", "16"]) == 2


def test_cli_unknown_model(tmp_path, capsys):
    rc = _run_cli(["fit", "--input", "camera", "--size", "16", "--model", "banana",
                   "--steps", "2", "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "banana" in err and "invalid choice" in err
    assert not list(tmp_path.iterdir())


def test_cli_missing_file(tmp_path, capsys):
    rc = _run_cli(["fit", "--input", str(tmp_path / "nope.png"), "--size", "16", "--steps", "2",
                   "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not found" in err


def test_cli_bad_device(tmp_path, capsys):
    rc = _run_cli(["fit", "--input", "camera", *SMALL, "--steps", "2", "--device", "banana",
                   "--out", str(tmp_path), "--quiet"])
    assert rc == 2
    assert "unknown device 'banana'" in capsys.readouterr().err


def test_python_dash_m_documents_input(tmp_path):
    p = subprocess.run([sys.executable, "-m", "nint_lite", "fit", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "--input INPUT, --signal INPUT" in p.stdout and "alias" in p.stdout
