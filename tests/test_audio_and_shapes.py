"""Audio and 3D-shape signals (nint_lite.shapes): loaders (WAVs and meshes written here), metrics
against hand computations, the metrics each signal carries, and the trainer on 1D and 3D grids."""
import importlib.util
import io
import math
import pickle
import wave
from functools import partial

import numpy as np
import pytest
import torch
from scipy.io import wavfile

import nint_lite as nl
from nint_lite import shapes
from nint_lite.signals import SAMPLES

# trimesh, libigl and scikit-image come with the [shapes] extra; tests that need them skip without
HAVE_SHAPES = all(importlib.util.find_spec(m) for m in ("trimesh", "igl", "skimage"))
needs_shapes = pytest.mark.skipif(not HAVE_SHAPES, reason="needs pip install 'nint_lite[shapes]'")
if HAVE_SHAPES:
    import trimesh


# --------------------------------------------------------------------------- audio

def _write_pcm24(path, frames: np.ndarray, rate: int):
    """24-bit PCM via the wave module (scipy cannot write 24-bit): frames (n, ch) ints."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(3)
        w.setframerate(rate)
        w.writeframes(b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames.ravel()))


@pytest.mark.parametrize("fmt", ["uint8", "int16", "int24", "int32", "float32", "float64"])
def test_load_audio_formats_scale_to_unit_range(tmp_path, fmt):
    t = np.linspace(0, 1, 800, endpoint=False)
    x = 0.5 * np.sin(2 * np.pi * 5 * t)                      # ground truth in [-0.5, 0.5]
    p = tmp_path / f"{fmt}.wav"
    if fmt == "uint8":
        wavfile.write(p, 800, np.round(x * 128 + 128).astype(np.uint8))
        tol = 1 / 128
    elif fmt == "int24":
        _write_pcm24(p, np.round(x * 2 ** 23).astype(np.int64)[:, None], 800)
        tol = 2 ** -23
    elif fmt.startswith("int"):
        bits = int(fmt[3:])
        wavfile.write(p, 800, np.round(x * 2 ** (bits - 1)).astype(fmt))
        tol = 2.0 ** (1 - bits)
    else:
        wavfile.write(p, 800, x.astype(fmt))
        tol = 1e-6
    sig = nl.load_audio(p)
    assert sig.kind == "audio" and sig.shape == (800,) and sig.values.dtype == torch.float32
    assert sig.coords.shape == (800, 1) and sig.coords[0, 0] == -1 and sig.coords[-1, 0] == 1
    assert sig.meta["sample_rate"] == 800 and sig.meta["data_range"] == 2.0
    assert np.abs(sig.values[:, 0].numpy() - x).max() <= tol + 1e-7


def test_load_audio_mixes_stereo_crops_and_scales_coords(tmp_path):
    left, right = np.arange(1000, dtype=np.int16), -np.arange(1000, dtype=np.int16) // 2
    p = tmp_path / "st.wav"
    wavfile.write(p, 1000, np.stack([left, right], 1))
    sig = nl.load_audio(p, seconds=0.25, start=0.5, coord_range=5.0)
    want = (np.arange(500, 750) + (-np.arange(500, 750) // 2)) / 2 / 32768
    assert sig.n == 250 and np.allclose(sig.values[:, 0].numpy(), want, atol=1e-7)
    assert sig.coords.min() == -5 and sig.coords.max() == 5


def test_loud_float_wav_is_scaled_with_a_warning(tmp_path):
    p = tmp_path / "loud.wav"
    wavfile.write(p, 100, np.array([0.0, 2.0, -1.0, 0.5], np.float32))
    with pytest.warns(UserWarning, match="peak"):
        sig = nl.load_audio(p)
    assert np.allclose(sig.values[:, 0].numpy(), [0, 1, -0.5, 0.25])


def test_to_wav_round_trip(tmp_path):
    x = torch.linspace(-1.2, 1.2, 101)[:, None]              # beyond full scale: clipped
    p = nl.to_wav(x, tmp_path / "out.wav", sample_rate=8000)
    rate, a = wavfile.read(p)
    assert rate == 8000 and a.dtype == np.int16 and len(a) == 101
    assert a.max() == 32767 and a.min() == -32767
    back = nl.load_audio(p)
    assert np.abs(back.values[:, 0].numpy() - x[:, 0].clamp(-1, 1).numpy()).max() < 1e-4


def test_audio_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        nl.load_audio(tmp_path / "missing.wav")
    p = tmp_path / "empty.wav"
    wavfile.write(p, 1000, np.zeros(0, np.int16))
    with pytest.raises(ValueError, match="no samples"):
        nl.load_audio(p)
    q = tmp_path / "text.wav"
    q.write_text("not a wav file at all")
    with pytest.raises(ValueError, match="PCM or float WAV"):
        nl.load_audio(q)
    # a compressed format (μ-law, format tag 7) that scipy does not decode
    buf = bytearray(io.BytesIO().getvalue())
    good = tmp_path / "ok.wav"
    wavfile.write(good, 1000, np.zeros(100, np.int16))
    raw = bytearray(good.read_bytes())
    raw[20:22] = (7).to_bytes(2, "little")
    bad = tmp_path / "mulaw.wav"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="PCM or float WAV"):
        nl.load_audio(bad)
    with pytest.raises(ValueError, match="only 0.100 s long"):
        nl.load_audio(good, seconds=0.5)
    with pytest.raises(ValueError, match="outside the clip"):
        nl.load_audio(good, start=0.2)
    with pytest.raises(ValueError, match="seconds must be positive"):
        nl.load_audio(good, seconds=0)
    with pytest.raises(ValueError, match="coord_range"):
        nl.load_audio(good, coord_range=0)
    with pytest.raises(ValueError, match="sample_rate"):
        nl.to_wav(np.zeros(4), tmp_path / "x.wav", sample_rate=0)
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 1\)"):
        nl.to_wav(np.zeros((4, 2)), tmp_path / "x.wav")
    assert not buf


def test_bundled_speech_clip():
    sig = nl.sample_signal("audio", seconds=1.0)
    assert sig.n == 16000 and sig.meta["sample_rate"] == 16000
    assert 0.3 < sig.values.abs().max() <= 1.0 and sig.name == "audio"


# --------------------------------------------------------------------------- shapes

@pytest.fixture(scope="module")
def sphere_ply(tmp_path_factory):
    p = tmp_path_factory.mktemp("mesh") / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=4, radius=2.0).export(p)  # normalised to radius 0.9
    return p


@needs_shapes
def test_sphere_sdf_is_exact_to_one_voxel(sphere_ply):
    res = 24
    sig = shapes.load_shape(sphere_ply, resolution=res, cache=False)
    assert sig.kind == "shape" and sig.shape == (res,) * 3 and sig.coords.shape == (res ** 3, 3)
    exact = sig.coords.norm(dim=1) - 0.9
    voxel = 2 / (res - 1)
    assert (sig.values[:, 0] - exact).abs().max() <= voxel
    assert sig.meta["field"] == "sdf" and sig.meta["level"] == 0.0
    occ = shapes.load_shape(sphere_ply, resolution=res, field="occupancy", cache=False)
    assert set(occ.values.unique().tolist()) == {0.0, 1.0}
    far = (exact.abs() > voxel)                              # away from the surface: no ambiguity
    assert torch.equal(occ.values[far, 0] == 1, exact[far] < 0)
    assert shapes.iou(sig.values, occ.values * -1 + 0.5) > 0.97  # SDF < 0 ⇔ occupancy 1


@needs_shapes
@pytest.mark.parametrize("ext", ["obj", "off", "stl"])
def test_other_mesh_formats_give_the_same_field(sphere_ply, tmp_path, ext):
    m = trimesh.load(sphere_ply)
    p = tmp_path / f"s.{ext}"
    m.export(p)
    a = shapes.load_shape(sphere_ply, resolution=12, cache=False)
    b = shapes.load_shape(p, resolution=12, cache=False)
    assert torch.allclose(a.values, b.values, atol=1e-4)


@needs_shapes
def test_shape_cache_is_reused_and_keyed_on_content(tmp_path):
    p = tmp_path / "box.ply"
    trimesh.creation.box(extents=(1, 1, 1)).export(p)
    a = shapes.load_shape(p, resolution=10)
    cache = tmp_path / "box.sdf-10.cache.npz"
    assert cache.exists()
    np.savez_compressed(cache, field=np.full((10,) * 3, 7, np.float32), sha1=np.array(
        str(np.load(cache)["sha1"])))                        # tamper: same key, other values
    assert float(shapes.load_shape(p, resolution=10).values[0]) == 7.0  # proves the cache is read
    trimesh.creation.box(extents=(1, 2, 1)).export(p)       # new content: recomputed
    b = shapes.load_shape(p, resolution=10)
    assert float(b.values.max()) < 7 and not torch.allclose(a.values, b.values)


@needs_shapes
def test_open_mesh_warns_and_uses_winding_number_sign(tmp_path):
    m = trimesh.creation.icosphere(subdivisions=3)
    keep = m.triangles_center[:, 2] < 0.9                    # cut a small cap off the top
    p = tmp_path / "open.ply"
    trimesh.Trimesh(m.vertices, m.faces[keep]).export(p)
    with pytest.warns(UserWarning, match="not watertight"):
        sig = shapes.load_shape(p, resolution=16, cache=False)
    exact = sig.coords.norm(dim=1) - 0.9                     # the sphere still fills the box
    deep = exact < -0.3
    assert bool((sig.values[deep, 0] < 0).all())             # inside stays inside despite the hole


def test_volume_array_is_used_as_the_field():
    vol = np.random.default_rng(0).standard_normal((4, 5, 6)).astype(np.float32)
    sig = shapes.load_shape(vol)
    assert sig.shape == (4, 5, 6) and torch.equal(sig.to_grid()[..., 0], torch.from_numpy(vol))
    assert sig.meta["data_range"] == pytest.approx(float(vol.max() - vol.min()))


@needs_shapes
def test_shape_bad_input(tmp_path, sphere_ply):
    with pytest.raises(FileNotFoundError):
        shapes.load_shape(tmp_path / "none.ply")
    bad = tmp_path / "bad.obj"
    bad.write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match="no triangle faces|cannot read"):
        shapes.load_shape(bad, cache=False)
    pts = tmp_path / "points.ply"
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(pts)
    with pytest.raises(ValueError, match="no triangle faces"):
        shapes.load_shape(pts, cache=False)
    for r in (4, 7, 513, 2.5):
        with pytest.raises(ValueError, match=r"\[8, 512\]"):
            shapes.load_shape(sphere_ply, resolution=r)
    with pytest.raises(ValueError, match="unknown field"):
        shapes.load_shape(sphere_ply, field="udf")
    with pytest.raises(ValueError, match="D, H, W"):
        shapes.load_shape(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        shapes.load_shape(np.full((3, 3, 3), np.nan))


@needs_shapes
def test_to_mesh_and_save_ply_on_a_sphere(sphere_ply, tmp_path):
    sig = shapes.load_shape(sphere_ply, resolution=24, cache=False)
    v, f = shapes.to_mesh(sig.values, sig)
    r = np.linalg.norm(v, axis=1)
    assert f.shape[1] == 3 and np.abs(r - 0.9).max() < 2 / 23   # on the sphere, in [-1, 1] units
    p = shapes.save_ply(tmp_path / "rec.ply", v, f)
    back = trimesh.load(p, process=False)
    assert np.allclose(back.vertices, v, atol=1e-6) and np.array_equal(back.faces, f)
    with pytest.raises(ValueError, match="no surface"):
        shapes.to_mesh(torch.ones_like(sig.values), sig)
    with pytest.raises(ValueError, match="3D grid"):
        shapes.to_mesh(torch.zeros(16, 1), nl.load_image(np.zeros((4, 4))))


@needs_shapes
def test_bundled_bunny_is_a_closed_shape():
    sig = nl.sample_signal("shape", resolution=16)
    inside = (sig.values < 0).float().mean().item()
    assert 0.05 < inside < 0.5 and sig.coords.abs().max() == 1


def test_shapes_register_the_bunny_and_sample_shape_loads_it():
    for name in ("bunny", "shape"):
        assert SAMPLES[name][0] is shapes.load_shape and SAMPLES[name][1] == "shapes/bunny.ply"
    with pytest.raises(ValueError, match="unknown sample shape 'camera'; valid names: .*bunny"):
        shapes.sample_shape("camera")
    with pytest.raises(ValueError, match="load_shape, which does not accept"):
        shapes.sample_shape(size=16)


@needs_shapes
def test_sample_shape_is_sample_signal():
    a, b = shapes.sample_shape(resolution=8, field="occupancy"), nl.sample_signal("bunny", resolution=8,
                                                                               field="occupancy")
    assert a.name == "bunny" and a.meta == b.meta and torch.equal(a.values, b.values)


# --------------------------------------------------------------------------- the metrics a signal carries

def test_each_signal_carries_its_metrics(tmp_path):
    p = tmp_path / "a.wav"
    wavfile.write(p, 100, (np.sin(np.arange(50)) * 1e4).astype(np.int16))
    assert nl.load_audio(p).metrics == {"si_snr": nl.si_snr}
    assert nl.load_image(np.zeros((4, 4))).metrics == {}
    vol = np.linspace(-1, 1, 27).reshape(3, 3, 3)
    for field, level, inside in (("sdf", 0.0, "below"), ("occupancy", 0.5, "above")):
        sig = shapes.load_shape((vol > 0).astype(np.float32) if field == "occupancy" else vol, field=field)
        fn = sig.metrics["iou"]
        assert sig.meta["field"] == field and sig.meta["level"] == level
        assert isinstance(fn, partial) and fn.func is shapes.iou
        assert fn.keywords == {"level": level, "inside": inside}
        pred = sig.values.roll(1, 0)
        assert fn(pred, sig.values) == shapes.iou(pred, sig.values, level, inside) < 1
        assert fn(sig.values, sig.values) == 1.0
        back = pickle.loads(pickle.dumps(sig))               # e.g. sent to a worker process
        assert back.metrics["iou"](pred, sig.values) == fn(pred, sig.values)


# --------------------------------------------------------------------------- metrics

def test_si_snr_by_hand():
    t = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    e = torch.tensor([0.1, 0.2, -0.1, 0.05], dtype=torch.float64)
    p = 3.0 * t + e + 7.0                                    # scale and offset do not matter
    tc, pc = t - t.mean(), p - p.mean()
    s = (pc @ tc) / (tc @ tc) * tc
    want = 10 * math.log10(float(s @ s) / float((pc - s) @ (pc - s)))
    assert nl.si_snr(p, t) == pytest.approx(want, rel=1e-9)
    assert nl.si_snr(2 * t, t) == math.inf
    with pytest.raises(ValueError, match="constant"):
        nl.si_snr(t, torch.ones(4))
    with pytest.raises(ValueError, match="shapes differ"):
        nl.si_snr(t, t[:3])


def test_iou_by_hand():
    a = torch.tensor([-1.0, -1.0, 1.0, 1.0, -1.0])           # inside (SDF < 0): {0, 1, 4}
    b = torch.tensor([-1.0, 1.0, 1.0, -1.0, -1.0])           # inside: {0, 3, 4}
    assert shapes.iou(a, b) == pytest.approx(2 / 4)
    occ_a, occ_b = (a < 0).float(), (b < 0).float()
    assert shapes.iou(occ_a, occ_b, level=0.5, inside="above") == pytest.approx(0.5)
    assert shapes.iou(torch.ones(3), torch.ones(3)) == 1.0      # both empty
    with pytest.raises(ValueError, match="inside"):
        shapes.iou(a, b, inside="left")


@needs_shapes
def test_chamfer_by_hand_and_on_meshes():
    a = np.array([[0.0, 0, 0], [1, 0, 0]])
    b = np.array([[0.0, 0, 0.5]])
    # a→b: 0.5 and sqrt(1.25); b→a: 0.5
    assert shapes.chamfer(a, b) == pytest.approx(0.5 * ((0.5 + math.sqrt(1.25)) / 2 + 0.5))
    s1 = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    s2 = trimesh.creation.icosphere(subdivisions=4, radius=1.1)
    d = shapes.chamfer((s1.vertices, s1.faces), (s2.vertices, s2.faces), n_points=20000)
    assert d == pytest.approx(0.1, abs=0.01)                 # concentric spheres 0.1 apart
    with pytest.raises(ValueError, match="mesh"):
        shapes.chamfer(np.zeros((3, 2)), a)


# --------------------------------------------------------------------------- training

def test_fit_audio_records_si_snr_and_improves():
    sig = nl.sample_signal("audio", seconds=0.05)            # 800 samples
    model = nl.make_model("siren", 1, 1, hidden=64, layers=2, seed=0, first_w0=300.0)
    hist = nl.fit(model, sig, "nint", steps=150, lr=1e-4, eval_every=50, progress=False, device="cpu")
    si = hist.metrics["si_snr"]
    assert len(si) == len(hist.steps) and si[-1] > si[0] + 5 and hist.final["si_snr"] == si[-1]
    # PSNR on [-1, 1]: data range 2
    pred = nl.predict(model, sig.coords)
    assert hist.psnr[-1] == pytest.approx(nl.psnr(pred, sig.values, data_range=2.0), abs=1e-4)
    assert hist.time_to(si[-1], metric="si_snr") is not None
    with pytest.raises(ValueError, match="no 'iou'"):
        hist.time_to(0.5, metric="iou")


@needs_shapes
@pytest.mark.parametrize("sampler", ["full", "int", "nint", "soft", "evos"])
def test_fit_shape_records_iou(sampler):
    sig = nl.sample_signal("shape", resolution=12)
    model = nl.make_model("siren", 3, 1, hidden=32, layers=2, seed=0)
    hist = nl.fit(model, sig, sampler, steps=40, lr=1e-3, eval_every=20, progress=False, device="cpu")
    iou = hist.metrics["iou"]
    assert len(iou) == 3 and 0 <= min(iou) and max(iou) <= 1 and iou[-1] > iou[0]
    assert hist.final["iou"] == iou[-1]
