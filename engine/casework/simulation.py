"""Simulation: run cases through months of deadlines in seconds, on a sandbox database and a virtual clock.

A script (YAML) starts a case (or several, under `cases:`, each on its own sandbox) and
then, step by step, lets virtual time pass, delivers messages or completes tasks. Whenever time passes the clock jumps from one due timer to the next and the real
timer worker fires them, so what a process owner sees is what production would do.
Nothing here touches a real database: the sandbox is a temporary SQLite file.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from engine.access.identity import Principal
from engine.access.policy import SYSTEM_ROLE
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.bpmn.timer_events import duration_from
from engine.casework import deployments
from engine.casework.cases import CaseService
from engine.casework.tasks import TaskService
from engine.casework.timers import TimerService
from engine.casework.worker import Worker
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory
from engine.core.errors import EngineError, FieldError, InvalidInput
from engine.core.migrate import upgrade
from engine.casework import timeline
from engine.casework.timeline import Timeline
from engine.core.models import ProcessVersion, UserTask

# A simulation runs on its own throwaway database, as an internal actor who may do every step.
SIMULATOR = Principal("simulering", roles=frozenset({SYSTEM_ROLE}), client="simulation")

MAX_JUMPS = 10_000  # timer firings one step may cause before the simulation calls it a runaway loop


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    complete: str | None = Field(None, description="Element id of an open task to complete")
    message: str | None = Field(None, description="A BPMN message to deliver to the case: franvarorapport, "
                                                  "myndighetsutovning, samtycke_aterkallat, ...")
    data: dict = Field(default_factory=dict, description="The task's form data, or the message's payload")
    after: str | None = Field(None, description="ISO duration of virtual time to let pass first")
    wait: str | None = Field(None, description="ISO duration of virtual time to let pass")
    wait_for: str | None = Field(None, description="Let time pass, timer by timer, until this task is open")


class CaseScript(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", description="What the case shows, e.g. 'SIP i tid' or 'sen SIP'")
    start: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    data: dict = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)


class Script(CaseScript):
    process: str | None = None
    cases: list[CaseScript] = Field(default_factory=list, description="Several cases of the process, each "
                                                                       "with its own start and steps")


def load_script(text: str) -> Script:
    """Parse a YAML simulation script; InvalidInput naming the field when it is wrong."""
    try:
        return Script.model_validate(yaml.safe_load(text) or {})
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the script is not valid YAML: {exc}", [FieldError("/", str(exc))]) from None
    except ValidationError as exc:
        errors = [FieldError("/" + "/".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise InvalidInput("the script does not have the expected shape", errors) from None


def _duration(value: str, start: datetime, where: str) -> timedelta:
    try:
        return duration_from(value, start)
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not an ISO 8601 duration such as P30D",
                           [FieldError(where, "not an ISO 8601 duration")]) from None


class Simulation:
    """One case of `process_key`, deployed from `processes` into a throwaway database."""

    def __init__(self, processes: Path, forms_dir: Path, workdir: Path, start: datetime):
        self.clock = ManualClock(start if start.tzinfo else start.replace(tzinfo=timezone.utc))
        url = f"sqlite:///{workdir / 'simulation.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.runner, self.specs, self.forms_dir = Runner(self.clock), SpecCache(), forms_dir
        self.worker = Worker(self.sessions, self.clock, self.runner, self.specs)
        with self.sessions() as session:
            owner = Principal("simulering", roles=frozenset({deployments.DEPLOYER_ROLE}))
            deployments.deploy(session, self.clock, owner, deployments.bundle_files(processes), defaults=forms_dir)
            session.commit()

    def _cases(self, session) -> CaseService:
        return CaseService(session, self.clock, self.runner, self.specs)

    def start(self, process_key: str, data: dict) -> str:
        with self.sessions() as session:
            case = self._cases(session).start(SIMULATOR, process_key, data)
            session.commit()
            return case.id

    def let_time_pass(self, until: datetime) -> None:
        """Jump from due timer to due timer up to `until`, firing each with the real worker."""
        for _ in range(MAX_JUMPS):
            with self.sessions() as session:
                next_at = TimerService(self._cases(session)).next_fire_at()
            if next_at is None or next_at > until:
                break
            self.clock.set(max(next_at, self.clock.now()))
            self.worker.run_until_idle()
        else:
            raise InvalidInput("timers keep firing: the process loops on timers alone", [])
        self.clock.set(max(until, self.clock.now()))

    def wait_for(self, case_id: str, element_id: str, where: str) -> None:
        for _ in range(MAX_JUMPS):
            if self._open_task(case_id, element_id):
                return
            with self.sessions() as session:
                next_at = TimerService(self._cases(session)).next_fire_at()
            if next_at is None:
                raise InvalidInput(f"{where}: no timer left that could open {element_id}",
                                   [FieldError(where, f"{element_id} never opens")])
            self.let_time_pass(max(next_at, self.clock.now()))
        raise InvalidInput(f"{where}: {element_id} did not open", [FieldError(where, "never opens")])

    def _open_task(self, case_id: str, element_id: str) -> UserTask | None:
        with self.sessions() as session:
            return session.scalar(select(UserTask).where(UserTask.case_id == case_id, UserTask.state == "open",
                                                         UserTask.element_id == element_id)
                                  .order_by(UserTask.created_at, UserTask.id))

    def complete(self, case_id: str, element_id: str, data: dict, where: str) -> None:
        task = self._open_task(case_id, element_id)
        if task is None:
            raise InvalidInput(f"{where}: no open task {element_id}", [FieldError(where, "no such open task")])
        with self.sessions() as session:
            TaskService(self._cases(session), self.forms_dir).complete(SIMULATOR, task.id, data)
            session.commit()

    def message(self, case_id: str, name: str, data: dict) -> None:
        """Deliver the message `name` to the case, as the attendance system or a caseworker would."""
        with self.sessions() as session:
            self._cases(session).deliver(SIMULATOR, case_id, name, data, authorized=True)
            session.commit()

    def timeline(self, case_id: str, started: datetime, label: str = "") -> Timeline:
        with self.sessions() as session:
            return timeline.build(session, case_id, started, self.clock.now(), label)


def export_deployed(database_url: str, target: Path) -> bool:
    """Write the newest deployed version of every process (models, forms, templates) into `target`.

    False when the database holds no deployment (or does not exist yet): there is nothing to copy.
    The database is only read (an SQLite file that does not exist is not created)."""
    if database_url.startswith("sqlite") and not Path(database_url.split(":///", 1)[-1]).exists():
        return False
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            versions = list(session.scalars(select(ProcessVersion).order_by(ProcessVersion.key,
                                                                            ProcessVersion.version.desc())))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    newest = {}
    for version in versions:
        newest.setdefault(version.key, version)
    if not newest:
        return False
    (target / "forms" / "templates").mkdir(parents=True, exist_ok=True)
    for version in newest.values():
        for name, text in version.files.items():
            (target / Path(name).name).write_text(text, encoding="utf-8")
        for group, folder in (("forms", target / "forms"), ("templates", target / "forms" / "templates")):
            for name, text in ((version.resources or {}).get(group) or {}).items():
                (folder / Path(name).name).write_text(text, encoding="utf-8")
    return True


def simulate(script: Script, processes: Path | None, forms_dir: Path, process_key: str | None = None,
             database_url: str | None = None) -> Timeline | Timelines:
    """Run `script` against `processes` (default: the models deployed in `database_url`) on a sandbox database."""
    key = process_key or script.process
    if not key:
        raise InvalidInput("which process? give PROCESS_KEY or `process:` in the script",
                           [FieldError("/process", "required")])
    with tempfile.TemporaryDirectory(prefix="samverka-sim-") as workdir:
        if processes is None:
            deployed = Path(workdir) / "deployed"
            deployed.mkdir()
            if not (database_url and export_deployed(database_url, deployed)):
                raise InvalidInput("nothing is deployed to simulate: deploy the models, or give --processes DIR",
                                   [FieldError("/processes", "no deployed models")])
            processes, forms_dir = deployed, deployed / "forms"
        if not script.cases:
            return _run(key, script, processes, forms_dir, Path(workdir), "")
        return Timelines([_run(key, case, processes, forms_dir, Path(workdir) / str(number), f"/cases/{number}")
                          for number, case in enumerate(script.cases)])


def _run(key: str, script: CaseScript, processes: Path, forms_dir: Path, workdir: Path, at: str) -> Timeline:
    """One case on its own sandbox (cases of one script never meet), its steps in order; its timeline."""
    workdir.mkdir(exist_ok=True)
    sim = Simulation(processes, forms_dir, workdir, script.start)
    try:
        case_id = sim.start(key, script.data)
        for number, step in enumerate(script.steps):
            where = f"{at}/steps/{number}"
            try:
                for duration in (step.after, step.wait):
                    if duration:
                        sim.let_time_pass(sim.clock.now() + _duration(duration, sim.clock.now(), where))
                if step.wait_for:
                    sim.wait_for(case_id, step.wait_for, where)
                if step.message:
                    sim.message(case_id, step.message, step.data)
                if step.complete:
                    sim.complete(case_id, step.complete, step.data, where)
            except EngineError as exc:
                if not exc.detail.startswith(where):
                    exc.detail = f"{where}: {exc.detail}"
                raise
        return sim.timeline(case_id, script.start, script.name)
    finally:
        sim.engine.dispose()


@dataclass
class Timelines:
    """The timelines of a script's several cases, one after another."""
    cases: list[Timeline]

    def render(self) -> str:
        return "\n\n".join(f"=== {t.label or f'case {n + 1}'}\n{t.render()}" for n, t in enumerate(self.cases))
