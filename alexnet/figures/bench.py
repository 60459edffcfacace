"""Figures of the performance appendix: the benchmark's throughputs, its model-step ladder and the LRN timing."""
from __future__ import annotations

import matplotlib.pyplot as plt


def plot_benchmark(r: dict):
    """Three panels: the two training loops and their halves (img/s, log scale), our model step with one switch
    added at a time, and the LRN micro-benchmark. Returns the matplotlib Figure."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1.6, 1.1, 0.7]})
    ours, theirs = "tab:blue", "tab:grey"
    rows = [("(a) ours: whole training loop", r["a_img_s"], ours),
            ("(b) torchvision: whole training loop", r["b_img_s"], theirs),
            ("ours: input pipeline alone", r["input_ours"]["img_s"], ours),
            ("torchvision: input pipeline alone", r["input_torchvision"]["img_s"], theirs),
            ("ours: model step alone", r["step_ours"]["img_s"], ours),
            ("torchvision: model step alone", r["step_torchvision"]["img_s"], theirs)]
    ax = axes[0]
    y = range(len(rows))[::-1]
    ax.barh(list(y), [v for _, v, _ in rows], color=[c for _, _, c in rows])
    ax.set_yticks(list(y), [name for name, _, _ in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("images per second (log scale)")
    for yi, (_, v, _) in zip(y, rows):
        ax.text(v, yi, f" {v:,.0f}" if v >= 10 else f" {v:.2f}", va="center", fontsize=7)
    ax.set_title(f"(a)/(b) = {r['ratio']:.2f}×, batch {r['batch_size']}", fontsize=9)
    ax.margins(x=0.25)

    ax = axes[1]
    variants = [v for v in r["variants"] if v["img_s"]]
    ax.barh(range(len(variants))[::-1], [v["img_s"] for v in variants],
            color=[ours if v["trainer"] else "tab:cyan" for v in variants])
    ax.set_yticks(list(range(len(variants))[::-1]), [v["variant"] for v in variants], fontsize=8)
    ax.set_xlabel("images per second")
    title = "our model step, one switch at a time"
    if r.get("mfu_step_best") is not None:
        title += f"\n(best: {r['mfu_step_best']:.0%} MFU)"
    ax.set_title(title, fontsize=9)

    ax = axes[2]
    lrn = r["lrn"]
    ax.bar(["ours", "torch"], [lrn["ours_ms"], lrn["torch_ms"]], color=[ours, theirs])
    ax.set_ylabel("ms, forward + backward")
    ax.set_title(f"LRN at {'×'.join(map(str, lrn['shape']))}\n{lrn['speedup']:.1f}× faster", fontsize=9)
    fig.suptitle(f"{r['device_name']}", fontsize=9)
    fig.tight_layout()
    return fig
