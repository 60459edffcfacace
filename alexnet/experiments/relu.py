r"""§3.1, ReLU nonlinearity, and its Figure 1: ReLU against tanh in a small CNN on CIFAR-10.

The paper (§3.1): "Deep convolutional neural networks with ReLUs train several times faster than their
equivalents with tanh units." Figure 1: "A four-layer convolutional neural network with ReLUs (solid line)
reaches a 25% training error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons
(dashed line). The learning rates for each network were chosen independently to make training as fast as
possible. No regularization of any kind was employed."

The nonlinearities compared (:data:`NONLINEARITIES`):

.. math::

    \text{ReLU}(x) = \max(0, x), \qquad \tanh(x), \qquad \sigma(x) = (1 + e^{-x})^{-1}, \qquad |\tanh(x)|

ReLU is *non-saturating*: its derivative is 1 for every positive input, however large. tanh and σ have
derivatives that vanish for large :math:`|x|`, so a unit driven far from zero stops learning.

The paper does not give the four-layer net: :class:`~alexnet.experiments.fig1_net.FourLayerNet` is our documented
choice (cuda-convnet's ``layers-18pct.cfg`` without its response normalisation). :func:`figure1` is the one way
Figure 1 is measured, by chapter 3.1 and by ``python -m alexnet reproduce`` alike: the protocol of
:mod:`alexnet.experiments.fig1_protocol` at the profile's scale
(:data:`~alexnet.experiments.fig1_protocol.FIG1_SCALES`), stored as ``fig1_relu_tanh`` and reused when the same code made it at the same scale. The text tables here
(:func:`grid_lines`, :func:`threshold_lines`, :func:`fig1_summary`) read its result; the figures are in
:mod:`alexnet.figures.relu`.
"""
from __future__ import annotations

import math

import torch

from .. import paper
from ..data import ImageSet, load_imageset
from ..profiles import Profile, default_device, get_profile
from ..results import save_result, scale
from ..stats import epochs_to_error
from ..results import reusable_result as stored_result, reuse_note
from ..text import plural
from .fig1_net import FIG1_WIDTHS, FourLayerNet, four_layer_param_count  # noqa: F401 (chapter 3.1 reads them here)
from .fig1_protocol import FIG1_SCALES, run_fig1_protocol, setup_for
from .progress import OverallProgress

NONLINEARITIES = {  # name: (f, f′) as plain tensor functions, for the saturation figure
    "relu": (torch.relu, lambda x: (x > 0).to(x.dtype)),
    "tanh": (torch.tanh, lambda x: 1 - torch.tanh(x) ** 2),
    "sigmoid": (torch.sigmoid, lambda x: torch.sigmoid(x) * (1 - torch.sigmoid(x))),
    "abs_tanh": (lambda x: torch.tanh(x).abs(), lambda x: torch.sign(x) * (1 - torch.tanh(x) ** 2)),
}
FIG1_RESULT = "fig1_relu_tanh"  # the stored result's name (alexnet.results)


def fig1_scale(profile: Profile, train_set: ImageSet, *, complete: bool = True) -> dict:
    """The scale a Figure 1 result is stored and reused at: the profile, the data and :data:`FIG1_SCALES`' row
    (``complete``: no time limit cut the run short)."""
    row = FIG1_SCALES.get(profile.name, FIG1_SCALES["quick"])
    return scale(profile, dataset=train_set.name, train_images=len(train_set), epochs=row["epochs"],
                 **{k: list(v) if isinstance(v, tuple) else v for k, v in row.items() if k != "epochs"},
                 crop=train_set.crop_size, protocol="fig1_protocol", complete=complete)


def figure1(profile: Profile | None = None, *, train_set: ImageSet | None = None, device=None, on_epoch=None,
            deadline: float | None = None, save: bool = True, progress: bool | None = None) -> dict:
    """Figure 1 at ``profile``'s scale: the protocol's result (:func:`~alexnet.experiments.fig1_protocol.
    run_fig1_protocol`) with ``"scale"`` and ``"reused"`` added.

    A stored ``fig1_relu_tanh`` made by the code running now at this scale is returned instead of training
    (:func:`alexnet.results.reusable_result`, and a line says so (:func:`alexnet.results.reuse_note`); ``ALEXNET_RERUN=1``
    trains again); else the protocol runs and, with ``save``, its result is stored with its provenance.
    ``deadline`` (a ``time.perf_counter()`` value) stops it early; such a result records ``complete: False`` in
    its scale and is never reused. ``on_epoch(images)`` is called after every epoch of every group (one
    nonlinearity, convention and grid, all its rates and seeds at once); ``progress`` shows a bar over them
    (:class:`~alexnet.experiments.progress.OverallProgress`: each group counts as one run).
    """
    profile = profile or get_profile()
    train_set = train_set or load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False)
    wanted = {k: v for k, v in fig1_scale(profile, train_set).items() if k != "device"}
    record = stored_result(FIG1_RESULT, profile, **wanted) if save else None
    if record is not None:
        print(reuse_note(FIG1_RESULT, record))
        return {**record["data"], "scale": record["scale"], "reused": True}
    setup = setup_for(profile.name, deadline=deadline)
    groups = len(setup.conventions) * len(setup.activations) * (1 + setup.max_extensions)  # the most it trains
    with OverallProgress("Figure 1", groups, setup.epochs, profile, show=progress) as bar:
        def epoch_done(images: int) -> None:
            bar.epoch_done()
            if on_epoch is not None:
                on_epoch(images)
        data = run_fig1_protocol(train_set, setup, device=device or default_device(), on_epoch=epoch_done)
    sc = fig1_scale(profile, train_set, complete=not data["truncated"])
    if save:
        save_result(FIG1_RESULT, data, sc, profile, seconds=data["seconds"], seeds=list(range(setup.seeds)))
    return {**data, "scale": sc, "reused": False}


