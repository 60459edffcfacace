"""The per-step cost benchmark of the scaled CIFAR net (``bench --step-costs``) in its tiny CPU form, and the
projection ``reproduce --plan --from-bench`` makes from it; the CUDA form is marked ``cuda``."""
import json

import pytest
import torch

from alexnet.bench.report import format_step_costs
from alexnet.bench.step_costs import read_step_cost_run, run_step_costs
from alexnet.cli import main as cli_main
from alexnet.plan import format_measured_projection, job_work, project, project_with_costs, read_step_costs
from alexnet.reproduce import JOBS

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
QUICK_KEYS = ["eager_fp32", "eager_amp_cl", "trainer", "eval", "fig1_k2", "batched_k2", "batched_plain_k2"]


def _check_rows(result, keys):
    assert [r["key"] for r in result["rows"]] == keys
    b = result["batch_size"]
    for r in result["rows"]:
        assert r["error"] is None and r["skipped"] is None, r
        assert r["step_ms"] > 0 and r["steps"] >= 1
        assert r["per_model_step_ms"] * r["k"] == pytest.approx(r["step_ms"])
        images = (16 if r["key"] == "eval" else b) * r["k"]  # the eval batch of the quick form is 16
        assert r["img_s"] * r["step_ms"] / 1e3 == pytest.approx(images)  # images per step, whatever the clock said
        macs = result["fig1_macs_per_image"] if r["key"].startswith("fig1") else result["macs_per_image"]
        assert r["tflops"] == pytest.approx(r["img_s"] * (2 if r["key"] == "eval" else 6) * macs / 1e12)


