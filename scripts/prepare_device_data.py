"""Copy as much of CIFAR-10 as fits the device tool's transfer limit into ``data/device`` (git-ignored), to carry.

The device machine gets the working tree plus the ``carry`` paths, 64 MiB in all. This script measures what the
tree already takes (tracked files and untracked files git does not ignore), keeps every test image, and fills the
rest with training images, the same number from each class (the first ones of each class folder, in name order),
leaving ``--margin-mib`` spare. The result is an ALEXNET_DATA root: ``data/device/cifar10/{train,test}/<class>/``.

    python scripts/prepare_device_data.py                    # copy, sized to fit
    python scripts/prepare_device_data.py --link DIR         # a full-size root of links for runs on this machine

It prints the counts and sizes and writes them to ``data/device/MANIFEST.json``. Never commit ``data/device``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 2 ** 20


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what travels besides ``carry``: tracked and untracked-not-ignored files."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True,
                           check=True).stdout.split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def class_files(split: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.iterdir() if p.is_file()) for d in sorted(split.iterdir()) if d.is_dir()}


def plan(src: Path, budget: int) -> tuple[dict, dict, int]:
    """(train files per class, test files per class, bytes): all test images, and the most training images per
    class (equal counts) whose bytes together stay within ``budget``."""
    test = class_files(src / "test")
    train = class_files(src / "train")
    used = sum(p.stat().st_size for files in test.values() for p in files)
    sizes = {c: [p.stat().st_size for p in files] for c, files in train.items()}
    per_class = 0
    while all(per_class < len(s) for s in sizes.values()):
        extra = sum(s[per_class] for s in sizes.values())
        if used + extra > budget:
            break
        used += extra
        per_class += 1
    return {c: f[:per_class] for c, f in train.items()}, test, used


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT.parent.parent / "shared" / "data" / "cifar10-jpeg"),
                    help="the full CIFAR-10 ImageFolder (train/, test/); default ../shared/data/cifar10-jpeg")
    ap.add_argument("--dest", default=str(ROOT / "data" / "device"))
    ap.add_argument("--limit-mib", type=float, default=64.0)
    ap.add_argument("--margin-mib", type=float, default=1.5)
    ap.add_argument("--link", metavar="DIR", help="make DIR/cifar10/{train,test} links to --src instead; copy nothing")
    args = ap.parse_args(argv)
    src = Path(args.src)
    if not (src / "train").is_dir() or not (src / "test").is_dir():
        sys.stderr.write(f"prepare_device_data: {src} has no train/ and test/ folders\n")
        return 2
    if args.link:
        base = Path(args.link) / "cifar10"
        base.mkdir(parents=True, exist_ok=True)
        for split in ("train", "test"):
            if not (base / split).exists():
                (base / split).symlink_to(src.resolve() / split)
        print(f"ALEXNET_DATA={Path(args.link).resolve()} (cifar10 → {src})")
        return 0
    dest = Path(args.dest)
    if dest.exists():
        shutil.rmtree(dest)
    tree = tree_bytes()
    budget = int((args.limit_mib - args.margin_mib) * MIB) - tree
    train, test, used = plan(src, budget)
    for split, files in (("train", train), ("test", test)):
        for cls, paths in files.items():
            (dest / "cifar10" / split / cls).mkdir(parents=True, exist_ok=True)
            for p in paths:
                shutil.copy2(p, dest / "cifar10" / split / cls / p.name)
    n_train, n_test = sum(map(len, train.values())), sum(map(len, test.values()))
    info = {"train_images": n_train, "test_images": n_test, "data_bytes": used, "tree_bytes": tree,
            "total_mib": (tree + used) / MIB, "limit_mib": args.limit_mib, "source": str(src)}
    (dest / "MANIFEST.json").write_text(json.dumps(info, indent=1))
    print(f"{n_train:,} training + {n_test:,} test images, {used / MIB:.1f} MiB, beside a {tree / MIB:.1f} MiB tree: "
          f"{(tree + used) / MIB:.1f} of {args.limit_mib:g} MiB; carry ['{dest.relative_to(ROOT)}']")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
