"""Unit tests for nint_lite.classroom.widgets (nl.widgets): each builder works headless (MPLBACKEND=Agg, no kernel),
its live widget is an ipywidgets.interactive, its kernel-free widget (live=False) holds one PNG
frame per grid value in Stacks jslinked to its sliders, its draw callback returns the right
figure, and the precomputed data (snapshots, rankings) match nint_lite.ntk. (That the kernel-free
widgets respond in a browser is tests/test_docs.py's job.)
"""
import copy
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nint_lite as nl  # noqa: E402
from nint_lite import ntk, plots  # noqa: E402
from nint_lite.classroom import widgets  # noqa: E402

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sig():
    return nl.sample_signal("camera", size=10)


def _model(sig, seed=0):
    return nl.make_model("siren", 2, sig.channels, hidden=8, layers=2, seed=seed)


def _images(fig):
    return [im for ax in fig.axes for im in ax.images if im.colorbar is not None]


def test_importing_nint_lite_does_not_import_ipywidgets():
    code = "import sys, nint_lite; assert hasattr(nint_lite, 'widgets'); print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_coupling_explorer(sig):
    model = _model(sig)
    widget, draw = widgets.coupling_explorer(model, sig, query=(2, 3))
    assert isinstance(widget, ipywidgets.interactive)
    row, col = widget.children[:2]
    assert (row.value, col.value, row.max, col.max) == (2, 3, 9, 9)
    fig = draw(row=7, col=1)
    assert isinstance(fig, Figure)
    expected = plots.coupling_row(model, sig.coords, 7 * 10 + 1).reshape(10, 10).numpy()
    assert np.allclose(np.asarray(_images(fig)[0].get_array()), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="query"):
        draw(row=10, col=0)
    with pytest.raises(ValueError, match="query"):
        widgets.coupling_explorer(model, sig, query=(0, 99))
    widget, _ = widgets.coupling_explorer(model, sig)             # default: the strongest edge
    assert (widget.children[0].value, widget.children[1].value) == plots.edge_and_flat(sig)["edge"]


