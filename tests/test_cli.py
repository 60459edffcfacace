import json
import subprocess
import sys

import pytest
import torch

from alexnet.data import DATASETS
from cli_helpers import SMALL, run_cli


def one_clear_line(proc, code, *words):
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("args,words", [
    (["--dataset", "mnist", "--epochs", "1"], ["unknown dataset", "mnist"]),
    (["--dataset", "synthetic", "--epochs", "0"], ["epochs", "positive"]),
    (["--dataset", "synthetic", "--epochs", "-2"], ["epochs"]),
    (["--dataset", "synthetic", "--epochs", "1", "--batch-size", "0"], ["batch-size"]),
    (["--dataset", "cifar10", "--epochs", "1"], ["cifar10", "not found", "download"]),
    # the default batch (the paper's 128) and a tiny --train-limit: said before any data is read
    (["--dataset", "synthetic", "--epochs", "1", "--train-limit", "64"],
     ["--batch-size 128", "--train-limit 64", "--batch-size 64 or less"]),
    # model switches are checked while the arguments are parsed, before any data is looked for (cifar10 is
    # not under the data root here: a later check would name the missing dataset instead)
    (["--dataset", "cifar10", "--epochs", "1", "--activation", "foo"], ["--activation", "'foo'", "relu"]),
    (["--dataset", "cifar10", "--epochs", "1", "--dropout", "1.5"], ["--dropout", "[0, 1)", "1.5"]),
    (["--dataset", "cifar10", "--epochs", "1", "--dropout", "-0.1"], ["--dropout", "[0, 1)"]),
    (["--dataset", "cifar10", "--epochs", "1", "--dropout", "half"], ["--dropout", "'half'", "not a number"]),
])
def test_bad_train_arguments_exit_2(tmp_path, args, words):
    proc = run_cli("train", *args, "--checkpoint-dir", tmp_path, env={"ALEXNET_DATA": str(tmp_path)})
    one_clear_line(proc, 2, *words)


@pytest.mark.parametrize("command,words", [("bench", ["images per second", "synthetic", "JPEG"]),
                                           ("train", ["recipe", "ALEXNET_DATA", *DATASETS]),
                                           ("evaluate", ["top-5", "ALEXNET_DATA", *DATASETS, "last.pt"])])
def test_each_command_help_has_a_description(command, words):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    for w in words:
        assert w in text, proc.stdout


def test_train_then_evaluate_json(tmp_path):
    ck = tmp_path / "ck"
    proc = run_cli("train", *SMALL, "--epochs", "2", "--checkpoint-dir", ck)
    assert proc.returncode == 0, proc.stderr
    history = json.loads((ck / "history.json").read_text())
    assert len(history) == 2 and history[-1]["train_loss"] < history[0]["train_loss"]
    out = run_cli("evaluate", "--checkpoint", ck / "last.pt", "--dataset", "synthetic", "--json", "--ten-crop")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert 0 <= result["top1_error"] <= 1 and 0 <= result["top5_error"] <= result["top1_error"]
    # the --checkpoint-dir itself: its last.pt
    out = run_cli("evaluate", "--checkpoint", ck, "--dataset", "synthetic", "--json", "--ten-crop")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["top1_error"] == result["top1_error"]
    (tmp_path / "empty").mkdir()
    one_clear_line(run_cli("evaluate", "--checkpoint", tmp_path / "empty", "--dataset", "synthetic"), 2,
                   "empty", "no last.pt")
    # no --dataset: the one the checkpoint records it was trained on
    out = run_cli("evaluate", "--checkpoint", ck, "--json", "--ten-crop")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["dataset"] == "synthetic" and found["top1_error"] == result["top1_error"]
    # --dataset still overrides it (cifar10 is not under this data root: said in one line)
    one_clear_line(run_cli("evaluate", "--checkpoint", ck, "--dataset", "cifar10",
                           env={"ALEXNET_DATA": str(tmp_path)}), 2, "cifar10", "not found")
    # a checkpoint that does not record its dataset, and no --dataset: one line, exit 2
    state = torch.load(ck / "last.pt", weights_only=False)
    del state["config"]["dataset"]
    torch.save(state, tmp_path / "old.pt")
    one_clear_line(run_cli("evaluate", "--checkpoint", tmp_path / "old.pt"), 2, "old.pt", "pass --dataset")
    assert run_cli("evaluate", "--checkpoint", tmp_path / "old.pt", "--dataset", "synthetic").returncode == 0


