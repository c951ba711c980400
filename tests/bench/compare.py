"""Before and after in one run: the throughput benchmark's load against the server of another checkout and
against this one, alternating, on one PostgreSQL (and SQLite), with the same load generator.

    .venv/bin/python tests/bench/compare.py /path/to/other/checkout [--rounds 2] [--seconds 6]
        [--clients 1,8,32] [--backends postgresql,sqlite]

The other checkout's server runs on this checkout's virtual environment (its code first on the path), so
both sides have the same libraries; both databases are migrated by this checkout's migrations (the other must
be at the same head). Prints each round, then a table of medians, before → after.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from conftest import PostgresCluster  # noqa: E402
from load import run_load  # noqa: E402
from processes import ROOT, ServeProcess, environment, tree_cpu_seconds  # noqa: E402

from engine.core.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(TESTS / "bench"))
from test_throughput import deploy_loop, tokens  # noqa: E402


def server_command(tree: Path) -> list[str]:
    """`samverka` from the checkout at `tree`, on this interpreter."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tree)!r}); from api.cli import app; app()"]


def measure(tree: Path, url: str, var: Path, log: Path, clients: list[int], seconds: float, postmaster: int | None,
            label: str) -> dict[int, dict]:
    """Each client count against one server of `tree` on `url`: the load's figures and CPU per step."""
    figures = {}
    env = environment(url, var, SAMVERKA_RATE_LIMIT="1000000/minute")
    with ServeProcess(env, log, command=server_command(tree)) as server:
        deploy_loop(server.base_url)

        def reading() -> tuple[float, float]:
            return tree_cpu_seconds(server.process.pid), tree_cpu_seconds(postmaster) if postmaster else 0.0

        for count in clients:
            before: list[float] = []
            result = run_load([server.base_url], tokens(count, f"{label}-{count}-"), seconds=seconds,
                              on_started=lambda: before.extend(reading()))
            after = reading()
            steps = max(1, sum(len(r.completed) for r in result.runs))
            figures[count] = {**result.figures(), "server_ms": (after[0] - before[0]) * 1000 / steps,
                              "db_ms": (after[1] - before[1]) * 1000 / steps}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout (the baseline)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--backends", default="postgresql,sqlite")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    clients = [int(c) for c in args.clients.split(",")]
    backends = args.backends.split(",")
    cluster = PostgresCluster()
    cluster.start()
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    work = Path(cluster.dir)
    results: dict[tuple, list[dict]] = {}
    try:
        for backend in backends:
            for round_ in range(args.rounds):
                for name, tree in trees.items():
                    if backend == "postgresql":
                        cluster.admin(f"CREATE DATABASE cmp_{name}_{round_}")
                        url = f"postgresql+psycopg://samverka@/cmp_{name}_{round_}?host={cluster.socket}"
                    else:
                        url = f"sqlite:///{work / f'cmp-{name}-{round_}.db'}"
                    upgrade(url)
                    figures = measure(tree, url, work / f"var-{name}", work / f"serve-{name}.log", clients,
                                      args.seconds, postmaster if backend == "postgresql" else None,
                                      f"{name}{round_}")
                    for count, f in figures.items():
                        results.setdefault((backend, count, name), []).append(f)
                        print(backend, count, name, round_, {k: round(v, 1) for k, v in f.items()}, flush=True)
    finally:
        cluster.stop()
    print(f"\n{time.strftime('%Y-%m-%d')}, before = {trees['before']}, after = {trees['after']}")
    print("| database | clients | completions/s | p50 ms | p99 ms | server CPU ms/step | database CPU ms/step |"
          " errors, 409s (after) |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in backends:
        for count in clients:
            before, after = results[(backend, count, "before")], results[(backend, count, "after")]

            def change(key: str, digits: int = 0) -> str:
                return (f"{statistics.median(f[key] for f in before):,.{digits}f} → "
                        f"{statistics.median(f[key] for f in after):,.{digits}f}")

            print(f"| {backend} | {count} | {change('completions_per_s')} | {change('p50_ms')} | {change('p99_ms')} |"
                  f" {change('server_ms', 1)} | {change('db_ms', 1) if backend == 'postgresql' else '–'} |"
                  f" {sum(f['errors'] for f in after)}, {sum(f['conflicts_409'] for f in after)} |")


if __name__ == "__main__":
    main()
