"""Unit tests for nint_lite.signals: grids, the Signal record, image loading, bundled samples and
where they live, bad input."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nint_lite as nl
import nint_lite.shapes  # noqa: F401  (registers "bunny" and "shape" in SAMPLES)
from nint_lite.signals import SAMPLES, Signal, data_dir, grid, load_image, sample_signal

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "images"
CAMERA, ASTRONAUT, COFFEE = DATA / "camera.png", DATA / "astronaut.png", DATA / "coffee.png"
LUMA = np.array([0.2125, 0.7154, 0.0721])  # ITU-R BT.709


def _png_array(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


# --------------------------------------------------------------------------- grid

@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_grid_shape_dtype_range(shape):
    g = grid(shape)
    assert g.shape == (int(np.prod(shape)), len(shape))
    assert g.dtype == torch.float32
    assert g.min().item() == -1.0 and g.max().item() == 1.0


def test_grid_endpoints_and_row_major_order():
    h, w = 3, 5
    g = grid((h, w))
    # hand computation: node (i, j) is (-1 + 2i/(h-1), -1 + 2j/(w-1)) at flat index i*w + j
    for i in range(h):
        for j in range(w):
            k = i * w + j
            assert g[k, 0].item() == pytest.approx(-1 + 2 * i / (h - 1), abs=1e-7)
            assert g[k, 1].item() == pytest.approx(-1 + 2 * j / (w - 1), abs=1e-7)
    assert g[0].tolist() == [-1.0, -1.0]
    assert g[-1].tolist() == [1.0, 1.0]
    assert g[w - 1].tolist() == [-1.0, 1.0]  # end of the first row: row -1, last column
    assert g[w].tolist()[1] == -1.0  # next row starts at the first column again


def test_grid_custom_bounds():
    g = grid((4,), lo=0.0, hi=3.0)
    assert g[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("shape", [(), (0, 3), (4, -1)])
def test_grid_bad_shape(shape):
    with pytest.raises(ValueError, match="positive"):
        grid(shape)


# --------------------------------------------------------------------------- Signal

def test_signal_metrics_default_empty_and_kept_out_of_repr_and_eq():
    x, v = grid((2, 3)), torch.zeros(6, 1)
    plain = Signal(x, v, (2, 3))
    assert plain.metrics == {} and Signal(x, v, (2, 3)).metrics is not plain.metrics  # no shared dict
    judged = Signal(x, v, (2, 3), metrics={"mean": lambda p, t: float((p - t).mean())})
    assert judged == plain and repr(judged) == repr(plain) and "metrics" not in repr(judged)
    assert judged.metrics["mean"](v + 1, v) == 1.0


def test_signal_has_no_device_helpers():
    s = load_image(np.zeros((2, 2)))
    assert not hasattr(s, "to") and not hasattr(s, "device")  # move s.coords / s.values instead


# --------------------------------------------------------------------------- load_image

def test_load_gray_png_from_path():
    a = _png_array(CAMERA)
    assert a.shape == (512, 512) and a.dtype == np.uint8
    s = load_image(CAMERA)
    assert s.kind == "image" and s.name == "camera"
    assert s.shape == (512, 512)
    assert s.values.shape == (512 * 512, 1) and s.coords.shape == (512 * 512, 2)
    assert s.values.dtype == torch.float32
    assert 0.0 <= s.values.min().item() and s.values.max().item() <= 1.0
    img = s.to_grid().numpy()
    assert img.shape == (512, 512, 1)
    np.testing.assert_array_equal(img[..., 0], a.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.round(img[..., 0] * 255).astype(np.uint8), a)


def test_load_rgb_png_from_path_str():
    a = _png_array(ASTRONAUT)
    s = load_image(str(ASTRONAUT))
    assert s.shape == (512, 512) and s.channels == 3 and s.n == 512 * 512
    np.testing.assert_array_equal(s.to_grid().numpy(), a.astype(np.float32) / np.float32(255))


def test_load_uint8_array_roundtrip():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    a[0, 0] = 0
    a[-1, -1] = 255
    s = load_image(a)
    assert s.shape == (6, 7) and s.values.shape == (42, 3)
    assert s.values.min().item() == 0.0 and s.values.max().item() == 1.0
    back = s.to_grid().numpy()
    np.testing.assert_array_equal(back, a.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.round(back * 255).astype(np.uint8), a)


def test_load_uint16_array_scaled_by_65535():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 65536, size=(5, 4), dtype=np.uint16)
    a[0, 0] = 65535
    s = load_image(a)
    assert s.channels == 1
    assert s.values.max().item() == 1.0
    back = s.to_grid().numpy()[..., 0]
    np.testing.assert_allclose(back, a / 65535.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(np.round(back.astype(np.float64) * 65535).astype(np.uint16), a)


def test_load_uint16_png_file(tmp_path):
    a = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257)
    p = tmp_path / "u16.png"
    Image.fromarray(a).save(p)
    s = load_image(p)
    np.testing.assert_allclose(s.to_grid().numpy()[..., 0], a / 65535.0, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_float_array_exact(dtype):
    rng = np.random.default_rng(2)
    a = rng.random((5, 8, 3)).astype(dtype)
    s = load_image(a)
    np.testing.assert_array_equal(s.to_grid().numpy(), a.astype(np.float32))


def test_load_torch_tensors():
    g = torch.Generator().manual_seed(3)
    t = torch.rand(6, 5, 3, generator=g)
    s = load_image(t)
    assert s.name == "array"
    assert torch.equal(s.to_grid(), t)
    u = torch.randint(0, 256, (4, 9), generator=g, dtype=torch.uint8)
    s = load_image(u)
    assert s.shape == (4, 9) and s.channels == 1
    np.testing.assert_array_equal(s.to_grid()[..., 0].numpy(), u.numpy().astype(np.float32) / np.float32(255))


def test_load_does_not_modify_input():
    a = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    before = a.copy()
    load_image(a, size=(6, 8))
    np.testing.assert_array_equal(a, before)


def test_values_follow_coords_row_major():
    # pixel (r, c) holds a unique code; every (coord, value) pair must agree with it
    h, w = 4, 6
    a = (np.arange(h * w).reshape(h, w) * 10).astype(np.uint8)
    s = load_image(a)
    for k in range(s.n):
        r = int(round((s.coords[k, 0].item() + 1) / 2 * (h - 1)))
        c = int(round((s.coords[k, 1].item() + 1) / 2 * (w - 1)))
        assert s.values[k, 0].item() == pytest.approx(a[r, c] / 255.0, abs=1e-7)
    # the row coordinate is constant along an image row
    assert torch.all(s.coords[:w, 0] == -1.0)
    assert torch.unique(s.coords[:w, 1]).numel() == w


def test_gray_conversion_bt709_hand_computation():
    a = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                  [[1.0, 1.0, 1.0], [0.5, 0.25, 0.0], [0.0, 0.0, 0.0]]], dtype=np.float32)
    s = load_image(a, gray=True)
    assert s.channels == 1
    got = s.to_grid().numpy()[..., 0]
    expected = np.array([[0.2125, 0.7154, 0.0721],
                         [1.0, 0.2125 * 0.5 + 0.7154 * 0.25, 0.0]])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_gray_conversion_real_image_matches_weights_and_skimage():
    from skimage.color import rgb2gray

    a = _png_array(ASTRONAUT)[200:232, 200:240]
    s = load_image(a, gray=True)
    got = s.to_grid().numpy()[..., 0]
    hand = (a / 255.0) @ LUMA
    np.testing.assert_allclose(got, hand, atol=1e-6)
    np.testing.assert_allclose(got, rgb2gray(a), atol=1e-6)


def test_gray_on_gray_is_unchanged():
    a = np.random.default_rng(4).random((5, 5)).astype(np.float32)
    s = load_image(a, gray=True)
    np.testing.assert_array_equal(s.to_grid().numpy()[..., 0], a)


def test_rgba_array_drops_alpha():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, size=(5, 6, 4), dtype=np.uint8)
    s = load_image(a)
    assert s.channels == 3
    np.testing.assert_array_equal(s.to_grid().numpy(), a[..., :3].astype(np.float32) / np.float32(255))


def test_rgba_png_drops_alpha(tmp_path):
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, size=(8, 9, 4), dtype=np.uint8)
    a[..., 3] = rng.integers(1, 256, size=(8, 9))  # non-zero alpha: PNG keeps colours exactly
    p = tmp_path / "rgba.png"
    Image.fromarray(a, mode="RGBA").save(p)
    s = load_image(p)
    assert s.channels == 3
    np.testing.assert_array_equal(s.to_grid().numpy(), a[..., :3].astype(np.float32) / np.float32(255))


def test_int_size_centre_crops_then_resizes():
    full = _png_array(COFFEE)
    assert full.shape == (400, 600, 3)
    s = load_image(COFFEE, size=64)
    assert s.shape == (64, 64) and s.n == 64 * 64 and s.channels == 3
    assert s.coords.shape == (4096, 2)
    got = s.to_grid().numpy()
    assert got.min() >= 0.0 and got.max() <= 1.0

    def pil(crop):  # independent reference: Pillow's bicubic (antialiased) resize
        return np.asarray(Image.fromarray(crop).resize((64, 64), Image.BICUBIC)) / 255.0

    centre = np.abs(got - pil(full[:, 100:500])).mean()
    left = np.abs(got - pil(full[:, :400])).mean()
    squashed = np.abs(got - pil(full)).mean()
    assert centre < 0.005
    assert left > 10 * centre and squashed > 10 * centre


def test_pair_size_resizes_without_crop():
    full = _png_array(COFFEE)
    s = load_image(COFFEE, size=(20, 30))
    assert s.shape == (20, 30) and s.n == 600 and s.channels == 3
    ref = np.asarray(Image.fromarray(full).resize((30, 20), Image.BICUBIC)) / 255.0
    assert np.abs(s.to_grid().numpy() - ref).mean() < 0.01


def test_size_equal_to_image_keeps_pixels():
    a = np.random.default_rng(7).random((12, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_image(a, size=12).to_grid().numpy(), a)
    np.testing.assert_array_equal(load_image(a, size=(12, 12)).to_grid().numpy(), a)


def test_to_grid_of_other_values_and_1d():
    s = load_image(np.zeros((3, 4), dtype=np.uint8))
    v = torch.arange(12, dtype=torch.float32)
    assert torch.equal(s.to_grid(v)[..., 0], v.reshape(3, 4))
    with pytest.raises(ValueError, match="values must be"):
        s.to_grid(torch.zeros(11, 1))


# --------------------------------------------------------------------------- sample_signal

@pytest.mark.parametrize("name", [n for n in SAMPLES if SAMPLES[n][0] is load_image])
def test_sample_signal_names(name):
    s = sample_signal(name, size=16)
    assert s.name == name and s.kind == "image"
    assert s.shape == (16, 16) and s.n == 256
    assert s.channels == (1 if name == "camera" else 3)
    assert 0.0 <= s.values.min().item() and s.values.max().item() <= 1.0


def test_sample_signal_kinds_and_loader_options():
    assert {SAMPLES[n][0].__name__ for n in SAMPLES} == {"load_image", "load_audio", "load_shape"}
    assert sample_signal("speech", seconds=0.01).kind == "audio"
    with pytest.raises(ValueError, match="load_audio, which does not accept"):
        sample_signal("audio", size=16)


def test_sample_signal_image_is_astronaut_and_camera_is_gray():
    assert torch.equal(sample_signal("image", size=16).values, sample_signal("astronaut", size=16).values)
    direct = load_image(CAMERA, size=16, gray=True)
    assert torch.equal(sample_signal("camera", size=16).values, direct.values)


def test_sample_signal_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown sample signal 'nope'") as e:
        sample_signal("nope")
    for name in SAMPLES:
        assert name in str(e.value)


def test_data_dir_is_the_checkouts_data_or_nint_lite_data(monkeypatch, tmp_path):
    monkeypatch.delenv("NINT_LITE_DATA", raising=False)
    assert data_dir() == ROOT / "data"                      # a clone or editable install
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "camera.png").write_bytes(CAMERA.read_bytes())
    monkeypatch.setenv("NINT_LITE_DATA", str(tmp_path))
    assert data_dir() == tmp_path and sample_signal("camera", size=8).shape == (8, 8)
    monkeypatch.setenv("NINT_LITE_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="NINT_LITE_DATA"):
        sample_signal("camera")


def test_public_api_reexports():
    assert nl.load_image is load_image and nl.grid is grid and nl.Signal is Signal


# --------------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_garbage_png(tmp_path):
    p = tmp_path / "garbage.png"
    p.write_bytes(np.random.default_rng(8).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="cannot read .*garbage.png"):
        load_image(p)


def test_truncated_png(tmp_path):
    p = tmp_path / "truncated.png"
    p.write_bytes(CAMERA.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot read"):
        load_image(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_array(bad):
    a = np.full((4, 4), 0.5, dtype=np.float32)
    a[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        load_image(a)
    with pytest.raises(ValueError, match="NaN or inf"):
        load_image(torch.from_numpy(a))


@pytest.mark.parametrize("bad", [-0.01, 1.5, 255.0])
def test_float_outside_unit_interval(bad):
    a = np.full((4, 4, 3), 0.5)
    a[0, 0, 0] = bad
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_image(a)


@pytest.mark.parametrize("size", [0, -3, (0, 5), (5, -1)])
def test_bad_size(size):
    with pytest.raises(ValueError, match="size must be a positive"):
        load_image(np.zeros((8, 8), dtype=np.uint8), size=size)


@pytest.mark.parametrize("shape", [(4, 4, 5), (4,), (0, 4)])
def test_bad_array_shape(shape):
    with pytest.raises(ValueError, match="image must be"):
        load_image(np.zeros(shape, dtype=np.uint8))


def test_bad_input_type():
    with pytest.raises(ValueError, match="path, numpy array or torch tensor"):
        load_image([[0.0, 1.0]])


def test_signal_mismatched_n():
    with pytest.raises(ValueError, match="has 12 nodes"):
        Signal(grid((3, 4)), torch.zeros(11, 1), (3, 4))
    with pytest.raises(ValueError, match="has 12 nodes"):
        Signal(grid((3, 3)), torch.zeros(12, 1), (3, 4))


def test_signal_bad_ndim_and_nonfinite():
    with pytest.raises(ValueError, match="2-D"):
        Signal(grid((3, 4)), torch.zeros(12), (3, 4))
    v = torch.zeros(12, 1)
    v[3] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        Signal(grid((3, 4)), v, (3, 4))
