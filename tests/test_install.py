"""`pip install .` alone gives a working server: every runtime import is a declared dependency.

A fresh virtual environment (no system site packages, no test extra) gets the package built from a copy of
this tree, with pip's configured index and cache as `make` uses them; its `samverka serve` answers /health
and an authenticated read, and its `samverka worker --once` runs. Bounded: each step has a timeout
(the install takes about a minute on two shared cores, most of it pip).
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
from processes import ROOT, ServeProcess, environment
from scale_out import token


def test_a_plain_pip_install_serves(sqlite_template, tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("engine", "api"):
        shutil.copytree(ROOT / part, source / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], capture_output=True,
                               text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import api, httpx; print(api.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stderr
    database = tmp_path / "samverka.db"
    shutil.copy(sqlite_template, database)
    env = environment(f"sqlite:///{database}", tmp_path / "var")
    with ServeProcess(env, tmp_path / "serve.log", command=[str(venv / "bin" / "samverka")]) as server:
        answer = httpx.get(f"{server.base_url}/process-definitions", timeout=30,
                           headers={"Authorization": f"Bearer {token('agda', 'processagare')}"})
        assert answer.status_code == 200, answer.text
    once = subprocess.run([str(venv / "bin" / "samverka"), "worker", "--once"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert once.returncode == 0, once.stderr[-3000:]
