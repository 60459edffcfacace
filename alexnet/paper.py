"""Every number the paper states, once: the architecture, LRN, pooling, the recipe, the results and its claims.

Krizhevsky, Sutskever & Hinton (2012), *ImageNet Classification with Deep Convolutional Neural Networks*. The
package, the chapters, the scorecard and the tests read these names; no paper number is typed anywhere else.
Each value carries the section it comes from. Errors are fractions (0.375 is 37.5%); a *benefit* is how much a
component lowers the error (the paper's "reduces our top-1 and top-5 error rates by 1.4% and 1.2%" is
``{"top1": 0.014, "top5": 0.012}``).

:data:`CLAIMS` is the registry the scorecard is built from: one :class:`Claim` per quantitative statement, with
what would count as reproducing it at our scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# ---------------------------------------------------------------- §2 the dataset
TRAIN_IMAGES_ROUGHLY = 1_200_000  # "roughly 1.2 million training images" (ILSVRC-2010)
ILSVRC2010_VAL_IMAGES = 50_000  # "50,000 validation images"
ILSVRC2010_TEST_IMAGES = 150_000  # "150,000 testing images": the set of the headline 37.5 / 17.0
ILSVRC_CLASSES = 1000
STORED_SIDE = 256  # "down-sampled the images to a fixed resolution of 256 × 256"

# ---------------------------------------------------------------- §3.5 the architecture
INPUT_SIDE_PRINTED = 224  # "224 × 224 × 3 input image": consistent with cuda-convnet's ceil rule (see model.py)
INPUT_SIDE = 227  # the padding-free equivalent: (227 − 11)/4 + 1 = 55 exactly
CONV_WIDTHS = (96, 256, 384, 384, 256)  # kernels in conv1 … conv5
CONV_KERNELS = (11, 5, 3, 3, 3)
CONV1_STRIDE = 4
FC_UNITS = 4096
GROUPED_LAYERS = ("conv2", "conv4", "conv5")  # "kernels … connected only to those kernel maps … on the same GPU"
PARAMETERS = 60_965_224  # "60 million parameters": this count is the exact total of the layers above
NUM_GPUS = 2

# ---------------------------------------------------------------- §3.3 local response normalisation


@dataclass(frozen=True)
class LRNConstants:
    """b = a / (k + α Σ a²)^β over ``size`` adjacent kernel maps (§3.3, no /n in the paper's formula)."""

    size: int = 5  # n
    alpha: float = 1e-4  # α
    beta: float = 0.75  # β
    k: float = 2.0  # k


LRN = LRNConstants()
LRN_LAYERS = ("conv1", "conv2")  # "after applying the ReLU nonlinearity in certain layers": conv1 and conv2

# ---------------------------------------------------------------- §3.4 overlapping pooling
POOL_OVERLAP = (3, 2)  # (z, s): z = 3, s = 2
POOL_PLAIN = (2, 2)  # the traditional non-overlapping scheme it is compared with

# ---------------------------------------------------------------- §4 reducing overfitting
TRAIN_CROP = INPUT_SIDE_PRINTED  # "random 224 × 224 patches (and their horizontal reflections)"
AUGMENTATION_FACTOR = 2048  # "increases the size of our training set by a factor of 2048": 32·32·2
TEST_CROPS = 10  # "five 224 × 224 patches (the four corner patches and the center patch) as well as their
#                  horizontal reflections (hence ten patches in all)"
PCA_STD = 0.1  # "α_i … drawn from a Gaussian with mean zero and standard deviation 0.1"
DROPOUT_P = 0.5  # "setting to zero the output of each hidden neuron with probability 0.5"
DROPOUT_TEST_SCALE = 0.5  # "at test time, we use all the neurons but multiply their outputs by 0.5"
DROPOUT_LAYERS = ("fc6", "fc7")  # "in the first two fully-connected layers"

# ---------------------------------------------------------------- §5 details of learning
BATCH_SIZE = 128
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
INIT_STD = 0.01  # "zero-mean Gaussian distribution with standard deviation 0.01"
BIAS_ONE_LAYERS = ("conv2", "conv4", "conv5", "fc6", "fc7")  # "initialized … neuron biases … with the constant 1"
LR_INITIAL = 0.01
LR_DIVISOR = 10  # "divide the learning rate by 10 when the validation error rate stopped improving"
LR_DROPS = 3  # "reduced three times prior to termination"
EPOCHS = 90  # "roughly 90 cycles through the training set"
TRAINING_DAYS = (5, 6)  # "five to six days on two NVIDIA GTX 580 3GB GPUs"

# ---------------------------------------------------------------- §6 results (errors as fractions)
RESULTS = {
    "ILSVRC-2010 test, 10 crops": {"top1": 0.375, "top5": 0.170},  # §6, Table 1
    "ILSVRC-2010 test, 1 crop": {"top1": 0.390, "top5": 0.183},  # §6, footnote 5
    "ILSVRC-2012 val, 1 CNN": {"top1": 0.407, "top5": 0.182},  # §6, Table 2
}
TEN_CROP_BENEFIT = {k: RESULTS["ILSVRC-2010 test, 1 crop"][k] - RESULTS["ILSVRC-2010 test, 10 crops"][k]
                    for k in ("top1", "top5")}

# ---------------------------------------------------------------- the claims, with their numbers
FIG1_THRESHOLD = 0.25  # Figure 1: "reaches a 25% training error rate …
FIG1_RATIO = 6.0  # … six times faster than an equivalent network with tanh neurons"
TOWERS_BENEFIT = {"top1": 0.017, "top5": 0.012}  # §3.2, against one GPU with half the kernels
LRN_BENEFIT = {"top1": 0.014, "top5": 0.012}  # §3.3, ImageNet
LRN_CIFAR_ERRORS = {"without": 0.13, "with": 0.11}  # §3.3, a four-layer CNN on CIFAR-10, test error
OVERLAP_BENEFIT = {"top1": 0.004, "top5": 0.003}  # §3.4
PCA_BENEFIT = {"top1": 0.010}  # §4.1: "reduces the top-1 error rate by over 1%"
DROPOUT_ITERATIONS_RATIO = 2.0  # §4.2: "roughly doubles the number of iterations required to converge"
MIDDLE_LAYER_BENEFIT = {"top1": 0.02}  # §7: "removing any of the middle layers results in a loss of about 2%"


@dataclass(frozen=True)
class Claim:
    """One quantitative statement of the paper.

    ``kind`` says how a measurement is compared with it: ``benefit`` (a component lowers the error by
    ``values``), ``ratio`` (something takes ``values["ratio"]`` times as long), ``overfitting`` (removing a
    component widens the train/validation gap), ``headline`` (absolute errors on a different dataset),
    ``recipe`` (a procedure to follow, nothing to test). ``reproduce`` says what would count as reproducing it
    at our scale.
    """

    id: str
    section: str
    claim: str
    values: dict = field(default_factory=dict)
    unit: str = "error (fraction)"
    kind: str = "benefit"
    reproduce: str = ""

    @property
    def paper_text(self) -> str:
        """The paper's value(s) as the scorecard prints them, e.g. ``−1.4 / −1.2`` for a benefit in points."""
        if self.kind == "benefit":
            return " / ".join(f"−{100 * self.values[k]:.1f}" for k in ("top1", "top5") if k in self.values)
        if self.kind == "ratio":
            return f"{self.values['ratio']:g}×"
        if self.kind == "headline":
            ten, one = RESULTS["ILSVRC-2010 test, 10 crops"], RESULTS["ILSVRC-2010 test, 1 crop"]
            return (f"{100 * ten['top1']:.1f} / {100 * ten['top5']:.1f} "
                    f"({100 * one['top1']:.1f} / {100 * one['top5']:.1f} with 1 crop)")
        if self.kind == "recipe":
            return f"{LR_DROPS} drops in ~{EPOCHS} ep"
        return self.values.get("text", "substantial overfitting")


_PAIRED = ("the arm with the component has lower validation error than the arm without it, by more than two "
           "standard errors of the paired difference (McNemar's exact test on the same test images), over ≥ 2 seeds")

CLAIMS: dict[str, Claim] = {c.id: c for c in [
    Claim("fig1", "§3.1", "ReLU reaches 25% training error faster than tanh (Fig. 1)",
          {"ratio": FIG1_RATIO, "threshold": FIG1_THRESHOLD}, "epochs ratio", "ratio",
          "tuned learning rates whose best value is inside the grid, ≥ 3 seeds, and a ratio whose confidence "
          "interval lies above 1"),
    Claim("towers", "§3.2", "Two towers vs one GPU with half the kernels", TOWERS_BENEFIT, reproduce=_PAIRED),
    Claim("lrn", "§3.3", "Local response normalisation", LRN_BENEFIT,
          reproduce=_PAIRED + ", in a net where LRN's data-dependent factor departs from a constant"),
    Claim("pooling", "§3.4", "Overlapping pooling z=3, s=2 vs z=2, s=2", OVERLAP_BENEFIT, reproduce=_PAIRED),
    Claim("no_augmentation", "§4.1", "Without crops and flips: substantial overfitting",
          {"text": "substantial overfitting"}, "train/val gap", "overfitting",
          "the gap between validation error and training error, both on centre crops, is wider without "
          "augmentation by more than two standard errors"),
    Claim("pca", "§4.1", "PCA colour augmentation vs crops + flips", PCA_BENEFIT, reproduce=_PAIRED),
    Claim("ten_crop", "§4.1, §6", "Ten-crop test averaging vs centre crop", TEN_CROP_BENEFIT,
          reproduce="ten crops lower the error of the same model by more than two paired standard errors"),
    Claim("no_dropout", "§4.2", "Without dropout: substantial overfitting", {"text": "substantial overfitting"},
          "train/val gap", "overfitting",
          "the gap between validation and training error (centre crops, dropout off at evaluation) is wider "
          "without dropout by more than two standard errors"),
    Claim("dropout_iterations", "§4.2", "Dropout roughly doubles the iterations to converge",
          {"ratio": DROPOUT_ITERATIONS_RATIO}, "iterations ratio", "ratio",
          "the ratio of epochs to a threshold is above 1 across thresholds and ≥ 2 seeds"),
    Claim("bias_one", "§5", "Bias 1 in conv2/4/5, fc6/7 accelerates early learning (vs 0)",
          {"text": "faster early loss"}, "training loss", "direction",
          "with the paper's N(0, 0.01) initialisation in a net that trains, the bias-1 arm's early training loss "
          "is lower than the bias-0 arm's over ≥ 2 seeds"),
    Claim("schedule", "§5", "lr ÷10 when the validation error plateaus", {"drops": LR_DROPS, "epochs": EPOCHS},
          "drops", "recipe", "nothing to test: the recipe is followed"),
    Claim("depth", "§7", "Removing a middle conv layer costs top-1", MIDDLE_LAYER_BENEFIT, reproduce=_PAIRED),
    Claim("headline", "§6", "Headline error, top-1 / top-5 (ILSVRC-2010 test, 10 crops)",
          RESULTS["ILSVRC-2010 test, 10 crops"], kind="headline",
          reproduce="not comparable: needs ILSVRC-2010 and the full-size net"),
]}
