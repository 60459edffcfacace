"""Controls that work with and without a kernel.

:func:`explore` takes a function that draws a matplotlib figure from keyword parameters, and a list of values
per parameter. It always shows a *static* explorer: every frame is rendered now, embedded as a PNG, and a few
lines of plain JavaScript swap them as the reader moves the sliders, so the control works in the rendered book
with no Python behind it. In a live kernel it also shows an ``ipywidgets`` version that recomputes on demand
(set ``ALEXNET_STATIC=1``, as the book's build does, to leave the live one out of stored outputs).

When all combinations of values are few (``max_frames``) every combination is rendered; otherwise each slider
varies alone from the defaults and moving one resets the others.
"""
from __future__ import annotations

import base64
import io
import itertools
import json
import os
import uuid
from typing import Callable, Sequence

import matplotlib.pyplot as plt


def _png(fig, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def static_explorer_html(render: Callable[..., "plt.Figure"], controls: dict[str, Sequence],
                         defaults: dict | None = None, *, max_frames: int = 40, dpi: int = 72,
                         title: str = "") -> str:
    """The HTML (images + sliders + inline script) of a static explorer; see :func:`explore`."""
    names = list(controls)
    values = {k: list(v) for k, v in controls.items()}
    defaults = {k: (defaults or {}).get(k, values[k][len(values[k]) // 2]) for k in names}
    default_idx = [values[k].index(defaults[k]) for k in names]
    combos = list(itertools.product(*(range(len(values[k])) for k in names)))
    full = len(combos) <= max_frames
    if not full:
        combos = sorted({tuple(default_idx[:i] + [j] + default_idx[i + 1:])
                         for i, k in enumerate(names) for j in range(len(values[k]))})
    frames = {"_".join(map(str, c)): _png(render(**{k: values[k][i] for k, i in zip(names, c)}), dpi)
              for c in combos}
    uid = "ax" + uuid.uuid4().hex[:10]
    rows = "".join(
        f'<label style="display:block;margin:2px 0">{k} = <span id="{uid}-v{i}">{_label(defaults[k])}</span><br>'
        f'<input type="range" min="0" max="{len(values[k]) - 1}" value="{default_idx[i]}" step="1" '
        f'data-i="{i}" class="{uid}-s" style="width:260px"></label>'
        for i, k in enumerate(names))
    labels = json.dumps([[_label(v) for v in values[k]] for k in names])
    first = frames["_".join(map(str, default_idx))]
    note = "" if full else " (one slider at a time)"
    return f"""<div class="alexnet-explorer" id="{uid}" style="border:1px solid #ddd;padding:8px;border-radius:6px">
<div style="font-size:90%;color:#555">{title} <i>static explorer: {len(frames)} precomputed frames{note}; runs without Python</i></div>
{rows}<img id="{uid}-img" class="alexnet-explorer-frame" style="max-width:100%" src="data:image/png;base64,{first}">
<script>(function(){{var F={json.dumps(frames)};var L={labels};var full={str(full).lower()};var d={json.dumps(default_idx)};
var s=document.querySelectorAll(".{uid}-s");function show(src){{var idx=[];s.forEach(function(e,i){{
if(!full&&e!==src){{e.value=d[i];}}idx.push(e.value);document.getElementById("{uid}-v"+i).textContent=L[i][e.value];}});
var k=idx.join("_");if(F[k]){{document.getElementById("{uid}-img").src="data:image/png;base64,"+F[k];}}}}
s.forEach(function(e){{e.addEventListener("input",function(){{show(e);}});}});}})();</script></div>"""


def explore(render: Callable[..., "plt.Figure"], controls: dict[str, Sequence], defaults: dict | None = None, *,
            max_frames: int = 40, dpi: int = 72, title: str = "", live: bool | None = None):
    """Show a static (JavaScript) explorer of ``render(**params)`` and, in a live kernel, an ipywidgets one.

    ``render`` must return a matplotlib Figure; ``controls`` maps each parameter to the values it may take.
    Returns None, so that a cell ending in ``explore(...)`` shows only the explorers.
    """
    from IPython.display import HTML, display

    display(HTML(static_explorer_html(render, controls, defaults, max_frames=max_frames, dpi=dpi, title=title)))
    if live is None:
        live = os.environ.get("ALEXNET_STATIC", "") in ("", "0")
    if not live:
        return None
    import ipywidgets as widgets

    def draw(**params):
        fig = render(**params)
        plt.show(fig)

    kwargs = {}
    for k, v in controls.items():
        v = list(v)
        default = (defaults or {}).get(k, v[len(v) // 2])
        kwargs[k] = (widgets.Dropdown(options=v, value=default, description=k) if isinstance(v[0], str)
                     else widgets.SelectionSlider(options=v, value=default, description=k, continuous_update=False))
    widgets.interact(draw, **kwargs)  # returns ``draw``: not returned, or a notebook would print its repr
