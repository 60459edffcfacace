"""``python -m alexnet reproduce``: every claim of the registry gets a scorecard row; reuse; bad input; the plan."""
import json

import pytest

from alexnet import paper, profiles, results
from alexnet.experiments.fig1_protocol import FIG1_SCALES, setup_for
from alexnet.plan import ASSUMED_MFU, fig1_macs, job_work, project
from alexnet.profiles import REPRODUCE_SCALES as SCALES
from alexnet.profiles import experiment_epochs, get_profile, reproduce_profile
from alexnet.reproduce import fit, format_scorecard
from alexnet.reproduce_jobs import JOBS, _run_fig1, fig1_setup, jobs_for
from cli_helpers import run_cli


def test_every_claim_is_measured_by_exactly_one_job():
    claimed = [c for j in JOBS for c in j.claims]
    assert sorted(claimed) == sorted(paper.CLAIMS)
    assert [j.name for j in jobs_for(["pca", "ten_crop"])] == ["augmentation"]


def test_smoke_runs_every_experiment_and_prints_the_scorecard(tmp_path):
    out = tmp_path / "results"
    proc = run_cli("reproduce", "--profile", "smoke", "--out", out, "--quiet", timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("claim "))
    ids = [line.split()[0] for line in lines[head + 1:head + 1 + len(paper.CLAIMS)]]
    assert ids == list(paper.CLAIMS)
    report = json.loads((out / "reproduce.json").read_text())
    assert {j: r["status"] for j, r in report["jobs"].items()} == {j.name: "ran" for j in JOBS}
    assert [c["id"] for c in report["scorecard"]] == list(paper.CLAIMS)
    assert all(r["images_per_second"] > 0 and r["mfu"] is None for r in report["jobs"].values())  # CPU: n/a
    assert "MFU n/a" in proc.stdout


@pytest.mark.parametrize("args,message", [(["--only", "nope"], "unknown claim 'nope'"),
                                          (["--profile", "huge"], "invalid choice: 'huge'"),
                                          (["--plan", "--mfu", "1.5"], "fraction in (0, 1]"),
                                          (["--plan", "--mfu", "0"], "fraction in (0, 1]"),
                                          (["--plan", "--mfu", "-0.2"], "fraction in (0, 1]")])
def test_bad_input_is_one_line_and_exit_2(args, message):
    proc = run_cli("reproduce", *args)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--plan"], ["--only", "lrn"]])
def test_a_bad_alexnet_profile_is_one_line_and_exit_2(tmp_path, args):
    proc = run_cli("reproduce", *args, env={"ALEXNET_PROFILE": "foo", "ALEXNET_RESULTS": str(tmp_path / "res")})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unknown profile 'foo'" in lines[0] and "ALEXNET_PROFILE" in lines[0]
    assert not (tmp_path / "res").exists()


def test_without_profile_reproduce_follows_the_one_rule():
    """No --profile: $ALEXNET_PROFILE, else full with CUDA and quick without (as every chapter), never smoke."""
    import torch

    for env, expected in (("quick", "quick"), ("full", "full"), ("smoke", "smoke"),
                          ("", "full" if torch.cuda.is_available() else "quick")):
        proc = run_cli("reproduce", "--plan", env={"ALEXNET_PROFILE": env})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"reproduce --profile {expected}:"), (env, proc.stdout[:80])
    proc = run_cli("reproduce", "--plan", "--profile", "full", env={"ALEXNET_PROFILE": "quick"})  # the flag wins
    assert proc.stdout.startswith("reproduce --profile full:")
    assert run_cli("reproduce", "--plan", "--mfu", "1").returncode == 0  # 100% is a fraction too


def test_missing_data_is_one_line_before_anything_runs_or_is_written(tmp_path):
    """quick needs CIFAR-10: without it (and offline) reproduce says so in one line, exit 2, before any job, and
    writes nothing: no reproduce.json, no results folder."""
    for args in ([], ["--out", tmp_path / "out"]):
        proc = run_cli("reproduce", "--profile", "quick", *args,
                       env={"ALEXNET_DATA": str(tmp_path / "nodata"), "ALEXNET_RESULTS": str(tmp_path / "res")})
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "cifar10" in lines[0] and "not found" in lines[0]
        assert proc.stdout == ""  # no job line, no scorecard
    assert list(tmp_path.iterdir()) == []


def test_quick_is_the_chapters_scale():
    """reproduce --profile quick stores what the chapters look up: their profile, unchanged (one seed)."""
    assert reproduce_profile("quick") == get_profile("quick")
    assert reproduce_profile("quick").seeds == profiles.PROFILES["quick"].seeds == 1
    quick = get_profile("quick")
    assert experiment_epochs(quick, "towers_ablation") == 8  # chapter 3.2's quick epochs per arm
    assert experiment_epochs(quick, "dropout_ablation") == 2 * quick.ablation_epochs  # chapter 4.2's
    assert experiment_epochs(quick, "lrn_ablation") == quick.ablation_epochs
    assert job_work("towers", "quick")["train_images"] == 2 * 8 * SCALES["quick"]["train_images"]


