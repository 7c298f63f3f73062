"""Signals: coordinates -> values on a grid, the thing an INR is fitted to (images and audio).

A `Signal` holds every sample of one signal on a regular grid:

    coords: (N, d) float32 in [-1, 1]   (d = 2 for images, 1 for audio, 3 for shapes)
    values: (N, C) float32              (images: C = 1 or 3 in [0, 1]; audio: C = 1 in [-1, 1])
    shape:  the grid shape, prod(shape) == N, row-major (C order)

`coords[:, k]` runs along grid axis k, so for an image `coords[:, 0]` is the row (y) and
`coords[:, 1]` the column (x). `signal.to_grid(values)` turns any (N, C) tensor back into
(*shape, C), e.g. a reconstruction into an image.

`signal.meta` carries what a loader knows beyond the samples: "data_range" (the peak-to-peak
range PSNR uses: 1 for images, 2 for audio), "sample_rate" for audio, "field" / "level" for
shapes. `signal.metrics` names the measures the signal is judged by besides PSNR
({"si_snr": ...} for audio), which `fit` records. 3D shapes live in `nint_lite.shapes`.

Built in notebooks/01_fit_an_inr.ipynb (images); audio in notebooks/06_audio_and_3d.ipynb.
"""
from __future__ import annotations

import inspect
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import si_snr

__all__ = ["Signal", "grid", "load_image", "load_audio", "to_wav", "sample_signal", "data_dir",
           "SAMPLES"]

# ITU-R BT.709 luma weights, the ones scikit-image's rgb2gray uses.
_LUMA = (0.2125, 0.7154, 0.0721)


