"""The GPU-resident input pipeline (alexnet.device_data) and the benchmark, tested on the CPU with the same code."""
import functools
import importlib
import json

import pytest
import torch

from alexnet import AlexNetError, TrainConfig, train
from alexnet import bench
from alexnet.bench import PEAK_TFLOPS, format_report, mfu, peak_for_name
from alexnet.cli import main as cli_main
from alexnet.device_data import DeviceImageCache, autocast_dtype, place_images, plan_placement


def _cache(n=37, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("where", ["device", "pinned", "host"])
def test_every_placement_returns_exactly_the_indexed_batches(where):
    images, labels = _cache()
    placed = place_images(images, labels, "cpu", where=where)
    assert placed.where == where and len(placed) == 37
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, 37, (n,), generator=g) for n in (8, 8, 5, 8, 3, 8)]
    for step, idx in enumerate(batches):
        nxt = batches[step + 1] if step + 1 < len(batches) else None
        u8, y = placed.batch(idx, prefetch=nxt)
        assert u8.dtype == torch.uint8 and u8.device.type == "cpu"
        assert torch.equal(u8, images[idx]) and torch.equal(y, labels[idx])
    placed.close()


def test_pinned_placement_copes_with_a_prefetch_that_is_not_used():
    images, labels = _cache()
    placed = place_images(images, labels, "cpu", where="pinned")
    a, b, c = torch.arange(0, 6), torch.arange(6, 12), torch.arange(20, 30)
    first, _ = placed.batch(a, prefetch=b)
    second, _ = placed.batch(c, prefetch=a)  # not the prefetched batch: gathered on the spot
    third, _ = placed.batch(a)  # the prefetched one this time
    assert torch.equal(first, images[a]) and torch.equal(second, images[c]) and torch.equal(third, images[a])
    # the returned batches are not views of the reused staging buffers
    placed.batch(b)
    assert torch.equal(first, images[a]) and torch.equal(second, images[c])
    placed.close()


def test_plan_placement_keeps_small_caches_on_the_device_and_streams_large_ones():
    gpu = torch.device("cuda", 0)
    where, why = plan_placement(150 * 10 ** 6, gpu, free_bytes=15 * 10 ** 9)  # CIFAR-10 on a T4
    assert where == "device" and "150.0 MB" in why
    where, why = plan_placement(250 * 10 ** 9, gpu, free_bytes=79 * 10 ** 9)  # ImageNet on an H100
    assert where == "pinned" and "pinned host memory" in why and "250.0 GB" in why
    assert plan_placement(10 ** 9, gpu, free_bytes=3 * 10 ** 9, max_fraction=0.25)[0] == "pinned"
    assert plan_placement(10 ** 12, torch.device("cpu"))[0] == "host"


def test_bad_caches_and_placements_raise_one_exception_type():
    images, labels = _cache()
    with pytest.raises(AlexNetError, match="uint8"):
        DeviceImageCache(images.float(), labels, "cpu")
    with pytest.raises(AlexNetError, match="labels"):
        DeviceImageCache(images, labels[:3], "cpu")
    with pytest.raises(AlexNetError, match="placement"):
        DeviceImageCache(images, labels, "cpu", where="gpu")


def test_autocast_dtype_is_none_off_cuda():
    assert autocast_dtype("cpu") is None


SMALL = dict(dataset="synthetic", epochs=1, batch_size=16, train_limit=48, val_limit=16, seed=0, device="cpu")


@pytest.fixture(scope="module")
def plain_run():
    return train(TrainConfig(**SMALL), progress=False)


