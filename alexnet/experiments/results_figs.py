"""Results (§6): the error table, Fig. 3's data (how far conv1 moved; its colour split is
:mod:`alexnet.experiments.colour`), Fig. 4's data (top-5, nearest neighbours in fc7 space), and the small trained
checkpoint that lets a reader without a GPU see them. The figures are drawn by :mod:`alexnet.figures.results_figs`.

§6: "Our network achieves top-1 and top-5 test set error rates of 37.5% and 17.0%" (ILSVRC-2010, averaging the
predictions of ten patches), "39.0% and 18.3%" without; one CNN on ILSVRC-2012 validation: "40.7% and 18.2%".
§6.1: "Figure 3 shows the convolutional kernels learned by the network's two data-connected layers [...] The
kernels on GPU 1 are largely color-agnostic, while the kernels on GPU 2 are largely color-specific." "If two
images produce feature activation vectors with a small Euclidean separation, we can say that the higher levels
of the neural network consider them to be similar. Figure 4 shows five images from the test set and the six
images from the training set that are most similar to each of them according to this measure."
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from .. import paper
from ..checkpoint import find_shipped_checkpoint, load_checkpoint, save_checkpoint
from ..data import ImageSet
from ..evaluate import evaluate, predict
from ..stats import binomial_se
from ..text import plural
from ..transforms import BatchAugment, DatasetStats

# what a checkpoint for readers keeps: enough for load_trained / `python -m alexnet evaluate`, no optimizer state
SLIM_KEYS = ("format", "model", "identity", "stats", "epoch", "step", "history", "config", "classes", "train_images")
# checkpoints written before the trainer recorded its number of training images: that number, from data/README.md
RECORDED_ELSEWHERE = {"alexnet-cifar10-50k.pt": 50_000}  # all of CIFAR-10's training set


# ---------------------------------------------------------------- the checkpoint shipped with the book


def export_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Copy a trainer checkpoint without its optimizer, scheduler and running sums (which only resuming needs):
    a file :func:`alexnet.train.load_trained` and ``python -m alexnet evaluate`` read, about half the size.

    The slim copy is written like every checkpoint (atomically, :func:`alexnet.checkpoint.save_checkpoint`).
    It cannot be resumed from; train again or keep the trainer's ``last.pt`` for that.
    """
    state = load_checkpoint(src)
    slim = {k: state[k] for k in SLIM_KEYS if k in state and k != "format"}
    slim["model"] = {k: v.detach().clone().contiguous() for k, v in state["model"].items()}
    slim["stats"] = {k: v.detach().clone().contiguous() for k, v in state["stats"].items()}
    slim["exported_from"] = Path(src).name
    dst = Path(dst)
    save_checkpoint(slim, dst.parent, dst.name)
    return dst



# ---------------------------------------------------------------- the error table


def save_results_table(table: dict, info: dict, test_set: ImageSet, train_images: int, profile=None) -> Path:
    """Save :func:`error_table`'s ``table`` for :func:`results_model`'s model (``info``) as the ``results_table``
    result (the scorecard's §6 headline row), with the paper's numbers beside it. Returns the file's path."""
    from ..results import save_result, scale

    data = {"centre": table["centre"], "ten_crop": table["ten_crop"], "n": table["n"], "model": info["source"],
            "paper": paper.RESULTS}
    return save_result("results_table", data, scale(profile, dataset=test_set.name, train_images=train_images,
                                                    epochs=info["epochs"] or 0, val_images=len(test_set)), profile)


def error_table(model: torch.nn.Module, stats: DatasetStats, test_set: ImageSet) -> dict:
    """Top-1/top-5 error (fractions) of ``model`` on ``test_set`` with the centre crop and with the ten-crop
    average of §4.1: ``{"centre": {...}, "ten_crop": {...}, "n": N}``."""
    device = next(model.parameters()).device
    aug = BatchAugment(stats.to(device), test_set.crop_size, "none")
    out = {"n": len(test_set)}
    for key, ten in (("centre", False), ("ten_crop", True)):
        r = evaluate(model, test_set, aug, ten_crop=ten)
        out[key] = {"top1": r["top1_error"], "top5": r["top5_error"], "loss": r["loss"]}
    return out


def signed(x: float, digits: int = 1) -> str:
    """``+1.2`` / ``−1.2`` with a true minus sign, and no ``−0.0``."""
    text = f"{x:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text.replace("-", "−")


