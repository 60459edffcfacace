r"""§4.1 Data augmentation: the two forms the paper uses, their test-time counterpart, and the ablation.

*"The easiest and most common method to reduce overfitting on image data is to artificially enlarge the
dataset using label-preserving transformations"* (§4.1). The transforms themselves live in
:mod:`alexnet.transforms`; this module counts, draws and measures them:

- **Translations and reflections.** Random :math:`c\times c` crops of the :math:`S\times S` image and their
  mirrors. The paper counts :math:`(S-c)^2\cdot 2 = (256-224)^2\cdot 2 = 2048` variants ("a factor of
  2048"); strictly there are :math:`(S-c+1)^2` crop positions, so :math:`33^2\cdot 2 = 2178` for 224 and
  :math:`30^2\cdot 2 = 1800` for the 227 crop the architecture really needs (:func:`augmentation_factor`).
- **PCA colour lighting.** To every pixel :math:`I_{xy} = [I^R_{xy}, I^G_{xy}, I^B_{xy}]^\top` add
  :math:`[\mathbf p_1, \mathbf p_2, \mathbf p_3][\alpha_1\lambda_1, \alpha_2\lambda_2, \alpha_3\lambda_3]^\top`,
  where :math:`\mathbf p_i, \lambda_i` are the eigenvectors and eigenvalues of the 3×3 covariance of RGB pixel
  values over the training set and :math:`\alpha_i \sim \mathcal N(0, 0.1)` is drawn once per image per use
  (:func:`relight`, :func:`plot_rgb_eigenvectors`).
- **Ten-crop testing.** *"At test time, the network makes a prediction by extracting five 224 × 224 patches
  (the four corner patches and the center patch) as well as their horizontal reflections (hence ten patches
  in all), and averaging the predictions made by the network's softmax layer on the ten patches."*
  (:func:`ten_crop_gain`; the paper: 39.0 / 18.3 → 37.5 / 17.0 % top-1 / top-5 on ILSVRC-2010).
- **The ablation** (:func:`augmentation_ablation`): no augmentation, crops + flips, crops + flips + PCA
  lighting, same recipe otherwise.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..data import DATASETS, ImageSet, load_imageset
from ..evaluate import evaluate, predict
from ..plots import to_display
from ..profiles import Profile, get_profile
from ..scratch import scratch_checkpoint_dir
from ..results import save_result, scale
from ..train import load_trained
from ..transforms import BatchAugment, DatasetStats, pca_lighting, random_crop_flip, ten_crops
from .ablation import AblationResult, run_ablation

PCA_STD = 0.1  # §4.1: α_i ~ N(0, 0.1)


# ------------------------------------------------------------------------------------------- counting crops
def augmentation_factor(image_size: int = 256, crop_size: int = 224, *, flips: bool = True,
                        exact: bool = True) -> int:
    r"""How many distinct training inputs random crops (and mirrors) make of one image.

    ``exact=True`` counts the crop positions, :math:`(S-c+1)^2`; ``exact=False`` is the paper's count,
    :math:`(S-c)^2`, which gives its "factor of 2048" for :math:`S=256, c=224`. Mirrors double either.
    """
    if not 0 < crop_size <= image_size:
        raise ValueError(f"crop {crop_size} must be positive and no larger than the image ({image_size})")
    positions = (image_size - crop_size + int(exact)) ** 2
    return positions * (2 if flips else 1)


def augmentation_factors() -> list[dict]:
    """The counts the chapter tabulates: the paper's 2048, its strict value, and ours (227 of 256, 28 of 32)."""
    rows = [("paper's count, 224 of 256", 256, 224, False), ("strict count, 224 of 256", 256, 224, True),
            ("this book, 227 of 256 (ImageNet)", 256, 227, True), ("this book, 28 of 32 (CIFAR)", 32, 28, True)]
    return [{"case": case, "image": s, "crop": c, "formula": f"({s}−{c}{'+1' if exact else ''})²·2",
             "variants": augmentation_factor(s, c, exact=exact)} for case, s, c, exact in rows]


# ------------------------------------------------------------------------------------------- crops + flips
def load_photos(profile: Profile | None = None, limit: int | None = None) -> ImageSet:
    """The photo demo set: the ImageNet sample (256×256) in quick/full, synthetic 32 px images in smoke."""
    profile = profile or get_profile()
    splits = DATASETS[profile.photos].splits
    return load_imageset(profile.photos, "val" if "val" in splits else splits[-1], limit=limit, progress=False)