def grid(shape, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    """All nodes of a regular grid: (prod(shape), len(shape)) float32, row-major.

    Each axis is `torch.linspace(lo, hi, n)`, endpoints included (as in SIREN's get_mgrid).
    """
    shape = tuple(int(n) for n in shape)
    if not shape or any(n <= 0 for n in shape):
        raise ValueError(f"grid shape must be non-empty positive sizes, got {shape}")
    axes = [torch.linspace(lo, hi, n) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack(mesh, dim=-1).reshape(-1, len(shape)).float()


@dataclass
class Signal:
    """One signal sampled on a grid. See the module docstring for shapes.

    metrics: {name: fn(pred (N, C), target (N, C)) -> float}, the measures besides PSNR.
    """

    coords: torch.Tensor
    values: torch.Tensor
    shape: tuple
    kind: str = "image"
    name: str = ""
    meta: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.shape = tuple(int(n) for n in self.shape)
        n = int(np.prod(self.shape))
        if self.coords.ndim != 2 or self.values.ndim != 2:
            raise ValueError(
                f"coords and values must be 2-D (N, d) and (N, C); got {tuple(self.coords.shape)} "
                f"and {tuple(self.values.shape)}")
        if self.coords.shape[0] != n or self.values.shape[0] != n:
            raise ValueError(
                f"grid shape {self.shape} has {n} nodes but coords has {self.coords.shape[0]} "
                f"rows and values {self.values.shape[0]}")
        if not torch.isfinite(self.values).all():
            raise ValueError("signal values contain NaN or inf")

    @property
    def n(self) -> int:
        """Number of coordinates N."""
        return self.coords.shape[0]

    @property
    def in_features(self) -> int:
        """Coordinate dimension d."""
        return self.coords.shape[1]

    @property
    def channels(self) -> int:
        """Number of value channels C."""
        return self.values.shape[1]

    def to_grid(self, values: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C) values (default: the signal's own) -> (*shape, C) tensor."""
        v = self.values if values is None else torch.as_tensor(values)
        if v.ndim == 1 and self.channels == 1:
            v = v[:, None]
        if v.ndim != 2 or v.shape[0] != self.n:
            raise ValueError(f"values must be (N={self.n}, C); got {tuple(v.shape)}")
        return v.reshape(*self.shape, v.shape[1])

    def __repr__(self) -> str:
        return (f"Signal(kind={self.kind!r}, name={self.name!r}, shape={self.shape}, "
                f"N={self.n}, d={self.in_features}, C={self.channels})")


# --------------------------------------------------------------------------- images

def _read_image(path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"image file not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"cannot read {p} as an image ({type(e).__name__}: {e})") from None


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    """Integer images -> [0, 1] by their dtype's range; float images must already be in [0, 1]."""
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / float(np.iinfo(a.dtype).max)
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError("image array contains NaN or inf")
        if a.size and (a.min() < 0.0 or a.max() > 1.0):
            raise ValueError(
                f"float image values must lie in [0, 1]; got [{a.min():.3g}, {a.max():.3g}]")
        return a
    raise ValueError(f"unsupported image dtype {a.dtype}")


def load_image(path_or_array, size=None, gray: bool = False, name: str | None = None) -> Signal:
    """Load an image as a Signal: coords (H*W, 2) in [-1, 1], values (H*W, C) in [0, 1].

    path_or_array: a file Pillow can read, or an array / tensor of shape (H, W) or (H, W, C)
        (integers are scaled by their dtype's maximum, floats must lie in [0, 1]).
    size: None keeps the image; an int s centre-crops to a square and resizes to s×s;
        a pair (H, W) resizes to exactly that. Resizing is antialiased bicubic.
    gray: convert RGB to one luma channel (BT.709 weights).
    """
    if isinstance(path_or_array, (str, os.PathLike)):
        a = _read_image(path_or_array)
        name = name or Path(path_or_array).stem
    elif isinstance(path_or_array, (np.ndarray, torch.Tensor)):
        a = path_or_array.detach().cpu().numpy() if torch.is_tensor(path_or_array) else path_or_array
        name = name or "array"
    else:
        raise ValueError(
            f"path_or_array must be a path, numpy array or torch tensor, got {type(path_or_array).__name__}")
    a = _to_unit_float(np.asarray(a))
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"image must be (H, W) or (H, W, C) with C in 1..4, got shape {a.shape}")
    if a.shape[2] in (2, 4):  # drop alpha
        a = a[:, :, :-1]
    img = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)  # (C, H, W)
    if gray and img.shape[0] == 3:
        img = (torch.tensor(_LUMA).view(3, 1, 1) * img).sum(0, keepdim=True)

    if size is not None:
        img = _resize(img, size)
    c, h, w = img.shape
    values = img.permute(1, 2, 0).reshape(h * w, c).contiguous()
    return Signal(grid((h, w)), values, (h, w), kind="image", name=name)


def _resize(img: torch.Tensor, size) -> torch.Tensor:
    """(C, H, W) -> resized (C, H', W'); int size centre-crops to a square first."""
    if isinstance(size, (int, np.integer)):
        if size <= 0:
            raise ValueError(f"size must be a positive int or (H, W) pair, got {size}")
        h, w = img.shape[1:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img = img[:, top:top + s, left:left + s]
        size = (int(size), int(size))
    else:
        try:
            size = tuple(int(v) for v in size)
        except TypeError:
            raise ValueError(f"size must be a positive int or (H, W) pair, got {size!r}") from None
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"size must be a positive int or (H, W) pair, got {size}")
    if tuple(img.shape[1:]) == size:
        return img
    out = F.interpolate(img[None], size=size, mode="bicubic", antialias=True, align_corners=False)[0]
    return out.clamp(0.0, 1.0)  # bicubic overshoots slightly at edges


# --------------------------------------------------------------------------- audio

def _wav_to_float(a: np.ndarray, path) -> np.ndarray:
    """WAV samples -> float32 in [-1, 1] by the stored format's full scale."""
    if a.dtype == np.uint8:  # 8-bit PCM is unsigned, centred on 128
        return (a.astype(np.float32) - 128.0) / 128.0
    if a.dtype in (np.int16, np.int32):  # scipy left-justifies 24-bit PCM into int32
        return a.astype(np.float32) / float(-np.iinfo(a.dtype).min)
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: WAV samples contain NaN or inf")
        peak = float(np.abs(a).max())
        if peak > 1.0:  # float WAVs may exceed full scale; keep the waveform, not clipped
            warnings.warn(f"{path}: float samples peak at {peak:.3g} > 1; scaled by 1/{peak:.3g}",
                          stacklevel=3)
            a = a / peak
        return a
    raise ValueError(f"{path}: unsupported WAV sample type {a.dtype} (need PCM 8/16/24/32-bit or float)")


def load_audio(path, seconds: float | None = None, start: float = 0.0, coord_range: float = 1.0,
               name: str | None = None) -> Signal:
    """Load a WAV file as a Signal: coords (N, 1), values (N, 1) in [-1, 1], shape (N,).

    PCM 8/16/24/32-bit or float WAV, any sample rate; stereo (or more channels) is mixed to
    mono by averaging. start, seconds: the excerpt to keep (seconds=None: to the end).
    coord_range: time runs over [-coord_range, coord_range] (1 by default; INT's audio
        experiments use 5, which plays the role of a larger first-layer frequency).
    meta: sample_rate, start, data_range = 2 (PSNR on [-1, 1]); metrics: {"si_snr": si_snr}.
    """
    from scipy.io import wavfile

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"audio file not found: {p}")
    if not coord_range > 0:
        raise ValueError(f"coord_range must be positive, got {coord_range!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # e.g. unknown LIST chunks
            rate, a = wavfile.read(p)
    except (ValueError, EOFError, OSError) as e:
        raise ValueError(f"cannot read {p} as a PCM or float WAV file ({e})") from None
    a = _wav_to_float(np.asarray(a), p)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if a.size == 0:
        raise ValueError(f"{p}: the WAV file holds no samples")
    total = a.size / rate
    if start < 0 or start >= total:
        raise ValueError(f"start={start} s lies outside the clip (0 to {total:.3f} s)")
    i0 = int(round(start * rate))
    if seconds is not None:
        if not seconds > 0:
            raise ValueError(f"seconds must be positive or None, got {seconds!r}")
        if start + seconds > total + 0.5 / rate:
            raise ValueError(f"asked for {seconds} s from {start} s, but the clip is only "
                             f"{total:.3f} s long")
        a = a[i0:i0 + int(round(seconds * rate))]
    else:
        a = a[i0:]
    values = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[:, None]
    coords = grid((len(a),)) * float(coord_range)
    return Signal(coords, values, (len(a),), kind="audio", name=name or p.stem,
                  meta={"sample_rate": int(rate), "start": float(start), "data_range": 2.0},
                  metrics={"si_snr": si_snr})


def to_wav(values, path, sample_rate: int = 16000) -> Path:
    """Write (N,) or (N, 1) values in [-1, 1] as a mono 16-bit PCM WAV (clipped to [-1, 1])."""
    from scipy.io import wavfile

    v = torch.as_tensor(values).detach().cpu().float().numpy()
    if v.ndim != 1 and not (v.ndim == 2 and v.shape[1] == 1):
        raise ValueError(f"values must be (N,) or (N, 1), got shape {tuple(v.shape)}")
    v = v.reshape(-1)
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError("values must be a non-empty, finite waveform")
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    pcm = np.round(np.clip(v, -1.0, 1.0) * 32767.0).astype(np.int16)
    wavfile.write(path, int(sample_rate), pcm)
    return Path(path)


# --------------------------------------------------------------------------- bundled data

def data_dir() -> Path:
    """The folder with the bundled signals: $NINT_LITE_DATA if set, else the copy a wheel installs
    as nint_lite/data, else the repository's data/ (a clone or an editable install)."""
    here = Path(__file__).resolve().parent
    d = Path(os.environ.get("NINT_LITE_DATA") or
             (here / "data" if (here / "data").is_dir() else here.parent / "data"))
    if not d.is_dir():
        raise FileNotFoundError(f"bundled data folder not found at {d}; reinstall nint_lite "
                                "(pip install .) or set NINT_LITE_DATA")
    return d


# name -> (loader, path relative to data_dir(), loader kwargs); "image" is the series' default
# picture. Extras add their own (nint_lite.shapes registers "bunny" and "shape").
SAMPLES = {
    "camera": (load_image, "images/camera.png", {"gray": True}),
    "astronaut": (load_image, "images/astronaut.png", {}),
    "coffee": (load_image, "images/coffee.png", {}),
    "chelsea": (load_image, "images/chelsea.png", {}),  # held out of every tuning decision
    "image": (load_image, "images/astronaut.png", {}),
    "audio": (load_audio, "audio/arctic_a0007.wav", {}),        # 4 s of speech, 16 kHz
    "speech": (load_audio, "audio/arctic_a0007.wav", {}),
}


def sample_signal(name: str = "image", **kwargs) -> Signal:
    """A bundled signal by name (see `SAMPLES`); kwargs go to its loader, e.g. size=128 for an
    image, seconds=1.0 for audio, resolution=32 for a shape (with nint_lite.shapes imported)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample signal {name!r}; valid names: {', '.join(SAMPLES)}")
    loader, rel, defaults = SAMPLES[name]
    kw = {**defaults, **kwargs, "name": name}
    try:  # e.g. size= for a sound: say which loader and what it takes (a bug inside still raises)
        inspect.signature(loader).bind(data_dir() / rel, **kw)
    except TypeError as e:
        raise ValueError(f"{name!r} is loaded by {loader.__name__}, which does not accept these "
                         f"options ({e}); see help({loader.__module__}.{loader.__name__})") from None
    return loader(data_dir() / rel, **kw)
