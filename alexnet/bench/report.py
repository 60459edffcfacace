"""The benchmark's report: the text ``python -m alexnet bench`` prints, and its targets next to what was measured."""
from __future__ import annotations

from .utilisation import mfu


NO_LRN_LOOP = "(a) without its two LRN layers: torchvision's kinds of layers"


def _pct(x: float | None) -> str:
    return f"{x:.1%}" if x is not None else "n/a (pass --peak-tflops)"


def _cell(x: float | None) -> str:
    return f"{x:.1%}" if x is not None else "n/a"


def format_report(r: dict) -> str:
    """The human-readable report ``python -m alexnet bench`` prints."""
    lrn = r["lrn"]
    peak = f"{r['peak_tflops']:g} TFLOPS ({r['peak_source']})" if r["peak_tflops"] else "unknown"
    lines = [
        f"AlexNet training throughput on {r['device']} ({r['device_name']}), batch {r['batch_size']}, "
        f"{r['crop']}×{r['crop']} crops, torch {r['torch']}",
        f"photos: {r['data']}; our cache: {r['placement']}",
        f"counted forward multiply-adds per image: ours {r['macs_per_image'] / 1e9:.3f} G, torchvision "
        f"{r['torchvision_macs_per_image'] / 1e9:.3f} G; peak {peak}; mixed precision: {r['amp_dtype'] or 'off (fp32)'}",
        "",
        f"{'':64}{'img/s':>10}{'MFU':>10}",
        f"{'(a) ours: paper AlexNet, uint8 cache + BatchAugment on the device':64}{r['a_img_s']:>10.1f}"
        f"{_cell(r['mfu_a']):>10}",
        f"{'(b) torchvision AlexNet + DataLoader (PIL JPEG decode, ' + str(r['train_torchvision']['workers']) + ' workers)':64}"
        f"{r['b_img_s']:>10.1f}{_cell(r['mfu_b']):>10}",
        *([f"{NO_LRN_LOOP:64}"
           f"{r['train_ours_no_lrn']['img_s']:>10.1f}"] if "train_ours_no_lrn" in r else []),
        f"ratio (a)/(b): {r['ratio']:.2f}×" + (f"; without LRN {r['ratio_no_lrn']:.2f}×" if "ratio_no_lrn" in r else ""),
        f"MFU of (a): {_pct(r['mfu_a'])}",
        "",
        "where the time goes:",
        f"{'  input pipeline alone, ours (cache on ' + r['input_ours']['placement'] + ')':64}"
        f"{r['input_ours']['img_s']:>10.1f}",
        *([f"{'  input pipeline alone, ours, streamed from pinned host memory':64}"
           f"{r['input_ours_streamed']['img_s']:>10.1f}"] if "input_ours_streamed" in r else []),
        f"{'  input pipeline alone, torchvision DataLoader':64}{r['input_torchvision']['img_s']:>10.1f}",
        f"{'  model step alone (synthetic tensors), ours as the trainer runs it':64}{r['step_ours']['img_s']:>10.1f}"
        f"{_cell(r['mfu_step_ours']):>10}",
        f"{'  model step alone (synthetic tensors), torchvision fp32':64}{r['step_torchvision']['img_s']:>10.1f}",
        "",
        "our model step, one switch at a time:",
    ]
    for row in r["variants"]:
        if row["img_s"] is None:
            lines.append(f"{'  ' + row['variant']:64}  failed: {row.get('error', '')}")
            continue
        mark = "  <- the trainer's default here" if row["trainer"] else ""
        m = mfu(row["img_s"], r["macs_per_image"], r["peak_tflops"])
        lines.append(f"{'  ' + row['variant']:64}{row['img_s']:>10.1f}{_cell(m):>10}{mark}")
    if not any("compile" in row["variant"] for row in r["variants"]):
        lines.append("  + torch.compile: not measured on this device (opt-in: ALEXNET_BENCH_COMPILE=1)")
    lines += [
        "",
        f"LRN forward+backward at {'×'.join(map(str, lrn['shape']))}: ours {lrn['ours_ms']:.1f} ms, "
        f"torch.nn.LocalResponseNorm {lrn['torch_ms']:.1f} ms: {lrn['speedup']:.2f}× faster",
        f"(decoding the photos into the uint8 cache took {r['cache_seconds']:.1f} s, once; the whole benchmark "
        f"{r['total_seconds']:.0f} s)",
    ]
    return "\n".join(lines)


