"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), reproduced: the model, the data, the recipe."""
from .data import DATASETS, ImageSet, data_root, load_imageset, make_synthetic
from .errors import AlexNetError, CheckpointError, DatasetNotFoundError, NonFiniteLossError
from .evaluate import evaluate, predict, ten_crop_predict, topk_errors
from .lrn import LocalResponseNorm, local_response_norm, local_response_norm_reference, lrn_equivalents
from .model import AlexNet, alexnet, alexnet_cifar, build_model, count_parameters
from .optim import PaperSGD
from .parallel import ModelParallelAlexNet
from .profiles import Profile, banner, default_device, get_profile, resolve_device
from .summary import layer_table
from .train import TrainConfig, TrainResult, load_trained, train
from .transforms import BatchAugment, DatasetStats, compute_stats, pca_lighting, random_crop_flip, ten_crops

__version__ = "0.1.0"

__all__ = [  # the public API, re-exported from the modules above
    "DATASETS", "ImageSet", "data_root", "load_imageset", "make_synthetic",
    "AlexNetError", "CheckpointError", "DatasetNotFoundError", "NonFiniteLossError",
    "evaluate", "predict", "ten_crop_predict", "topk_errors",
    "LocalResponseNorm", "local_response_norm", "local_response_norm_reference", "lrn_equivalents",
    "AlexNet", "alexnet", "alexnet_cifar", "build_model", "count_parameters",
    "PaperSGD", "ModelParallelAlexNet",
    "Profile", "banner", "default_device", "get_profile", "resolve_device",
    "layer_table", "TrainConfig", "TrainResult", "load_trained", "train",
    "BatchAugment", "DatasetStats", "compute_stats", "pca_lighting", "random_crop_flip", "ten_crops",
]