def test_training_snapshots_match_the_kernel_of_each_state(sig):
    model = _model(sig)
    start = copy.deepcopy(model)
    snaps = widgets.training_snapshots(model, sig, steps=(4, 0, 2), query=(5, 5), lr=1e-3, device="cpu")
    assert snaps["steps"] == [0, 2, 4] and snaps["query"] == (5, 5) and len(snaps["psnr"]) == 3
    assert snaps["leverage"].shape == snaps["coupling"].shape == (3, sig.n)
    assert torch.allclose(snaps["leverage"][0], ntk.diagonal(start, sig.coords), rtol=1e-5)
    assert torch.allclose(snaps["leverage"][-1], ntk.diagonal(model, sig.coords), rtol=1e-5)
    assert torch.allclose(snaps["coupling"][-1], plots.coupling_row(model, sig.coords, 55), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(snaps["leverage"][0], snaps["leverage"][-1])   # it did train
    mid = _model(sig)
    mid.load_state_dict(snaps["state_dicts"][1])
    assert torch.allclose(snaps["leverage"][1], ntk.diagonal(mid, sig.coords), rtol=1e-5)
    with pytest.raises(ValueError, match="steps"):
        widgets.training_snapshots(model, sig, steps=(0,))
    with pytest.raises(ValueError, match="query"):
        widgets.training_snapshots(model, sig, steps=(1,), query=(10, 0))


def test_training_explorer_draws_each_step_on_shared_scales(sig):
    snaps = widgets.training_snapshots(_model(sig), sig, steps=(0, 3))   # lr and device: the defaults
    widget, draw = widgets.training_explorer(sig, snaps)
    assert isinstance(widget, ipywidgets.interactive)
    assert list(widget.children[0].options) == [0, 3] and widget.children[0].value == 3
    figs = [draw(step=s) for s in (0, 3)]
    for s, fig in zip((0, 3), figs):
        assert f"After {s} steps" in fig._suptitle.get_text()
        assert len(_images(fig)) == 2
    for k in range(2):                                      # same colour range at every step
        assert _images(figs[0])[k].get_clim() == pytest.approx(_images(figs[1])[k].get_clim())
    drawn = np.asarray(_images(figs[0])[0].get_array())
    assert np.allclose(drawn, snaps["leverage"][0].reshape(sig.shape).numpy())


def test_selection_explorer_rankings_and_slices():
    sig = nl.sample_signal("astronaut", size=10)            # RGB: Σ_c |r| differs from ‖r‖ or Σ_c r²
    model = _model(sig)
    widget, draw = widgets.selection_explorer(model, sig, ratio=0.3)
    assert isinstance(widget, ipywidgets.interactive) and widget.children[0].value == pytest.approx(0.3)
    with torch.no_grad():
        r = model(sig.coords) - sig.values
    nint, err = draw.orders.values()
    assert torch.equal(nint, torch.argsort(ntk.nint_scores(model, sig.coords, r), descending=True))
    assert torch.equal(err, torch.argsort(r.abs().sum(1), descending=True))
    fig = draw(ratio=0.25)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 2
    for ax, order in zip(axes, (nint, err)):
        alpha = np.asarray(ax.images[1].get_array())[..., 3].reshape(-1)
        assert set(np.flatnonzero(alpha).tolist()) == set(order[:25].tolist())
    with pytest.raises(ValueError, match="ratio"):
        draw(ratio=0.0)


def test_explorers_reject_a_signal_that_is_not_an_image():
    audio = nl.sample_signal("audio", seconds=0.01)
    model = nl.make_model("siren", 1, 1, hidden=8, layers=2, seed=0)
    for build in (widgets.coupling_explorer, widgets.selection_explorer):
        with pytest.raises(ValueError, match="image"):
            build(model, audio)
    with pytest.raises(ValueError, match="image"):
        widgets.training_snapshots(model, audio, steps=(1,), query=(0, 0))


# ---- the kernel-free form (live=False): frames in jslinked Stacks, no Python callback ----------

def _links(slider) -> set:
    """The model ids of the widgets whose selected_index is jslinked to this slider's index, read
    from the widget state a notebook saves (and the site's html-manager loads)."""
    state = ipywidgets.Widget.get_manager_state(drop_defaults=True)["state"].values()
    return {s["state"]["target"][0].removeprefix("IPY_MODEL_") for s in state
            if s["model_name"] == "LinkModel" and s["state"]["source"] == [f"IPY_MODEL_{slider.model_id}", "index"]
            and s["state"]["target"][1] == "selected_index"}


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image
    import io
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_kernel_free_coupling_explorer_has_one_frame_per_grid_pixel(sig):
    model = _model(sig)
    widget, draw = widgets.coupling_explorer(model, sig, query=(2, 3), live=False, grid=2)
    assert isinstance(widget, ipywidgets.VBox)
    row, col, stack = widget.children
    assert isinstance(row, ipywidgets.SelectionSlider) and isinstance(stack, ipywidgets.Stack)
    # every ⌈10 / 2⌉ = 5 pixels through the query (2, 3); the query's frame is shown first
    assert [v for _, v in row.options] == [2, 7] and [v for _, v in col.options] == [3, 8]
    assert (row.value, col.value, stack.selected_index) == (2, 3, 0)
    assert _links(row) == {stack.model_id} and _links(col) == {s.model_id for s in stack.children}
    assert all(s.selected_index == 0 for s in stack.children)
    frame = stack.children[1].children[0]                     # row 7, col 3
    assert isinstance(frame, ipywidgets.Image) and frame.format == "png"
    assert np.array_equal(_pixels(frame.value), _pixels(widgets._png(draw(row=7, col=3))))
    assert not np.array_equal(_pixels(frame.value), _pixels(stack.children[0].children[0].value))
    assert plt.get_fignums() == []                            # every frame's figure was closed
    with pytest.raises(ValueError, match="grid"):
        widgets.coupling_explorer(model, sig, live=False, grid=0)


def test_kernel_free_training_explorer_has_one_frame_per_snapshot(sig):
    snaps = widgets.training_snapshots(_model(sig), sig, steps=(0, 2, 4))
    widget, draw = widgets.training_explorer(sig, snaps, live=False)
    step, stack = widget.children
    assert [v for _, v in step.options] == [0, 2, 4] and step.value == 4 and stack.selected_index == 2
    assert _links(step) == {stack.model_id} and len(stack.children) == 3
    assert np.array_equal(_pixels(stack.children[0].value), _pixels(widgets._png(draw(step=0))))


def test_kernel_free_selection_explorer_steps_through_ratios(sig):
    model = _model(sig)
    widget, draw = widgets.selection_explorer(model, sig, ratio=0.25, live=False)
    ratio, stack = widget.children
    values = [v for _, v in ratio.options]
    assert values == sorted([k / 10 for k in range(1, 11)] + [0.25]) and ratio.value == 0.25
    assert ratio.options[2] == ("0.25", 0.25) and stack.selected_index == 2 and len(stack.children) == 11
    assert np.array_equal(_pixels(stack.children[-1].value), _pixels(widgets._png(draw(ratio=1.0))))
    with pytest.raises(ValueError, match="ratio"):
        widgets.selection_explorer(model, sig, ratio=1.5, live=False)


def test_frames_are_small_palette_pngs(sig):
    png = widgets._png(plots.coupling_map(_model(sig), sig, (1, 1)))
    from PIL import Image
    import io
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.mode == "P" and len(png) < 20_000
    assert img.size[0] == pytest.approx(7.9 * widgets.FRAME_DPI, abs=2)   # value_maps: 3.7 per panel + 0.5
