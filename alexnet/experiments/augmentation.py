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
  (:func:`relight`).
- **Ten-crop testing.** *"At test time, the network makes a prediction by extracting five 224 × 224 patches
  (the four corner patches and the center patch) as well as their horizontal reflections (hence ten patches
  in all), and averaging the predictions made by the network's softmax layer on the ten patches."*
  (:func:`ten_crop_gain`; the paper's one-crop and ten-crop errors are :data:`alexnet.paper.RESULTS`).
- **The ablation** (:func:`augmentation_ablation`): no augmentation, crops + flips, crops + flips + PCA
  lighting, same recipe otherwise.

The figures are in :mod:`alexnet.figures.augmentation`.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .. import paper
from ..data import DATASETS, ImageSet, load_imageset
from ..errors import AlexNetWarning
from ..evaluate import evaluate_crops
from ..profiles import Profile, get_profile
from ..scratch import scratch_checkpoint_dir
from ..results import save_result, scale
from ..stats import describe, paired, verdict
from ..train import load_trained
from ..transforms import BatchAugment, DatasetStats, pca_lighting, random_crop_flip
from .ablation import AblationResult, pack_mask, reuse_or_run, train_error


# ------------------------------------------------------------------------------------------- counting crops
def augmentation_factor(image_size: int = paper.STORED_SIDE, crop_size: int = paper.TRAIN_CROP, *, flips: bool = True,
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
    s, c, ours = paper.STORED_SIDE, paper.TRAIN_CROP, paper.INPUT_SIDE
    cifar = DATASETS["cifar10"]
    rows = [(f"paper's count, {c} of {s}", s, c, False), (f"strict count, {c} of {s}", s, c, True),
            (f"this book, {ours} of {s} (ImageNet)", s, ours, True),
            (f"this book, {cifar.crop_size} of {cifar.image_size} (CIFAR)", cifar.image_size, cifar.crop_size, True)]
    return [{"case": case, "image": s, "crop": c, "formula": f"({s}−{c}{'+1' if exact else ''})²·2",
             "variants": augmentation_factor(s, c, exact=exact)} for case, s, c, exact in rows]


# ------------------------------------------------------------------------------------------- crops + flips
def load_photos(profile: Profile | None = None, limit: int | None = None) -> ImageSet:
    """The photo demo set, the profile's resolved ``photos`` (:func:`alexnet.profiles.photo_dataset`): the ImageNet
    sample or Imagenette's validation split (256×256), synthetic 32 px images in smoke."""
    profile = profile or get_profile()
    splits = DATASETS[profile.photos].splits
    return load_imageset(profile.photos, "val" if "val" in splits else splits[-1], limit=limit, progress=False)


# The chapter's demo photos: classes that both photo sources have (imagenet-sample's 1,000 ILSVRC classes and
# Imagenette's 10), so chapter 4.1 shows the same kind of picture whichever of them is on disk.
CROP_PHOTO = "church"  # an asymmetric scene: the mirror images are easy to tell apart
LIGHTING_PHOTO = "parachute"  # saturated colours: PCA lighting's shifts are visible


def pick_photo(photos: ImageSet, name: str) -> torch.Tensor:
    """The first image (3×S×S uint8) whose class name contains ``name``, ignoring case and ``_`` vs space
    (e.g. "church": ``church`` in imagenet-sample, ``church`` in Imagenette). If no class matches, an
    :class:`AlexNetWarning` names the dataset and the first image is returned (synthetic data has no names)."""
    import warnings

    def norm(text: str) -> str:
        return text.lower().replace("_", " ")

    names = photos.class_names or photos.classes
    for i, label in enumerate(photos.labels.tolist()):
        if label < len(names) and norm(name) in norm(names[label]):
            return photos.images[i]
    warnings.warn(f"no class named like {name!r} in {photos.name} ({len(names)} classes); showing its first "
                  f"image instead", AlexNetWarning, stacklevel=2)
    return photos.images[0]


def crop_flip_samples(image: torch.Tensor, crop_size: int, n: int = 8, seed: int = 0) -> torch.Tensor:
    """``n`` training views (random crop + 50% mirror, :func:`alexnet.transforms.random_crop_flip`) of one image."""
    gen = torch.Generator().manual_seed(seed)
    return random_crop_flip(image[None].expand(n, *image.shape), crop_size, gen)


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


def random_alphas(n: int, seed: int = 0, std: float = paper.PCA_STD) -> torch.Tensor:
    """n×3 draws of α ~ N(0, std), the paper's per-image lighting coefficients."""
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed)) * std


