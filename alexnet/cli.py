"""``python -m alexnet``: train, evaluate and benchmark from the shell.

Bad arguments, data or checkpoints end with one line on stderr and a non-zero exit code, never a traceback:
2 for bad input (:class:`AlexNetError`), 3 for a NaN/Inf loss, 130 for Ctrl-C (naming the checkpoint kept, if any).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .errors import AlexNetError, AlexNetWarning


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + error
        command = self.prog.split()[-1]  # "alexnet" for the top-level parser, else the subcommand
        hint = "python -m alexnet --help" if command == "alexnet" else f"python -m alexnet {command} --help"
        sys.stderr.write(f"alexnet: error: {message} (see {hint})\n")
        sys.exit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _number(text: str, ok, wanted: str) -> float:
    """``text`` as a float for which ``ok`` holds, else argparse's one-line error saying what is ``wanted``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
    return value


def _positive_float(text: str) -> float:
    return _number(text, lambda v: v > 0, "positive")


def _fraction(text: str) -> float:
    """A fraction in (0, 1], such as a model FLOPs utilisation."""
    return _number(text, lambda v: 0 < v <= 1, "a fraction in (0, 1], such as 0.3 for 30%")


def _dropout_rate(text: str) -> float:
    """A dropout probability in [0, 1), as the model accepts it (0: no dropout)."""
    return _number(text, lambda v: 0 <= v < 1, "a probability in [0, 1) (0: no dropout)")


def _claim_ids() -> list[str]:
    from .paper import CLAIMS

    return list(CLAIMS)


