"""§4.1 augmentation and §4.2 dropout: the counts, the lighting formula, the dropout conventions, convergence."""
import math

import pytest
import torch
from torch import nn

from alexnet.experiments.augmentation import (augmentation_factor, augmentation_factors, crop_flip_samples,
                                              lighting_shift, relight)
from alexnet.experiments.dropout import (convergence, convergence_threshold, convergence_thresholds,
                                         dropout_conventions_equivalence, dropout_expectation, iterations_to_converge,
                                         paper_dropout)
from alexnet.experiments.dropout_explorer import dropout_output_samples, fc6_activations
from alexnet.figures.augmentation import plot_overfitting
from alexnet.stats import epochs_to_error
from alexnet.model import alexnet_cifar
from alexnet.transforms import compute_stats, pca_lighting


# ------------------------------------------------------------------ §4.1: the factor of 2048
def test_factor_of_2048():
    assert augmentation_factor(256, 224, exact=False) == 2048  # the paper's count, (256−224)²·2
    assert augmentation_factor(256, 224) == 33 ** 2 * 2 == 2178  # strictly, 33 positions per side
    assert augmentation_factor(256, 227) == 1800  # our 227 crop
    assert augmentation_factor(32, 28) == 50
    assert augmentation_factor(256, 256) == 2  # one position, two mirrors
    assert augmentation_factor(256, 227, flips=False) == 900
    with pytest.raises(ValueError):
        augmentation_factor(32, 40)
    assert [r["variants"] for r in augmentation_factors()] == [2048, 2178, 1800, 50]


def test_crop_flip_samples_are_crops_of_the_image():
    img = torch.arange(3 * 8 * 8, dtype=torch.int32).reshape(3, 8, 8).to(torch.uint8)
    views = crop_flip_samples(img, 5, n=16, seed=1)
    assert views.shape == (16, 3, 5, 5)
    for v in views:  # each view is some window of the image or of its mirror
        found = any(torch.equal(v, src[:, t:t + 5, l:l + 5]) for src in (img, img.flip(-1))
                    for t in range(4) for l in range(4))
        assert found


# ------------------------------------------------------------------ §4.1: PCA lighting
def _stats():
    gen = torch.Generator().manual_seed(0)
    base = torch.rand(20, 1, 16, 16, generator=gen)
    images = (255 * (0.6 * base + 0.4 * torch.rand(20, 3, 16, 16, generator=gen))).to(torch.uint8)
    return images, compute_stats(images)


def test_pca_lighting_with_given_alphas_equals_the_formula():
    images, st = _stats()
    alphas = torch.tensor([[0.1, -0.2, 0.05], [-0.3, 0.0, 0.2]])
    x = images[:2].float()
    out = pca_lighting(x, st.eigvals, st.eigvecs, alphas=alphas)
    for n in range(2):
        # I_xy + [p1 p2 p3][α1λ1, α2λ2, α3λ3]ᵀ, with λ on the [0, 1] scale, added in 0–255 units
        shift = 255.0 * sum(alphas[n, i] * st.eigvals[i] * st.eigvecs[:, i] for i in range(3))
        torch.testing.assert_close(out[n], x[n] + shift[:, None, None], rtol=0, atol=1e-4)
        torch.testing.assert_close(lighting_shift(st, alphas[n]), shift, rtol=0, atol=1e-4)
    # the eigenpairs are those of the covariance
    torch.testing.assert_close(st.covariance @ st.eigvecs, st.eigvecs * st.eigvals, rtol=1e-4, atol=1e-6)
    assert (st.eigvals[:-1] >= st.eigvals[1:]).all()


def test_relight_is_rounded_and_clipped_formula():
    images, st = _stats()
    img = images[0]
    alphas = torch.tensor([2.0, -1.0, 0.5])  # large, so clipping happens
    expected = (img.float() + lighting_shift(st, alphas)[:, None, None]).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(relight(img, st, alphas), expected)
    assert torch.equal(relight(img, st, [0, 0, 0]), img)


# ------------------------------------------------------------------ §4.2: dropout conventions
def test_paper_dropout_test_time_is_half():
    h = torch.rand(4, 7)
    torch.testing.assert_close(paper_dropout(h, 0.5, training=False), 0.5 * h)
    mask = (torch.rand(4, 7) > 0.5).float()
    torch.testing.assert_close(paper_dropout(h, 0.5, mask=mask), h * mask)


def test_dropout_conventions_are_the_same_network():
    r = dropout_conventions_equivalence(64, 10, p=0.5, seed=3)
    assert r["train_max_diff"] < 1e-5 * max(1.0, r["output_scale"])
    assert r["test_max_diff"] < 1e-5 * max(1.0, r["output_scale"])
    assert 0.3 < r["kept_fraction"] < 0.7
    # and for another rate, with the weights scaled by 1 − p
    r = dropout_conventions_equivalence(32, 5, p=0.25, seed=1)
    assert r["weight_factor"] == 0.75 and r["train_max_diff"] < 1e-5 and r["test_max_diff"] < 1e-5