def test_the_jobs_store_every_result_the_scorecard_reads():
    from alexnet.experiments.claim_measures import MEASURES

    stored = {name for job in JOBS for name in job.results}
    for cid, job in ((c, j) for j in JOBS for c in j.claims):
        assert MEASURES[cid][0] in job.results or MEASURES[cid][1] in job.results, cid
    assert {MEASURES[c][0] for c in paper.CLAIMS} <= stored


def _cifar10_folder(root, monkeypatch):
    """A data root where CIFAR-10 is "on disk" (torchvision's folder, empty): reproduce's data check passes, and a
    job that reuses its stored result never reads it."""
    (root / "cifar10" / "cifar-10-batches-py").mkdir(parents=True)
    monkeypatch.setenv("ALEXNET_DATA", str(root))


def test_a_rerun_reuses_what_the_chapters_stored(tmp_path, monkeypatch, capsys):
    """One reuse rule: a job whose experiment finds its stored result (same code, profile, scale) is reused,
    with the experiment's own line; ALEXNET_RERUN=1 or another scale trains again."""
    from alexnet.experiments.ablation import AblationResult
    from alexnet.experiments.lrn import run_lrn_ablation
    from alexnet.reproduce import run_reproduce

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    _cifar10_folder(tmp_path / "data", monkeypatch)
    quick = get_profile("quick")
    sc = results.scale(quick, dataset=quick.dataset, train_images=3728, epochs=quick.ablation_epochs,
                       seeds=quick.seeds, val_images=846)
    arms = {"lrn": {"seconds": 60.0}, "no_lrn": {"seconds": 60.0}}
    results.save_result("lrn_ablation", {"arms": arms, "baseline": "lrn", "deltas": {}}, sc, quick)
    result = run_lrn_ablation(quick)  # the chapter's call finds it: no training
    assert isinstance(result, AblationResult) and result.arms == arms
    assert "lrn_ablation: reusing the result" in capsys.readouterr().out
    report = run_reproduce("quick", ["lrn"], out=str(tmp_path), progress=False)
    assert report["jobs"]["lrn"]["status"] == "reused"
    assert "lrn_ablation: reusing the result" in capsys.readouterr().out
    assert not (tmp_path / "reproduce_manifest.json").exists()  # reproduce.json is a record, not a reuse key
    assert "reproduce" not in results.load_results(quick)  # and never read as a result
    other = {**sc, "epochs": quick.ablation_epochs + 1}
    results.save_result("lrn_ablation", {"arms": arms, "baseline": "lrn", "deltas": {}}, other, quick)
    wanted = {"epochs": quick.ablation_epochs, "seeds": quick.seeds, "dataset": quick.dataset}
    found = results.reusable_result("lrn_ablation", quick, **wanted)  # the book's own record may match; never this one
    assert found is None or found["scale"]["epochs"] == quick.ablation_epochs
    results.save_result("lrn_ablation", {"arms": arms, "baseline": "lrn", "deltas": {}}, sc, quick)
    assert results.reusable_result("lrn_ablation", quick, **wanted) is not None
    monkeypatch.setenv("ALEXNET_RERUN", "1")
    assert results.reusable_result("lrn_ablation", quick, **wanted) is None


def test_a_failed_jobs_message_is_shortened_at_a_word_boundary():
    message = "failed: AlexNetError: " + "the dataset cifar10 is not on disk under the data root " * 3
    assert fit(message, 48).endswith(" …") and len(fit(message, 48)) <= 48
    assert fit(message, 48)[:-2] == message[:len(fit(message, 48)) - 2]  # a prefix of whole words
    assert message[len(fit(message, 48)) - 2] == " "
    assert fit("short", 48) == "short"
    table = format_scorecard([{"id": "lrn", "paper": "1.4", "ours": "—", "verdict": "not run", "run": message}])
    assert "data root the dataset" not in table and table.splitlines()[1].rstrip().endswith("…")