def build_parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .model import ACTIVATIONS

    datasets = ", ".join(DATASETS)
    parser = _Parser(prog="alexnet", description="AlexNet (Krizhevsky, Sutskever & Hinton, 2012), reproduced.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model with the paper's recipe (§5)", description=(
        "Train with the paper's recipe (§5: SGD with momentum 0.9, weight decay 0.0005, the learning rate divided "
        "by 10 when the validation error stops improving). Data come from $ALEXNET_DATA (default: data/)."))
    t.add_argument("--dataset", required=True, help=datasets)
    t.add_argument("--epochs", type=_positive_int, required=True)
    t.add_argument("--batch-size", type=_positive_int, default=128,
                   help="images per step (default: 128, the paper's); at most --train-limit")
    t.add_argument("--lr", type=_positive_float, default=0.01)
    t.add_argument("--arch", default=None, help="alexnet (227 px) or alexnet-cifar (32 px); default by dataset")
    t.add_argument("--checkpoint-dir", required=True)
    start = t.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true",
                       help="continue from the newest checkpoint in the directory, with the same settings "
                            "(--epochs may grow; --device and --save-every may change)")
    start.add_argument("--overwrite", action="store_true",
                       help="start a new run in a directory that already holds one, replacing its checkpoints "
                            "(without --resume or --overwrite, such a directory is refused)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--save-every", type=int, default=0, metavar="N", help="also checkpoint every N steps")
    t.add_argument("--augment", default="paper", choices=["paper", "crop_flip", "none"])
    t.add_argument("--dropout", type=_dropout_rate, default=None, metavar="P",
                   help="dropout probability of fc6 and fc7, in [0, 1) (default: the paper's 0.5; 0: none)")
    t.add_argument("--activation", default=None, choices=list(ACTIVATIONS), help="default: relu (§3.1)")
    t.add_argument("--no-lrn", action="store_true")
    t.add_argument("--pooling", default=None, choices=["overlap", "plain"])
    t.add_argument("--groups", type=int, default=None, choices=[1, 2],
                   help="groups of conv2/4/5: 2 = the paper's two GPUs (default), 1 = no groups (§3.2)")
    t.add_argument("--conv-widths", default=None, choices=["paper", "one_gpu"],
                   help="paper: 96-256-384-384-256 (default); one_gpu: §3.2's one-GPU net, half the kernels")
    t.add_argument("--train-limit", type=_positive_int, default=None, help="use only this many training images")
    t.add_argument("--val-limit", type=_positive_int, default=None)
    t.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    t.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("evaluate", help="top-1/top-5 error of a checkpoint", description=(
        "Top-1 and top-5 error of a checkpoint written by train, on the validation split of a dataset under "
        "$ALEXNET_DATA (default: data/), by default the dataset it was trained on; --ten-crop averages the 10 crops "
        "of §4.1."))
    e.add_argument("--checkpoint", required=True, help="a checkpoint file, or a --checkpoint-dir (its last.pt)")
    e.add_argument("--dataset", default=None,
                   help=f"{datasets} (default: the dataset the checkpoint was trained on)")
    e.add_argument("--ten-crop", action="store_true", help="average the softmax over 10 crops (§4.1)")
    e.add_argument("--json", action="store_true", help="print one JSON line")
    e.add_argument("--device", default=None)

    b = sub.add_parser("bench", help="training throughput: ours against torchvision's recipe", description=(
        "Training images per second of the paper's AlexNet: this package's trainer (uint8 cache, augmentation "
        "on the device) against the usual torchvision recipe (DataLoader over JPEG files, PIL transforms), each "
        "input pipeline and model step alone, and the model FLOPs utilisation. Photos: the ImageNet sample's "
        "JPEGs under $ALEXNET_DATA when it has them, else synthetic 256x256 images written as JPEGs to a "
        "temporary folder (removed afterwards)."))
    b.add_argument("--device", default=None)
    b.add_argument("--batch-size", type=_positive_int, default=None, help="default: 32 on a CPU, 128 on a GPU")
    b.add_argument("--steps", type=_positive_int, default=None, help="timed steps; default: 3 on a CPU, 20 on a GPU")
    b.add_argument("--json", action="store_true")
    b.add_argument("--peak-tflops", type=_positive_float, default=None, help="override the device's peak for MFU")
    b.add_argument("--step-costs", action="store_true", help=(
        "instead: the cost of one optimizer step of the scaled CIFAR net (batch 128) eager, bf16 + channels_last, "
        "torch.compile, CUDA graphs and batched, as reproduce --plan --from-bench reads it"))
    b.add_argument("--quick", action="store_true",
                   help="with --step-costs: the tiny form (batch 8, 2 steps, no compile)")
    b.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                   help="with --step-costs: skip variants that would end past this (default 100 on a GPU, 60 on a CPU)")
    r = sub.add_parser("reproduce", help="every experiment behind the scorecard at a profile's scale, then the scorecard",
                       description="Run every experiment behind the scorecard (or the claims named with --only) at "
                                   "the profile's scale, store each result with its provenance, and print the "
                                   "scorecard of this run. Claim ids: " + ", ".join(_claim_ids()) + ".")
    r.add_argument("--profile", default=None, choices=["smoke", "quick", "full"],
                   help="default: $ALEXNET_PROFILE, else full with CUDA and quick without (as every chapter)")
    r.add_argument("--only", nargs="+", metavar="CLAIM", default=None, help="claim ids of alexnet.paper.CLAIMS")
    r.add_argument("--out", default=None, help="results folder (default: the profile's)")
    r.add_argument("--budget", type=_positive_float, default=None, metavar="SECONDS",
                   help="start no experiment that would end past this many seconds")
    r.add_argument("--peak-tflops", type=_positive_float, default=None, help="the device's peak, for MFU")
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    r.add_argument("--plan", action="store_true", help="print the counted work and projected GPU time; run nothing")
    r.add_argument("--mfu", type=_fraction, default=None,
                   help="with --plan: the model FLOPs utilisation to project with, a fraction in (0, 1]")
    r.add_argument("--from-bench", default=None, metavar="PATH",
                   help="with --plan: project from the step costs measured by bench --step-costs --json (or a device "
                        "check's bench.json holding them)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _train(args) -> int:
    from .checkpoint import kept_checkpoint
    from .text import plural
    from .train import TrainConfig, train

    model = {}
    for key, value in (("dropout", args.dropout), ("activation", args.activation), ("pooling", args.pooling),
                       ("groups", args.groups), ("conv_widths", args.conv_widths)):
        if value is not None:
            model[key] = value
    if args.no_lrn:
        model["lrn"] = False
    if args.train_limit is not None and args.batch_size > args.train_limit:
        raise AlexNetError(f"--batch-size {args.batch_size} is larger than --train-limit {args.train_limit}: "
                           f"pass --batch-size {args.train_limit} or less")
    kept = None if args.resume or args.overwrite else kept_checkpoint(args.checkpoint_dir)
    if kept is not None:
        raise AlexNetError(f"--checkpoint-dir {args.checkpoint_dir} already holds a run ({kept.name}): pass --resume "
                           "to continue it, choose another --checkpoint-dir, or pass --overwrite to start over")
    cfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      arch=args.arch, model=model, augment=args.augment, seed=args.seed,
                      checkpoint_dir=args.checkpoint_dir, resume=args.resume, save_every=args.save_every,
                      train_limit=args.train_limit, val_limit=args.val_limit, device=args.device,
                      amp=not args.no_amp)
    result = train(cfg, progress=not args.quiet, log=True)
    last = result.history[-1] if result.history else {}
    if last and int(os.environ.get("RANK", 0)) == 0:  # under torchrun, only rank 0 speaks
        print(f"done: {plural(len(result.history), 'epoch')}; final train error {last['train_top1_error']:.1%}, "
              f"val error {last.get('val_top1_error', float('nan')):.1%}; checkpoint {result.checkpoint}")
    return 0


