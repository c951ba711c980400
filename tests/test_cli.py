"""The `samverka` command as an operator runs it: migrate says what it did, diagram draws, serve logs."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


ROOT = Path(__file__).resolve().parent.parent


def samverka(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var"), **env}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_migrate_says_whether_it_created_or_found_the_database(tmp_path):
    created = samverka(tmp_path, "migrate")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created the database at revision 0")
    again = samverka(tmp_path, "migrate")
    assert again.stdout.startswith("the database is up to date at revision ") and "created" not in again.stdout
    assert samverka(tmp_path, "migrate", "--quiet").stdout == ""


def test_diagram_without_a_flag_draws_the_picture(tmp_path):
    model = tmp_path / "hlt.bpmn"
    model.write_bytes((ROOT / "processes" / "hlt.bpmn").read_bytes())
    drawn = samverka(tmp_path, "diagram", str(model))
    assert drawn.returncode == 0, drawn.stderr
    assert model.with_suffix(".svg").read_text() == (ROOT / "processes" / "hlt.svg").read_text()
    assert "drawn as" in drawn.stdout


def serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """`samverka serve` on a port it binds itself (port 0), read back from its banner."""
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var"), "SAMVERKA_PORT": "0"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process.banner = process.stdout.readline()  # kept for stop(), which returns the whole output
    found = re.match(r"samverka on (http://127\.0\.0\.1:\d+) ", process.banner)
    assert found and not found.group(1).endswith(":0"), process.banner
    base = found.group(1)
    for _ in range(300):
        try:
            httpx.get(f"{base}/health", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(process.stdout.read())


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    # wait, then read through the same text stream: communicate() would read the pipe beneath it and
    # lose what readline() already buffered (the banner's second line, when both came in one chunk)
    process.wait(timeout=30)
    return process.returncode, process.banner + process.stdout.read()


def test_the_server_logs_json_lines_each_request_with_its_id(tmp_path):
    samverka(tmp_path, "migrate")
    process, base = serve(tmp_path)
    given = httpx.get(f"{base}/health", headers={"X-Request-ID": "proxy-4711"})
    made = httpx.get(f"{base}/cases?status=open")
    code, output = stop(process)
    assert code == 0, output
    assert given.headers["x-request-id"] == "proxy-4711" and len(made.headers["x-request-id"]) == 32
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == len([line for line in output.splitlines() if line.strip()]) - 2  # all but the banner
    requests = [line for line in lines if line["event"] == "request"]
    assert {(r["path"], r["status"], r["request_id"]) for r in requests} >= {
        ("/health", 200, "proxy-4711"), ("/cases", 401, made.headers["x-request-id"])}
    assert all("status=open" not in json.dumps(r) for r in requests), "query strings are never logged"
    assert any(line.get("logger") == "uvicorn.error" for line in lines), "uvicorn's own lines are JSON too"


def test_console_logs_are_readable_lines(tmp_path):
    samverka(tmp_path, "migrate")
    process, base = serve(tmp_path, "--log-format", "console")
    httpx.get(f"{base}/health")
    code, output = stop(process)
    assert code == 0, output
    request = next(line for line in output.splitlines() if " request " in line)
    assert "path=/health" in request and "status=200" in request and not request.startswith("{")


def test_deploy_says_when_there_is_nothing_to_deploy_and_refuses_a_broken_model(tmp_path):
    samverka(tmp_path, "migrate")
    empty = tmp_path / "tom"
    empty.mkdir()
    nothing = samverka(tmp_path, "deploy", str(empty))
    assert nothing.returncode == 0 and nothing.stdout.startswith("nothing to deploy"), nothing.stdout
    broken = tmp_path / "trasig"
    broken.mkdir()
    (broken / "x.bpmn").write_text("<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>")
    refused = samverka(tmp_path, "deploy", str(broken))
    assert refused.returncode == 1 and "x.bpmn" in refused.stderr, refused.stderr
    quiet = samverka(tmp_path, "deploy", "--quiet", str(ROOT / "processes"))
    assert quiet.returncode == 0 and quiet.stdout == ""
    again = samverka(tmp_path, "deploy", str(ROOT / "processes"))
    assert "hlt version 1 (unchanged)" in again.stdout


def test_a_worker_stops_cleanly_on_sigterm(tmp_path):
    samverka(tmp_path, "migrate")
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var")}
    worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--poll", "0.1"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = worker.stdout.readline()  # it has started once it logs
    assert json.loads(first)["event"] == "worker_started", first
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0 and "Traceback" not in output, output


def test_serve_on_sqlite_refuses_more_than_one_worker(tmp_path):
    refused = samverka(tmp_path, "serve", "--port", "0", "--workers", "2")
    assert refused.returncode != 0 and "SQLite has one writer" in refused.stderr, refused.stderr