# ------------------------------------------------------------------------------------------- ten crops
def ten_crop_gain(model: torch.nn.Module, val_set: ImageSet, stats: DatasetStats, *, save: bool = True,
                  profile: Profile | None = None, epochs: int | None = None, train_images: int | None = None) -> dict:
    """Top-1 / top-5 error of ``model`` on the centre crop and with the ten-crop average (§4.1, §6), from one
    loop over the data (:func:`alexnet.evaluate.evaluate_crops`).

    ``gain_top1`` / ``gain_top5`` are the error reductions, centre − ten-crop (the paper's are
    :data:`alexnet.paper.TEN_CROP_BENEFIT`). The top-1 comparison is paired: ``fixed_by_ten_crop`` /
    ``broken_by_ten_crop`` count the images only one way gets right, and ``correct`` keeps each way's per-image
    mask (:func:`~alexnet.experiments.ablation.pack_mask`). Saved as the ``ten_crop`` result.
    """
    profile = profile or get_profile()
    ev = evaluate_crops(model, val_set, BatchAugment(stats, val_set.crop_size, "none"))
    centre, ten = ev["centre"], ev["ten_crop"]
    pair = paired(ten["correct"], centre["correct"])
    data = {"centre": {"top1": centre["top1_error"], "top5": centre["top5_error"]},
            "ten_crop": {"top1": ten["top1_error"], "top5": ten["top5_error"]},
            "gain_top1": centre["top1_error"] - ten["top1_error"],
            "gain_top5": centre["top5_error"] - ten["top5_error"],
            "fixed_by_ten_crop": pair.b, "broken_by_ten_crop": pair.c, "val_images": len(val_set),
            "correct": {"centre": pack_mask(centre["correct"]), "ten_crop": pack_mask(ten["correct"])}}
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
    :func:`~alexnet.experiments.ablation.reuse_or_run` and save them as ``augmentation_ablation``.

    The paper arm is the main recipe; its final weights are kept in ``checkpoint_dir`` (by default
    :func:`alexnet.scratch.scratch_checkpoint_dir`, overwritten by the next run) so that the ten-crop measurement
    reuses it instead of training again; a stored result is reused only when that checkpoint is there too.
    Returns the result and the path of that checkpoint.
    """
    profile = profile or get_profile()
    folder = Path(checkpoint_dir or scratch_checkpoint_dir("augmentation-paper", profile))
    arms = {k: dict(v) for k, v in ABLATION_ARMS.items()}
    arms["paper"]["checkpoint_dir"] = str(folder)
    result = reuse_or_run("augmentation_ablation", arms, profile, base=base, needs=folder / "last.pt",
                          baseline="paper")
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
    """Per arm: final training error, validation error, and their gap. The training error is measured as
    validation is (centre crops, eval mode) where the result has it; older results only have the running error
    on augmented crops with dropout on, and the header says so."""
    same = all("train_eval_top1_error" in r for r in result.arms.values())
    head = "train err" if same else "train err*"
    lines = [f"{'arm':<14}{head:>10}{'val err':>9}{'gap':>8}{'val top-5':>10}{'best val':>9}"]
    for arm, r in result.arms.items():
        h = r["histories"][0]
        best = min(e["val_top1_error"] for e in h if "val_top1_error" in e)
        lines.append(f"{arm:<14}{train_error(r):>10.1%}{r['val_top1_error']:>9.1%}"
                     f"{r['val_top1_error'] - train_error(r):>+8.1%}{r['val_top5_error']:>10.1%}{best:>9.1%}")
    if not same:
        lines.append("* the running error over the last epoch's augmented crops (dropout on), not the validation "
                     "procedure")
    return "\n".join(lines)


def comparison(result: AblationResult, better: str, worse: str, what: str) -> str:
    """One sentence: how much lower ``better``'s validation top-1 error is than ``worse``'s, with its standard
    error (paired where the result has per-image data) and :func:`alexnet.stats.verdict`'s word."""
    effect, se, pair = result.compare(better, worse)
    how = "paired on the same images" if pair is not None else "unpaired: this result has no per-image data"
    return (f"{what}: validation top-1 error removed {describe(effect, se, pair.p_value if pair else None)} "
            f"({how}): {verdict(effect, se)}")


def ablation_verdicts(result: AblationResult) -> list[str]:
    """The augmentation ablation in sentences, worked out from its numbers (so that the prose cannot drift)."""
    gaps = {arm: r["val_top1_error"] - train_error(r) for arm, r in result.arms.items()}
    widest = max(gaps, key=gaps.get)
    return [comparison(result, "crop_flip", "none", "crops + flips against no augmentation"),
            comparison(result, "paper", "crop_flip", "PCA lighting on top of crops + flips"),
            f"the widest overfitting gap (validation − training error at the end) is the {widest!r} arm's, "
            f"{gaps[widest]:+.1%}; " + ", ".join(f"{a} {g:+.1%}" for a, g in gaps.items())]