def format_error_table(ours: dict, label: str) -> str:
    """Our numbers next to the paper's (:data:`alexnet.paper.RESULTS`), one row per setting, in percent."""
    lines = [f"{'setting':<58}{'top-1':>8}{'top-5':>8}"]
    for name, err in paper.RESULTS.items():
        lines.append(f"{f'paper, {name} ({paper.ILSVRC_CLASSES} classes)':<58}{100 * err['top1']:>7.1f}%"
                     f"{100 * err['top5']:>7.1f}%")
    for key, text in (("centre", "centre crop"), ("ten_crop", "10 crops")):
        lines.append(f"{'ours, ' + label + ', ' + text:<58}{100 * ours[key]['top1']:>7.1f}%"
                     f"{100 * ours[key]['top5']:>7.1f}%")
    gain = ours["centre"]["top1"] - ours["ten_crop"]["top1"], ours["centre"]["top5"] - ours["ten_crop"]["top5"]
    paper_gain = paper.TEN_CROP_BENEFIT
    lines.append(f"{'10 crops minus 1 crop: paper (ILSVRC-2010)':<58}{signed(-100 * paper_gain['top1']):>7} "
                 f"{signed(-100 * paper_gain['top5']):>7}")
    lines.append(f"{'10 crops minus 1 crop: ours':<58}{signed(-100 * gain[0]):>7} {signed(-100 * gain[1]):>7}")
    return "\n".join(lines)


def model_description(info: dict) -> str:
    """One line on where :func:`results_model`'s model came from and what it learned from, e.g.
    ``checkpoint alexnet-cifar10-50k.pt: 30 epochs on 50,000 cifar10 training images``."""
    images = f"{info['train_images']:,} " if info.get("train_images") else ""
    return f"{info['source']}: {plural(info['epochs'], 'epoch')} on {images}{info['dataset']} training images"


def centre_top1_se(ours: dict) -> float:
    """The binomial standard error of our centre-crop top-1 error (of :func:`error_table`'s result), a fraction."""
    return binomial_se(ours["centre"]["top1"], ours["n"])


# ---------------------------------------------------------------- Fig. 3: how far training moved the weights


def initial_model(info: dict) -> torch.nn.Module:
    """The network exactly as training started (same architecture, switches and seed as :func:`alexnet.train`
    draws it), from the ``info`` of :func:`results_model`."""
    from ..model import build_model

    torch.manual_seed(info["seed"])
    return build_model(info["arch"], info["num_classes"], **info["switches"])


def relative_weight_change(model: torch.nn.Module, start: torch.nn.Module) -> dict[str, float]:
    """‖W − W₀‖ / ‖W₀‖ for every conv and linear weight: how far training moved each layer from its start."""
    ref = dict(start.named_parameters())
    return {name.split(".")[-2]: ((p.detach().cpu() - ref[name].detach()).norm() / ref[name].norm()).item()
            for name, p in model.named_parameters() if name.endswith("weight")}


# ---------------------------------------------------------------- Fig. 4 (left): top-5 bars


