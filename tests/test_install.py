"""`pip install .` alone gives a working server: every runtime import is a declared dependency, and the files the
server reads besides its code (migrations/, forms/, processes/) come with the package.

A wheel is built from a copy of this tree and installed into a fresh virtual environment (no system site packages,
no test extra, pip's configured index and cache as `make` uses them, no bytecode compiling); its `samverka migrate`
creates a database from the installed migrations, and its `samverka serve` answers an authenticated read.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
from processes import ROOT, ServeProcess, environment
from scale_out import token

DATA = ("migrations", "forms", "processes")  # installed as <environment>/share/samverka/ (pyproject data-files)


def test_a_plain_pip_install_migrates_and_serves(tmp_path):
    source, venv = tmp_path / "src", tmp_path / "venv"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("engine", "api", *DATA):
        shutil.copytree(ROOT / part, source / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    wheel = next((tmp_path / "dist").glob("samverka-*.whl"))
    installed = subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-compile", str(wheel)],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    share = venv / "share" / "samverka"
    missing = [str(path.relative_to(ROOT)) for part in DATA for path in (ROOT / part).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts and not (share / path.relative_to(ROOT)).is_file()]
    assert not missing, f"not installed (add them to [tool.setuptools.data-files]): {missing}"

    bare = {k: v for k, v in environment("", tmp_path).items() if k != "SAMVERKA_VAR_DIR"}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "from engine.core.settings import DATA, Settings; "
                            "print(DATA); print(Settings().var_dir)"], env=bare, capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
    assert where.stdout.split() == [str(share), "var"], where.stderr  # never under site-packages

    env = environment(f"sqlite:///{tmp_path / 'samverka.db'}", tmp_path / "var")
    migrated = subprocess.run([str(venv / "bin" / "samverka"), "migrate"], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
    assert migrated.returncode == 0 and "created the database" in migrated.stdout, migrated.stderr[-3000:]
    with ServeProcess(env, tmp_path / "serve.log", command=[str(venv / "bin" / "samverka")]) as server:
        answer = httpx.get(f"{server.base_url}/process-definitions", timeout=30,
                           headers={"Authorization": f"Bearer {token('agda', 'processagare')}"})
        assert answer.status_code == 200, answer.text