def targets(r: dict) -> list[dict]:
    """The performance appendix's targets next to what this run measured: ``target``, ``measured``, ``met``
    (True/False, or None where the target does not apply to this device)."""
    gpu = r["device"].startswith("cuda")
    h100 = gpu and "H100" in r["device_name"]
    lrn = r["lrn"]["speedup"]
    rows = [
        {"target": "LRN forward+backward ≥ 2× torch.nn.LocalResponseNorm at conv1's shape",
         "measured": f"{lrn:.2f}×", "met": lrn >= 2.0},
        {"target": "(a)/(b) ≥ 2× on a GPU", "measured": f"{r['ratio']:.2f}×", "met": (r["ratio"] >= 2.0) if gpu else None},
        {"target": "MFU of (a) ≥ 40% on an H100 in bf16",
         "measured": f"{r['mfu_a']:.1%}" if r["mfu_a"] is not None else "n/a",
         "met": (r["mfu_a"] >= 0.40) if (h100 and r["mfu_a"] is not None) else None},
        {"target": "(a) ≥ (b) on a CPU", "measured": f"{r['ratio']:.2f}×", "met": (r["ratio"] >= 1.0) if not gpu else None},
    ]
    if "ratio_no_lrn" in r:
        rows.append({"target": "(a) without LRN ≥ (b) on a CPU (the same kinds of layers)",
                     "measured": f"{r['ratio_no_lrn']:.2f}×", "met": (r["ratio_no_lrn"] >= 1.0) if not gpu else None})
    return rows


def format_targets(r: dict) -> str:
    verdict = {True: "met", False: "NOT met", None: "n/a on this device"}
    lines = [f"{'target':<72}{'measured':>10}  verdict"]
    lines += [f"{t['target']:<72}{t['measured']:>10}  {verdict[t['met']]}" for t in targets(r)]
    return "\n".join(lines)


def format_step_costs(r: dict) -> str:
    """The table ``python -m alexnet bench --step-costs`` prints: one row per variant, ms per optimizer step."""
    lines = [f"one optimizer step of alexnet_cifar, batch {r['batch_size']}, {r['crop']}×{r['crop']} crops, "
             f"on {r['device']} ({r['device_name']}), torch {r['torch']}" + (" [quick form]" if r["quick"] else ""),
             f"{'variant':<58}{'ms/step':>9}{'ms/model':>10}{'img/s':>10}{'TFLOP/s':>9}{'MFU':>7}{'compile s':>11}"]
    for row in r["rows"]:
        if row["step_ms"] is None:
            why = f"skipped: {row['skipped']}" if row["skipped"] else f"failed: {row['error']}"
            lines.append(f"{row['variant'][:57]:<58}  {why}")
            continue
        comp = f"{row['compile_s']:.1f}" if row["compile_s"] is not None else ""
        lines.append(f"{row['variant'][:57]:<58}{row['step_ms']:>9.2f}{row['per_model_step_ms']:>10.2f}"
                     f"{row['img_s']:>10,.0f}{row['tflops']:>9.2f}{_cell(row['mfu']):>7}{comp:>11}")
    lines += [f"note: {n}" for n in r["notes"]]
    if r.get("seconds") is not None:
        lines.append(f"(the step-cost run took {r['seconds']:.0f} s of a {r['budget_s']:.0f} s budget)")
    return "\n".join(lines)
