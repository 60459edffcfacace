"""The work behind ``reproduce``, counted in model FLOPs, and the GPU time it projects to.

Every job of :data:`alexnet.reproduce_jobs.JOBS` trains and evaluates known nets on a known number of images, so its
work is counted, not guessed: multiply-adds per image from :func:`alexnet.summary.layer_table` (convolutions and
linear layers), times 2 FLOPs per multiply-add, times 3 for a training step (forward + backward) or 1 for an
evaluation pass. The time on a GPU is that count over a *stated* throughput: the device's dense bf16/fp16 peak
(:data:`alexnet.bench.PEAK_TFLOPS`) times an assumed model-FLOPs utilisation (:data:`ASSUMED_MFU`), until a
device check measures the real one (pass it as ``mfu``).
"""
from __future__ import annotations

from functools import lru_cache

from .model import ONE_GPU

# Assumed MFU of our CIFAR-sized nets at batch 128 (small convolutions leave most of a big GPU idle): a stated
# assumption, to be replaced by the device check's measurement.
ASSUMED_MFU = {"H100": 0.10, "H200": 0.10, "A100": 0.15, "T4": 0.20, "L4": 0.20}

# Assumed fixed cost of one optimizer step beyond its FLOPs (Python, ~100 kernel launches, the optimizer's loop over
# parameters): what bounds a small net at batch 128 on a big GPU. Stated, to be replaced by the device check's rates.
ASSUMED_STEP_S = {"H100": 0.003, "H200": 0.003, "A100": 0.003, "T4": 0.004, "L4": 0.004}
BATCH = 128

# the result each ablation job stores (its epochs per arm: alexnet.profiles.experiment_epochs)
ABLATION_RESULTS = {"lrn": "lrn_ablation", "pooling": "pooling_ablation", "towers": "towers_ablation",
                    "augmentation": "augmentation_ablation", "dropout": "dropout_ablation", "depth": "depth_ablation"}

# the arms' model switches per ablation job (the depth arm removes conv4: counted as the full net, an upper bound)
ABLATION_ARMS = {
    "lrn": [{}, {"lrn": False}], "pooling": [{}, {"pooling": "plain"}], "towers": [{}, ONE_GPU],
    "augmentation": [{}, {}, {}], "dropout": [{}, {"dropout": 0.0}], "depth": [{}, {}],
}


@lru_cache(maxsize=None)
def _macs(switches: tuple = (), crop: int = 28) -> int:
    from .model import build_model
    from .summary import layer_table

    return layer_table(build_model("alexnet-cifar", 10, **dict(switches)), crop).total_macs


@lru_cache(maxsize=None)
def fig1_macs() -> int:
    """Multiply-adds per 28×28 image of Figure 1's four-layer net."""
    from .experiments.relu import FourLayerNet
    from .summary import layer_table

    return layer_table(FourLayerNet(), 28).total_macs


