"""3D shapes as signals: a mesh's signed distance or occupancy on a resolution³ grid, and back.

    load_shape(path_or_volume, resolution=64, field="sdf")  -> Signal, coords (N, 3), values (N, 1)
    sample_shape("bunny", resolution=32)                      the bundled Stanford bunny
    to_mesh(values, signal) -> (vertices (V, 3), faces (F, 3))  marching cubes at the surface level
    save_ply(path, vertices, faces)                           a binary PLY file

libigl computes the fields, trimesh reads and writes meshes, scikit-image runs marching cubes;
each is imported inside the function that needs it (pip install "nint_lite[shapes]").
Importing this module registers "bunny" and "shape" in nint_lite.signals.SAMPLES.

Built in notebooks/06_audio_and_3d.ipynb.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..signals import SAMPLES, Signal, grid, sample_signal
from .metrics import iou

__all__ = ["load_shape", "sample_shape", "to_mesh", "save_ply", "FIELDS"]

FIELDS = ("sdf", "occupancy")


def _read_mesh(p: Path):
    """(vertices (V, 3) float64, faces (F, 3) int64, watertight) of a mesh file trimesh reads."""
    import trimesh

    try:
        # process=True merges duplicate vertices (STL stores each triangle on its own), which
        # watertightness and pseudonormal signs need; it does not move any vertex.
        mesh = trimesh.load(p, force="mesh", process=True)
    except Exception as e:  # trimesh raises many types for unreadable files
        raise ValueError(f"cannot read {p} as a mesh ({type(e).__name__}: {e})") from None
    faces = np.asarray(getattr(mesh, "faces", np.empty((0, 3))), dtype=np.int64)
    if faces.ndim != 2 or len(faces) == 0:
        raise ValueError(f"{p} holds no triangle faces (a point cloud or an empty file?); "
                         "load_shape needs a surface mesh")
    return np.asarray(mesh.vertices, dtype=np.float64), faces, bool(mesh.is_watertight)


def _normalise(v: np.ndarray) -> np.ndarray:
    """Centre the bounding box at 0 and scale its longest half-side to 0.9."""
    lo, hi = v.min(0), v.max(0)
    half = (hi - lo).max() / 2
    if not half > 0:
        raise ValueError("the mesh is degenerate (all vertices at one point)")
    return (v - (lo + hi) / 2) * (0.9 / half)


def _mesh_field(v, f, pts, field, watertight, p):
    """The field at points pts (M, 3) of the mesh (v, f): (M,) float32."""
    import igl

    if field == "occupancy":  # generalised winding number: inside ≈ 1, robust to holes
        return (igl.fast_winding_number(v, f, pts) > 0.5).astype(np.float32)
    sign = igl.SIGNED_DISTANCE_TYPE_PSEUDONORMAL
    if not watertight:
        warnings.warn(f"{p} is not watertight: inside/outside is ambiguous, so the SDF takes its "
                      "sign from the winding number (field='occupancy' is the robust choice)",
                      stacklevel=4)
        sign = igl.SIGNED_DISTANCE_TYPE_FAST_WINDING_NUMBER
    return igl.signed_distance(pts, v, f, sign_type=sign)[0].astype(np.float32)


def load_shape(path_or_array, resolution: int = 64, field: str = "sdf", cache: bool = True,
               name: str | None = None) -> Signal:
    """A 3D shape as a Signal on a resolution³ node grid over [-1, 1]³: coords (N, 3), values (N, 1).

    path_or_array: a mesh file trimesh reads (PLY, OBJ, OFF, STL, …), normalised into
        [-0.9, 0.9]³ (centred, aspect kept); or a ready (D, H, W) volume (np.ndarray / tensor)
        holding the field itself, used as given (resolution is then ignored).
    field: "sdf" — exact signed distance (libigl, negative inside; sign from pseudonormals, or
        from the winding number with a warning when the mesh is not watertight); "occupancy" —
        1 inside, 0 outside by the fast generalised winding number.
    cache: store the computed grid next to the mesh (NAME.FIELD-RES.cache.npz, keyed on the
        file's content) and reuse it; silently skipped where the folder is read-only.
    meta: field, level (the surface: 0 for SDF, 0.5 for occupancy), data_range, source;
    metrics: {"iou": iou at that level, inside below it for an SDF, above it for occupancy}.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}; valid: {', '.join(FIELDS)}")
    if isinstance(path_or_array, (np.ndarray, torch.Tensor)):
        vol = path_or_array.detach().cpu().numpy() if torch.is_tensor(path_or_array) else path_or_array
        vol = np.asarray(vol, dtype=np.float32)
        if vol.ndim != 3 or min(vol.shape) < 2:
            raise ValueError(f"a volume must be a (D, H, W) array with every side ≥ 2, got {vol.shape}")
        if not np.isfinite(vol).all():
            raise ValueError("the volume contains NaN or inf")
        shape, name, source = vol.shape, name or "volume", "array"
    elif isinstance(path_or_array, (str, os.PathLike)):
        p = Path(path_or_array)
        if not p.exists():
            raise FileNotFoundError(f"mesh file not found: {p}")
        if not (isinstance(resolution, (int, np.integer)) and 8 <= resolution <= 512):
            raise ValueError(f"resolution must be an int in [8, 512] (512³ nodes already need "
                             f"~2 GiB), got {resolution!r}")
        shape, name, source = (int(resolution),) * 3, name or p.stem, str(p)
        vol = _cached_field(p, int(resolution), field, cache)
    else:
        raise ValueError(f"path_or_array must be a mesh path or a 3-D array, got "
                         f"{type(path_or_array).__name__}")
    values = torch.from_numpy(np.ascontiguousarray(vol.reshape(-1, 1)))
    level, inside = (0.0, "below") if field == "sdf" else (0.5, "above")
    rng = float(values.max() - values.min()) if field == "sdf" else 1.0
    return Signal(grid(shape), values, shape, kind="shape", name=name,
                  meta={"field": field, "level": level, "data_range": rng or 1.0, "source": source},
                  metrics={"iou": partial(iou, level=level, inside=inside)})


