"""3D figures: middle slices of fields with their surface contour, and shaded triangle meshes.

    field_slices(signal, {label: values})    the middle slice along each axis, surface contour
    meshes({label: (vertices, faces)})       shaded triangle meshes side by side (plot_trisurf)

Each returns a matplotlib `Figure`; matplotlib is imported on first use, not with the module.

Built in notebooks/06_audio_and_3d.ipynb.
"""
from __future__ import annotations

import numpy as np
import torch

from ..plots import _subplots

__all__ = ["field_slices", "meshes"]


def field_slices(signal, fields: dict | None = None, title: str = "Middle slices"):
    """3D fields: the middle slice along each grid axis, one row per field, the surface (the
    signal's level set) drawn as a black contour. fields: {label: (N, 1) values}; default the
    target only."""
    if len(signal.shape) != 3:
        raise ValueError(f"field_slices needs a 3D grid signal, got grid {signal.shape}")
    fields = {"target": signal.values, **(fields or {})}
    level = signal.meta.get("level", 0.0)
    vols = {k: signal.to_grid(torch.as_tensor(v).detach().cpu().float())[..., 0].numpy()
            for k, v in fields.items()}
    lim = float(np.abs(vols["target"]).max())
    signed = signal.meta.get("field", "sdf") == "sdf"
    fig, axes = _subplots(len(vols), 3, figsize=(9, 3 * len(vols)), squeeze=False)
    for row, (label, vol) in zip(axes, vols.items()):
        for axis, ax in enumerate(row):
            sl = np.take(vol, vol.shape[axis] // 2, axis=axis)
            im = ax.imshow(sl, cmap="RdBu_r" if signed else "viridis", origin="lower",
                           vmin=-lim if signed else 0, vmax=lim if signed else 1)
            if sl.min() < level < sl.max():
                ax.contour(sl, levels=[level], colors="k", linewidths=1)
            ax.set_title(f"{label}: axis {axis} = middle", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(im, ax=row[-1], shrink=0.8, label="signed distance" if signed else "occupancy")
    fig.suptitle(title)
    return fig


def meshes(items: dict, title: str = "Surfaces", up: int = 2, view=(20, -60)):
    """Triangle meshes side by side, Lambert-shaded: {label: (vertices (V, 3), faces (F, 3))}.
    up: the vertex axis drawn vertically (the Stanford bunny's is 1)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LightSource

    if not items:
        raise ValueError("meshes needs at least one (vertices, faces) pair")
    fig = plt.figure(figsize=(3.6 * len(items), 3.6), constrained_layout=True)
    light = LightSource(azdeg=315, altdeg=45)
    for k, (label, (v, f)) in enumerate(items.items()):
        v, f = np.asarray(v)[:, [a for a in range(3) if a != up] + [up]], np.asarray(f)
        ax = fig.add_subplot(1, len(items), k + 1, projection="3d")
        ax.plot_trisurf(v[:, 0], v[:, 1], v[:, 2], triangles=f, color="0.8", lightsource=light,
                        shade=True, linewidth=0, antialiased=False)
        ax.view_init(*view)
        ax.set_box_aspect((1, 1, 1))
        for setlim in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setlim(-1, 1)
        ax.set_axis_off()
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    return fig