def pick_photo(photos: ImageSet, name: str) -> torch.Tensor:
    """The first image whose class name contains ``name`` (e.g. "toucan"); the first image if none does."""
    names = photos.class_names or photos.classes
    for i, label in enumerate(photos.labels.tolist()):
        if label < len(names) and name.lower() in names[label].lower():
            return photos.images[i]
    return photos.images[0]


def crop_flip_samples(image: torch.Tensor, crop_size: int, n: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` training views (random crop + 50% mirror, :func:`alexnet.transforms.random_crop_flip`) of one image."""
    gen = torch.Generator().manual_seed(seed)
    return random_crop_flip(image[None].expand(n, *image.shape), crop_size, gen)


def _box(ax, top, left, size, **kw):
    ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, **kw))


def plot_crop_flip(image: torch.Tensor, crop_size: int, n: int = 8, seed: int = 0):
    """Left: the image with the centre crop and the four extreme crops (the range of translations).
    Right: ``n`` random crop + flip views, as the network sees them in training."""
    s = image.shape[-1]
    room = s - crop_size
    fig = plt.figure(figsize=(10, 3.4))
    ax = fig.add_axes([0.0, 0.05, 0.3, 0.85])
    ax.imshow(to_display(image))
    for top, left in [(0, 0), (0, room), (room, 0), (room, room)]:
        _box(ax, top, left, crop_size, ec="yellow", lw=0.8, ls="--")
    _box(ax, room // 2, room // 2, crop_size, ec="red", lw=1.5)
    ax.set_title(f"{s}×{s}: centre {crop_size} crop (red),\nextreme crops (yellow)", fontsize=8)
    ax.axis("off")
    views = crop_flip_samples(image, crop_size, n, seed)
    cols = (n + 1) // 2
    for i, v in enumerate(views):
        a = fig.add_axes([0.32 + (i % cols) * 0.68 / cols, 0.5 - (i // cols) * 0.47, 0.66 / cols, 0.42])
        a.imshow(to_display(v))
        a.axis("off")
    fig.suptitle(f"random {crop_size}×{crop_size} crops with 50% horizontal flips (seed {seed})", fontsize=9)
    return fig


# ------------------------------------------------------------------------------------------- PCA lighting
def relight(image: torch.Tensor, stats: DatasetStats, alphas) -> torch.Tensor:
    """One uint8 image (3×H×W) relit by :func:`alexnet.transforms.pca_lighting` with the given α (3 values),
    rounded and clipped back to 0–255 for display."""
    a = torch.as_tensor(alphas, dtype=torch.float32).reshape(1, 3)
    out = pca_lighting(image[None].float(), stats.eigvals, stats.eigvecs, alphas=a)[0]
    return out.round().clamp(0, 255).to(torch.uint8)


def lighting_shift(stats: DatasetStats, alphas) -> torch.Tensor:
    """The RGB vector (0–255 units) that PCA lighting adds to every pixel: 255 · P (α ∘ λ)."""
    a = torch.as_tensor(alphas, dtype=torch.float32)
    return 255.0 * stats.eigvecs.float() @ (a * stats.eigvals.float())


def canonical_signs(stats: DatasetStats) -> DatasetStats:
    """The same statistics with each eigenvector's sign chosen so that its largest component is positive.

    An eigenvector's sign is arbitrary (``eigh`` may return either), and α ~ N(0, σ) is symmetric, so flipping
    changes no augmentation; it only makes "α1 > 0" mean "brighter" in the figures.
    """
    vecs = stats.eigvecs.clone()
    for i in range(vecs.shape[1]):
        if vecs[vecs[:, i].abs().argmax(), i] < 0:
            vecs[:, i] = -vecs[:, i]
    return DatasetStats(stats.mean_image, stats.eigvals, vecs, stats.covariance)


def mean_colour(stats: DatasetStats) -> torch.Tensor:
    """The average RGB colour of the training pixels, 0–255."""
    return stats.mean_image.float().mean(dim=(1, 2))


def sample_pixels(images: torch.Tensor, n: int = 3000, seed: int = 0) -> torch.Tensor:
    """``n`` random RGB pixels (n×3, 0–255) from an N×3×H×W uint8 batch."""
    gen = torch.Generator().manual_seed(seed)
    pix = images.permute(1, 0, 2, 3).reshape(3, -1)
    idx = torch.randint(0, pix.shape[1], (n,), generator=gen)
    return pix[:, idx].T.float()


def plot_rgb_eigenvectors(stats: DatasetStats, pixels: torch.Tensor | None = None, title: str = "", k: float = 2.0):
    """The three principal directions of RGB colour, two ways.

    Left: pixels in the RGB cube with the eigenvectors drawn from the mean colour, each arrow
    :math:`k\\sqrt{\\lambda_i}` long (k standard deviations along :math:`\\mathbf p_i`). Right: swatches along
    each direction, mean colour :math:`+ t\\sqrt{\\lambda_i}\\,\\mathbf p_i` for :math:`t \\in [-k, k]`.
    """
    mu = mean_colour(stats) / 255.0
    fig = plt.figure(figsize=(9.5, 3.6))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    if pixels is not None:
        p = pixels.numpy() / 255.0
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=np.clip(p, 0, 1), s=1, alpha=0.15, depthshade=False)
    for i in range(3):
        v = (k * stats.eigvals[i].clamp_min(0).sqrt() * stats.eigvecs[:, i]).numpy()
        for sign in (1, -1):
            ax.quiver(*mu.numpy(), *(sign * v), color=["k", "m", "c"][i], lw=2.5, arrow_length_ratio=0.2)
        ax.text(*(mu.numpy() + v * 1.15), f"p{i + 1}", fontsize=8, color=["k", "m", "c"][i])
    ax.set_xlabel("R")
    ax.set_ylabel("G")
    ax.set_zlabel("B")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_zlim(0, 1)
    ax.set_title("pixels and the eigenvectors (±%g σ)" % k, fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    ts = np.linspace(-k, k, 9)
    strip = np.stack([np.stack([(mu + t * stats.eigvals[i].clamp_min(0).sqrt() * stats.eigvecs[:, i]).clamp(0, 1)
                                .numpy() for t in ts]) for i in range(3)])
    ax2.imshow(strip, aspect="auto")
    ax2.set_yticks(range(3), [f"p{i + 1}  λ={stats.eigvals[i]:.4f}\n({tuple(round(float(x), 2) for x in stats.eigvecs[:, i])})"
                              for i in range(3)], fontsize=7)
    ax2.set_xticks(range(len(ts)), [f"{t:+.1f}σ" for t in ts], fontsize=7)
    ax2.set_title("mean colour moved along each eigenvector", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_relit(image: torch.Tensor, stats: DatasetStats, alphas, diff_gain: float | None = None):
    """Original, relit (:func:`relight`), and the difference around grey, amplified ×``diff_gain`` (by default
    so that the largest channel shift shows as ±100 grey levels: the colour of the direction, whatever its size)."""
    relit = relight(image, stats, alphas)
    shift = lighting_shift(stats, alphas)
    if diff_gain is None:
        biggest = float(shift.abs().max())
        diff_gain = 100.0 / biggest if biggest > 0.05 else 1.0
    exact = (image.float() + shift[:, None, None]).clamp(0, 255)  # before rounding; clipping still shows
    diff = (128 + diff_gain * (exact - image.float())).clamp(0, 255).to(torch.uint8)
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    for ax, img, t in zip(axes, (image, relit, diff),
                          ("original", "relit", f"difference ×{diff_gain:.0f}, around grey")):
        ax.imshow(to_display(img))
        ax.set_title(t, fontsize=8)
        ax.axis("off")
    a = ", ".join(f"{float(x):+.2f}" for x in torch.as_tensor(alphas))
    fig.suptitle(f"α = ({a}) → add RGB ({', '.join(f'{float(x):+.1f}' for x in shift)}) grey levels",
                 fontsize=9)
    fig.tight_layout()
    return fig


def random_alphas(n: int, seed: int = 0, std: float = PCA_STD) -> torch.Tensor:
    """n×3 draws of α ~ N(0, std), the paper's per-image lighting coefficients."""
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed)) * std


def plot_random_relightings(image: torch.Tensor, stats: DatasetStats, n: int = 6, seed: int = 0):
    """The image and ``n`` relightings with α ~ N(0, 0.1), as training would draw them."""
    alphas = random_alphas(n, seed)
    imgs = [image] + [relight(image, stats, a) for a in alphas]
    titles = ["original"] + ["shift " + ",".join(f"{float(x):+.0f}" for x in lighting_shift(stats, a)) for a in alphas]
    fig, axes = plt.subplots(1, n + 1, figsize=(1.5 * (n + 1), 1.9))
    for ax, img, t in zip(axes, imgs, titles):
        ax.imshow(to_display(img))
        ax.set_title(t, fontsize=6)
        ax.axis("off")
    fig.suptitle("PCA lighting with α ~ N(0, 0.1) (RGB shift in grey levels)", fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- ten crops
def plot_ten_crops(image: torch.Tensor, crop_size: int):
    """The ten test crops of one image (:func:`alexnet.transforms.ten_crops`): the corners and centre of the image,
    then those of its mirror image (torchvision's order; "mirrored, top-left" is the top-right crop, flipped)."""
    crops = ten_crops(image[None], crop_size)[:, 0]
    names = ["top-left", "top-right", "bottom-left", "bottom-right", "centre"]
    fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
    for i, ax in enumerate(axes.flat):
        ax.imshow(to_display(crops[i]))
        ax.set_title(("mirrored, " if i >= 5 else "") + names[i % 5], fontsize=7)
        ax.axis("off")
    fig.suptitle(f"the ten {crop_size}×{crop_size} test crops; their softmaxes are averaged", fontsize=9)
    fig.tight_layout()
    return fig


def ten_crop_gain(model: torch.nn.Module, val_set: ImageSet, stats: DatasetStats, *, save: bool = True,
                  profile: Profile | None = None, epochs: int | None = None, train_images: int | None = None) -> dict:
    """Top-1 / top-5 error of ``model`` on the centre crop and with the ten-crop average (§4.1, §6).

    ``gain_top1`` / ``gain_top5`` are the error reductions, centre − ten-crop (the paper: 1.5 and 1.3 points).
    Saved as the ``ten_crop`` result.
    """
    profile = profile or get_profile()
    aug = BatchAugment(stats, val_set.crop_size, "none")
    centre_eval = evaluate(model, val_set, aug, ten_crop=False)
    ten_eval = evaluate(model, val_set, aug, ten_crop=True)
    centre = {1: centre_eval["top1_error"], 5: centre_eval["top5_error"]}
    ten = {1: ten_eval["top1_error"], 5: ten_eval["top5_error"]}
    labels = val_set.labels
    centre_right = predict(model, val_set, aug, ten_crop=False).argmax(1) == labels
    ten_right = predict(model, val_set, aug, ten_crop=True).argmax(1) == labels
    data = {"centre": {"top1": centre[1], "top5": centre[5]},
            "ten_crop": {"top1": ten[1], "top5": ten[5]},
            "gain_top1": centre[1] - ten[1], "gain_top5": centre[5] - ten[5],
            # the paired comparison: images that only one of the two ways of testing gets right (top-1)
            "fixed_by_ten_crop": int((ten_right & ~centre_right).sum()),
            "broken_by_ten_crop": int((centre_right & ~ten_right).sum()), "val_images": len(val_set),
            "paper": {"centre": {"top1": 0.390, "top5": 0.183}, "ten_crop": {"top1": 0.375, "top5": 0.170}}}
    if save:
        sc = scale(profile, dataset=val_set.name, train_images=train_images or 0, epochs=epochs or 0,
                   val_images=len(val_set))
        save_result("ten_crop", data, sc, profile)
    return data


# ------------------------------------------------------------------------------------------- the ablation
ABLATION_ARMS = {"paper": {"augment": "paper"}, "crop_flip": {"augment": "crop_flip"}, "none": {"augment": "none"}}


def augmentation_ablation(profile: Profile | None = None, base: dict | None = None,
                          checkpoint_dir: str | Path | None = None) -> tuple[AblationResult, Path]:
    """Train the three arms (crop + flip + PCA = the paper, crop + flip, none) with
    :func:`~alexnet.experiments.run_ablation` and save them as ``augmentation_ablation``.

    The paper arm is the main recipe; its final weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`, overwritten by the next run) so that the ten-crop
    measurement reuses it instead of training again. Returns the result and the path of that checkpoint.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("augmentation-paper", profile))
    arms = {k: dict(v) for k, v in ABLATION_ARMS.items()}
    arms["paper"]["checkpoint_dir"] = str(folder)
    result = run_ablation("augmentation_ablation", arms, baseline="paper", profile=profile, base=base)
    return result, folder / "last.pt"


