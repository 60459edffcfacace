"""One overall progress bar for an experiment that trains several runs, and one line that says how long it takes.

A long cell (an ablation's arms × seeds × epochs, Figure 1's learning-rate grid) shows a ``tqdm.auto`` bar over all
its epochs, with tqdm's ETA, and, after the first epoch, prints one line that estimates the whole run at the
current profile from that epoch's time. The bar follows the trainer's rule: it is left out when ``ALEXNET_STATIC``
is set (the book's stored outputs hold no live widgets); the estimate is printed in every case.
"""
from __future__ import annotations

import os
import time

from ..profiles import Profile, get_profile
from ..text import plural


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class OverallProgress:
    """``with OverallProgress("towers", runs=2, epochs=8) as bar: train(..., on_epoch=bar.epoch_done)``.

    ``runs × epochs`` is the most epochs the experiment trains (runs that end early make the bar finish short of
    it, and the estimate an upper bound). ``show`` (default: unless ``ALEXNET_STATIC`` is set) controls the bar.
    """

    def __init__(self, name: str, runs: int, epochs: int, profile: Profile | None = None, show: bool | None = None):
        from tqdm.auto import tqdm

        self.name, self.runs, self.epochs = name, runs, epochs
        self.profile = profile or get_profile()
        if show is None:
            show = os.environ.get("ALEXNET_STATIC", "") in ("", "0")
        self.bar = tqdm(total=runs * epochs, desc=f"{name} ({runs} × {plural(epochs, 'epoch')})", unit="epoch",
                        disable=not show)
        self.done = 0
        self.start = time.perf_counter()

    def estimate_line(self, first_epoch_seconds: float) -> str:
        total = first_epoch_seconds * self.runs * self.epochs
        return (f"{self.name}: {plural(self.runs, 'run')} × at most {plural(self.epochs, 'epoch')} at profile={self.profile.name}; "
                f"the first epoch took {first_epoch_seconds:.1f} s, so about {_minutes(total)} in all")

    def epoch_done(self, history=None, epochs: int = 1) -> None:
        """Count ``epochs`` finished epochs (usable as :func:`alexnet.train.train`'s ``on_epoch``); the first call
        prints the estimate."""
        if self.done == 0:
            print(self.estimate_line(time.perf_counter() - self.start), flush=True)
        self.done += epochs
        self.bar.update(epochs)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "OverallProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
