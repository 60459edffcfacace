import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from alexnet.interactive import explore, static_explorer_html  # noqa: E402


def _render(a, kind="x"):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title(f"{kind} {a}")
    return fig


def test_live_explorer_returns_nothing_displayable(capsys):
    # A notebook prints a cell's last value: explore(...) must give None, not ipywidgets' ``draw`` function.
    assert explore(_render, {"a": [1, 2, 3], "kind": ["x", "y"]}, live=True) is None
    assert explore(_render, {"a": [1, 2]}, live=False) is None
    assert "<function" not in capsys.readouterr().out


def test_static_explorer_has_one_frame_per_combination():
    html = static_explorer_html(_render, {"a": [1, 2, 3], "kind": ["x", "y"]})
    assert "6 precomputed frames" in html and html.count('type="range"') == 2