def job_work(job: str, profile_name: str) -> dict:
    """``{"train_images", "eval_images", "flops", "steps"}`` for one job at a profile's scale (Figure 1: the most it
    can train, every rate of its grid and extensions for the whole epoch budget; it usually stops earlier).
    ``steps`` counts one optimizer step per model; an ablation also has ``batched_steps``, the steps when each
    arm's seeds train at once (what :func:`alexnet.experiments.ablation.run_ablation` does on CUDA)."""
    from .profiles import REPRODUCE_SCALES, experiment_epochs, reproduce_profile

    p = reproduce_profile(profile_name)
    s = REPRODUCE_SCALES[profile_name]
    n, v = s["train_images"], s["val_images"]
    if job == "fig1":
        from .experiments.fig1_protocol import FIG1_SCALES
        f = FIG1_SCALES[profile_name]
        models = len(f.get("conventions", ("raw", "standardised"))) * 2 * (f["grid_size"] + f["max_extensions"]) \
            * f["seeds"]
        train = models * f["epochs"] * (n // f["batch_size"]) * f["batch_size"]
        groups = len(f.get("conventions", ("raw", "standardised"))) * 2 * (1 + f["max_extensions"])
        steps = groups * f["epochs"] * (n // f["batch_size"])  # one batched step trains a whole group
        return {"train_images": train, "eval_images": 0, "flops": 6 * fig1_macs() * train, "steps": steps}
    if job in ABLATION_ARMS:
        flops = train = evals = 0
        for arm in ABLATION_ARMS[job]:
            epochs = experiment_epochs(p, ABLATION_RESULTS[job])
            t, e = p.seeds * epochs * n, p.seeds * epochs * v
            macs = _macs(tuple(sorted(arm.items())))
            train, evals, flops = train + t, evals + e, flops + 6 * macs * t + 2 * macs * e
        if job == "augmentation":  # the ten-crop measurement of the paper arm: 1 + 10 crops of the test set
            evals, flops = evals + 11 * v, flops + 2 * _macs() * 11 * v
        steps = train // p.batch_size
        # on CUDA an arm's seeds train at once (alexnet.train_together): one batched step moves all of them
        return {"train_images": train, "eval_images": evals, "flops": flops, "steps": steps,
                "batched_steps": steps // p.seeds}
    if job == "bias":
        train = 6 * max(1, min(6, p.ablation_epochs)) * n
        return {"train_images": train, "eval_images": 0, "flops": 6 * _macs() * train, "steps": train // p.batch_size}
    if job in ("main", "results"):
        # the main run (chapter 5) evaluates after every epoch; chapter 6's model is the shipped checkpoint in
        # quick (evaluated only, centre + ten crops) and trained with the same recipe elsewhere
        train = 0 if job == "results" and profile_name == "quick" else p.epochs * n
        evals = p.epochs * v if job == "main" else 11 * v
        return {"train_images": train, "eval_images": evals, "flops": 6 * _macs() * train + 2 * _macs() * evals,
                "steps": train // p.batch_size}
    raise KeyError(job)


def launched_steps(work: dict) -> int:
    """The optimizer steps a job launches, from its :func:`job_work`: ``batched_steps`` where its seeds train at
    once (an ablation on CUDA), else ``steps``."""
    return work.get("batched_steps", work["steps"])


def project(profile_name: str = "full", gpu: str = "H100", mfu: float | None = None, jobs=None,
            step_s: float | None = None) -> dict:
    """Projected seconds per job on ``gpu``: counted FLOPs over peak × ``mfu`` (default :data:`ASSUMED_MFU`), plus
    ``step_s`` per optimizer step (default :data:`ASSUMED_STEP_S`; an ablation pays it per batched step, its seeds
    together, as ``reproduce`` runs on CUDA). Returns ``{"gpu", "peak_tflops", "mfu",
    "step_s", "jobs": {job: work + seconds}, "flops", "seconds"}``."""
    from .bench import peak_for_name
    from .reproduce_jobs import JOBS

    peak = peak_for_name(gpu)
    if peak is None:
        raise ValueError(f"no peak known for {gpu!r}")
    mfu = mfu if mfu is not None else ASSUMED_MFU.get(gpu, 0.1)
    step_s = step_s if step_s is not None else ASSUMED_STEP_S.get(gpu, 0.003)
    rate = peak * 1e12 * mfu
    out = {}
    for j in JOBS:
        if jobs is None or j.name in jobs:
            w = job_work(j.name, profile_name)
            # the fixed cost is paid per launch sequence: once per batched step where the seeds train together
            out[j.name] = {**w, "seconds": w["flops"] / rate + launched_steps(w) * step_s}
    return {"gpu": gpu, "peak_tflops": peak, "mfu": mfu, "step_s": step_s, "profile": profile_name, "jobs": out,
            "flops": sum(w["flops"] for w in out.values()), "seconds": sum(w["seconds"] for w in out.values())}


def format_projection(profile_name: str = "full", gpus=("H100", "T4"), mfu: float | None = None) -> str:
    """A table of counted work and projected minutes per job on each of ``gpus``."""
    runs = [project(profile_name, g, mfu) for g in gpus]
    head = f"{'job':<14}{'train img':>14}{'eval img':>12}{'steps':>10}{'PFLOP':>9}" + "".join(
        f"{r['gpu'] + ' min':>11}" for r in runs)
    lines = [f"reproduce --profile {profile_name}: counted model FLOPs (6 per MAC trained, 2 per MAC evaluated)",
             "assumed throughput: " + "; ".join(f"{r['gpu']} {r['peak_tflops']:g} TFLOP/s peak × MFU {r['mfu']:.0%} "
                                                f"+ {1000 * r['step_s']:g} ms per step" for r in runs), head]
    for name, w in runs[0]["jobs"].items():
        lines.append(f"{name:<14}{w['train_images']:>14,}{w['eval_images']:>12,}{launched_steps(w):>10,}"
                     f"{w['flops'] / 1e15:>9.1f}"
                     + "".join(f"{r['jobs'][name]['seconds'] / 60:>11.1f}" for r in runs))
    lines.append(f"{'total':<14}{'':>36}{runs[0]['flops'] / 1e15:>9.1f}"
                 + "".join(f"{r['seconds'] / 60:>11.1f}" for r in runs))
    lines.append("(steps: optimizer steps launched; an ablation's seeds share each step on CUDA, Figure 1's whole "
                 "group of rates × seeds shares it)")
    lines.append("(Figure 1 is its upper bound: every rate for the whole epoch budget; it stops once its winner is known)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- projections from measured step costs

def project_with_costs(profile_name: str, step_s: float, eval_img_s: float, fig1_step_s: float | None = None, *,
                       gpu: str = "H100", jobs=None) -> dict:
    """Projected seconds per job from measured costs instead of FLOPs: every job but Figure 1 trains ``steps``
    optimizer steps (:func:`job_work`) at ``step_s`` seconds each and evaluates ``eval_images`` at ``eval_img_s``
    images per second, so ``seconds = steps × step_s + eval_images / eval_img_s``. Figure 1's batched steps (one
    trains a whole group of rates × seeds) cost ``fig1_step_s`` each; without it, Figure 1 keeps :func:`project`'s
    assumed cost for ``gpu``. The arms of an ablation are costed as the default net (their FLOPs differ by up to
    a fifth; a launch-bound step barely notices). Returns ``{"step_s", "eval_img_s", "fig1_step_s", "fig1_assumed",
    "jobs": {job: work + seconds}, "seconds"}``."""
    from .reproduce import JOBS

    if not (step_s > 0 and eval_img_s > 0) or (fig1_step_s is not None and not fig1_step_s > 0):
        raise ValueError("step costs and rates must be positive")
    out = {}
    for j in JOBS:
        if jobs is None or j.name in jobs:
            w = job_work(j.name, profile_name)
            if j.name == "fig1" and fig1_step_s is None:
                seconds = project(profile_name, gpu, jobs=("fig1",))["jobs"]["fig1"]["seconds"]
            else:
                seconds = w["steps"] * (fig1_step_s if j.name == "fig1" else step_s) + w["eval_images"] / eval_img_s
            out[j.name] = {**w, "seconds": seconds}
    return {"step_s": step_s, "eval_img_s": eval_img_s, "fig1_step_s": fig1_step_s,
            "fig1_assumed": fig1_step_s is None, "jobs": out, "seconds": sum(w["seconds"] for w in out.values())}


def read_step_costs(path) -> dict:
    """The step costs in a JSON file written by ``bench --step-costs --json`` (or a device check's ``bench.json``
    holding them under ``"step_costs"``): the document, with ``"ok"``: ``{key: row}`` of the rows that measured
    something. Unreadable or foreign files are an :class:`~alexnet.errors.AlexNetError`."""
    import json
    from pathlib import Path

    from .errors import AlexNetError

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise AlexNetError(f"cannot read step costs from {path}: {type(e).__name__}: {e}") from None
    doc = doc.get("step_costs", doc) if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise AlexNetError(f"{path} holds no step costs: make them with `python -m alexnet bench --step-costs --json`")
    return {**doc, "ok": {r["key"]: r for r in doc["rows"] if r.get("step_ms")}}


def format_measured_projection(profile_name: str, path) -> str:
    """``reproduce --plan --from-bench PATH``: the projection of :func:`project_with_costs` for each way of running
    a step that was measured (the trainer as it runs, eager without host reads, the fastest single net, the seeds
    batched), beside today's assumed one, saying which numbers were measured and which assumed."""
    from .bench import PEAK_TFLOPS

    d = read_step_costs(path)
    ok, p = d["ok"], reproduce_profile_batch(profile_name)
    name = (d.get("device_name") or "").lower()
    gpu = next((key.split()[0] for key, _ in PEAK_TFLOPS if key.lower() in name), "H100")
    lines = [f"reproduce --profile {profile_name} projected from the step costs in {path}",
             f"measured on {d.get('device_name')} (torch {d.get('torch')}), alexnet_cifar at batch "
             f"{d.get('batch_size')}"]
    if d.get("batch_size") != p["batch"] or d.get("quick"):
        lines.append(f"WARNING: measured at batch {d.get('batch_size')}{' (quick form)' if d.get('quick') else ''}; "
                     f"this profile trains at batch {p['batch']}: the numbers below do not carry over")
    fig1 = next((r for k, r in ok.items() if k.startswith("fig1_")), None)
    measured = [f"{r['variant']}: {r['step_ms']:.2f} ms/step" + (f" ({r['per_model_step_ms']:.2f} per net)"
                                                                  if r["k"] > 1 else "")
                for r in ok.values() if r["key"] != "eval"]
    assumed = []
    if "eval" in ok:
        eval_img_s = ok["eval"]["img_s"]
        measured.append(f"evaluation {eval_img_s:,.0f} img/s")
    cols = []
    single = [r for k, r in ok.items() if k.startswith(("eager_", "compile", "graphed"))]
    seeds = next((ok[k] for k in (f"batched_k{p['seeds']}", f"batched_plain_k{p['seeds']}") if k in ok), None)
    for title, row, per_model in (("one net at a time", ok.get("trainer"), False),
                                  ("eager, no host reads", ok.get("eager_amp_cl"), False),
                                  ("fastest single net", min(single, key=lambda r: r["step_ms"], default=None), False),
                                  (f"seeds batched K={p['seeds']}", seeds, True)):
        if row is not None:
            cols.append((title, row, row["per_model_step_ms"] / 1e3 if per_model else row["step_ms"] / 1e3))
    if "eval" not in ok:
        eval_img_s = None
        assumed.append("evaluation at 3× the training images/s of each column's step (a forward pass is ~1/3 of "
                       "a step)")
    if fig1 is None:
        assumed.append(f"Figure 1 at the assumed {gpu} cost (counted FLOPs at MFU {ASSUMED_MFU.get(gpu, 0.1):.0%} "
                       f"+ {1e3 * ASSUMED_STEP_S.get(gpu, 0.003):g} ms per step)")
    runs = [(f"assumed {gpu}", project(profile_name, gpu))]
    for title, row, step_s in cols:
        runs.append((title + (" *" if row["key"].startswith("batched_plain") else ""),
                     project_with_costs(profile_name, step_s, eval_img_s or 3 * p["batch"] / step_s,
                                        fig1["step_ms"] / 1e3 if fig1 else None, gpu=gpu)))
    lines += ["measured:"] + [f"  {m}" for m in measured or ["nothing (every variant failed or was skipped)"]]
    lines += [f"  not measured: {r['variant']}: {r['skipped'] or r['error']}"
              for r in d["rows"] if not r.get("step_ms")]
    lines += ["assumed:"] + [f"  {a}" for a in assumed or ["nothing beyond the counted steps and images"]]
    lines += ["columns:", f"  '{runs[0][0]}': today's default projection (FLOPs at an assumed MFU + an assumed "
                          f"cost per step)"] + [f"  '{t}': {row['variant']}" for t, row, _ in cols]
    lines.append("each job: steps × s per step + eval images ÷ eval img/s; Figure 1: its batched steps × "
                 + (f"{fig1['variant']}'s step" if fig1 else "the assumed cost"))
    if any(t.endswith("*") for t, _ in runs):
        lines.append("* the batched full net failed; this column uses the same net without LRN and dropout")
    lines.append(f"{'job':<14}{'steps':>10}{'eval img':>12}" + "".join(f"{t[:22]:>24}" for t, _ in runs))
    for name, w in runs[0][1]["jobs"].items():
        lines.append(f"{name:<14}{w['steps']:>10,}{w['eval_images']:>12,}"
                     + "".join(f"{r['jobs'][name]['seconds'] / 60:>20.1f} min" for _, r in runs))
    lines.append(f"{'total':<36}" + "".join(f"{r['seconds'] / 60:>20.1f} min" for _, r in runs))
    compiled = [r for r in ok.values() if r.get("compile_s")]
    if compiled:
        c = min(compiled, key=lambda r: r["step_ms"])
        nets = len({tuple(sorted(a.items())) for arms in ABLATION_ARMS.values() for a in arms}) + 1  # + depth's
        lines.append(f"compilation is not in the columns: {c['compile_s']:.0f} s measured for {c['variant']}; "
                     f"compiling each of the ablations' ~{nets} distinct nets once would add "
                     f"~{nets * c['compile_s'] / 60:.1f} min (cache hits cost less)")
    best = min(runs[1:], key=lambda tr: tr[1]["seconds"], default=None)
    if best is not None:
        lines.append(f"the fastest measured way, '{best[0]}', projects {best[1]['seconds'] / 60:.1f} min "
                     f"(target: 10 min on one H100/H200)")
    return "\n".join(lines)


def reproduce_profile_batch(profile_name: str) -> dict:
    """``{"batch", "seeds"}`` of ``reproduce``'s profile ``profile_name``."""
    from .reproduce import reproduce_profile

    prof = reproduce_profile(profile_name)
    return {"batch": prof.batch_size, "seeds": prof.seeds}