def test_train_refuses_a_directory_that_holds_a_run_unless_resume_or_overwrite(tmp_path):
    ck = tmp_path / "ck"
    first = run_cli("train", *SMALL, "--epochs", "1", "--checkpoint-dir", ck)
    assert first.returncode == 0 and "done: 1 epoch;" in first.stdout, first.stdout  # one epoch, not "1 epochs"
    before = {p.name: p.read_bytes() for p in ck.iterdir()}
    proc = run_cli("train", *SMALL, "--epochs", "1", "--checkpoint-dir", ck)
    one_clear_line(proc, 2, str(ck), "already holds a run", "--resume", "another --checkpoint-dir", "--overwrite")
    assert {p.name: p.read_bytes() for p in ck.iterdir()} == before  # no file touched, none added
    one_clear_line(run_cli("train", *SMALL, "--epochs", "1", "--checkpoint-dir", ck, "--resume", "--overwrite"), 2,
                   "--overwrite", "--resume")
    assert {p.name: p.read_bytes() for p in ck.iterdir()} == before
    proc = run_cli("train", *SMALL, "--epochs", "1", "--seed", "1", "--checkpoint-dir", ck, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert (ck / "last.pt").read_bytes() != before["last.pt"]  # a new run in its place


def test_checkpoint_errors(tmp_path):
    ck = tmp_path / "ck"
    assert run_cli("train", *SMALL, "--epochs", "1", "--checkpoint-dir", ck).returncode == 0
    # another architecture on resume: refused, checkpoint untouched
    before = (ck / "last.pt").read_bytes()
    proc = run_cli("train", *SMALL, "--epochs", "2", "--checkpoint-dir", ck, "--resume", "--groups", "1")
    one_clear_line(proc, 2, "different")
    assert (ck / "last.pt").read_bytes() == before
    # a corrupt checkpoint: named, not loaded
    bad = tmp_path / "bad.pt"
    bad.write_bytes(before[: len(before) // 3])
    one_clear_line(run_cli("evaluate", "--checkpoint", bad, "--dataset", "synthetic"), 2, "bad.pt", "corrupt")
    one_clear_line(run_cli("evaluate", "--checkpoint", tmp_path / "nothing.pt", "--dataset", "synthetic"), 2,
                   "no checkpoint")


def test_nan_loss_exit_3_keeps_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    proc = run_cli("train", *SMALL, "--epochs", "2", "--checkpoint-dir", ck, "--lr", "1e9", "--save-every", "1")
    one_clear_line(proc, 3, "lower learning rate", "--lr")
    state = torch.load(ck / "last.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


# Another library's warnings (torch 2.5's "Implicitly cleaning up <TemporaryDirectory ...>" ResourceWarning, a
# UserWarning) keep Python's own filters and format; only the package's warnings get the CLI's one-line label.
FOREIGN_WARNINGS = """
import sys, tempfile, warnings
from alexnet import cli
real = cli._evaluate
def noisy(args):
    tempfile.TemporaryDirectory()  # dropped without cleanup: a ResourceWarning, hidden by Python's default filters
    warnings.warn("from another library", UserWarning)
    return real(args)
cli._evaluate = noisy
sys.exit(cli.main(["evaluate", "--checkpoint", sys.argv[1], "--dataset", "synthetic"]))
"""


def test_other_libraries_warnings_are_not_labelled(tmp_path):
    proc = subprocess.run([sys.executable, "-c", FOREIGN_WARNINGS, str(tmp_path / "nothing.pt")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Implicitly cleaning up" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "alexnet: " in ln]
    assert len(lines) == 1 and lines[0].startswith("alexnet: error: no checkpoint"), proc.stderr
    assert "UserWarning: from another library" in proc.stderr, proc.stderr


def test_fallback_to_previous_checkpoint_is_a_labelled_warning(tmp_path):
    ck = tmp_path / "ck"
    assert run_cli("train", *SMALL, "--epochs", "2", "--checkpoint-dir", ck).returncode == 0
    last = ck / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    proc = run_cli("train", *SMALL, "--epochs", "3", "--checkpoint-dir", ck, "--resume")
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if ln.startswith("alexnet: warning: ")]
    assert len(warned) == 1 and "previous checkpoint" in warned[0], proc.stderr
