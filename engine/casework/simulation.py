"""Simulation: run one case through months of deadlines in seconds, on a sandbox database and a virtual clock.

A script (YAML) starts a case and then, step by step, lets virtual time pass or completes
tasks. Whenever time passes the clock jumps from one due timer to the next and the real
timer worker fires them, so what a process owner sees is what production would do.
Nothing here touches a real database: the sandbox is a temporary SQLite file.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
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
from engine.core.calendar import STOCKHOLM
from engine.core.clock import ManualClock
from engine.core.db import make_engine, make_session_factory
from engine.core.errors import EngineError, FieldError, InvalidInput
from engine.core.migrate import upgrade
from engine.core.models import HistoryEntry, ProcessVersion, UserTask

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


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")
    process: str | None = None
    start: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    data: dict = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)


@dataclass
class Line:
    at: datetime
    event: str
    what: str
    note: str = ""


@dataclass
class Deadline:
    task: str
    due_at: datetime
    done_at: datetime | None
    outcome: str  # met | missed | overdue (still open) | pending


@dataclass
class Timeline:
    case_status: str
    started: datetime
    ended: datetime
    lines: list[Line] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)

    def render(self) -> str:
        """The timeline as text: one line per event, then every deadline met or missed."""
        out = [f"{_local(line.at):%Y-%m-%d %H:%M}  {line.event:<16} {line.what}{'  ' + line.note if line.note else ''}"
               for line in self.lines]
        out.append(f"\ncase {self.case_status} after {(self.ended - self.started).days} days (virtual)")
        out.append("deadlines:")
        for d in self.deadlines:
            when = f"done {_local(d.done_at):%Y-%m-%d}" if d.done_at else "not done"
            out.append(f"  {d.outcome:<8} {d.task}: due {_local(d.due_at):%Y-%m-%d %H:%M}, {when}")
        return "\n".join(out)


def _local(moment: datetime) -> datetime:
    """A moment in Swedish time, as caseworkers read it (stored times are UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(STOCKHOLM)


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

    def timeline(self, case_id: str, started: datetime) -> Timeline:
        with self.sessions() as session:
            case = self._cases(session).load(case_id)
            entries = session.scalars(select(HistoryEntry).where(HistoryEntry.case_id == case_id)
                                      .order_by(HistoryEntry.id))
            tasks = {t.id: t for t in session.scalars(select(UserTask).where(UserTask.case_id == case_id))}
            timeline = Timeline(case.status, started, self.clock.now())
            activity_deadlines: dict[str, Deadline] = {}  # deadlines on subprocesses, done when they complete
            for entry in entries:
                if entry.event == "deadline_missed" and entry.task_id not in tasks:
                    activity_deadlines[entry.element_id] = Deadline(
                        entry.element_name or entry.element_id, datetime.fromisoformat(entry.details["due_at"]),
                        None, "missed")
                if entry.event == "element_completed" and entry.element_id in activity_deadlines:
                    activity_deadlines[entry.element_id].done_at = entry.at
                if entry.event == "element_completed" and entry.element_type not in ("UserTask", "EndEvent"):
                    continue
                note = ""
                task = tasks.get(entry.task_id or "")
                if entry.event == "task_created" and task is not None and task.due_at:
                    note = f"(due {_local(task.due_at):%Y-%m-%d})"
                elif entry.event == "timer_fired" and entry.details:
                    note = f"(due {_local(datetime.fromisoformat(entry.details['due_at'])):%Y-%m-%d})"
                timeline.lines.append(Line(entry.at, entry.event, entry.element_name or entry.element_id or "", note))
            timeline.deadlines += activity_deadlines.values()
            for task in sorted(tasks.values(), key=lambda t: (t.due_at or started, t.id)):
                if task.due_at is None:
                    continue
                done = task.completed_at if task.state == "completed" else None
                if done is not None:
                    outcome = "met" if done <= task.due_at else "missed"
                else:
                    outcome = "overdue" if task.due_at <= self.clock.now() else "pending"
                timeline.deadlines.append(Deadline(task.name, task.due_at, done, outcome))
            return timeline


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
             database_url: str | None = None) -> Timeline:
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
        sim = Simulation(processes, forms_dir, Path(workdir), script.start)
        try:
            case_id = sim.start(key, script.data)
            for number, step in enumerate(script.steps):
                where = f"/steps/{number}"
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
            return sim.timeline(case_id, script.start)
        finally:
            sim.engine.dispose()