def _epochs(values) -> str:
    shown = [f"{v:.1f}" for v in values if v is not None and math.isfinite(v)]
    return ", ".join(shown) if len(shown) == len(values) else "not reached"


def grid_lines(result: dict) -> str:
    """Each net's learning-rate grid: every rate's epochs to the threshold (one per seed) and its mean final
    training error, the best rate marked, and whether it sits on the grid's edge after the extensions."""
    thr, lines = result["threshold"], []
    for conv, nets in result["conventions"].items():
        for act in ("relu", "tanh"):
            net = nets[act]
            edge = "ON THE EDGE (a rate beyond it might be faster)" if net["at_edge"] else "inside the grid"
            lines.append(f"{conv} inputs, {act}: {len(net['grid'])} rates, {net['extensions']} extension(s); best "
                         f"{net['best_lr']:g}, {edge}")
            for lr, curves in net["curves"].items():
                last = [c[-1] for c in curves if c]
                final = f"{sum(last) / len(last):.1%}" if last else "—"
                reach = _epochs([epochs_to_error(c, thr) if c else None for c in curves])
                mark = "  ← best" if float(lr) == net["best_lr"] else ""
                lines.append(f"    lr {float(lr):<8g} epochs to {thr:.0%}: {reach:<14} final error {final}{mark}")
    return "\n".join(lines)


def scale_lines() -> str:
    """Figure 1's scale in each profile (:data:`~alexnet.experiments.fig1_protocol.FIG1_SCALES`), one line a
    profile: at most how many epochs, the batch size, the seeds, the size of each starting grid of learning rates
    and how many extensions it may get, and the input conventions."""
    return "\n".join(f"{name:<6} ≤ {row['epochs']} epochs, batch {row['batch_size']}, {row['seeds']} seed(s), grids "
                     f"of {row['grid_size']} rates (+ ≤ {row['max_extensions']} extensions), "
                     f"{' and '.join(row['conventions'])} inputs" for name, row in FIG1_SCALES.items())


def starting_grid_lines(profile_name: str) -> str:
    """The starting learning-rate grid of each nonlinearity and input convention that the profile runs
    (:func:`~alexnet.experiments.fig1_protocol.setup_for`), one line each; an unknown profile name gets quick's
    grids, as :func:`setup_for` does."""
    setup = setup_for(profile_name)
    return "\n".join(f"{profile_name} starting grid, {act}, {conv} inputs: {', '.join(f'{lr:g}' for lr in grid)}"
                     for (act, conv), grid in setup.grids.items() if conv in setup.conventions)


def threshold_lines(result: dict) -> str:
    """The ratio tanh / ReLU at every threshold of the protocol (each net at its best rate), with its interval
    (± 2 s.e. over seeds) and its verdict (:func:`alexnet.stats.ratio_verdict`)."""
    conv = result["main_convention"]
    rows = result["conventions"][conv].get("ratios", {})
    lines = [f"{conv} inputs: {'threshold':<10}{'ReLU epochs':>16}{'tanh epochs':>16}  ratio (interval): verdict"]
    for t, row in rows.items():
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}× ({row['low']:.2f}–{row['high']:.2f})"
        lines.append(f"{'':<12}{float(t):<10.1%}{_epochs(row['relu_epochs']):>16}{_epochs(row['tanh_epochs']):>16}"
                     f"  {ratio}: {row['verdict']}")
    return "\n".join(lines)


def fig1_summary(result: dict) -> str:
    """The paper's Figure 1 claim next to ours at 25%, with the scale ours was measured at, in a few lines."""
    sc, thr, e = result["scale"], result["threshold"], result.get("epochs_to_25") or {}
    lines = [f"paper: tanh needs {paper.FIG1_RATIO:g}× the epochs of ReLU to reach {thr:.0%} training error "
             "(CIFAR-10, 50,000 training images, a four-layer CNN)"]
    if result.get("ratio") is None:
        reached = [a for a in ("relu", "tanh") if e.get(a) is not None]
        ours = f"no ratio: {' and '.join(reached) or 'neither net'} reached {thr:.0%} in {plural(sc['epochs'], 'epoch')}"
    else:
        sign = "at least " if result["ratio_is_lower_bound"] else ""
        low, high = result["ratio_low"], result["ratio_high"]
        band = "" if low is None or low == high else f" (interval {low:.2f}–{high:.2f})"
        ours = f"tanh needs {sign}{result['ratio']:.2f}× the epochs of ReLU{band}"
    lines.append(f"ours:  {ours}; verdict: {result.get('verdict', '—')}")
    lines.append(f"       at {sc['dataset']} {sc['train_images']:,} training images, {sc['crop']}×{sc['crop']} crops, "
                 f"batch {sc['batch_size']}, ≤ {sc['epochs']} epochs, {sc['seeds']} seed(s), grids of "
                 f"{sc['grid_size']} rates (+ ≤ {sc['max_extensions']}), {' and '.join(sc['conventions'])} inputs, "
                 f"{sc['profile']} profile" + ("" if sc.get("complete", True) else ", CUT SHORT by a time limit"))
    return "\n".join(lines)
