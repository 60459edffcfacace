"""``python -m alexnet reproduce``: every experiment behind the scorecard, at one profile's scale, then the scorecard.

Each claim of :data:`alexnet.paper.CLAIMS` is measured by one *job* (:data:`JOBS`; a job can measure several claims:
the augmentation ablation gives the overfitting, PCA and ten-crop rows). A job runs the chapter's own experiment
function (the calls are isolated in :data:`SIMPLE_CALLS` and the ``_run_*`` functions below), which stores its result
(:func:`alexnet.results.save_result`). A job whose results were made by the same code at the same scale is reused,
and the line says so. One progress bar runs over all jobs, weighted by their counted FLOPs, with an estimate of
the time left; each job prints its wall time, images per second and model FLOPs utilisation (MFU: counted model
FLOPs per second over the device's peak; "n/a" on a CPU unless a peak is given).

The scale of each profile for this command is one table, :data:`SCALES` (the profile's own sizes, plus Figure 1's
protocol); :func:`alexnet.plan.plan_jobs` counts the work and projects the GPU time from it.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import paper, results
from .checkpoint import atomic_write_bytes
from .errors import AlexNetError
from .profiles import Profile, default_device, get_profile

# The scale of each profile for ``reproduce``. Profile fields (alexnet.profiles) are overridden by "profile"; "fig1"
# is Figure 1's protocol (alexnet.experiments.fig1_protocol.Fig1Setup). Belongs in alexnet.profiles eventually.
SCALES: dict[str, dict] = {
    "smoke": {"profile": {"train_limit": 64, "val_limit": 32}, "train_images": 64, "val_images": 32,
              "fig1": {"epochs": 1, "batch_size": 32, "seeds": 1, "max_extensions": 0, "grid_size": 2}},
    "quick": {"profile": {"seeds": 2}, "train_images": 3728, "val_images": 846,
              "fig1": {"epochs": 4, "batch_size": 32, "seeds": 2, "max_extensions": 1, "grid_size": 3,
                       "conventions": ("raw",)}},
    "full": {"profile": {"train_limit": None, "val_limit": None, "seeds": 3}, "train_images": 50_000,
             "val_images": 10_000,
             "fig1": {"epochs": 60, "batch_size": 128, "seeds": 3, "max_extensions": 3, "grid_size": 5}},
}


@dataclass(frozen=True)
class Job:
    name: str
    claims: tuple  # ids of alexnet.paper.CLAIMS this job measures
    results: tuple  # the results it stores
    run: Callable  # (profile, context) → {"images": images trained and evaluated} or None; context: {"deadline"}


def reproduce_profile(name: str) -> Profile:
    """The profile ``name`` with this command's overrides (:data:`SCALES`); unknown names are an AlexNetError."""
    if name not in SCALES:
        raise AlexNetError(f"unknown profile {name!r}: choose one of {', '.join(SCALES)}")
    return get_profile(name, **SCALES[name]["profile"])


def fig1_setup(profile_name: str):
    """Figure 1's protocol at a profile's scale (:func:`alexnet.experiments.fig1_protocol.setup_for`)."""
    from .experiments.fig1_protocol import setup_for

    return setup_for(profile_name)


# ---------------------------------------------------------------- the calls into the chapters' experiments

def _run_fig1(profile: Profile, context: dict) -> dict:
    from .experiments.relu import figure1  # chapter 3.1's own call: the same result, name and scale

    advance = context.get("advance") or (lambda flops: None)
    macs = _fig1_macs()
    data = figure1(profile, deadline=context.get("deadline"), on_epoch=lambda n: advance(6 * macs * n),
                   progress=False)
    return {"images": 0 if data["reused"] else data["images"], "model_macs": macs,
            "truncated": data.get("truncated", False)}


# the experiments that run with the profile alone: job → (module under alexnet.experiments, function(profile))
SIMPLE_CALLS = {"lrn": ("lrn", "run_lrn_ablation"), "pooling": ("pooling", "run_pooling_ablation"),
                "towers": ("towers", "towers_ablation"), "dropout": ("dropout", "dropout_ablation"),
                "depth": ("depth", "depth_ablation"), "bias": ("bias", "bias_init_experiment")}


