"""Unit tests for nint_lite.metrics: PSNR by hand, SSIM against scikit-image (SI-SNR, IoU and
Chamfer: tests/test_audio_and_shapes.py)."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from nint_lite import metrics
from nint_lite.metrics import psnr, ssim

DATA = Path(__file__).resolve().parent.parent / "data" / "images"


def _sk_ssim(a, b):
    return structural_similarity(a, b, data_range=1, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False,
                                 channel_axis=-1 if a.ndim == 3 else None)


# --------------------------------------------------------------------------- psnr

def test_psnr_hand_computation_exact_value():
    a = np.zeros(10)
    b = np.full(10, 0.1)  # mse = 0.01 -> 20 dB
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-9)
    assert psnr(b, a) == pytest.approx(20.0, abs=1e-9)


def test_psnr_random_hand_computation():
    rng = np.random.default_rng(0)
    a, b = rng.random((32, 3)), rng.random((32, 3))
    expected = 10 * math.log10(1 / np.mean((a - b) ** 2))
    assert psnr(a, b) == pytest.approx(expected, abs=1e-9)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1), abs=1e-9)


def test_psnr_data_range():
    rng = np.random.default_rng(1)
    a, b = rng.random(50) * 255, rng.random(50) * 255
    expected = 10 * math.log10(255 ** 2 / np.mean((a - b) ** 2))
    assert psnr(a, b, data_range=255) == pytest.approx(expected, abs=1e-9)


def test_psnr_numpy_torch_and_mixed_agree():
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(16, 16, 3, generator=g), torch.rand(16, 16, 3, generator=g)
    expected = 10 * math.log10(1 / torch.mean((a.double() - b.double()) ** 2).item())
    for x, y in [(a, b), (a.numpy(), b.numpy()), (a, b.numpy()), (a.numpy(), b)]:
        assert psnr(x, y) == pytest.approx(expected, abs=1e-9)
    # grad-tracking tensors are fine too
    assert psnr(a.clone().requires_grad_(), b) == pytest.approx(expected, abs=1e-9)


def test_psnr_keeps_each_inputs_dtype():
    # uint8 prediction against a float target: nothing is cast to the other's dtype (no rounding)
    a, b = np.array([0, 255], np.uint8), np.array([0.0, 254.5])
    assert psnr(a, b, data_range=255) == pytest.approx(10 * math.log10(255 ** 2 / 0.125), abs=1e-9)
    assert psnr(torch.tensor([0.1], dtype=torch.float16), torch.tensor([0.1], dtype=torch.float64)) \
        == pytest.approx(10 * math.log10(1 / (float(np.float16(0.1)) - 0.1) ** 2), abs=1e-6)


def test_shape_metrics_live_in_nint_lite_shapes():
    assert metrics.__all__ == ["psnr", "ssim", "si_snr"]
    assert not hasattr(metrics, "iou") and not hasattr(metrics, "chamfer")


def test_psnr_identical_is_inf():
    a = np.random.default_rng(3).random((8, 8))
    assert psnr(a, a.copy()) == math.inf
    assert psnr(torch.from_numpy(a), torch.from_numpy(a)) == math.inf


def test_psnr_nonfinite_pred():
    t = torch.zeros(4)
    assert math.isnan(psnr(torch.tensor([0.0, float("nan"), 0.0, 0.0]), t))
    assert psnr(torch.tensor([0.0, float("inf"), 0.0, 0.0]), t) == -math.inf


@pytest.mark.parametrize("sa,sb", [((4, 3), (4, 1)), ((16,), (4, 4)), ((2, 2, 3), (2, 2))])
def test_psnr_shape_mismatch(sa, sb):
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros(sa), np.zeros(sb))


# --------------------------------------------------------------------------- ssim

@pytest.mark.parametrize("shape", [(32, 40), (11, 11), (23, 37), (32, 40, 3), (20, 24, 1)])
def test_ssim_matches_skimage_random(shape):
    rng = np.random.default_rng(sum(shape))
    a, b = rng.random(shape), rng.random(shape)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-6)


def test_ssim_matches_skimage_correlated_random():
    rng = np.random.default_rng(4)
    a = rng.random((30, 30, 3))
    b = np.clip(0.7 * a + 0.3 * rng.random(a.shape), 0, 1)
    ref = _sk_ssim(a, b)
    assert 0.3 < ref < 0.99  # a non-trivial value
    assert ssim(a, b) == pytest.approx(ref, abs=1e-6)


def _noisy(x, sigma, seed):
    return np.clip(x + sigma * np.random.default_rng(seed).standard_normal(x.shape), 0, 1)


def test_ssim_matches_skimage_real_gray():
    with Image.open(DATA / "camera.png") as im:
        cam = np.asarray(im)[100:164, 200:264] / 255.0
    for sigma, seed in [(0.02, 5), (0.1, 6)]:
        noisy = _noisy(cam, sigma, seed)
        ref = _sk_ssim(cam, noisy)
        assert ssim(cam, noisy) == pytest.approx(ref, abs=1e-6)
        # float32 torch inputs, as a reconstruction would be
        t = ssim(torch.from_numpy(cam).float(), torch.from_numpy(noisy).float())
        assert t == pytest.approx(_sk_ssim(cam.astype(np.float32).astype(np.float64),
                                           noisy.astype(np.float32).astype(np.float64)), abs=1e-6)


def test_ssim_matches_skimage_real_rgb():
    with Image.open(DATA / "astronaut.png") as im:
        ast = np.asarray(im)[50:98, 180:236] / 255.0
    noisy = _noisy(ast, 0.05, 7)
    ref = _sk_ssim(ast, noisy)
    assert 0.2 < ref < 0.99
    assert ssim(ast, noisy) == pytest.approx(ref, abs=1e-6)
    assert ssim(torch.from_numpy(ast), torch.from_numpy(noisy)) == pytest.approx(ref, abs=1e-6)


def test_ssim_noise_lowers_score():
    with Image.open(DATA / "camera.png") as im:
        cam = np.asarray(im)[100:164, 200:264] / 255.0
    assert ssim(cam, _noisy(cam, 0.02, 8)) > ssim(cam, _noisy(cam, 0.2, 8))


def test_ssim_identical_is_one():
    rng = np.random.default_rng(9)
    for shape in [(16, 16), (16, 20, 3)]:
        a = rng.random(shape)
        assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-12)
    z = np.zeros((12, 12))
    assert ssim(z, z) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("shape", [(10, 10), (10, 32), (32, 5, 3)])
def test_ssim_too_small(shape):
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros(shape), np.zeros(shape))


def test_ssim_bad_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(np.zeros((16, 16)), np.zeros((16, 17)))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        ssim(np.zeros(16 * 16), np.zeros(16 * 16))
