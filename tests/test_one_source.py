"""The paper's numbers are typed once, in alexnet/paper.py: no other module and no chapter's code may type them.

The scan reads every .py under alexnet/ (except paper.py) and the code cells of every chapter, parses them, and
looks for the main numbers of the paper as code, not as prose: docstrings and comments may quote the paper
(they are where the reader finds its words), literals in code may not. Each pattern is narrow enough that ordinary
code (a learning rate of 0.003, a bias of 0.1, a list of dropout rates to explore) does not match it; see
``CHECKS``. A failure names the file, the line and the number, and says what to import instead.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# values that are the paper's wherever they appear as a number in code (not 0.004 or 0.0005: learning-rate grids
# and step times hold them; the weight decay counts beside its name below, the pooling benefit as a typed string)
NUMBERS = {
    0.375: "the headline top-1 error: paper.RESULTS", 37.5: "the headline top-1 error: paper.RESULTS",
    0.183: "the one-crop top-5 error: paper.RESULTS", 18.3: "the one-crop top-5 error: paper.RESULTS",
    0.407: "the ILSVRC-2012 top-1 error: paper.RESULTS", 40.7: "the ILSVRC-2012 top-1 error: paper.RESULTS",
    0.017: "the two-tower benefit: paper.TOWERS_BENEFIT", 0.014: "the LRN benefit: paper.LRN_BENEFIT",
    0.012: "a top-5 benefit: paper.*_BENEFIT",
    0.015: "the ten-crop benefit: paper.TEN_CROP_BENEFIT", 0.013: "the ten-crop benefit: paper.TEN_CROP_BENEFIT",
    60_965_224: "the parameter count: paper.PARAMETERS",
    1_200_000: "the training-set size: paper.TRAIN_IMAGES_ROUGHLY", 150_000: "the test-set size: paper",
    2048: "the augmentation factor: paper.AUGMENTATION_FACTOR",
}
# values that are the paper's when they are given to a parameter of this name (a call's keyword or a default)
NAMED = {
    ("std", 0.1): "PCA lighting's σ: paper.PCA_STD", ("pca_std", 0.1): "PCA lighting's σ: paper.PCA_STD",
    ("p", 0.5): "the dropout rate: paper.DROPOUT_P", ("dropout", 0.5): "the dropout rate: paper.DROPOUT_P",
    ("momentum", 0.9): "the momentum: paper.MOMENTUM", ("weight_decay", 5e-4): "the weight decay",
    ("threshold", 0.25): "Fig. 1's threshold: paper.FIG1_THRESHOLD", ("ratio", 6.0): "Fig. 1's ×6: paper.FIG1_RATIO",
    ("paper", 6.0): "Fig. 1's ×6: paper.FIG1_RATIO",
    ("paper_ratio", 6.0): "Fig. 1's ×6: paper.FIG1_RATIO",
    ("paper", 2.0): "dropout's ×2: paper.DROPOUT_ITERATIONS_RATIO",
    ("epochs", 90): "the paper's epochs: paper.EPOCHS", ("alpha", 1e-4): "LRN's α: paper.LRN",
    ("beta", 0.75): "LRN's β: paper.LRN",
}
# numbers that are the paper's when they stand together on one line of code (a tuple, a call, a table row)
TOGETHER = [
    ({1e-4, 0.75}, "the LRN constants (α, β): paper.LRN"),
    ({17.0, 37.5}, "the headline errors: paper.RESULTS"), ({0.17, 0.375}, "the headline errors: paper.RESULTS"),
    ({39.0, 18.3}, "the one-crop errors: paper.RESULTS"), ({0.39, 0.183}, "the one-crop errors: paper.RESULTS"),
    ({1.7, 1.4}, "the ablation deltas: paper.*_BENEFIT"),
    ({6.0, 0.25}, "Figure 1's ratio and threshold: paper.FIG1_RATIO, paper.FIG1_THRESHOLD"),
    ({3, 90}, "the schedule (3 drops in 90 epochs): paper.LR_DROPS, paper.EPOCHS"),
]
# the paper's numbers inside strings of code (a table cell typed by hand, a label), not in docstrings
STRINGS = [
    (re.compile(r"37\.5\s*/\s*17\.0|39\.0\s*/\s*18\.3|40\.7\s*/\s*18\.2"), "the paper's errors: paper.RESULTS"),
    (re.compile(r"[−-]\s?1\.[47]\s*/\s*[−-]\s?1\.2|[−-]\s?0\.4\s*/\s*[−-]\s?0\.3"),
     "an ablation delta: paper.CLAIMS"),
    (re.compile(r"(^|[^\d.×])6\s?×(?!\s?\d)|≈\s?2×|~\s?2×|\b1\.5%\s*/\s*\+?1\.3%"),
     "a claimed ratio or gain: paper.CLAIMS"),
    (re.compile(r"N\(0,\s*0\.1\)|0\.0005\s*ε|3 (times|drops) in ~?90"), "a recipe number: alexnet.paper"),
]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def scan(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every paper number typed in ``source`` (Python)."""
    tree = ast.parse(source)
    docs, hits, by_line = _docstrings(tree), [], {}
    for node in ast.walk(tree):
        value = _number(node) if isinstance(node, ast.Constant) else None  # a minus sign is a UnaryOp around it
        if value is not None:
            by_line.setdefault(node.lineno, set()).add(value)
            for number, what in NUMBERS.items():
                if _close(value, number):
                    hits.append((node.lineno, f"{value!r} ({what})"))
        pairs = []
        if isinstance(node, ast.keyword) and node.arg:
            pairs.append((node.arg, node.value))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args.posonlyargs + node.args.args
            pairs += list(zip([a.arg for a in args[len(args) - len(node.args.defaults):]], node.args.defaults))
            pairs += [(a.arg, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
        if isinstance(node, ast.Assign):
            pairs += [(t.id.lower(), node.value) for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.Dict):
            pairs += [(k.value, v) for k, v in zip(node.keys, node.values)
                      if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        for name, default in pairs:
            v = _number(default)
            for (key, number), what in NAMED.items():
                if v is not None and name == key and _close(v, number):
                    hits.append((default.lineno, f"{name}={v!r} ({what})"))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):  # α's σ times the eigenvalues
            inside = list(ast.walk(node))
            if any(_number(n) == 0.1 for n in inside if isinstance(n, ast.Constant)) and any(
                    isinstance(n, (ast.Attribute, ast.Name)) and "eigval" in getattr(n, "attr", getattr(n, "id", ""))
                    for n in inside):
                hits.append((node.lineno, "0.1 × eigenvalues (PCA lighting's σ: paper.PCA_STD)"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for pattern, what in STRINGS:
                if pattern.search(node.value):
                    hits.append((node.lineno, f"{node.value[:40]!r} ({what})"))
    for line, values in by_line.items():
        for group, what in TOGETHER:
            if all(any(type(v) is type(g) and _close(v, g) for v in values) for g in group):
                hits.append((line, f"{sorted(group)} ({what})"))
    return sorted(set(hits))


def _code_cells(notebook: Path):
    for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            # IPython magics and shell lines are not Python: blank them, keeping the line numbers
            yield i, "\n".join(ln[:len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!")) else ln
                                for ln in lines)


def sources() -> list[tuple[str, str]]:
    out = [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted((ROOT / "alexnet").rglob("*.py"))
           if p.name != "paper.py"]
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        out += [(f"{nb.relative_to(ROOT)} cell {i}", src) for i, src in _code_cells(nb)]
    return out


def test_the_scan_finds_typed_paper_numbers_and_passes_innocent_code():
    bad = '''
lrn = LocalResponseNorm(5, 1e-4, 0.75, 2.0)
rows = [("LRN", "−1.4 / −1.2", ours)]
paper = {"top1": 0.375, "top5": 0.17}
aug = BatchAugment(stats, 28, pca_std=0.1)
def f(h, p=0.5, threshold=0.25): return h
ratio = 6.0
delta = 0.014
shift = 255 * 0.1 * st.eigvals
'''
    found = scan(bad)
    assert {line for line, _ in found} == {2, 3, 4, 5, 6, 7, 8, 9}
    innocent = '''
"""The paper: 37.5% top-1 and 17.0% top-5, "six times faster", N(0, 0.1), and -1.4 / -1.2."""
def g(x, bias=0.1, lr=0.003, rates=(0.0, 0.25, 0.5, 0.75), std=0.01):
    """Docstrings may quote the paper: dropout 0.5, 6× faster, 1e-4 and 0.75."""
    stds = (1e-4, 1e-2, 1e-2, 1e-2)  # a config's initial weights
    return x * 0.5 + 17.0 + 6 + 0.25
'''
    assert scan(innocent) == []


def test_no_paper_number_is_typed_outside_paper_py():
    hits = [f"{where}, line {line}: {what}" for where, src in sources() for line, what in scan(src)]
    assert not hits, "paper numbers typed outside alexnet/paper.py (import them from alexnet.paper):\n" + \
        "\n".join(hits)


@pytest.mark.parametrize("name", ["37.5", "0.014", "6.0"])
def test_paper_py_itself_holds_them(name):
    assert name in (ROOT / "alexnet" / "paper.py").read_text()


def test_experiments_return_data_and_never_draw():
    """The plotting layer is alexnet/figures (and alexnet/plots.py): nothing under alexnet/experiments imports
    matplotlib."""
    drawing = []
    for path in sorted((ROOT / "alexnet" / "experiments").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            drawing += [f"{path.relative_to(ROOT)}, line {node.lineno}" for n in names if n.startswith("matplotlib")]
    assert not drawing, "experiments that import matplotlib (move the figure to alexnet/figures):\n" + \
        "\n".join(drawing)
