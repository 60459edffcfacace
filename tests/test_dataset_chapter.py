"""§2 helpers of the dataset chapter (alexnet.experiments.dataset): the scale arithmetic and the preprocessing."""
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from alexnet import compute_stats, make_synthetic  # noqa: E402
from alexnet.experiments import dataset as ds  # noqa: E402
from alexnet.figures import dataset as dataset_figures  # noqa: E402


def test_ilsvrc_scale_is_the_papers_arithmetic():
    s = ds.ilsvrc_scale()
    assert s.images == 1_281_167 and s.bytes_per_image == 196_608
    assert s.dataset_bytes == 1_281_167 * 196_608  # about 252 GB
    assert s.steps_per_epoch == 10_009 and s.total_steps == 90 * 10_009
    assert s.images_per_second == pytest.approx(1_281_167 * 90 / (5.5 * 86400))
    assert "training time" not in ds.ilsvrc_scale(images=100, side=32, days=None).rows()
    table = ds.scale_table({"a": s, "b": ds.ilsvrc_scale(images=100, side=32, days=None)})
    assert "251.9 GB" in table and "—" in table


@pytest.mark.parametrize("h,w", [(375, 500), (500, 375), (40, 90), (256, 256), (20, 30)])
def test_preprocessing_stages_shorter_side_then_centre_crop(h, w):
    image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    (_, a), (_, b), (_, c) = ds.preprocessing_stages(image, 256)
    assert a.shape == (3, h, w)
    assert min(b.shape[-2:]) == 256 and b.shape[-1] / b.shape[-2] == pytest.approx(w / h, rel=0.02)
    assert c.shape == (3, 256, 256)


def test_centre_crop_keeps_the_middle_of_the_longer_side():
    image = torch.zeros(3, 256, 512, dtype=torch.uint8)
    image[:, :, 128:384] = 255  # a white band exactly where the centre crop falls
    (_, _), (_, _), (_, c) = ds.preprocessing_stages(image, 256)
    assert c.min() == 255


def test_class_counts_and_centred_display():
    data = make_synthetic(60, seed=0)
    counts = ds.class_counts(data)
    assert sum(counts.values()) == 60 and len(counts) == 10
    stats = compute_stats(data.images)
    centred = ds.centred_display(data.images[0], stats.mean_image)
    assert centred.shape == (3, 32, 32) and 0 <= centred.min() and centred.max() <= 1
    mean_shown = ds.centred_display(stats.mean_image.round().to(torch.uint8), stats.mean_image)
    assert torch.allclose(mean_shown, torch.full_like(mean_shown, 0.5), atol=0.01)  # the mean itself is grey


def test_figures_draw_on_small_images():
    data = make_synthetic(30, seed=0)
    raw = [ds.to_shape(data.images[0], 24, 40)]
    for fig in (dataset_figures.plot_preprocessing(raw), dataset_figures.plot_crop_window(data.images[1], 1.5),
                dataset_figures.plot_mean_subtraction(data.images[:2], compute_stats(data.images)),
                dataset_figures.plot_class_grid(data, per_class=2)):
        assert fig.axes
        matplotlib.pyplot.close(fig)
