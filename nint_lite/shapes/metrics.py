"""Shape metrics: volumetric IoU of two fields and the Chamfer distance of two surfaces.

Built in notebooks/06_audio_and_3d.ipynb.
"""
from __future__ import annotations

import numpy as np

from ..metrics import _pair

__all__ = ["iou", "chamfer"]


def iou(pred, target, level: float = 0.0, inside: str = "below") -> float:
    """Volumetric intersection over union of two fields sampled on the same nodes.

    A node is inside where the field is below `level` (inside="below": signed distance,
    level 0) or above it (inside="above": occupancy, level 0.5). 1 when both are empty.
    """
    if inside not in ("below", "above"):
        raise ValueError(f"inside must be 'below' (SDF) or 'above' (occupancy), got {inside!r}")
    p, t = _pair(pred, target)
    a, b = (p < level, t < level) if inside == "below" else (p > level, t > level)
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def _surface_points(m, n_points: int, seed: int) -> np.ndarray:
    """(M, 3) points: a point array as given, or n_points sampled uniformly by area on a mesh
    given as (vertices (V, 3), faces (F, 3))."""
    if isinstance(m, (tuple, list)) and len(m) == 2:
        v, f = np.asarray(m[0], dtype=np.float64), np.asarray(m[1], dtype=np.int64)
        if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
            raise ValueError(f"faces must be a non-empty (F, 3) array, got shape {f.shape}")
        tri = v[f]  # (F, 3, 3)
        area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(f), size=n_points, p=area / area.sum())
        u, w = rng.random((2, n_points, 1))
        flip = (u + w) > 1  # fold the unit square onto the triangle: uniform barycentrics
        u, w = np.where(flip, 1 - u, u), np.where(flip, 1 - w, w)
        t = tri[pick]
        return t[:, 0] + u * (t[:, 1] - t[:, 0]) + w * (t[:, 2] - t[:, 0])
    pts = np.asarray(m, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"expected a mesh (vertices, faces) or points (M, 3), got shape {pts.shape}")
    return pts


def chamfer(a, b, n_points: int = 30000, seed: int = 0) -> float:
    """Symmetric Chamfer distance ½(mean_a d(a, B) + mean_b d(b, A)), in the shapes' units.

    a, b: meshes as (vertices, faces) — sampled with n_points points by area (seeded) — or
    point arrays (M, 3). Distances are Euclidean (not squared), via a k-d tree.
    """
    from scipy.spatial import cKDTree

    pa, pb = _surface_points(a, n_points, seed), _surface_points(b, n_points, seed + 1)
    return float(0.5 * (cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean()))
