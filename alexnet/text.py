"""Small helpers for the package's messages."""
from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in the number ``n`` needs: ``plural(1, "epoch")`` is ``"1 epoch"``, ``plural(3, "epoch")``
    ``"3 epochs"``, ``plural(2, "class", "classes")`` ``"2 classes"``. Integers get thousands separators
    (``"5,000 images"``)."""
    form = word if n == 1 else (many or word + "s")
    return f"{n:,} {form}" if isinstance(n, int) else f"{n} {form}"
