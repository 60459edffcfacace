"""Serve MathJax from the built book, so equations render offline (no CDN).

MathJax 3 comes from the ``django-static-mathjax`` package on PyPI (a plain copy of MathJax's ``es5`` build; the
package's Python part is empty and Django is not needed). After the HTML build, its ``tex-mml-chtml`` bundle and
the components it loads on demand (TeX extensions, CHTML fonts, the accessibility menu) are copied to
``_static/mathjax/``, and ``mathjax_path`` points there (Sphinx reads a relative path as one under ``_static``).
"""
from __future__ import annotations

import shutil
from pathlib import Path

ENTRY = "tex-mml-chtml.js"
FOLDER = "mathjax"  # under _static


def mathjax_es5() -> Path:
    """The folder of MathJax's ``es5`` build that the package installs."""
    import mathjax  # django-static-mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / ENTRY).is_file():
        raise FileNotFoundError(f"{es5 / ENTRY} is missing: pip install django-static-mathjax")
    return es5


def _only_what_tex_mml_chtml_loads(folder: str, names: list[str]) -> list[str]:
    here = Path(folder)
    if here.name == "es5":  # the other bundles (SVG output, MathML-only, ...) are never loaded
        return [n for n in names if n.endswith(".js") and n != ENTRY]
    if here.name == "output":
        return [n for n in names if n != "chtml" and n != "chtml.js"]
    return []


def _set_path(app, config) -> None:
    config.mathjax_path = f"{FOLDER}/{ENTRY}"


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(mathjax_es5(), Path(app.outdir) / "_static" / FOLDER, dirs_exist_ok=True,
                        ignore=_only_what_tex_mml_chtml_loads)


def setup(app):
    mathjax_es5()  # fail at the start of the build, not after it, if the package is missing
    app.connect("config-inited", _set_path)
    app.connect("build-finished", _copy)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
