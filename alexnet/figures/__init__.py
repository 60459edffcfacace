"""The plotting layer: every figure the chapters draw, one module per chapter.

Experiments (:mod:`alexnet.experiments`) compute and return data and never import matplotlib; the functions
here take that data and return a matplotlib ``Figure`` or ``Axes``. Figures more than one chapter draws
(training curves, image grids, conv1 kernels) are in :mod:`alexnet.plots`.
"""