def test_step_costs_quick_on_the_cpu_reports_every_variant_and_logs_each_row(capsys, tmp_path):
    assert cli_main(["bench", "--step-costs", "--quick", "--device", "cpu", "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["device"] == "cpu" and result["quick"] and result["batch_size"] == 8
    _check_rows(result, QUICK_KEYS)
    assert 0.02e9 < result["macs_per_image"] < 0.2e9 and result["fig1_macs_per_image"] < result["macs_per_image"]
    assert any("torch.compile not measured" in n for n in result["notes"])
    assert any("loop" in n for n in result["notes"])  # the batched trainer runs its nets one after another here
    logged = [json.loads(line.split(" ", 1)[1]) for line in err.splitlines() if line.startswith("step-cost {")]
    assert logged == result["rows"]
    # a run cut short: its rows and metadata come back from the log
    (tmp_path / "cut.json").write_text("")
    (tmp_path / "cut.log").write_text(err)
    partial = read_step_cost_run(tmp_path / "cut.json", tmp_path / "cut.log")
    assert partial["partial"] and partial["rows"] == result["rows"] and partial["batch_size"] == 8
    text = format_step_costs(partial)
    assert "eager fp32" in text and "cut short" in text
    assert read_step_cost_run(tmp_path / "missing.json")["rows"] == []


def test_a_failing_compile_and_the_time_guard_are_rows_not_crashes(monkeypatch):
    def broken(model, *a, **k):
        raise RuntimeError("no compiler here\nsecond line")

    monkeypatch.setattr(torch, "compile", broken)
    result = run_step_costs("cpu", quick=True, compile=True)
    keys = [r["key"] for r in result["rows"]]
    assert keys == QUICK_KEYS + ["compile", "compile_nchw", "compile_cudagraphs", "compile_cudagraphs_nchw"]
    for r in result["rows"][-4:]:
        assert r["step_ms"] is None and r["error"] == "RuntimeError: no compiler here"
    assert all(r["step_ms"] > 0 for r in result["rows"][:-4])
    assert "failed: RuntimeError: no compiler here" in format_step_costs(result)
    # a budget already spent: every variant is skipped and says why
    spent = run_step_costs("cpu", quick=True, budget_s=1e-9)
    assert [r["key"] for r in spent["rows"]] == QUICK_KEYS
    assert all(r["step_ms"] is None and r["skipped"].startswith("time budget") for r in spent["rows"])


def test_quick_and_budget_need_step_costs(capsys):
    assert cli_main(["bench", "--quick"]) == 2
    assert capsys.readouterr().err.strip() == "alexnet: error: --quick and --budget go with --step-costs"


# ---------------------------------------------------------------------------- the plan from measured costs

def test_projection_with_costs_is_steps_times_cost_plus_eval_images_over_rate():
    p = project_with_costs("full", 0.002, 50_000.0, 0.004)
    assert set(p["jobs"]) == {j.name for j in JOBS}
    for name, w in p["jobs"].items():
        work = job_work(name, "full")
        cost = 0.004 if name == "fig1" else 0.002
        assert w["seconds"] == pytest.approx(work["steps"] * cost + work["eval_images"] / 50_000.0)
    assert p["seconds"] == pytest.approx(sum(w["seconds"] for w in p["jobs"].values()))
    lrn = job_work("lrn", "full")
    assert p["jobs"]["lrn"]["seconds"] == pytest.approx(lrn["steps"] * 0.002 + lrn["eval_images"] / 5e4)
    # without a Figure 1 cost, Figure 1 keeps the assumed projection of the named GPU
    q = project_with_costs("full", 0.002, 50_000.0, gpu="T4")
    assert q["fig1_assumed"]
    assert q["jobs"]["fig1"]["seconds"] == pytest.approx(project("full", "T4")["jobs"]["fig1"]["seconds"])
    assert q["jobs"]["lrn"]["seconds"] == pytest.approx(p["jobs"]["lrn"]["seconds"])
    with pytest.raises(ValueError):
        project_with_costs("full", 0.0, 1.0)


def _row(key, step_ms, k=1, img_s=None, error=None, skipped=None, variant=None, compile_s=None):
    return {"key": key, "variant": variant or key, "k": k, "step_ms": step_ms, "compile_s": compile_s,
            "per_model_step_ms": step_ms / k if step_ms else None, "img_s": img_s, "error": error, "skipped": skipped}


def _doc(rows, batch=128):
    return {"device": "cuda", "device_name": "NVIDIA H200", "torch": "2.11.0", "batch_size": batch, "quick": False,
            "rows": rows}


def test_the_measured_projection_says_what_was_measured_and_what_assumed(tmp_path, capsys):
    rows = [_row("eager_fp32", 3.0), _row("eager_amp_cl", 2.0), _row("trainer", 4.0),
            _row("eval", 1.0, img_s=100_000.0), _row("compile_cudagraphs", 1.0, compile_s=30.0),
            _row("batched_k3", None, k=3, error="RuntimeError: vmap needs setup_context"),
            _row("batched_plain_k3", 1.5, k=3), _row("compile", None, skipped="time budget: 3 s left")]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"a_img_s": 1.0, "step_costs": _doc(rows)}))  # a device check's bench.json
    assert set(read_step_costs(path)["ok"]) == {"eager_fp32", "eager_amp_cl", "trainer", "eval",
                                                 "compile_cudagraphs", "batched_plain_k3"}
    text = format_measured_projection("full", path)
    assert "WARNING" not in text
    assert "not measured: batched_k3: RuntimeError: vmap needs setup_context" in text
    assert "not measured: compile: time budget: 3 s left" in text
    assert "Figure 1 at the assumed H200 cost" in text  # no fig1 row: Figure 1 assumed
    assert "evaluation 100,000 img/s" in text
    assert "'fastest single net': compile_cudagraphs" in text
    assert "* the batched full net failed" in text
    total = next(t for t in text.splitlines() if t.startswith("total")).replace("min", "").split()
    expected = [project("full", "H200")] + [project_with_costs("full", s, 100_000.0, gpu="H200")
                                            for s in (0.004, 0.002, 0.001, 0.0005)]  # trainer, eager, best, K=3
    assert total[0] == "total"
    assert [float(t) for t in total[1:]] == pytest.approx([e["seconds"] / 60 for e in expected], abs=0.051)
    assert "'seeds batched K=3 *', projects" in text.splitlines()[-1]
    assert "30 s measured for compile_cudagraphs; compiling each of the ablations' ~6 distinct nets once would add " \
           "~3.0 min" in text
    # the CLI: with --plan it projects; without, or with a foreign file, one line and exit 2
    assert cli_main(["reproduce", "--plan", "--profile", "full", "--from-bench", str(path)]) == 0
    assert "projected from the step costs" in capsys.readouterr().out
    assert cli_main(["reproduce", "--profile", "full", "--from-bench", str(path)]) == 2
    assert "--from-bench goes with --plan" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"a_img_s": 1.0}')
    assert cli_main(["reproduce", "--plan", "--from-bench", str(tmp_path / "other.json")]) == 2
    err = capsys.readouterr().err
    assert "holds no step costs" in err and len(err.strip().splitlines()) == 1
    # measured at another batch size: said loudly
    path.write_text(json.dumps(_doc(rows, batch=8)))
    assert "WARNING: measured at batch 8" in format_measured_projection("full", path)


@pytest.mark.cuda
@cuda
def test_step_costs_on_cuda_measure_the_eager_variants():
    result = run_step_costs("cuda", steps=3, budget_s=60, compile=False, ks=(2,), fig1_k=2)
    by_key = {r["key"]: r for r in result["rows"]}
    for key in ("eager_fp32", "eager_amp_cl", "graphed", "trainer", "eval", "fig1_k2"):
        assert by_key[key]["error"] is None and by_key[key]["step_ms"] > 0, by_key[key]
    assert all(r["step_ms"] or r["error"] or r["skipped"] for r in result["rows"])
    assert result["peak_tflops"] is None or by_key["eager_amp_cl"]["mfu"] > 0
    assert not any("CUDA graph needs CUDA" in n for n in result["notes"])