def _cached_field(p: Path, res: int, field: str, cache: bool) -> np.ndarray:
    digest = hashlib.sha1(p.read_bytes()).hexdigest()
    cfile = p.with_name(f"{p.stem}.{field}-{res}.cache.npz")
    if cache and cfile.exists():
        try:
            with np.load(cfile) as z:
                if str(z["sha1"]) == digest and z["field"].shape == (res,) * 3:
                    return z["field"]
        except (OSError, ValueError, KeyError):
            pass  # an unreadable or old cache is recomputed below
    v, f, watertight = _read_mesh(p)
    pts = grid((res,) * 3).numpy().astype(np.float64)
    vol = _mesh_field(_normalise(v), f, pts, field, watertight, p).reshape((res,) * 3)
    if cache:
        try:
            np.savez_compressed(cfile, field=vol, sha1=digest)
        except OSError:
            pass  # read-only data folder: correct, just slower next time
    return vol


def to_mesh(values, signal: Signal, level: float | None = None):
    """Marching cubes on a 3D field: (N, 1) values on signal's grid -> vertices (V, 3) in the
    signal's [-1, 1] coordinates, faces (F, 3). level defaults to signal.meta["level"]."""
    from skimage.measure import marching_cubes

    if len(signal.shape) != 3:
        raise ValueError(f"to_mesh needs a 3D grid signal, got grid {signal.shape}")
    vol = signal.to_grid(torch.as_tensor(values).detach().cpu().float())[..., 0].numpy()
    level = signal.meta.get("level", 0.0) if level is None else float(level)
    if not vol.min() < level < vol.max():
        raise ValueError(f"no surface: the field spans [{vol.min():.3g}, {vol.max():.3g}], "
                         f"which does not cross level {level}")
    spacing = tuple(2.0 / (n - 1) for n in signal.shape)
    verts, faces, _, _ = marching_cubes(vol, level=level, spacing=spacing)
    return (verts - 1.0).astype(np.float32), faces.astype(np.int64)


def save_ply(path, vertices, faces) -> Path:
    """Write a triangle mesh (vertices (V, 3), faces (F, 3)) as a binary PLY file."""
    import trimesh

    v, f = np.asarray(vertices, dtype=np.float64), np.asarray(faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"need vertices (V, 3) and faces (F, 3), got {v.shape} and {f.shape}")
    trimesh.Trimesh(v, f, process=False).export(path, file_type="ply")
    return Path(path)


def sample_shape(name: str = "bunny", **kwargs) -> Signal:
    """A bundled shape by name ("bunny", alias "shape": the Stanford bunny) through load_shape;
    kwargs as load_shape's, e.g. resolution=32, field="occupancy"."""
    names = [n for n, (loader, *_) in SAMPLES.items() if loader is load_shape]
    if name not in names:
        raise ValueError(f"unknown sample shape {name!r}; valid names: {', '.join(names)}")
    return sample_signal(name, **kwargs)


# The bundled mesh, loadable by nl.sample_signal too: the Stanford bunny, SDF at 64³ by default.
SAMPLES.update(bunny=(load_shape, "shapes/bunny.ply", {}), shape=(load_shape, "shapes/bunny.ply", {}))
