"""A simulated case's timeline: every step in Swedish time, then every deadline met or missed and what it counts from.

Each deadline is shown with its start event: the data its timer counts from (the model's
timeDate expression, engine.bpmn.deadline_starts) and the step that set that data — the
aktualisering, the last SDQ, the plan — or, for a deadline set when its task opened
(`add_school_days(today(), …)`), the step that opened it, such as an absence report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from engine.bpmn.deadline_starts import TODAY, DeadlineStart, deadline_starts
from engine.core.calendar import STOCKHOLM
from engine.core.clock import as_utc
from engine.core.models import Case, HistoryEntry, ProcessVersion, UserTask
from engine.core.words import word

_OPENERS = ("message_received", "task_completed", "timer_fired", "case_started")


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
    outcome: str  # met | missed | overdue (still open) | pending | cancelled (its work ended first)
    counts_from: list[str] = field(default_factory=list)  # its start events, in words


@dataclass
class Timeline:
    case_status: str
    started: datetime
    ended: datetime
    lines: list[Line] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    label: str = ""  # the case's name in a script of several cases
    utfall: str = ""  # the outcome the case's end recorded

    def render(self) -> str:
        """The timeline as text: one line per event, then every deadline met or missed and its start."""
        out = [f"{local(line.at):%Y-%m-%d %H:%M}  {line.event:<16} {line.what}{'  ' + line.note if line.note else ''}"
               for line in self.lines]
        outcome = f" ({word(self.utfall)})" if self.utfall else ""
        out.append(f"\ncase {self.case_status}{outcome} after {(self.ended - self.started).days} days (virtual)")
        out.append("deadlines:")
        for d in self.deadlines:
            when = f"done {local(d.done_at):%Y-%m-%d}" if d.done_at else "not done"
            out.append(f"  {d.outcome:<8} {d.task}: due {local(d.due_at):%Y-%m-%d %H:%M}, {when}")
            out += [f"             from {start}" for start in d.counts_from]
        return "\n".join(out)


def local(moment: datetime) -> datetime:
    """A moment in Swedish time, as caseworkers read it (stored times are UTC)."""
    return as_utc(moment).astimezone(STOCKHOLM)


def _shown(value) -> str:
    return local(value).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)


def _start(start: DeadlineStart, entries: list[HistoryEntry], before: int) -> str | None:
    """The step before history row `before` that set what `start` counts from, in words."""
    earlier = [e for e in entries if e.id < before]
    if start.name == TODAY:
        opener = next((e for e in reversed(earlier) if e.event in _OPENERS), None)
        return opener and f"the step that opened it: {opener.element_name or opener.element_id} " \
                          f"{local(opener.at):%Y-%m-%d}"
    for entry in reversed(earlier):
        changed = (entry.data_changes or {}).get("set", {})
        if start.name in changed:
            value = changed[start.name]
            if start.key is not None:
                value = value.get(start.key) if isinstance(value, dict) else None
            if value is None:
                continue
            return f"{start.label} {_shown(value)}, set by {entry.element_name or entry.element_id} " \
                   f"{local(entry.at):%Y-%m-%d}"
    return None


def build(session, case_id: str, started: datetime, now: datetime, label: str = "") -> Timeline:
    """The timeline of one case as its history and tasks show it at `now`."""
    case = session.get(Case, case_id)
    version = session.get(ProcessVersion, case.process_version_id)
    starts = deadline_starts(version.files) if version is not None else {}
    entries = list(session.scalars(select(HistoryEntry).where(HistoryEntry.case_id == case_id)
                                   .order_by(HistoryEntry.id)))
    tasks = {t.id: t for t in session.scalars(select(UserTask).where(UserTask.case_id == case_id))}
    created = {e.task_id: e.id for e in entries if e.event == "task_created"}
    timeline = Timeline(case.status, started, now, label=label, utfall=str((case.data or {}).get("utfall") or ""))

    def counted_from(element_id: str, before: int) -> list[str]:
        found = (_start(s, entries, before) for s in starts.get(element_id, []))
        return [f for f in found if f]

    activity_deadlines: dict[str, Deadline] = {}  # deadlines on subprocesses, done when they complete
    for entry in entries:
        if entry.event == "deadline_missed" and entry.task_id not in tasks:
            activity_deadlines[entry.element_id] = Deadline(
                entry.element_name or entry.element_id, datetime.fromisoformat(entry.details["due_at"]),
                None, "missed", counted_from(entry.element_id, entry.id))
        if entry.event == "element_completed" and entry.element_id in activity_deadlines:
            activity_deadlines[entry.element_id].done_at = entry.at
        if entry.event == "element_completed" and entry.element_type not in ("UserTask", "EndEvent"):
            continue
        note = ""
        task = tasks.get(entry.task_id or "")
        if entry.event == "task_created" and task is not None and task.due_at:
            note = f"(due {local(task.due_at):%Y-%m-%d})"
        elif entry.event == "timer_fired" and entry.details:
            note = f"(due {local(datetime.fromisoformat(entry.details['due_at'])):%Y-%m-%d})"
        timeline.lines.append(Line(entry.at, entry.event, entry.element_name or entry.element_id or "", note))
    timeline.deadlines += activity_deadlines.values()
    for task in sorted(tasks.values(), key=lambda t: (t.due_at or started, t.id)):
        if task.due_at is None:
            continue
        done = task.completed_at if task.state == "completed" else None
        if done is not None:
            outcome = "met" if done <= task.due_at else "missed"
        elif task.state == "cancelled":
            outcome = "missed" if task.due_at <= (task.completed_at or now) else "cancelled"
        else:
            outcome = "overdue" if task.due_at <= now else "pending"
        timeline.deadlines.append(Deadline(task.name, task.due_at, done, outcome,
                                           counted_from(task.element_id, created.get(task.id, 1 << 62))))
    return timeline
