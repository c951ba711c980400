"""A load generator: concurrent clients over real HTTP with keep-alive (aiohttp), one case each.

Each client starts its own case of the loop model (tests/fixtures/loop.bpmn) and then repeats the step a
caseworker's screen does: complete the open task and learn the next one. A server whose completion answers
with the caller's open tasks (`open_tasks`) needs one request per step; otherwise the client lists the
case's tasks (a second request), as clients of older servers must. A 409 (someone else changed the case at
the same time) is counted and the step retried; anything else that is not a 2xx is counted as an error.

aiohttp rather than httpx: the generator shares the two cores with the server and PostgreSQL, and httpx's
async client costs about 3.5 ms of CPU per request there against about 0.5 ms for aiohttp's C parser, so
with httpx a third of the machine would be measuring the load generator.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class ClientRun:
    case_id: str = ""
    completed: list[str] = field(default_factory=list)  # task ids whose completion answered 200
    latencies: list[float] = field(default_factory=list)  # seconds per step, measured window only
    requests: int = 0
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    clients: int
    seconds: float
    runs: list[ClientRun]

    @property
    def completions(self) -> int:
        return sum(len(r.latencies) for r in self.runs)

    def figures(self) -> dict:
        samples = sorted(s for r in self.runs for s in r.latencies)
        if not samples:
            return {"completions_per_s": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": sum(len(r.errors) for r in self.runs)}
        return {"completions_per_s": len(samples) / self.seconds,
                "p50_ms": statistics.median(samples) * 1000,
                "p99_ms": samples[max(0, int(len(samples) * 0.99) - 1)] * 1000,
                "requests_per_step": sum(r.requests for r in self.runs) / max(1, sum(len(r.completed) for r in self.runs)),
                "conflicts_409": sum(r.conflicts for r in self.runs),
                "errors": sum(len(r.errors) for r in self.runs)}


async def _call(client: aiohttp.ClientSession, method: str, path: str, **kwargs) -> tuple[int, str]:
    async with client.request(method, path, **kwargs) as response:
        return response.status, await response.text()


async def _next_task(client: aiohttp.ClientSession, run: ClientRun) -> str | None:
    run.requests += 1
    status, text = await _call(client, "GET", "/tasks", params={"case_id": run.case_id})
    if status != 200:
        run.errors.append(f"list {status} {text[:200]}")
        return None
    items = [t for t in json.loads(text)["items"] if t["element_id"] == "folj_upp"]
    return items[0]["id"] if items else None


async def _start(client: aiohttp.ClientSession, run: ClientRun) -> str | None:
    status, text = await _call(client, "POST", "/cases", json={"process_key": "uppfoljning", "data": {}})
    if status != 201:
        run.errors.append(f"start {status} {text[:200]}")
        return None
    body = json.loads(text)
    run.case_id = body["id"]
    return body["open_tasks"][0]["id"]


async def _steps(client: aiohttp.ClientSession, run: ClientRun, task_id: str, window: tuple[float, float],
                 data: dict, min_steps: int) -> None:
    warm_until, stop_at = window
    body = json.dumps({"data": data}).encode()
    headers = {"Content-Type": "application/json"}
    while time.perf_counter() < stop_at or len(run.completed) < min_steps:
        began = time.perf_counter()
        run.requests += 1
        try:
            status, text = await _call(client, "POST", f"/tasks/{task_id}/complete", data=body, headers=headers)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            run.errors.append(f"complete {type(exc).__name__}")
            return
        if status == 409:
            run.conflicts += 1
            task_id = await _next_task(client, run)
            continue
        if status != 200:
            run.errors.append(f"complete {status} {text[:200]}")
            return
        run.completed.append(task_id)
        following = json.loads(text).get("open_tasks")
        if following is None:  # a server without the field: a second request
            task_id = await _next_task(client, run)
        else:
            task_id = next((t["id"] for t in following if t["element_id"] == "folj_upp"), None)
        if task_id is None:
            run.errors.append("no open task after a completion")
            return
        if began >= warm_until:
            run.latencies.append(time.perf_counter() - began)


async def _run(base_urls: list[str], tokens: list[str], seconds: float, warmup: float, data: dict,
               min_steps: int, on_started) -> LoadResult:
    runs = [ClientRun() for _ in tokens]
    # One keep-alive connection per client, as one caseworker's screen holds.
    clients = [aiohttp.ClientSession(base_url=base_urls[i % len(base_urls)], headers={"Authorization": f"Bearer {t}"},
                                     connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30))
               for i, t in enumerate(tokens)]
    try:
        # Every client has its case before the clock starts, so the window measures steps only.
        first = await asyncio.gather(*(_start(c, r) for c, r in zip(clients, runs)))
        if on_started is not None:
            on_started()  # e.g. a benchmark's CPU reading: what follows is steps only
        now = time.perf_counter()
        window = (now + warmup, now + warmup + seconds)
        await asyncio.gather(*(_steps(c, r, t, window, data, min_steps)
                               for c, r, t in zip(clients, runs, first) if t is not None))
    finally:
        for client in clients:
            await client.close()
    return LoadResult(len(tokens), seconds, runs)


def run_load(base_urls: list[str], tokens: list[str], seconds: float = 8.0, warmup: float = 1.5,
             data: dict | None = None, min_steps: int = 0, on_started=None) -> LoadResult:
    """One client per token, spread over `base_urls`, completing steps for `warmup` + `seconds` (and at least
    `min_steps` each); only steps begun after the warm-up are timed. `on_started` is called once every client
    has started its case."""
    return asyncio.run(_run(base_urls, tokens, seconds, warmup, data or {"fortsatt": True}, min_steps, on_started))
