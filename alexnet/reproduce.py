"""``python -m alexnet reproduce``: every experiment behind the scorecard, at one profile's scale, then the scorecard.

Each claim of :data:`alexnet.paper.CLAIMS` is measured by one *job* (:data:`alexnet.reproduce_jobs.JOBS`), which
makes its chapter's own calls, so that the results it stores (:func:`alexnet.results.save_result`) have the names
and scales the chapters look up. Reuse follows the one rule every experiment follows
(:func:`alexnet.results.reusable_result`: same code, same profile, same scale; ``ALEXNET_RERUN=1`` trains again):
the experiment itself finds a stored result and prints the line that says so, and the job is recorded as reused.
One progress bar runs over all jobs, weighted by their counted FLOPs, with an estimate of the time left; each job
that ran prints its wall time, images per second and model FLOPs utilisation (MFU: counted model FLOPs per second
over the device's peak; "n/a" on a CPU unless a peak is given). ``reproduce.json`` records the run (what ran, what
was reused, wall times, rates); it is a record, not a key for reuse.

The scale of each profile is :data:`alexnet.profiles.REPRODUCE_SCALES` (quick is the chapters' own scale, one seed;
several seeds per arm are the full profile's); :func:`alexnet.plan.job_work` counts the work and projects the GPU
time from it. Results made in the full profile go to their own place in the book's store
(:func:`alexnet.results.book_store`).
"""
from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

from . import paper, results
from .errors import AlexNetError, DatasetNotFoundError
from .profiles import Profile, default_device, reproduce_profile, resolve_device
from .reproduce_jobs import JOBS, Job, jobs_for
from .text import plural

__all__ = ["check_data", "format_scorecard", "main", "run_reproduce", "scorecard_rows"]


def _stamp(job: Job, profile: Profile) -> tuple:
    """What identifies the stored copy of each of ``job``'s results in this run's store (None where absent): a job
    none of whose results changed was reused."""
    out = []
    for name in job.results:
        record = results.load_result(name, profile)
        out.append(None if record is None else (record.get("saved_at"), json.dumps(record.get("provenance"),
                                                                                   sort_keys=True)))
    return tuple(out)


def _rate_line(name: str, seconds: float, images: int, flops: float, peak: float | None) -> tuple[str, dict]:
    ips = images / seconds if seconds > 0 else 0.0
    mfu = flops / seconds / (peak * 1e12) if peak and seconds > 0 else None
    text = f"{name}: {seconds:.1f} s, {ips:,.0f} img/s, MFU {'n/a' if mfu is None else f'{mfu:.1%}'}"
    return text, {"seconds": seconds, "images": images, "images_per_second": ips, "flops": flops, "mfu": mfu}


def scorecard_rows(profile: Profile) -> list[tuple[str, object]]:
    """``(claim id, scorecard row)`` for every claim, from this reproduction's own results: the folder its runs
    write to (:func:`alexnet.results.results_dir`; the book's store itself with ``ALEXNET_STORE_RESULTS=1``),
    and the book's result where a job reused it, with the scorecard's own builder."""
    from .experiments import scorecard

    made = {name for job in JOBS for name in job.results}  # only what a reproduce job writes
    own = {name: record for name, record in results.load_run_results(profile).items() if name in made}
    for name in made - set(own):  # a job that reused the book's result, made by this code at this profile
        record = results.reusable_result(name, profile)
        if record is not None:
            own[name] = {**record, "source": "book"}
    rows = scorecard.build_scorecard(own)
    ids = [getattr(r, "id", None) or getattr(r, "claim_id", None) for r in rows]
    if all(ids):
        return list(zip(ids, rows))
    return list(zip(paper.CLAIMS, rows))  # the scorecard lists the claims in the registry's order


def check_data(profile: Profile) -> None:
    """Make sure the data every job trains and evaluates on is there before any job runs: both splits of the
    profile's dataset on disk, else downloaded now (where torchvision can and the machine is online). Raises
    :class:`~alexnet.errors.DatasetNotFoundError` (one line) when it cannot be had. Synthetic data (smoke) needs
    nothing. It is checked even when stored results could be reused: some jobs need the data to work out their
    scale, and a stored result of another scale means training after all."""
    from .data import load_imageset, on_disk

    if profile.dataset == "synthetic":
        return
    for split in ("train", "val"):
        if on_disk(profile.dataset, split) is None:
            load_imageset(profile.dataset, split, progress=False)  # downloads it, or says what is missing


