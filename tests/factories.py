"""Plain factory functions the tests share: deploy fixtures, start cases, find tasks."""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
OWNER = ("processagare",)


def deploy_files(client: httpx.Client, *names: str, overrides: dict[str, bytes] | None = None) -> httpx.Response:
    """POST fixture files (or the given contents under those names) to /process-definitions."""
    files = [("files", (name, (overrides or {}).get(name) or (FIXTURES / name).read_bytes(), "application/xml"))
             for name in names]
    return client.post("/process-definitions", files=files)


def deployed(server, *names: str) -> None:
    """Deploy fixtures as a process owner, asserting success."""
    with server.client("agda", *OWNER) as owner:
        response = deploy_files(owner, *names)
        assert response.status_code == 201, response.text


SKOLA = "Skolan i Höör"  # the school of the tests' pupils


def start_case(client: httpx.Client, process_key: str, **data) -> dict:
    response = client.post("/cases", json={"process_key": process_key, "data": data})
    assert response.status_code == 201, response.text
    return response.json()


def sign_in(*clients: httpx.Client) -> list[str]:
    """Make each client's person known to the directory (as any request would); their person ids."""
    ids = []
    for client in clients:
        response = client.get("/me")
        assert response.status_code == 200, response.text
        ids.append(response.json()["person_id"])
    return ids


def join(client: httpx.Client, case_id: str, user: str, agency: str, role: str) -> None:
    """As a participant of the case, give `user` of `agency` (known to the directory) the role `role` in it."""
    response = client.post(f"/cases/{case_id}/participants", json={"user": user, "agency": agency, "role": role})
    assert response.status_code == 201, response.text


def open_task(client: httpx.Client, case_id: str, element_id: str) -> dict:
    """The one open task of `case_id` at `element_id`."""
    tasks = [t for t in client.get("/cases/" + case_id).json()["open_tasks"] if t["element_id"] == element_id]
    assert len(tasks) == 1, tasks
    return tasks[0]


def complete(client: httpx.Client, task_id: str, **data) -> httpx.Response:
    return client.post(f"/tasks/{task_id}/complete", json={"data": data})


def do(client: httpx.Client, case_id: str, element_id: str, data: dict, status: int = 200) -> dict:
    """Complete the open task at `element_id` with `data`, expecting `status`."""
    task = open_task(client, case_id, element_id)
    response = client.post(f"/tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == status, response.text
    return response.json()


def events(client: httpx.Client, case_id: str) -> list[tuple[str, str | None]]:
    """(event, element id) of every history row of the case, in order."""
    return [(e["event"], e["element_id"]) for e in client.get(f"/cases/{case_id}/history").json()["items"]]


def open_elements(client: httpx.Client, case_id: str) -> list[str]:
    return sorted(t["element_id"] for t in client.get(f"/cases/{case_id}").json()["open_tasks"])


def database_bytes(db_url: str) -> bytes:
    """Every byte the database holds: the SQLite files, or a pg_dump."""
    if db_url.startswith("sqlite"):
        path = db_url.removeprefix("sqlite:///")
        return b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
    from conftest import _pg_bin  # conftest imports nothing from here, but pytest loads it first
    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run([_pg_bin("pg_dump"), "--dbname", url], check=True, capture_output=True).stdout


def open_long_polls(server, client: httpx.Client, after: str, count: int = 4) -> tuple[list, list[threading.Thread]]:
    """`count` long-polls (20 s) on /events after `after`, each on a thread of its own, returned once the server
    holds them all (at most 10 s); the answers (as they come) and the threads."""
    answers: list = []
    polls = [threading.Thread(target=lambda: answers.append(
        client.get("/events", params={"after": after, "wait": 20}, timeout=60))) for _ in range(count)]
    for poll in polls:
        poll.start()
    waiting, deadline = server.app.state.feed_waits, time.monotonic() + 10
    while sum(waiting.values()) < count:  # until the server holds every one (each answers only on an event)
        assert time.monotonic() < deadline, f"waiting at once: {waiting}"
        threading.Event().wait(0.02)
    return answers, polls
