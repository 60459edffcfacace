"""One machine-readable place for what the chapters measure, so the scorecard never types a number by hand.

Each experiment saves ``<results dir>/<name>.json``: ``{"name", "profile", "scale", "data", "saved_at"}``.
The results directory is ``$ALEXNET_RESULTS``, else ``book/results`` in a checkout (for quick and full runs,
so committed chapters and their scorecard agree), else ``~/.cache/alexnet/results``. Smoke runs write to a
temporary folder instead, so CI never overwrites a real result with a meaningless one.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .checkpoint import atomic_write_bytes
from .data import repo_root
from .profiles import Profile, default_device, get_profile


def results_dir(profile: Profile | None = None) -> Path:
    profile = profile or get_profile()
    if os.environ.get("ALEXNET_RESULTS"):
        path = Path(os.environ["ALEXNET_RESULTS"])
    elif not profile.meaningful:
        path = Path(tempfile.gettempdir()) / "alexnet-results-smoke"
    elif repo_root() is not None:
        path = repo_root() / "book" / "results"
    else:
        path = Path.home() / ".cache" / "alexnet" / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def scale(profile: Profile | None = None, *, dataset: str, train_images: int, epochs: int, **extra) -> dict:
    """The scale a number was measured at: profile, device, data size, epochs (and anything else useful)."""
    profile = profile or get_profile()
    return {"profile": profile.name, "device": str(default_device()), "dataset": dataset,
            "train_images": train_images, "epochs": epochs, **extra}


def save_result(name: str, data: dict, scale: dict, profile: Profile | None = None) -> Path:
    """Save one experiment's numbers (JSON-serialisable ``data``) with the scale they were measured at."""
    profile = profile or get_profile()
    record = {"name": name, "profile": profile.name, "scale": scale, "data": data,
              "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    path = results_dir(profile) / f"{name}.json"
    atomic_write_bytes(path, lambda f: f.write(json.dumps(record, indent=1, default=float).encode()))
    return path


def load_result(name: str, profile: Profile | None = None) -> dict | None:
    path = results_dir(profile) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_results(profile: Profile | None = None) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir(profile).glob("*.json"))}


class ClaimsTable:
    """The paper's statements next to our measurements: a Markdown table in Jupyter, Colab and the rendered book
    (its cells wrap in a narrow column), and aligned text under :func:`print`.

    ``rows`` are ``(claim, paper, ours)`` strings; ``scale`` says what ours was measured at.
    """

    def __init__(self, rows, scale: str | None = None, headers=("claim", "paper", "ours")):
        self.rows = [tuple(str(cell) for cell in row) for row in rows]
        self.headers = tuple(headers)
        self.scale = scale
        if any(len(row) != len(self.headers) for row in self.rows):
            raise ValueError(f"every row needs {len(self.headers)} cells: {', '.join(self.headers)}")

    @staticmethod
    def _cell(text: str) -> str:
        # a literal | would end the cell; a newline would end the row
        return text.replace("|", r"\|").replace("\n", " ")

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(self._cell(c) for c in row) + " |" for row in self.rows]
        if self.scale:
            lines += ["", f"*Scale: {self._cell(self.scale)}*"]
        return "\n".join(lines)

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in [self.headers, *self.rows]) for i in range(len(self.headers))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [fmt.format(*self.headers).rstrip()] + [fmt.format(*r).rstrip() for r in self.rows]
        return "\n".join(lines + ([f"\nscale: {self.scale}"] if self.scale else []))

    __repr__ = __str__


def claims_table(rows, scale: str | None = None, headers=("claim", "paper", "ours")) -> ClaimsTable:
    """A :class:`ClaimsTable` of ``(claim, paper, ours)`` rows; the last line of a cell displays it."""
    return ClaimsTable(rows, scale, headers)
