r"""``python -m alexnet bench``: training images per second, ours against the usual torchvision recipe.

One run measures, at the same batch size, crop size (227) and device:

- **(a) ours**: the paper's AlexNet (:func:`alexnet.model.alexnet`) trained by :func:`alexnet.train.train`
  itself, fed from the uint8 image cache (:mod:`alexnet.data`), placed on the device
  (:mod:`alexnet.device_data`) and augmented there in whole batches (:class:`alexnet.transforms.BatchAugment`:
  crops, flips, PCA lighting, mean subtraction), with the trainer's defaults: bf16 autocast (fp16 + GradScaler on
  GPUs without native bf16), channels_last and cuDNN autotuning on CUDA.
- **(b) the usual recipe**: ``torchvision.models.alexnet`` with a ``DataLoader`` over JPEG files that decodes every
  image with PIL in ``min(8, cpu_count)`` worker processes and applies ``RandomResizedCrop(227)``,
  ``RandomHorizontalFlip``, ``ToTensor`` and ``Normalize`` per image, fp32, ``torch.optim.SGD`` (the PyTorch
  ImageNet example).

and, so that the bottleneck is visible, each half alone: the two input pipelines without a model, and the two
model steps on synthetic tensors already on the device (plus the step with each of our switches added one at a
time: cuDNN autotuning, mixed precision, channels_last, and the opt-in ``torch.compile``). It also times our
LRN layer against ``torch.nn.LocalResponseNorm`` at conv1's shape (forward + backward), and (a)'s loop and model
step once more on the net without its two LRN layers (:data:`NO_LRN`): torchvision's AlexNet has none, so that
row compares the two loops on the same kinds of layers.

Model FLOPs utilisation, MFU = img/s × 3 × 2 × MACs per image ÷ peak, is :func:`alexnet.bench.utilisation.mfu`
(its formula and sources there), over the device's dense bf16/fp16 tensor peak (:data:`PEAK_TFLOPS`, or
``--peak-tflops``).

Photos: the ImageNet sample's JPEGs when ``$ALEXNET_DATA`` has them, else synthetic 256×256 images written as

The package, one module per job: :mod:`.timing` (the clock, the LRN micro-benchmark), :mod:`.utilisation` (device peaks
and MFU), :mod:`.inputs` (the photos and the two input pipelines), :mod:`.steps` (model steps alone),
:mod:`.loops` (the two whole training loops), :mod:`.run` (the whole benchmark and the CLI), :mod:`.report` (the
text), :mod:`.step_costs` (``bench --step-costs``: one optimizer step of the scaled CIFAR net in every way the package
can run it, the number :mod:`alexnet.plan` projects ``reproduce`` from). Its figure is
:func:`alexnet.figures.bench.plot_benchmark`.
"""
from .inputs import BenchPhotos, time_input_ours, time_input_torchvision, torchvision_loader
from .loops import time_train_ours, time_train_torchvision
from .utilisation import PEAK_TFLOPS, device_name, device_peak_tflops, macs_per_image, mfu, peak_for_name
from .report import format_report, format_targets, targets
from .run import default_sizes, main, run_benchmark
from .step_costs import run_step_costs
from .steps import NO_LRN, time_model_variants, time_torchvision_step
from .timing import CROP, STORED, time_lrn

__all__ = ["BenchPhotos", "CROP", "NO_LRN", "PEAK_TFLOPS", "STORED", "default_sizes", "device_name", "device_peak_tflops",
           "format_report", "format_targets", "macs_per_image", "main", "mfu", "peak_for_name", "run_benchmark",
           "run_step_costs", "targets", "time_input_ours", "time_input_torchvision", "time_lrn", "time_model_variants",
           "time_torchvision_step", "time_train_ours", "time_train_torchvision", "torchvision_loader"]
