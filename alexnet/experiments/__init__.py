"""The paper's experiments as functions that return data; the chapters call them and plot what they return.

Each module follows one section of the paper. Results that the scorecard reuses are saved through
:func:`alexnet.results.save_result`.
"""
from .ablation import AblationResult, run_ablation

__all__ = ["AblationResult", "run_ablation"]
