"""One machine-readable place for what the chapters measure, so the scorecard never types a number by hand.

Each experiment saves ``<results dir>/<name>.json``: ``{"name", "profile", "scale", "data", "saved_at",
"provenance"}`` (which code made it: :mod:`alexnet.provenance`).

Two stores:

- **the book's** results, ``alexnet/stored_results/``: shipped with the package (so the scorecard shows them on
  Colab too) and written only when a maintainer asks, with ``ALEXNET_STORE_RESULTS=1`` (``python book/tools.py
  run`` sets it). Results made in the ``full`` profile (a GPU's ``reproduce --profile full``, or a CPU run at
  full CIFAR-10 scale) have their own place beside them, ``alexnet/stored_results/full/`` (:func:`book_store`):
  the scorecard's "full scale" column and
  :func:`alexnet.experiments.scorecard.full_scale_summary` read it;
- **yours**: where a reader's quick and full runs go, ``$ALEXNET_RESULTS``, else ``~/.cache/alexnet/results``.

Smoke runs write to a folder of their own, so they never overwrite a real result with a meaningless one:
``alexnet-results-smoke/`` in ``$ALEXNET_RESULTS`` when it is set (``reproduce --out DIR`` sets it), else a folder
of this process (:func:`alexnet.scratch.process_folder`) removed when the process ends.
:func:`load_results` returns both stores, yours under ``yours/<name>``, so the scorecard shows a reader's run
beside the book's, each with its scale.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .checkpoint import atomic_write_bytes
from .profiles import Profile, default_device, get_profile
from .provenance import made_by_current_code, provenance
from .scratch import process_folder

STORED_RESULTS = Path(__file__).resolve().parent / "stored_results"  # the book's, shipped as package data
FULL_SCALE = "full"  # the profile whose results the book keeps apart, in STORED_RESULTS / "full"
NEEDS_GPU = "not run yet: needs a GPU (python -m alexnet reproduce --profile full)"
YOURS = "yours/"  # load_results' prefix for a reader's own results


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def book_store(profile_name: str) -> Path:
    """The book's store for results made in profile ``profile_name``: ``stored_results/full/`` for the full
    profile, ``stored_results/`` for the others."""
    return STORED_RESULTS / FULL_SCALE if profile_name == FULL_SCALE else STORED_RESULTS


def results_dir(profile: Profile | None = None, *, create: bool = True) -> Path:
    """Where this run saves (created if missing, unless ``create`` is False: a read creates nothing): in smoke, ``alexnet-results-smoke/`` in ``$ALEXNET_RESULTS``, or
    else ``results/`` in this process's scratch folder, removed when the process ends (never beside a real result);
    ``$ALEXNET_RESULTS``; the book's store with ``ALEXNET_STORE_RESULTS=1`` (maintainers); else
    ``~/.cache/alexnet/results``."""
    profile = profile or get_profile()
    if not profile.meaningful:
        path = (Path(os.environ["ALEXNET_RESULTS"]).expanduser() / "alexnet-results-smoke"
                if os.environ.get("ALEXNET_RESULTS") else process_folder() / "results")
    elif os.environ.get("ALEXNET_RESULTS"):
        path = Path(os.environ["ALEXNET_RESULTS"]).expanduser()
    elif _flag("ALEXNET_STORE_RESULTS"):
        path = book_store(profile.name)
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet" / "results"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def scale(profile: Profile | None = None, *, dataset: str, train_images: int, epochs: int, **extra) -> dict:
    """The scale a number was measured at: profile, device, data size, epochs (and anything else useful)."""
    profile = profile or get_profile()
    return {"profile": profile.name, "device": str(default_device()), "dataset": dataset,
            "train_images": train_images, "epochs": epochs, **extra}


def save_result(name: str, data: dict, scale: dict, profile: Profile | None = None, *,
                seconds: float | None = None, seeds: list[int] | None = None) -> Path:
    """Save one experiment's numbers (JSON-serialisable ``data``) with the scale they were measured at and their
    provenance (:func:`alexnet.provenance.provenance`; ``seconds``: the measurement's wall time)."""
    profile = profile or get_profile()
    record = {"name": name, "profile": profile.name, "scale": scale, "data": data,
              "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
              "provenance": provenance(profile.name, scale, seeds=seeds, seconds=seconds)}
    path = results_dir(profile) / f"{name}.json"
    atomic_write_bytes(path, lambda f: f.write(json.dumps(record, indent=1, default=float).encode()))
    return path


RUN_RECORD = "reproduce"  # reproduce.json: the record of a reproduce run, kept beside the results, not a result


def _read(folder: Path, source: str) -> dict[str, dict]:
    out = {}
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if p.stem != RUN_RECORD:
            out[p.stem] = {**json.loads(p.read_text()), "source": source}
    return out


def load_result(name: str, profile: Profile | None = None) -> dict | None:
    """The result ``name`` in the store this profile's runs write to (:func:`results_dir`), or None."""
    path = results_dir(profile) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_run_results(profile: Profile | None = None) -> dict[str, dict]:
    """The results by name in the folder this profile's runs write to (:func:`results_dir`), whichever it is (the
    book's store too, with ``ALEXNET_STORE_RESULTS=1``), each with ``source`` ``"yours"``."""
    return _read(results_dir(profile, create=False), "yours")


def load_results(profile: Profile | None = None) -> dict[str, dict]:
    """The book's results by name, and yours (:func:`results_dir`) as ``yours/<name>``; each record's
    ``source`` is ``"book"`` or ``"yours"``."""
    out = _read(STORED_RESULTS, "book")
    own = results_dir(profile)
    if own.resolve() not in (STORED_RESULTS.resolve(), book_store(FULL_SCALE).resolve()):
        out.update({YOURS + name: record for name, record in _read(own, "yours").items()})
    return out


def reusable_result(name: str, profile: Profile | None = None, /, **scale) -> dict | None:
    """A stored result ``name`` made by the code running now at this profile and ``scale``
    (:func:`alexnet.provenance.made_by_current_code`): yours first, then the book's; None if there is none, in
    smoke (which always runs), or with ``ALEXNET_RERUN=1``. A heavy cell reuses it instead of training again."""
    profile = profile or get_profile()
    if not profile.meaningful or _flag("ALEXNET_RERUN"):
        return None
    for folder in (results_dir(profile, create=False), book_store(profile.name)):
        path = folder / f"{name}.json"
        record = json.loads(path.read_text()) if path.exists() else None
        if made_by_current_code(record, profile.name, **scale):
            return record
    return None


def reuse_note(name: str, record: dict, seconds: float | None = None) -> str:
    """The line a chapter prints when it reuses ``record`` instead of running ``name`` again."""
    seconds = seconds if seconds is not None else (record.get("provenance") or {}).get("wall_seconds")
    took = f" ({seconds / 60:.0f} min on {record['scale'].get('device', '?')})" if seconds else ""
    return (f"[{name}: reusing the result measured on {record.get('saved_at', '?')} by this same code at this "
            f"scale{took}; set ALEXNET_RERUN=1 to run it again]")


def load_full_scale() -> dict[str, dict]:
    """The book's full-scale results (``stored_results/full/``) by name, each with ``source`` ``"full scale"``."""
    return _read(book_store(FULL_SCALE), "full scale")


def describe_record_scale(record: dict) -> str:
    """``cifar10, 50,000 train / 5,000 test, 10 epochs, 2 seeds, device cpu`` from a record's scale."""
    s = record.get("scale", {})
    parts = [str(s.get("dataset", "?"))]
    if s.get("train_images"):
        parts.append(f"{s['train_images']:,} train" + (f" / {s['val_images']:,} test" if s.get("val_images") else ""))
    parts += [f"{s['epochs']} epoch{'s' if s['epochs'] != 1 else ''}"] if s.get("epochs") else []
    parts += [f"{s['seeds']} seed{'s' if s['seeds'] != 1 else ''}"] if s.get("seeds") else []
    return ", ".join(parts + [f"device {s.get('device', '?')}"])


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