def _evaluate(args) -> int:
    from .data import load_imageset
    from .evaluate import evaluate
    from .text import plural
    from .train import check_same_classes, load_trained
    from .transforms import BatchAugment

    model, stats, state = load_trained(args.checkpoint, device=args.device)
    dataset = args.dataset or (state.get("config") or {}).get("dataset")  # default: what it was trained on
    if not dataset:
        raise AlexNetError(f"checkpoint {args.checkpoint} does not record the dataset it was trained on: "
                           "pass --dataset")
    data = load_imageset(dataset, "val", progress=False)
    check_same_classes(state.get("classes"), data, f"checkpoint {args.checkpoint}")
    if data.num_classes != state["identity"]["num_classes"]:
        raise AlexNetError(f"checkpoint has {state['identity']['num_classes']} classes but {dataset} "
                           f"has {data.num_classes}")
    device = next(model.parameters()).device
    result = evaluate(model, data, BatchAugment(stats.to(device), data.crop_size, "none"), ten_crop=args.ten_crop)
    result.update(checkpoint=str(args.checkpoint), dataset=dataset, epoch=state.get("epoch"))
    if args.json:
        print(json.dumps(result))
    else:
        crop = "ten crops" if args.ten_crop else "centre crop"
        print(f"{dataset} ({plural(result['n'], 'image')}, {crop}): top-1 error {result['top1_error']:.2%}, "
              f"top-5 error {result['top5_error']:.2%}")
    return 0


def _bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def _reproduce(args) -> int:
    from .profiles import profile_name
    from .reproduce import main as reproduce_main

    args.profile = profile_name(args.profile)  # --profile, else $ALEXNET_PROFILE, else by device (one rule)
    if getattr(args, "from_bench", None) is not None:
        if not args.plan:
            raise AlexNetError("--from-bench goes with --plan (it projects; it runs nothing)")
        from .plan import format_measured_projection
        from .reproduce import reproduce_profile

        reproduce_profile(args.profile)
        print(format_measured_projection(args.profile, args.from_bench))
        return 0

    return reproduce_main(args)


def _label_our_warnings() -> None:
    """Show the package's own warnings as one ``alexnet: warning: ...`` line each; leave every other warning to
    Python's filters and format (a library's ResourceWarning stays hidden, as it is by default)."""
    python_format = warnings.formatwarning
    if getattr(python_format, "_alexnet", False):
        return

    def formatwarning(message, category, filename, lineno, line=None):
        if issubclass(category, AlexNetWarning):
            return f"alexnet: warning: {message}\n"
        return python_format(message, category, filename, lineno, line)

    formatwarning._alexnet = True
    warnings.formatwarning = formatwarning
    warnings.simplefilter("default", AlexNetWarning)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _label_our_warnings()
    try:
        return {"train": _train, "evaluate": _evaluate, "bench": _bench, "reproduce": _reproduce}[args.command](args)
    except AlexNetError as e:
        sys.stderr.write(f"alexnet: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"alexnet: {_interrupted(args)}\n")
        return 130


def _interrupted(args) -> str:
    """What a Ctrl-C leaves: the checkpoint that exists (if any) and how to continue."""
    from .checkpoint import kept_checkpoint

    if args.command != "train":
        return "interrupted"
    kept = kept_checkpoint(args.checkpoint_dir)
    return (f"interrupted; the last checkpoint, {kept}, is kept (continue with --resume)" if kept
            else "interrupted before the first checkpoint; nothing was saved")
