"""Maintainer tools for the chapters (not part of the book). Run from the repository's top:

    python book/tools.py sync [NOTEBOOK ...]     # rewrite each chapter's Colab badge and setup cell from _config.yml
    python book/tools.py run NOTEBOOK [--profile quick] [--data ../shared/data]
                                                  # execute in place, as the committed outputs are made

``run`` sets ALEXNET_PROFILE, ALEXNET_DATA, ALEXNET_STATIC=1 (static explorers only, no live widgets or
progress bars in the stored outputs) and ALEXNET_STORE_RESULTS=1 (the chapter's results go to the book's store,
alexnet/stored_results/, which ships with the package; a reader's runs never write there), and prints how long
the chapter took.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat

TOP = Path(__file__).resolve().parents[1]
SETUP_MARK = "# Setup: on Colab"
PACKAGE = "annotated-alexnet"


def repository_url() -> str:
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (TOP / "_config.yml").read_text(), re.M)
    if not match:
        raise SystemExit("_config.yml has no repository.url")
    return match.group(1)


def branch() -> str:
    match = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+branch:\s*(\S+)", (TOP / "_config.yml").read_text(), re.M)
    return match.group(1) if match else "main"


def setup_source(url: str) -> str:
    return (f"{SETUP_MARK}, install the package from the repository (Colab's own torch is kept);\n"
            "# anywhere else this cell does nothing.\n"
            "import sys\n"
            "if \"google.colab\" in sys.modules:\n"
            f"    %pip install -q \"{PACKAGE} @ git+{url}\"")


def badge(url: str, notebook: Path) -> str:
    rel = notebook.resolve().relative_to(TOP).as_posix()
    colab = url.replace("https://github.com/", "https://colab.research.google.com/github/")
    return f'<a class="colab-badge" href="{colab}/blob/{branch()}/{rel}">Open in Colab</a>'


def sync(path: Path) -> bool:
    """Make the badge and the setup cell match _config.yml; True if the notebook changed."""
    nb = nbformat.read(path, as_version=4)
    url, before = repository_url(), nbformat.writes(nb)
    title = nb.cells[0]
    lines = [ln for ln in title.source.splitlines() if 'class="colab-badge"' not in ln]
    heading = next(i for i, ln in enumerate(lines) if ln.startswith("# "))
    lines.insert(heading + 1, "\n" + badge(url, path))
    title.source = "\n".join(lines).replace("\n\n\n", "\n\n")
    setup = next((c for c in nb.cells if c.cell_type == "code" and SETUP_MARK in c.source), None)
    if setup is None:
        setup = nbformat.v4.new_code_cell()
        nb.cells.insert(1, setup)
    setup.source = setup_source(url)
    setup.metadata.setdefault("tags", [])
    if "hide-output" not in setup.metadata["tags"]:
        setup.metadata["tags"].append("hide-output")
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    changed = nbformat.writes(nb) != before
    if changed:
        nbformat.write(nb, path)
    return changed


def run(path: Path, profile: str, data: str) -> None:
    env = dict(os.environ, ALEXNET_PROFILE=profile, ALEXNET_STATIC="1", ALEXNET_STORE_RESULTS="1",
               PYTHONWARNINGS="ignore")
    env.pop("ALEXNET_RESULTS", None)  # it would take precedence over the book's store
    if data:
        env["ALEXNET_DATA"] = str(Path(data).resolve())
    start = time.time()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    "--ExecutePreprocessor.timeout=1800", str(path)], check=True, env=env, cwd=path.parent)
    print(f"{path.name}: {profile} run took {time.time() - start:.0f} s")


def chapters() -> list[Path]:
    return sorted((TOP / "book").glob("*.ipynb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sync")
    s.add_argument("notebooks", nargs="*", type=Path)
    r = sub.add_parser("run")
    r.add_argument("notebook", type=Path)
    r.add_argument("--profile", default="quick")
    r.add_argument("--data", default=str(TOP.parent / "shared" / "data"))
    args = parser.parse_args()
    if args.cmd == "sync":
        for nb in args.notebooks or chapters():
            print(f"{nb}: {'updated' if sync(nb) else 'up to date'}")
    else:
        run(args.notebook.resolve(), args.profile, args.data)


if __name__ == "__main__":
    main()
