"""Fail unless every module of engine/ and api/ has at least FLOOR % of its lines covered (run after `make test`'s
pytest, which writes the combined data, the samverka subprocesses' included)."""
from __future__ import annotations

import sys

import coverage

FLOOR = 85.0


def main() -> int:
    data = coverage.Coverage()
    data.load()
    low = []
    for path in sorted(data.get_data().measured_files()):
        _, statements, _, missing, _ = data.analysis2(path)
        if statements:
            covered = 100.0 * (len(statements) - len(missing)) / len(statements)
            if covered < FLOOR:
                low.append(f"{covered:5.1f} %  {path}")
    if low:
        print(f"modules under {FLOOR:.0f} % line coverage:", *low, sep="\n  ")
        return 1
    print(f"every module of engine/ and api/ is at {FLOOR:.0f} % line coverage or more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
