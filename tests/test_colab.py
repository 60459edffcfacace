"""Every chapter as a Colab reader runs it: the package installed the way the chapters' setup cell installs it
(pip, from the project, keeping the machine's own torch), no ``../shared/data`` and no checkout in sight, and a
data root holding only what torchvision's downloads would leave there (made locally in their exact layouts:
CI is offline).

The chapters run in the smoke profile with ``ALEXNET_SMOKE_DATA=disk``: smoke's sizes, but datasets and photos
resolved from the disk as quick and full resolve them (see :mod:`alexnet.profiles`). So a chapter that asked for
data a reader cannot get (as the ImageNet sample once was) fails here. Each chapter's banner is checked for the
data it used; the scorecard must show the book's stored results, which travel with the package.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from alexnet.provenance import source_hash
from colab_data import write_cifar_batches, write_imagenette

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "book"))
import tools  # noqa: E402  (book/tools.py: the setup cell's source)


def install_like_the_setup_cell(tmp_path: Path) -> Path:
    """``%pip install "annotated-alexnet @ git+URL"`` keeps Colab's torch: here, the same project installed with
    pip (not editable, no dependencies) into its own folder, from a copy of the files a clone would hold."""
    assert f'"{tools.PACKAGE} @ git+' in tools.setup_source(tools.repository_url())
    assert re.search(rf'^name = "{tools.PACKAGE}"$', (TOP / "pyproject.toml").read_text(), re.M)
    src, site = tmp_path / "src", tmp_path / "site-packages"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(TOP / name, src / name)
    shutil.copytree(TOP / "alexnet", src / "alexnet", ignore=shutil.ignore_patterns("__pycache__"))
    try:  # the local build backend, if it is new enough; else pip fetches one, as Colab's pip does
        import setuptools
        isolation = [] if int(setuptools.__version__.split(".")[0]) < 77 else ["--no-build-isolation"]
    except ImportError:
        isolation = []
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation, "--target", str(site),
                    str(src)], check=True, capture_output=True, text=True, env=dict(os.environ, PIP_NO_INPUT="1"))
    return site


def colab_env(tmp_path: Path, site: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALEXNET_") and k not in ("PYTHONPATH", "XDG_CACHE_HOME")}
    for d in ("home", "tmp"):
        (tmp_path / d).mkdir()
    return dict(env, PYTHONPATH=str(site), HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"),
                MPLCONFIGDIR=str(tmp_path / "home" / "mpl"), ALEXNET_PROFILE="smoke", ALEXNET_SMOKE_DATA="disk",
                ALEXNET_OFFLINE="1", ALEXNET_STATIC="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"))


def banner_of(notebook: Path) -> str:
    for cell in json.loads(notebook.read_text())["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if "profile=" in text:
                return next(line for line in text.splitlines() if "profile=" in line)
    return ""


def test_every_chapter_runs_as_on_colab(tmp_path):
    t0 = time.perf_counter()
    site = install_like_the_setup_cell(tmp_path)
    content = tmp_path / "content"  # Colab's working folder; the data root is ./data there
    data = content / "data"
    data.mkdir(parents=True)
    write_cifar_batches(data, per_batch=40)
    write_imagenette(data, {"train": 1, "val": 3})
    chapters = sorted((TOP / "book").glob("*.ipynb"))
    for nb in chapters:
        shutil.copy(nb, content / nb.name)
    (content / "pytest.ini").write_text("[pytest]\n")
    env = colab_env(tmp_path, site)
    where = subprocess.run([sys.executable, "-c", "import alexnet, alexnet.data as d; "
                            "from alexnet.provenance import source_hash; "
                            "print(alexnet.__file__, d.repo_root(), d.data_root(), source_hash())"],
                           cwd=content, env=env, capture_output=True, text=True, check=True).stdout.split()
    # the installed copy is the checkout's code: the book's results made by it count as this code's on Colab
    assert where == [str(site / "alexnet" / "__init__.py"), "None", str(data), source_hash()], where
    setup_s = time.perf_counter() - t0

    report = tmp_path / "junit.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", "--nbmake-timeout=600", "--overwrite",
                           "-p", "no:cacheprovider", "-c", str(content / "pytest.ini"), "--rootdir", str(content),
                           f"--junitxml={report}", "-q", *[nb.name for nb in chapters]],
                          cwd=content, env=env, capture_output=True, text=True, timeout=1800)
    cases = {Path(c.get("name", "")).name or c.get("classname"): c for c in ET.parse(report).iter("testcase")}
    rows = []
    for nb in chapters:
        case = next((c for name, c in cases.items() if nb.name in name or nb.stem in name), None)
        ok = case is not None and not list(case)
        rows.append((nb.stem, "ok" if ok else "FAILED", float(case.get("time", 0)) if case is not None else 0.0,
                     banner_of(content / nb.name)))
    print(f"\nColab-like run (install and data: {setup_s:.0f} s)")
    for stem, status, seconds, banner in rows:
        print(f"{stem:<22}{status:<8}{seconds:>6.0f} s   {banner.split(' · ', 2)[-1] if banner else '(no banner)'}")
    assert proc.returncode == 0, proc.stdout[-6000:]
    for stem, _, _, banner in rows:
        assert "photos=imagenette val, 30 images" in banner, (stem, banner)
        assert "dataset=cifar10" in banner or stem == "appendix_performance", (stem, banner)  # it names its own
    scorecard = json.dumps(json.loads((content / "07_scorecard.ipynb").read_text())["cells"])
    shipped = sorted(p.stem for p in (site / "alexnet" / "stored_results").glob("*.json"))
    assert shipped == sorted(p.stem for p in (TOP / "alexnet" / "stored_results").glob("*.json"))
    listed = re.search(r"(\d+) saved results: ([^\"]*)", scorecard)  # the book's, then yours/ from this run
    assert listed and int(listed.group(1)) >= len(shipped), scorecard[:2000]
    assert set(shipped) <= set(listed.group(2).replace("\\n", "").split(", ")), listed.group(2)