def pick_examples(probs: torch.Tensor, labels: torch.Tensor, n: int = 8, seed: int = 0) -> list[int]:
    """A fixed mix of test images for Fig. 4 (left): about three quarters right, the rest wrong (as the paper's
    eight show both), drawn with a seeded generator so the figure is stable."""
    g = torch.Generator().manual_seed(seed)
    right = (probs.argmax(1) == labels).nonzero().flatten()
    wrong = (probs.argmax(1) != labels).nonzero().flatten()
    n_wrong = min(len(wrong), max(1, n // 4)) if len(wrong) else 0
    n_right = min(len(right), n - n_wrong)
    pick = right[torch.randperm(len(right), generator=g)[:n_right]].tolist() + \
        wrong[torch.randperm(len(wrong), generator=g)[:n_wrong]].tolist()
    return pick


def embed(model: torch.nn.Module, data: ImageSet, stats: DatasetStats, batch_size: int = 256) -> torch.Tensor:
    """The last hidden layer's code (fc7 after ReLU, ``model.penultimate``) of every image's centre crop."""
    device = next(model.parameters()).device
    aug = BatchAugment(stats.to(device), data.crop_size, "none")
    was = model.training
    model.eval()
    codes = [model.penultimate(aug.centre_crop(data.images[i:i + batch_size].to(device))).float().cpu()
             for i in range(0, len(data), batch_size)]
    model.train(was)
    return torch.cat(codes)


def nearest_neighbours(queries: torch.Tensor, bank: torch.Tensor, k: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and Euclidean distances of the ``k`` rows of ``bank`` closest to each row of ``queries`` (§6.1)."""
    d = torch.cdist(queries.double(), bank.double())
    dist, idx = d.topk(min(k, bank.shape[0]), dim=1, largest=False)
    return idx, dist.float()


def neighbour_label_agreement(neighbour_idx: torch.Tensor, query_labels: torch.Tensor,
                              bank_labels: torch.Tensor) -> float:
    """Fraction of (query, neighbour) pairs whose labels agree: how class-like the fc7 neighbourhoods are."""
    return (bank_labels[neighbour_idx] == query_labels[:, None]).float().mean().item()


def pixel_neighbours(query_images: torch.Tensor, bank: ImageSet, k: int = 6) -> torch.Tensor:
    """The same search on raw pixels (the baseline §6.1 contrasts: fc7 neighbours "are not close in L2" pixels)."""
    q = query_images.flatten(1).float()
    b = bank.images.flatten(1).float()
    return nearest_neighbours(q, b, k)[0]


def untrained_photo_probabilities(photos: ImageSet, n: int = 4, seed: int = 0) -> dict:
    """The paper's net at initialisation on ``n`` photos: its largest softmax probability and the entropy, next to
    the uniform distribution's. Without trained ImageNet weights (we have none) Fig. 4 cannot be made on photos."""
    from ..model import alexnet
    from ..transforms import compute_stats

    torch.manual_seed(seed)
    model = alexnet(paper.ILSVRC_CLASSES).eval()
    u8 = photos.images[:n]
    if u8.shape[-1] != paper.STORED_SIDE:  # smoke: synthetic 32 px images; bring them to the paper's 256
        u8 = F.interpolate(u8.float(), size=paper.STORED_SIDE, mode="bilinear", align_corners=False)
        u8 = u8.round().clamp(0, 255).to(torch.uint8)
    aug = BatchAugment(compute_stats(u8), paper.INPUT_SIDE, "none")
    with torch.no_grad():
        p = F.softmax(model(aug.centre_crop(u8)), dim=1)
    entropy = -(p * p.clamp_min(1e-30).log()).sum(1)
    return {"max_probability": p.max(1).values.tolist(), "entropy": entropy.tolist(),
            "top1_class": p.argmax(1).tolist(),
            "uniform_probability": 1 / paper.ILSVRC_CLASSES,
            "uniform_entropy": float(torch.log(torch.tensor(float(paper.ILSVRC_CLASSES))))}


def train_predictions(model: torch.nn.Module, data: ImageSet, stats: DatasetStats) -> torch.Tensor:
    """Softmax probabilities of the centre crops (for picking and drawing Fig. 4's examples)."""
    device = next(model.parameters()).device
    return predict(model, data, BatchAugment(stats.to(device), data.crop_size, "none"))


def results_model(profile=None, *, checkpoint: str | Path | None = None):
    """The model the results chapter shows, by profile: ``quick`` loads the shipped checkpoint
    (``data/checkpoints/alexnet-cifar10-50k.pt``, trained on all 50,000 CIFAR-10 training images; trains one
    if it is missing); ``full`` trains its own with the
    paper's recipe, checkpointing under the data root so a disconnected session resumes; ``smoke`` trains a tiny
    one on synthetic data. Returns ``(model, stats, info)``; ``info`` says where the model came from, and
    ``info["train_images"]`` how many training images it learned from (None if unknown)."""
    from ..data import data_root
    from ..profiles import get_profile
    from ..train import TrainConfig, load_trained, model_switches, train

    p = profile or get_profile()
    path = Path(checkpoint) if checkpoint else (find_shipped_checkpoint() if p.name == "quick" else None)
    if path is not None:
        model, stats, state = load_trained(path)
        hist = state.get("history") or [{}]
        ident = state["identity"]
        return model, stats, {"source": f"checkpoint {path.name}", "epochs": state.get("epoch"),
                              "train_images": state.get("train_images") or RECORDED_ELSEWHERE.get(path.name),
                              "dataset": state.get("config", {}).get("dataset"),
                              "history": state.get("history"), "final": hist[-1], "arch": ident["arch"],
                              "num_classes": ident["num_classes"], "switches": model_switches(ident),
                              "seed": state.get("config", {}).get("seed", 0)}
    cfg = TrainConfig(dataset=p.dataset, epochs=p.epochs, batch_size=p.batch_size, train_limit=p.train_limit,
                      val_limit=p.val_limit)
    if p.name == "full":
        cfg.checkpoint_dir, cfg.resume = str(data_root() / "runs" / "results-chapter"), True
    run = train(cfg, progress=False)
    return run.model.eval(), run.stats, {"source": f"trained here ({p.name} profile)", "epochs": len(run.history),
                                         "train_images": run.train_images,
                                         "dataset": p.dataset, "history": run.history, "final": run.history[-1],
                                         "arch": cfg.resolved_arch(), "num_classes": run.model.classifier.fc8.out_features,
                                         "switches": cfg.model, "seed": cfg.seed}


def main(argv: list[str] | None = None) -> int:
    """``python -m alexnet.experiments.results_figs SRC DST``: :func:`export_checkpoint` from the shell."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m alexnet.experiments.results_figs",
                                     description="Write a slim copy of a training checkpoint (no optimizer state) "
                                                 "that `python -m alexnet evaluate` and load_trained read.")
    parser.add_argument("src", help="a checkpoint written by the trainer, e.g. CHECKPOINT_DIR/last.pt")
    parser.add_argument("dst", help="where to write the slim copy, e.g. data/checkpoints/alexnet-cifar10-50k.pt")
    args = parser.parse_args(argv)
    dst = export_checkpoint(args.src, args.dst)
    print(f"wrote {dst} ({dst.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
