"""3D shapes, an extra around the core: SDF / occupancy signals, marching cubes, IoU, Chamfer, figures.

    import nint_lite.shapes as shapes                    (needs pip install "nint_lite[shapes]")
    sig = shapes.load_shape("mesh.ply", resolution=64, field="sdf")   # coords (N, 3), values (N, 1)
    sig = shapes.sample_shape("bunny", resolution=32)    # also nl.sample_signal("bunny", ...)
    v, f = shapes.to_mesh(pred, sig)                     # marching cubes at the surface level
    shapes.iou(pred, sig.values), shapes.chamfer((v, f), shapes.to_mesh(sig.values, sig))
    shapes.field_slices(sig, {"fit": pred}), shapes.meshes({"fit": (v, f)})

Importing it registers the bundled "bunny" (alias "shape") in nint_lite.signals.SAMPLES; trimesh,
libigl, scikit-image and matplotlib are imported inside the functions that use them.

Built in notebooks/06_audio_and_3d.ipynb.
"""
from .fields import FIELDS, load_shape, sample_shape, save_ply, to_mesh
from .metrics import chamfer, iou
from .plots import field_slices, meshes

__all__ = ["load_shape", "sample_shape", "to_mesh", "save_ply", "FIELDS", "iou", "chamfer",
           "field_slices", "meshes"]