@pytest.mark.parametrize("device,message", [("gpu", "unknown device 'gpu'"), ("meta", "cannot run the model here")])
def test_a_bad_device_is_one_line_and_exit_2(device, message):
    proc = run_cli("reproduce", "--profile", "smoke", "--device", device)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_smoke_without_out_removes_its_own_results_folder_and_says_so(tmp_path, monkeypatch, capsys):
    import os

    from alexnet import scratch
    from alexnet.reproduce import run_reproduce

    monkeypatch.delenv("ALEXNET_RESULTS", raising=False)
    report = run_reproduce("smoke", ["lrn"], budget_s=1e-9, progress=False)  # skips its job: seconds
    assert report["jobs"]["lrn"]["status"] == "skipped: time budget"
    out = capsys.readouterr().out
    assert "smoke results are not kept" in out and "pass --out DIR to keep them" in out
    # in this process's scratch folder (removed when the process ends), never in a shared temporary folder
    assert (scratch.process_folder() / "results" / "reproduce.json").is_file()
    assert "ALEXNET_RESULTS" not in os.environ
    # and the folder is gone once the process has ended (TMPDIR: where tempfile makes it)
    proc = run_cli("reproduce", "--profile", "smoke", "--only", "lrn", "--budget", "1e-9", "--quiet",
                   env={"ALEXNET_RESULTS": "", "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0 and "smoke results are not kept" in proc.stdout, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_scorecard_reads_the_folder_the_run_wrote_to(tmp_path, monkeypatch, capsys):
    """With ALEXNET_STORE_RESULTS=1 a run writes into the book's store: the scorecard it prints reads that folder
    (here the book's store is pointed at the smoke run's own folder), not only a reader's."""
    from alexnet.reproduce import run_reproduce

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))  # restored afterwards (out= sets it for the process)
    monkeypatch.setenv("ALEXNET_STORE_RESULTS", "1")
    monkeypatch.setattr(results, "STORED_RESULTS", tmp_path / "out" / "alexnet-results-smoke")
    report = run_reproduce("smoke", ["lrn"], out=str(tmp_path / "out"), progress=False)
    assert report["jobs"]["lrn"]["status"] == "ran"
    assert (tmp_path / "out" / "alexnet-results-smoke" / "lrn_ablation.json").is_file()
    row = next(c for c in report["scorecard"] if c["id"] == "lrn")
    assert row["ours"] != "—" and row["verdict"] != "not run", row


def test_full_scale_is_all_images_and_three_seeds():
    p = reproduce_profile("full")
    assert p.train_limit is None and p.seeds >= 3 and FIG1_SCALES["full"]["seeds"] >= 3
    assert SCALES["full"]["train_images"] == 50_000 and FIG1_SCALES["full"]["batch_size"] == 128


def test_projection_is_counted_flops_over_peak_times_mfu():
    f = FIG1_SCALES["full"]
    work = job_work("fig1", "full")
    models = 2 * 2 * (f["grid_size"] + f["max_extensions"]) * f["seeds"]
    assert work["train_images"] == models * f["epochs"] * (50_000 // 128) * 128
    assert work["flops"] == 6 * fig1_macs() * work["train_images"]
    proj = project("full", "H100")
    steps = sum(job_work(j.name, "full").get("batched_steps", job_work(j.name, "full")["steps"]) for j in JOBS)
    lrn = job_work("lrn", "full")  # an ablation's seeds share each step on CUDA
    assert lrn["batched_steps"] * reproduce_profile("full").seeds == lrn["steps"]
    assert proj["seconds"] == pytest.approx(proj["flops"] / (989e12 * ASSUMED_MFU["H100"]) + steps * proj["step_s"])
    assert work["steps"] == 2 * 2 * (1 + f["max_extensions"]) * f["epochs"] * (50_000 // 128)
    assert proj["flops"] == sum(job_work(j.name, "full")["flops"] for j in JOBS)
    assert project("full", "T4")["seconds"] > proj["seconds"]
    assert fig1_setup("smoke").seeds == 1
    # the full profile's dropout arms train twice the profile's epochs, as chapter 4.2 does
    full = reproduce_profile("full")
    assert job_work("dropout", "full")["train_images"] == 2 * full.seeds * 2 * full.ablation_epochs * 50_000


def test_a_spent_budget_starts_nothing_and_still_writes_the_record(tmp_path, capsys, monkeypatch):
    from alexnet.reproduce import run_reproduce

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))  # restored afterwards (out= sets it for the process)

    report = run_reproduce("smoke", ["lrn", "fig1"], out=str(tmp_path), budget_s=1e-9, progress=False)
    assert {j: r["status"] for j, r in report["jobs"].items()} == {"fig1": "skipped: time budget",
                                                                   "lrn": "skipped: time budget"}
    assert json.loads((tmp_path / "reproduce.json").read_text())["jobs"] == report["jobs"]
    assert "skipped" in capsys.readouterr().out