def ten_crop_from_checkpoint(path: str | Path, profile: Profile | None = None, val_set: ImageSet | None = None,
                             train_images: int | None = None) -> dict:
    """Load a model trained by :func:`alexnet.train` and measure :func:`ten_crop_gain` on the validation split
    (``train_images``: how many images it was trained on, recorded with the result)."""
    profile = profile or get_profile()
    model, stats, state = load_trained(path)
    cfg = state["config"]
    val_set = val_set or load_imageset(cfg["dataset"], "val", limit=cfg.get("val_limit"), progress=False)
    device = next(model.parameters()).device
    return ten_crop_gain(model, val_set, stats.to(device), profile=profile, epochs=state["epoch"],
                         train_images=train_images or cfg.get("train_limit"))


def overfitting_table(result: AblationResult) -> str:
    """Per arm: final training error (on augmented inputs, dropout on), validation error, and their gap."""
    lines = [f"{'arm':<14}{'train err':>10}{'val err':>9}{'gap':>8}{'val top-5':>10}{'best val':>9}"]
    for arm, r in result.arms.items():
        h = r["histories"][0]
        best = min(e["val_top1_error"] for e in h if "val_top1_error" in e)
        lines.append(f"{arm:<14}{r['train_top1_error']:>10.1%}{r['val_top1_error']:>9.1%}"
                     f"{r['val_top1_error'] - r['train_top1_error']:>+8.1%}{r['val_top5_error']:>10.1%}{best:>9.1%}")
    return "\n".join(lines)