def _call(job: str) -> Callable:
    module, function = SIMPLE_CALLS[job]

    def run(profile, context):
        import importlib
        getattr(importlib.import_module(f".experiments.{module}", __package__), function)(profile)
    run.__name__ = f"_run_{job}"
    return run


def _run_augmentation(profile, context):
    from .experiments.augmentation import augmentation_ablation, ten_crop_from_checkpoint
    result, checkpoint = augmentation_ablation(profile)
    ten_crop_from_checkpoint(checkpoint, profile, train_images=result.scale.get("train_images"))


def _run_main(profile, context):
    """§5's schedule (the main run) and §6's headline errors (its centre and ten-crop test errors)."""
    from .data import load_imageset
    from .experiments.augmentation import ten_crop_gain
    from .experiments.learning import main_run_config, save_main_run
    from .train import train

    cfg = main_run_config(profile)
    run = train(cfg, progress=False)
    val = load_imageset(cfg.dataset, "val", limit=cfg.val_limit, progress=False)
    n = len(load_imageset(cfg.dataset, "train", limit=cfg.train_limit, progress=False))
    save_main_run(run.history, profile, dataset=cfg.dataset, train_images=n, val_images=len(val))
    device = next(run.model.parameters()).device
    data = ten_crop_gain(run.model.eval(), val, run.stats.to(device), save=False, profile=profile)
    results.save_result("results_table", data, results.scale(profile, dataset=cfg.dataset, train_images=n,
                                                             epochs=len(run.history), val_images=len(val)), profile)


JOBS: list[Job] = [
    Job("fig1", ("fig1",), ("fig1_relu_tanh",), _run_fig1),
    Job("lrn", ("lrn",), ("lrn_ablation",), _call("lrn")),
    Job("pooling", ("pooling",), ("pooling_ablation",), _call("pooling")),
    Job("towers", ("towers",), ("towers_ablation",), _call("towers")),
    Job("augmentation", ("no_augmentation", "pca", "ten_crop"), ("augmentation_ablation", "ten_crop"),
        _run_augmentation),
    Job("dropout", ("no_dropout", "dropout_iterations"), ("dropout_ablation",), _call("dropout")),
    Job("depth", ("depth",), ("depth_ablation",), _call("depth")),
    Job("bias", ("bias_one",), ("bias_init",), _call("bias")),
    Job("main", ("schedule", "headline"), ("learning_schedule", "results_table"), _run_main),
]


def _fig1_macs() -> int:
    from .experiments.relu import FourLayerNet
    from .summary import layer_table
    return layer_table(FourLayerNet(), 28).total_macs


def jobs_for(claims: list[str] | None) -> list[Job]:
    """The jobs that measure ``claims`` (all of them for None); an unknown claim id is an AlexNetError."""
    if not claims:
        return list(JOBS)
    unknown = [c for c in claims if c not in paper.CLAIMS]
    if unknown:
        raise AlexNetError(f"unknown claim {', '.join(map(repr, unknown))}: choose from {', '.join(paper.CLAIMS)}")
    return [j for j in JOBS if set(j.claims) & set(claims)]


# ---------------------------------------------------------------- reuse: same code, same scale

def code_version() -> str:
    """The hash of the package's source that every stored result records (:func:`alexnet.provenance.source_hash`)."""
    from .provenance import source_hash

    return source_hash()


def _manifest_path(profile: Profile) -> Path:
    return results.results_dir(profile) / "reproduce_manifest.json"


def _load_manifest(profile: Profile) -> dict:
    path = _manifest_path(profile)
    return json.loads(path.read_text()) if path.exists() else {}


def reusable(job: Job, profile: Profile, scale: dict, manifest: dict) -> dict | None:
    """The manifest entry of ``job`` if its results exist and were made by this code at ``scale``, else None."""
    entry = manifest.get(job.name)
    if (not profile.meaningful or os.environ.get("ALEXNET_RERUN", "") not in ("", "0") or entry is None
            or entry.get("code") != code_version() or entry.get("scale") != scale):
        return None
    if any(results.load_result(name, profile) is None for name in job.results):
        return None
    return entry