def test_dropout_expectation_matches_test_time_output():
    h = torch.rand(50) + 0.5
    r = dropout_expectation(h, 0.5, samples=20000)
    # standard error of a mean of 20000 masks: ≤ 1.5 · 0.5 / √20000 ≈ 0.005 for the paper; 2× that for torch
    assert r["paper_max_gap"] < 0.03 and r["torch_max_gap"] < 0.06
    torch.testing.assert_close(r["paper_test"], 0.5 * h)
    torch.testing.assert_close(r["torch_test"], h)
    torch.testing.assert_close(r["torch_train_mean"] * 0.5, r["paper_train_mean"], rtol=0, atol=0.03)


def test_dropout_output_samples_restore_the_rate_and_p0_is_deterministic():
    model = alexnet_cifar(10)
    x = torch.randn(4, 3, 28, 28) * 50
    out0 = dropout_output_samples(model, x, 0.0, samples=5)
    torch.testing.assert_close(out0["mc_mean"], out0["test"])
    out = dropout_output_samples(model, x, 0.5, samples=5)
    assert out["samples"].shape == (5, 4, 10)
    assert not torch.allclose(out["samples"][0], out["samples"][1])
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, nn.Dropout)) and not model.training
    h = fc6_activations(model, x)
    assert h.shape == (4, model.classifier.fc6.out_features) and (h >= 0).all()


# ------------------------------------------------------------------ §4.2: convergence
def _history(errors):
    return [{"epoch": i + 1, "train_top1_error": e, "train_loss": e * 2} for i, e in enumerate(errors)]


def test_epochs_to_error_interpolates_on_a_history():
    h = _history([0.9, 0.7, 0.5, 0.3, 0.2])
    assert epochs_to_error(h, 0.5) == 3.0
    assert math.isclose(epochs_to_error(h, 0.4), 3.5)
    assert epochs_to_error(h, 0.95) == 1.0
    assert epochs_to_error(h, 0.1) is None
    assert epochs_to_error(h, 1.0, metric="train_loss") == 3.0


def test_iterations_to_converge_on_crafted_histories():
    fast = _history([0.8, 0.6, 0.4, 0.3, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2])
    slow = _history([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.27, 0.25])  # reaches 0.4 at 6, fast at 3
    r = iterations_to_converge(slow, fast, threshold=0.4)
    assert r["ratio"] == 2.0 and r["epochs"] == 6.0 and r["reference_epochs"] == 3.0
    # default threshold: the slower run's best + 1 point = 0.26, reached at epoch 9 + 1/2 (0.27→0.25) vs 4 + 4/5
    auto = iterations_to_converge(slow, fast)
    assert math.isclose(auto["threshold"], 0.26)
    assert math.isclose(auto["ratio"], 9.5 / 4.8)
    assert convergence_threshold([slow, fast]) == pytest.approx(0.26)
    assert iterations_to_converge(slow, fast, threshold=0.1)["ratio"] is None
    # the same run is 1×
    assert iterations_to_converge(fast, fast)["ratio"] == 1.0


def test_plot_overfitting_draws_both_panels():
    import matplotlib.pyplot as plt

    h = [{"epoch": i, "train_top1_error": 0.5 / i, "val_top1_error": 0.6 / i ** 0.5} for i in range(1, 4)]
    fig = plot_overfitting({"a": h, "b": h})
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) >= 2
    plt.close(fig)


def test_ten_crop_gain_is_centre_minus_ten_crop():
    from alexnet.data import make_synthetic
    from alexnet.experiments.augmentation import ten_crop_gain

    val = make_synthetic(40, seed=1)
    model = alexnet_cifar(10).eval()
    st = compute_stats(val.images)
    r = ten_crop_gain(model, val, st, save=False)
    assert math.isclose(r["gain_top1"], r["centre"]["top1"] - r["ten_crop"]["top1"])
    assert math.isclose(r["gain_top5"], r["centre"]["top5"] - r["ten_crop"]["top5"])
    # the paired counts explain the top-1 gain exactly
    assert math.isclose(r["gain_top1"], (r["fixed_by_ten_crop"] - r["broken_by_ten_crop"]) / len(val), abs_tol=1e-6)


def test_iterations_to_converge_counts_only_epochs_at_the_initial_lr():
    from alexnet.experiments.dropout import convergence_table
    from alexnet.experiments.learning import epochs_at_initial_lr, first_lr_drop

    def with_lr(errors, drop_after):
        return [{"epoch": i + 1, "train_top1_error": e, "lr": 0.01 if i < drop_after else 0.001}
                for i, e in enumerate(errors)]

    slow = with_lr([0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35], drop_after=99)  # never drops
    fast = with_lr([0.8, 0.6, 0.55, 0.5, 0.3, 0.2, 0.15, 0.1], drop_after=4)  # lr ÷10 after epoch 4
    assert [r["epoch"] for r in epochs_at_initial_lr(fast)] == [1, 2, 3, 4]
    assert first_lr_drop(fast) == 4 and first_lr_drop(slow) is None
    r = iterations_to_converge(slow, fast)
    # the window: fast's best at lr 0.01 is 0.5 (+0.01 margin), slow's is 0.35 → threshold 0.51
    assert math.isclose(r["threshold"], 0.51)
    assert math.isclose(r["reference_epochs"], 3 + 0.04 / 0.05)  # 0.55 → 0.5 between epochs 3 and 4
    assert math.isclose(r["epochs"], 4 + 0.09 / 0.1)  # 0.6 → 0.5 between epochs 4 and 5
    assert r["lr_drop_epochs"] == [None, 4]
    # over whole runs, the drop's sudden fall makes the fast run look faster still at low thresholds
    whole = iterations_to_converge(slow, fast, threshold=0.4, same_lr=False)
    assert whole["ratio"] == 7.0 / (4 + 0.1 / 0.2)
    table = convergence_table(slow, fast, [0.6, 0.4])
    assert "†" in table.splitlines()[2] and "†" not in table.splitlines()[1]