def _noise(error: float, n: int) -> float:
    """Standard error of an error rate measured on ``n`` images."""
    return (max(error * (1 - error), 1e-12) / max(n, 1)) ** 0.5


def compare_arms(result: AblationResult, better: str, worse: str, what: str) -> str:
    """One sentence: how much lower ``better``'s validation top-1 error is than ``worse``'s, and whether that is
    more than twice the binomial noise of a difference between two runs on the validation set."""
    n = result.scale.get("val_images", 0)
    a, b = result.arms[better]["val_top1_error"], result.arms[worse]["val_top1_error"]
    noise = (_noise(a, n) ** 2 + _noise(b, n) ** 2) ** 0.5
    diff = b - a
    if abs(diff) <= 2 * noise:
        verdict = "within the noise of one run"
    else:
        verdict = "a real improvement at this scale" if diff > 0 else "worse, beyond the noise of one run"
    return (f"{what}: validation top-1 {b:.1%} → {a:.1%} ({diff:+.1%} error removed; ±{2 * noise:.1%} is two "
            f"standard errors of the difference on {n} images): {verdict}")


def ablation_verdicts(result: AblationResult) -> list[str]:
    """The augmentation ablation in sentences, worked out from its numbers (so that the prose cannot drift)."""
    gaps = {arm: r["val_top1_error"] - r["train_top1_error"] for arm, r in result.arms.items()}
    widest = max(gaps, key=gaps.get)
    return [compare_arms(result, "crop_flip", "none", "crops + flips against no augmentation"),
            compare_arms(result, "paper", "crop_flip", "PCA lighting on top of crops + flips"),
            f"the widest overfitting gap (validation − training error at the end) is the {widest!r} arm's, "
            f"{gaps[widest]:+.1%}; " + ", ".join(f"{a} {g:+.1%}" for a, g in gaps.items())]


def plot_overfitting(histories: dict[str, list[dict]], title: str = ""):
    """Left: training (solid) and validation (dashed) top-1 error per arm. Right: the gap, validation − training
    error, per epoch: how much each arm overfits."""
    from ..plots import plot_curves

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    plot_curves(histories, ("train_top1_error", "val_top1_error"), ax=ax1, title="top-1 error")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"] * 3
    for (arm, h), color in zip(histories.items(), colors):
        pts = [(e["epoch"], e["val_top1_error"] - e["train_top1_error"]) for e in h if "val_top1_error" in e]
        ax2.plot(*zip(*pts), color=color, label=arm)
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation − training error")
    ax2.set_title("the overfitting gap")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