def run_reproduce(profile_name: str | None = None, claims: list[str] | None = None, *, out: str | None = None,
                  budget_s: float | None = None, peak_tflops: float | None = None, progress: bool = True,
                  device: str | None = None) -> dict:
    """Run the jobs for ``claims`` (all by default) at the scale of profile ``profile_name`` (None:
    ``$ALEXNET_PROFILE``, else ``full`` with CUDA and ``quick`` without: :func:`alexnet.profiles.profile_name`),
    reuse what is current, print one line per job and the scorecard. ``out``: the results folder (else the
    profile's); ``budget_s``: start no job that the rate so far says would end past this many seconds; ``device``:
    where every experiment trains (:func:`alexnet.profiles.resolve_device`; default: the best available). Returns
    the summary also written to ``<results>/reproduce.json``: ``{"profile", "device", "jobs": {job: status and
    rates}, "scorecard": [...], "seconds"}``.

    Bad input raises :class:`AlexNetError` before anything runs or is written: an unknown profile, claim or
    device, or a dataset the profile needs that is missing and cannot be downloaded (:func:`check_data`).

    A smoke run (whose numbers mean nothing) with neither ``out`` nor ``$ALEXNET_RESULTS`` writes its results to
    this process's scratch folder (:func:`alexnet.results.results_dir`), removed when the process ends, and says
    so; pass ``out`` to keep them."""
    from tqdm.auto import tqdm

    from .bench import device_peak_tflops
    from .plan import ASSUMED_STEP_S, job_work

    profile = reproduce_profile(profile_name)
    profile_name = profile.name
    jobs = jobs_for(claims)
    chosen = resolve_device(device) if device else None
    check_data(profile)
    kept = bool(out or os.environ.get("ALEXNET_RESULTS")) or profile.meaningful
    if chosen is not None:
        os.environ["ALEXNET_DEVICE"] = str(chosen)  # every experiment's default_device()
    os.environ.setdefault("ALEXNET_STATIC", "1")  # the experiments' own bars stay off: one bar over all jobs
    if out:
        os.environ["ALEXNET_RESULTS"] = str(Path(out).expanduser().resolve())
    device = default_device()
    peak = peak_tflops or device_peak_tflops(device)
    work = {j.name: job_work(j.name, profile_name) for j in jobs}
    print(f"reproduce --profile {profile.name} on {device}: {plural(len(jobs), 'job')} for "
          f"{plural(sum(len(j.claims) for j in jobs), 'claim')}, {sum(w['flops'] for w in work.values()) / 1e12:,.1f} TFLOP counted")
    t_start, done_flops, summary = time.perf_counter(), 0.0, {}
    path = (Path(out).expanduser().resolve() if out else results.results_dir(profile, create=False)) / "reproduce.json"

    def report(card=()) -> dict:  # written after every job, so a run cut short still leaves its record
        out = {"profile": profile.name, "device": str(device), "peak_tflops": peak, "jobs": summary,
               "scorecard": list(card), "seconds": time.perf_counter() - t_start}
        path.parent.mkdir(parents=True, exist_ok=True)  # only now: a run stopped before any job leaves no folder
        path.write_text(json.dumps(out, indent=1, default=str))
        return out

    bar = tqdm(total=sum(w["flops"] for w in work.values()) / 1e12, unit="TFLOP", disable=not progress,
               desc="reproduce", bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} TFLOP [{elapsed}<{remaining}]")
    for job in jobs:
        w = work[job.name]
        planned, moved = w["flops"] / 1e12, [0.0]
        elapsed = time.perf_counter() - t_start
        rate = done_flops / elapsed if done_flops and elapsed else None
        # the time a job would take: its FLOPs at the rate so far, plus (on a GPU) the stated cost of each step
        guess = (w["flops"] / rate if rate else 0.0) + (w["steps"] * ASSUMED_STEP_S["H100"] if device.type == "cuda" else 0)
        if budget_s is not None and (elapsed >= budget_s or (done_flops and elapsed + guess > budget_s)):
            summary[job.name] = {"status": "skipped: time budget", "claims": list(job.claims)}
            tqdm.write(f"{job.name}: skipped, the {budget_s:.0f} s budget would be exceeded")
            bar.update(planned)
            continue
        before, t0 = _stamp(job, profile)[0], time.perf_counter()

        def advance(flops: float) -> None:  # a job's progress within it, never past its planned share
            step = min(flops / 1e12, planned - moved[0])
            if step > 0:
                bar.update(step)
                moved[0] += step
        try:  # the experiment applies the one reuse rule itself, and prints its line when it reuses
            ran = job.run(profile, {"deadline": None if budget_s is None else t_start + budget_s,
                                    "advance": advance}) or {}
        except DatasetNotFoundError:  # the data went missing mid-run: no later job can go on either
            bar.close()
            raise
        except (AlexNetError, RuntimeError, ValueError, KeyError, OSError) as e:
            message = " ".join(str(e).split())
            summary[job.name] = {"status": "failed", "error": f"{type(e).__name__}: {message}",
                                 "claims": list(job.claims)}
            tqdm.write(f"{job.name}: FAILED ({summary[job.name]['error']})")
            bar.update(planned - moved[0])
            report()
            continue
        seconds = time.perf_counter() - t0
        if profile.meaningful and _stamp(job, profile)[0] == before:  # nothing saved: a stored result stood in
            record = results.reusable_result(job.results[0], profile)  # yours, else the book's
            summary[job.name] = {"status": "reused", "claims": list(job.claims), "seconds": seconds,
                                 "saved_at": (record or {}).get("saved_at")}
            tqdm.write(f"{job.name}: reused the stored {job.results[0]} ({seconds:.1f} s)")
        else:
            images = ran.get("images", w["train_images"] + w["eval_images"])
            flops = 6 * ran["model_macs"] * images if "model_macs" in ran else w["flops"]
            line, rates = _rate_line(job.name, seconds, images, flops, peak)
            done_flops += flops
            tqdm.write(line)
            status = "ran, cut short by the time budget" if ran.get("truncated") else "ran"
            summary[job.name] = {"status": status, "claims": list(job.claims), **rates,
                                 "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        bar.update(planned - moved[0])
        report()
    bar.close()
    status = {c: s["status"] + (f": {s['error']}" if "error" in s else "") for s in summary.values()
              for c in s.get("claims", ())}
    card = []
    for cid, row in scorecard_rows(profile):
        card.append({"id": cid, "paper": row.paper, "ours": row.ours, "verdict": row.verdict,
                     "run": status.get(cid, "not selected"), "scale": row.scale})
    print(format_scorecard(card))
    out = report(card)
    print(f"wall time {out['seconds']:.1f} s; results in {results.results_dir(profile)}")
    if not kept:
        print("smoke results are not kept (their numbers mean nothing): their folder is removed when this process "
              "ends; pass --out DIR to keep them")
    return out


def fit(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, shortened at a word boundary and ending in "…" if it is longer."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    short = textwrap.shorten(text, width, placeholder=" …")
    return short if short != "…" and len(short) > 2 else text[:width - 1] + "…"


def format_scorecard(card: list[dict]) -> str:
    """The scorecard as aligned text: claim id, paper, ours, verdict, and what this run did for it (cells longer
    than 48 characters are shortened at a word boundary; a failed job's whole message is in reproduce.json)."""
    head = ("claim", "paper", "ours", "verdict", "this run")
    rows = [head] + [tuple(fit(v, 48) for v in (c["id"], c["paper"], c["ours"], c["verdict"], c["run"]))
                     for c in card]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def main(args) -> int:
    """The ``reproduce`` subcommand: ``--plan`` prints the counted work and projected GPU time instead."""
    if args.plan:
        from .plan import format_projection
        reproduce_profile(args.profile)
        print(format_projection(args.profile, mfu=args.mfu))
        return 0
    report = run_reproduce(args.profile, args.only, out=args.out, budget_s=args.budget, peak_tflops=args.peak_tflops,
                           progress=not args.quiet, device=args.device)
    return 1 if any(j["status"].startswith("failed") for j in report["jobs"].values()) else 0