@pytest.mark.parametrize("where", ["device", "pinned"])
def test_trainer_with_the_gpu_placements_is_bit_identical_on_cpu(where, plain_run, monkeypatch):
    train_module = importlib.import_module("alexnet.train")  # (alexnet.train is also the function's name)
    monkeypatch.setattr(train_module, "place_images", functools.partial(place_images, where=where))
    placed = train(TrainConfig(**SMALL), progress=False)
    assert placed.history[0]["train_loss"] == plain_run.history[0]["train_loss"]
    for (k, a), b in zip(plain_run.model.state_dict().items(), placed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_trainer_runs_channels_last_on_cpu(plain_run):
    plain = plain_run
    nhwc = train(TrainConfig(**SMALL, channels_last=True), progress=False)
    assert nhwc.model.features.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.history[0]["train_loss"] == pytest.approx(plain.history[0]["train_loss"], rel=1e-3)


def test_mfu_and_the_peak_table():
    # 1000 img/s of 0.72 GMAC at 3 × 2 FLOPs per MAC on a 100 TFLOPS device: 4.32 TFLOPS, 4.32%
    assert mfu(1000, 720_000_000, 100.0) == pytest.approx(0.0432)
    assert mfu(1000, 720_000_000, None) is None
    assert peak_for_name("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_for_name("NVIDIA H100 PCIe") == 756.0
    assert peak_for_name("NVIDIA A100-SXM4-40GB") == 312.0
    assert peak_for_name("Tesla T4") == 65.0
    assert peak_for_name("NVIDIA L4") == 121.0
    assert peak_for_name("Some CPU") is None
    assert all(p > 0 for _, p in PEAK_TFLOPS)


def test_cli_bench_runs_on_cpu_and_prints_every_number(capsys):
    code = cli_main(["bench", "--device", "cpu", "--batch-size", "2", "--steps", "1", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("a_img_s", "b_img_s", "ratio", "mfu_a", "lrn", "input_ours", "input_torchvision", "step_ours",
                "step_torchvision", "variants", "train_ours", "train_torchvision", "macs_per_image", "placement"):
        assert key in result, key
    for key in ("a_img_s", "b_img_s", "ratio"):
        assert result[key] > 0
    assert result["ratio"] == pytest.approx(result["a_img_s"] / result["b_img_s"])
    assert result["mfu_a"] is None and result["peak_tflops"] is None  # no CPU peak in the table
    assert 0.70e9 < result["macs_per_image"] < 0.74e9  # §3.5: about 0.72 GMAC per image
    assert result["lrn"]["shape"] == [2, 96, 55, 55] and result["lrn"]["speedup"] > 0
    assert result["input_ours"]["placement"] == "host"
    assert [r["variant"] for r in result["variants"]] == ["fp32", "+ channels_last", bench.NO_LRN]
    assert result["train_ours_no_lrn"]["img_s"] > 0
    assert result["ratio_no_lrn"] == pytest.approx(result["train_ours_no_lrn"]["img_s"] / result["b_img_s"])
    report = format_report(result)
    for text in ("(a) ours", "(b) torchvision", "ratio (a)/(b)", "n/a (pass --peak-tflops)", "input pipeline alone",
                 "model step alone", "LRN forward+backward", "(a) without its two LRN layers", "; without LRN"):
        assert text in report
    result["input_ours_streamed"] = {"img_s": 123.0}  # measured on GPUs only: the streaming placement
    assert "streamed from pinned host memory" in format_report(result)
    # with a peak given, MFU is a number
    result["peak_tflops"], result["peak_source"] = 1.0, "--peak-tflops"
    result["mfu_a"] = mfu(result["a_img_s"], result["macs_per_image"], 1.0)
    assert "n/a (pass" not in format_report(result).split("MFU of (a):")[1].splitlines()[0]


def test_cli_bench_rejects_a_missing_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli_main(["bench", "--device", "cuda", "--steps", "1"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_a_failing_torch_compile_is_reported_not_fatal(monkeypatch):
    from alexnet import bench

    def broken(model, *a, **k):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    rows = bench.time_model_variants("cpu", 1, 1, warmup=0, compile=True)
    assert [r["variant"] for r in rows] == ["fp32", "+ channels_last", "+ torch.compile", bench.NO_LRN]
    assert rows[2]["img_s"] is None and "no compiler here" in rows[2]["error"]
    assert rows[1]["trainer"] and rows[1]["img_s"] > 0  # the trainer's CPU default: channels_last
    assert [r["trainer"] for r in rows] == [False, True, False, False]
    assert rows[3]["img_s"] > 0


def test_targets_and_the_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from alexnet import bench

    r = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "ratio": 2.5, "mfu_a": 0.35, "mfu_step_best": 0.45,
         "lrn": {"speedup": 3.0, "ours_ms": 1.0, "torch_ms": 3.0, "shape": [128, 96, 55, 55]},
         "a_img_s": 5000.0, "b_img_s": 2000.0, "batch_size": 128,
         "input_ours": {"img_s": 9e4}, "input_torchvision": {"img_s": 2100.0},
         "step_ours": {"img_s": 6000.0}, "step_torchvision": {"img_s": 3000.0},
         "variants": [{"variant": "fp32", "img_s": 2000.0, "trainer": False},
                      {"variant": "+ channels_last", "img_s": 6000.0, "trainer": True},
                      {"variant": "+ torch.compile", "img_s": None, "error": "x", "trainer": False}]}
    verdicts = [t["met"] for t in bench.targets(r)]
    assert verdicts == [True, True, False, None]  # the CPU's (a) ≥ (b) does not apply on a GPU
    assert "NOT met" in bench.format_targets(r)
    cpu = {**r, "device": "cpu", "device_name": "CPU", "mfu_a": None, "ratio": 0.8, "ratio_no_lrn": 1.05}
    assert [t["met"] for t in bench.targets(cpu)] == [True, None, None, False, True]
    assert "0.80×" in bench.format_targets(cpu) and "1.05×" in bench.format_targets(cpu)
    from alexnet.figures.bench import plot_benchmark

    fig = plot_benchmark(r)
    assert len(fig.axes) == 3
    fig.savefig(tmp_path / "bench.png")


def test_train_leaves_global_torch_state_as_it_found_it():
    # the trainer turns deterministic algorithms on for a CPU run; a caller (the benchmark) must not inherit that
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.get_num_threads())
    torch.use_deterministic_algorithms(False)
    try:
        train(TrainConfig(**{**SMALL, "train_limit": 16}), progress=False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, torch.get_num_threads()) == before