def test_convergence_ratio_is_read_across_thresholds_and_seeds():
    def with_lr(errors, drop_after=99):
        return [{"epoch": i + 1, "train_top1_error": e, "lr": 0.01 if i < drop_after else 0.001}
                for i, e in enumerate(errors)]

    fast = with_lr([0.85, 0.75, 0.65, 0.55, 0.45, 0.35])  # 0.1 per epoch
    slow = with_lr([0.85, 0.80, 0.75, 0.70, 0.65, 0.60, 0.55, 0.50, 0.45, 0.40, 0.35])  # 0.05 per epoch
    # every multiple of 0.05 below both first records (0.85) down to the level both reach (0.35)
    assert convergence_thresholds([slow, fast]) == pytest.approx([0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45,
                                                                  0.4, 0.35])
    one = convergence([slow], [fast])
    expected = [epochs_to_error(slow, t) / epochs_to_error(fast, t) for t in one["thresholds"]]
    assert [r["ratio"] for r in one["ratios"]] == pytest.approx(expected)
    assert one["ratio"] == pytest.approx(sum(expected) / len(expected)) and one["low"] < one["ratio"] < one["high"]
    # a second seed adds its own ratios; the same run against itself is 1× everywhere
    two = convergence([slow, fast], [fast, fast])
    assert len(two["ratios"]) == 2 * len(one["ratios"]) and {r["seed"] for r in two["ratios"]} == {0, 1}
    same = convergence([fast], [fast])
    assert same["ratio"] == 1.0 and same["verdict"] == "inconclusive at this scale"
    assert convergence([with_lr([0.9, 0.9])], [fast])["ratio"] is None


def test_evaluate_crops_gives_both_ways_of_testing_from_one_loop():
    from alexnet.data import make_synthetic
    from alexnet.evaluate import evaluate, evaluate_crops
    from alexnet.transforms import BatchAugment

    val = make_synthetic(40, seed=1)
    torch.manual_seed(0)
    model = alexnet_cifar(10).eval()
    aug = BatchAugment(compute_stats(val.images), val.crop_size, "none")
    calls = []
    hook = model.register_forward_hook(lambda m, i, o: calls.append(len(o)))
    both = evaluate_crops(model, val, aug, batch_size=16)
    hook.remove()
    # one loop over 3 batches: the centre crop and the ten crops of each, 11 forward passes a batch
    assert len(calls) == 3 * 11 and sum(calls) == 11 * len(val)
    for way, ten in (("centre", False), ("ten_crop", True)):
        alone = evaluate(model, val, aug, ten_crop=ten, batch_size=16)
        assert both[way]["top1_error"] == pytest.approx(alone["top1_error"])
        assert both[way]["top5_error"] == pytest.approx(alone["top5_error"])
        assert both[way]["correct"].shape == (len(val),)
        assert 1 - both[way]["correct"].float().mean().item() == pytest.approx(alone["top1_error"])


def test_pick_photo_finds_the_chapters_classes_in_both_photo_sources_and_says_when_a_name_is_absent():
    from torchvision import datasets
    from torchvision.models import AlexNet_Weights

    from alexnet import make_synthetic
    from alexnet.errors import AlexNetWarning
    from alexnet.experiments import augmentation as A

    ilsvrc = AlexNet_Weights.IMAGENET1K_V1.meta["categories"]  # the 1,000 classes imagenet-sample has one photo of
    imagenette = [words[0] for words in datasets.Imagenette._WNID_TO_CLASS.values()]
    for name in (A.CROP_PHOTO, A.LIGHTING_PHOTO):
        assert name in ilsvrc and name in imagenette, name
    photos = make_synthetic(3, 32, 3, seed=0)
    photos.labels = torch.tensor([0, 1, 2])
    photos.class_names = ["tench", "garbage_truck", "church"]  # imagenet-sample's spelling: underscores
    assert torch.equal(A.pick_photo(photos, "church"), photos.images[2])
    assert torch.equal(A.pick_photo(photos, "garbage truck"), photos.images[1])  # Imagenette's spelling
    with pytest.warns(AlexNetWarning, match="no class named like 'toucan'"):
        assert torch.equal(A.pick_photo(photos, "toucan"), photos.images[0])