# ---------------------------------------------------------------- the command

def _job_scale(job: Job, profile: Profile) -> dict:
    keys = ("dataset", "epochs", "ablation_epochs", "batch_size", "train_limit", "val_limit", "seeds")
    sc = {"profile": profile.name, **{k: getattr(profile, k) for k in keys}, "data_root": _data_size(profile)}
    if job.name == "fig1":
        sc["fig1"] = {k: list(v) if isinstance(v, tuple) else v for k, v in SCALES[profile.name]["fig1"].items()}
    return sc


_SIZES: dict = {}


def _data_size(profile: Profile) -> int | None:
    """How many training images the profile's dataset has here (part of the scale: 40,000 is not 50,000); looked
    up once per data root and profile."""
    from .data import data_root, load_imageset
    key = (str(data_root()), profile.dataset, profile.train_limit)
    if key not in _SIZES:
        try:
            _SIZES[key] = len(load_imageset(profile.dataset, "train", limit=profile.train_limit, progress=False))
        except AlexNetError:
            _SIZES[key] = None
    return _SIZES[key]


def _rate_line(name: str, seconds: float, images: int, flops: float, peak: float | None) -> tuple[str, dict]:
    ips = images / seconds if seconds > 0 else 0.0
    mfu = flops / seconds / (peak * 1e12) if peak and seconds > 0 else None
    text = f"{name}: {seconds:.1f} s, {ips:,.0f} img/s, MFU {'n/a' if mfu is None else f'{mfu:.1%}'}"
    return text, {"seconds": seconds, "images": images, "images_per_second": ips, "flops": flops, "mfu": mfu}


def scorecard_rows(profile: Profile) -> list[tuple[str, object]]:
    """``(claim id, scorecard row)`` for every claim, from this reproduction's own results (the profile's results
    folder, not the book's stored ones), with the scorecard's own builder."""
    from .experiments import scorecard

    made = {name for job in JOBS for name in job.results}  # only what a reproduce job writes
    own = {name[len(results.YOURS):]: record for name, record in results.load_results(profile).items()
           if name.startswith(results.YOURS) and name[len(results.YOURS):] in made}
    rows = scorecard.build_scorecard(own)
    ids = [getattr(r, "id", None) or getattr(r, "claim_id", None) for r in rows]
    if all(ids):
        return list(zip(ids, rows))
    return list(zip(paper.CLAIMS, rows))  # the scorecard lists the claims in the registry's order


