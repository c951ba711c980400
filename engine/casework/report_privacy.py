"""Small-cell suppression for reports: a count below the threshold shows as "<5", and so do enough others
that no sum printed beside it gives it back (complementary suppression).

The report's cells are tied by sums: a row's total is its parts (n = met + missed), a period's "alla" is
the sum of its units, the whole span is the sum of its periods. For each such sum with exactly one hidden
cell, the hidden value would follow by subtraction, so the smallest other cell of that sum is hidden too,
until no sum has a single hidden cell. A complement reads "x" (it may be any size); only a small cell reads "<5". With two or more unknowns in every sum, no single equation gives a
hidden cell back; the classic pattern (a hidden 2x2 block inside a table with margins) is what it forms.
"""
from __future__ import annotations

from typing import Hashable

Cell = Hashable


def small(value: int, threshold: int) -> bool:
    """A count that could point at a child: at least one, below the threshold (zero points at nobody)."""
    return 0 < value < threshold


def suppress(values: dict[Cell, int], sums: list[tuple[Cell, list[Cell]]], threshold: int) -> set[Cell]:
    """The cells to hide: the small ones, and the complements the sums (`total = sum(parts)`) require."""
    hidden = {cell for cell, value in values.items() if small(value, threshold)}
    equations = [[total, *parts] for total, parts in sums if total in values and all(p in values for p in parts)]
    changed = True
    while changed:
        changed = False
        for cells in equations:
            shown = [c for c in cells if c not in hidden]
            if len(cells) - len(shown) == 1 and shown:
                # hide the smallest other cell that is not zero (a zero next to a known total tells nothing
                # hidden: it follows from the others being non-negative), a part before the total
                hidden.add(min(shown, key=lambda c: (values[c] == 0, values[c], cells.index(c) == 0, str(c))))
                changed = True
    return hidden


COMPLEMENT = "x"  # a cell hidden only so that no sum gives a small one back: it may be any size


def shown(value: int, hidden: bool, threshold: int) -> int | str:
    """The value as printed: the count; "<5" for a small one; "x" for a complement hidden to protect one."""
    if not hidden:
        return value
    return f"<{threshold}" if value < threshold else COMPLEMENT
