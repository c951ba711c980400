"""Walking JSON-shaped data: every string in it, keys included, with where it sits."""
from __future__ import annotations

from typing import Iterator


def strings(data, location: str) -> Iterator[tuple[str, str]]:
    """(JSON pointer, string) of every string value and key in `data`; a key is reported at its object."""
    stack = [(location, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack += [(f"{where}/{k}", v) for k, v in value.items()] + [(where, k) for k in value]
        elif isinstance(value, list):
            stack += [(f"{where}/{i}", v) for i, v in enumerate(value)]
        elif isinstance(value, str):
            yield where, value