def run_reproduce(profile_name: str = "smoke", claims: list[str] | None = None, *, out: str | None = None,
                  budget_s: float | None = None, peak_tflops: float | None = None, progress: bool = True) -> dict:
    """Run the jobs for ``claims`` (all by default) at ``profile_name``'s scale, reuse what is current, print one
    line per job and the scorecard. ``out``: the results folder (else the profile's); ``budget_s``: start no job
    that the rate so far says would end past this many seconds. Returns the summary also written to
    ``<results>/reproduce.json``: ``{"profile", "device", "jobs": {job: status and rates}, "scorecard": [...],
    "seconds"}``."""
    from tqdm.auto import tqdm

    from .bench import device_peak_tflops
    from .plan import ASSUMED_STEP_S, job_work

    profile = reproduce_profile(profile_name)
    jobs = jobs_for(claims)
    os.environ.setdefault("ALEXNET_STATIC", "1")  # the experiments' own bars stay off: one bar over all jobs
    if out:
        os.environ["ALEXNET_RESULTS"] = str(Path(out).expanduser().resolve())
    device = default_device()
    peak = peak_tflops or device_peak_tflops(device)
    manifest = _load_manifest(profile)
    work = {j.name: job_work(j.name, profile_name) for j in jobs}
    print(f"reproduce --profile {profile.name} on {device}: {len(jobs)} jobs for {sum(len(j.claims) for j in jobs)} "
          f"claims, {sum(w['flops'] for w in work.values()) / 1e12:,.1f} TFLOP counted")
    t_start, done_flops, summary = time.perf_counter(), 0.0, {}
    path = (Path(out).expanduser().resolve() if out else results.results_dir(profile)) / "reproduce.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def report(card=()) -> dict:  # written after every job, so a run cut short still leaves its record
        out = {"profile": profile.name, "device": str(device), "peak_tflops": peak, "jobs": summary,
               "scorecard": list(card), "seconds": time.perf_counter() - t_start}
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
        scale = _job_scale(job, profile)
        entry = reusable(job, profile, scale, manifest)
        if entry is not None:
            summary[job.name] = {**entry, "status": "reused"}
            tqdm.write(f"{job.name}: reusing the results made by this code at this scale on {entry['saved_at']} "
                       f"({entry['seconds']:.0f} s of training); ALEXNET_RERUN=1 trains again")
        else:
            t0 = time.perf_counter()

            def advance(flops: float) -> None:  # a job's progress within it, never past its planned share
                step = min(flops / 1e12, planned - moved[0])
                if step > 0:
                    bar.update(step)
                    moved[0] += step
            try:
                ran = job.run(profile, {"deadline": None if budget_s is None else t_start + budget_s,
                                        "advance": advance}) or {}
            except (AlexNetError, RuntimeError, ValueError, KeyError, OSError) as e:
                summary[job.name] = {"status": f"failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}",
                                     "claims": list(job.claims)}
                tqdm.write(f"{job.name}: FAILED ({summary[job.name]['status'][8:]})")
                bar.update(planned - moved[0])
                report()
                continue
            seconds = time.perf_counter() - t0
            images = ran.get("images", w["train_images"] + w["eval_images"])
            flops = 6 * ran["model_macs"] * images if "model_macs" in ran else w["flops"]
            line, rates = _rate_line(job.name, seconds, images, flops, peak)
            done_flops += flops
            tqdm.write(line)
            status = "ran, cut short by the time budget" if ran.get("truncated") else "ran"
            summary[job.name] = {"status": status, "claims": list(job.claims), **rates, "code": code_version(),
                                 "scale": scale, "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")}
            if status == "ran":  # a run cut short is never reused
                manifest[job.name] = {k: v for k, v in summary[job.name].items() if k != "status"}
                text = json.dumps(manifest, indent=1, default=str).encode()
                atomic_write_bytes(_manifest_path(profile), lambda f: f.write(text))
        bar.update(planned - moved[0])
        report()
    bar.close()
    status = {c: s["status"] for s in summary.values() for c in s.get("claims", ())}
    card = []
    for cid, row in scorecard_rows(profile):
        card.append({"id": cid, "paper": row.paper, "ours": row.ours, "verdict": row.verdict,
                     "run": status.get(cid, "not selected"), "scale": row.scale})
    print(format_scorecard(card))
    out = report(card)
    print(f"wall time {out['seconds']:.1f} s; results in {results.results_dir(profile)}")
    return out


def format_scorecard(card: list[dict]) -> str:
    """The scorecard as aligned text: claim id, paper, ours, verdict, and what this run did for it."""
    head = ("claim", "paper", "ours", "verdict", "this run")
    rows = [head] + [(c["id"], c["paper"], c["ours"], c["verdict"], c["run"]) for c in card]
    widths = [min(48, max(len(str(r[i])) for r in rows)) for i in range(len(head))]
    return "\n".join("  ".join(str(v)[:w].ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def main(args) -> int:
    """The ``reproduce`` subcommand: ``--plan`` prints the counted work and projected GPU time instead."""
    if args.plan:
        from .plan import format_projection
        reproduce_profile(args.profile)
        print(format_projection(args.profile, mfu=args.mfu))
        return 0
    report = run_reproduce(args.profile, args.only, out=args.out, budget_s=args.budget, peak_tflops=args.peak_tflops,
                           progress=not args.quiet)
    return 1 if any(j["status"].startswith("failed") for j in report["jobs"].values()) else 0