# each chapter's call, which reproduce's job makes with the same arguments (so that each finds the other's result)
CHAPTER_CALLS = {"03_2_multi_gpu": "T.towers_ablation(P)", "03_3_lrn": "L.run_lrn_ablation(P,",
                 "03_4_pooling": "PL.run_pooling_ablation(P)", "04_1_augmentation": "A.augmentation_ablation(P)",
                 "04_2_dropout": "D.dropout_ablation(P)", "05_learning": "L.main_run(P, train_set=train_set",
                 "06_results": "R.save_results_table(table, info, test_set, info[\"train_images\"], P)"}


@pytest.mark.parametrize("chapter,call", CHAPTER_CALLS.items())
def test_the_chapters_make_the_calls_reproduce_makes(chapter, call):
    from pathlib import Path

    # plain json, not nbformat: this test also runs where only the package's own dependencies are installed
    nb = json.loads((Path(__file__).resolve().parents[1] / "book" / f"{chapter}.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert call in code
    assert "base={\"epochs\"" not in code  # epochs per arm come from alexnet.profiles.experiment_epochs


def test_the_device_a_run_asks_for_is_every_experiments_device(monkeypatch):
    import torch

    from alexnet.errors import AlexNetError

    monkeypatch.setenv("ALEXNET_DEVICE", "cpu")
    assert profiles.default_device() == torch.device("cpu")
    monkeypatch.setenv("ALEXNET_DEVICE", "gpu")
    with pytest.raises(AlexNetError, match="unknown device 'gpu'"):
        profiles.default_device()


def test_reproduce_and_chapter_3_1_share_one_figure_1(tmp_path, monkeypatch, capsys):
    """reproduce's Figure 1 job stores what chapter 3.1's call then reuses: one name, schema and scale."""
    from alexnet import get_profile
    from alexnet.data import make_synthetic
    from alexnet.experiments import relu

    monkeypatch.setenv("ALEXNET_RESULTS", str(tmp_path))
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    monkeypatch.setitem(FIG1_SCALES, "quick", {"epochs": 1, "batch_size": 32, "seeds": 1, "max_extensions": 0,
                                               "grid_size": 2, "conventions": ("raw",)})
    data = make_synthetic(64, seed=0)
    monkeypatch.setattr(relu, "load_imageset", lambda *a, **k: data)  # the sample is not in CI; the code path is
    assert fig1_setup("quick") == setup_for("quick")
    ran = _run_fig1(reproduce_profile("quick"), {})
    assert ran["images"] == 2 * 2 * (64 // 32) * 32 and not ran["truncated"]  # 2 nets × 2 rates × 1 epoch
    stored = json.loads((tmp_path / "fig1_relu_tanh.json").read_text())
    chapter = relu.figure1(get_profile("quick"), progress=False)  # the chapter's profile (other seeds elsewhere)
    assert chapter["reused"] and "fig1_relu_tanh: reusing" in capsys.readouterr().out
    assert chapter["scale"] == stored["scale"] and chapter["conventions"] == stored["data"]["conventions"]
    again = _run_fig1(reproduce_profile("quick"), {})
    assert again["images"] == 0  # reproduce reuses it too


def test_a_readers_run_reuses_the_books_result_and_scores_it(tmp_path, monkeypatch, capsys):
    """A reader's own store is empty and the book's holds a current result: the job is reused (no traceback),
    the record names when that result was saved, and the scorecard shows it, not "not run"."""
    from alexnet.reproduce import run_reproduce

    quick = get_profile("quick")
    _cifar10_folder(tmp_path / "data", monkeypatch)
    book, yours = tmp_path / "book", tmp_path / "yours"
    monkeypatch.setattr(results, "STORED_RESULTS", book)
    monkeypatch.delenv("ALEXNET_RERUN", raising=False)
    monkeypatch.setenv("ALEXNET_STORE_RESULTS", "1")  # a maintainer's run writes the book's result
    sc = results.scale(quick, dataset=quick.dataset, train_images=3728, epochs=quick.ablation_epochs,
                       seeds=quick.seeds, val_images=846)
    arms = {"lrn": {"seconds": 60.0}, "no_lrn": {"seconds": 60.0}}
    saved = results.save_result("lrn_ablation", {"arms": arms, "baseline": "lrn", "deltas": {}}, sc, quick)
    assert saved.parent == book / "quick" or saved.parent == book
    monkeypatch.delenv("ALEXNET_STORE_RESULTS")
    monkeypatch.setenv("ALEXNET_RESULTS", str(yours))  # the reader's store: nothing in it
    report = run_reproduce("quick", ["lrn"], progress=False)
    job = report["jobs"]["lrn"]
    assert job["status"] == "reused" and job["saved_at"] == json.loads(saved.read_text())["saved_at"]
    row = next(r for r in report["scorecard"] if r["id"] == "lrn")
    assert row["verdict"] != "not run" and row["ours"] not in ("", "—"), row
    assert not (yours / "lrn_ablation.json").exists()  # nothing trained, nothing copied
