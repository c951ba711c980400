"""Report facts: what a step's history records mean for the measures, written with the history itself.

Each fact is a figure about one case on one Swedish day (a deadline met or missed, the days from
aktualisering to SIP, the rung a pupil is on): never case data, a name or a child. They are derived
here, from the step's history records and the case as the step left it, in the transaction that writes
those records, so a report counts exactly what the history says. `engine.casework.measures` defines
the measures that read them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from engine.access.identity import Principal
from engine.bpmn.runner import StepRecord
from engine.core.appends import Appends
from engine.core.calendar import STOCKHOLM
from engine.core.clock import as_utc
from engine.core.models import Case, ReportDaily, ReportFact, UserTask

REFERRAL_LABEL_CHARS = 60  # a referral is free text; the report shows its first words, grouped
# The measures whose fact is one per case (a later record replaces an earlier one: a SIP written
# after its deadline replaces the "missed, not yet written" fact of the deadline's day).
ONE_PER_CASE = frozenset({"hlt_kontakt", "hlt_sip"})
# The facts kept one per row: those a later step replaces, and those a state on a date reads (who was open,
# the last SDQ, the rung). The others (a deadline met, a consent, days per step) live on in the daily counts.
KEPT = ONE_PER_CASE | {"opened", "closed", "hlt_sdq", "lf_steg"}
VALUED = frozenset({"hlt_sip", "step_days", "lf_mentor", "lf_utredning", "lf_nedtrappning"})  # counted by value
NO_VALUE = -(2 ** 31)
_DIMENSIONS = (ReportFact.measure, ReportFact.day, ReportFact.unit, ReportFact.agency, ReportFact.process_version_id,
               ReportFact.detail, ReportFact.outcome, ReportFact.value)
STEP_DAYS_PROCESSES = frozenset({"vastbas"})  # the processes with a "days per step" measure
SDQ_STEPS = frozenset({"bedomning", "uppfoljning", "avslut"})  # the HLT steps that take an SDQ


@dataclass
class Fact:
    measure: str
    day: date
    detail: str | None = None
    outcome: str | None = None
    value: int | None = None
    task_id: str | None = None
    agency: str | None = None


def local_day(moment: datetime) -> date:
    """The Swedish calendar day of a stored moment (stored times are UTC)."""
    return as_utc(moment).astimezone(STOCKHOLM).date()


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _set(record: StepRecord) -> dict:
    return (record.data_changes or {}).get("set", {}) if record.data_changes else {}


def _referral(text) -> str:
    label = " ".join(str(text or "okänt").split()).casefold()
    return label[:REFERRAL_LABEL_CHARS] or "okänt"


def _generic(case: Case, record: StepRecord, now: datetime, tasks: dict[str, UserTask]) -> list[Fact]:
    """Facts every process has: opened, closed (with its outcome), deadlines met/missed, days per step, incidents."""
    today = local_day(now)
    if record.event == "case_started":
        return [Fact("opened", today)]
    if record.event in ("case_completed", "case_cancelled"):
        outcome = case.data.get("utfall") if isinstance(case.data.get("utfall"), str) else None
        return [Fact("closed", today, outcome=outcome or record.event.removeprefix("case_"))]
    if record.event == "incident_raised":
        return [Fact("incident", today, detail=record.element_id)]
    if record.event == "deadline_missed" and record.task_id in tasks:
        due = datetime.fromisoformat(record.details["due_at"]) if record.details else tasks[record.task_id].due_at
        return [Fact("deadline", local_day(due), detail=tasks[record.task_id].element_id, outcome="missed",
                     task_id=record.task_id)]
    if record.event == "task_completed" and record.task_id in tasks:
        task, facts = tasks[record.task_id], []
        if case.process_key in STEP_DAYS_PROCESSES:
            facts.append(Fact("step_days", today, detail=task.element_id,
                              value=(today - local_day(task.created_at)).days, task_id=task.id))
        if task.due_at is not None:
            done_in_time = (task.completed_at or now) <= as_utc(task.due_at)
            facts.append(Fact("deadline", local_day(task.due_at), detail=task.element_id,
                              outcome="met" if done_in_time else "missed", task_id=task.id))
        return facts
    return []


def _hlt(case: Case, record: StepRecord, today: date) -> list[Fact]:
    data, element = case.data, record.element_id
    raised = _date(data.get("aktualiserad_datum")) or local_day(case.created_at)
    if record.event == "task_completed" and element == "aktualisering" and data.get("tas_upp") is False:
        return [Fact("hlt_ej_upptagen", raised, outcome=_referral(data.get("hanvisning")))]
    if record.event == "task_completed" and element == "kontakta_familjen":
        contacted = _date((data.get("kontakt") or {}).get("datum"))
        limit = 0 if data.get("akut") else 7
        days = (contacted - raised).days if contacted else None
        agency = (data.get("kontakt") or {}).get("av", {}).get("verksamhet")
        return [Fact("hlt_kontakt", raised, detail="akut" if data.get("akut") else "ej_akut", value=days,
                     outcome="met" if days is not None and days <= limit else "missed",
                     agency=agency if isinstance(agency, str) else None)]
    if record.event == "deadline_missed" and element in ("kontakta_familjen",):
        return [Fact("hlt_kontakt", raised, detail="akut" if data.get("akut") else "ej_akut", outcome="missed")]
    if record.event == "task_completed" and element == "upprata_sip":
        drawn_up = _date((data.get("sip") or {}).get("datum"))
        days = (drawn_up - raised).days if drawn_up else None
        return [Fact("hlt_sip", raised, value=days, outcome="met" if days is not None and days <= 30 else "missed")]
    if record.event == "deadline_missed" and element in ("fram_till_sip", "upprata_sip"):
        return [Fact("hlt_sip", raised, outcome="missed")]
    if record.event == "task_completed" and element == "samtycke":
        given = (data.get("samtycke") or {}).get("lamnat")
        return [Fact("hlt_samtycke", today, outcome="lamnat" if given else "nekat")]
    if record.event == "message_received" and record.element_name == "samtycke_aterkallat":
        return [Fact("hlt_samtycke", today, outcome="aterkallat")]
    if record.event == "task_completed" and ("sdq" in _set(record) or (element in SDQ_STEPS and data.get("sdq"))):
        taken = _date((data.get("sdq") or {}).get("datum")) or today
        return [Fact("hlt_sdq", taken, detail=element)]
    return []


def _vastbas(case: Case, record: StepRecord, today: date) -> list[Fact]:
    if record.event == "task_completed" and record.element_id == "nya_insatser":
        return [Fact("vb_spiral", today)]
    return []


def _ladder(session: Session, case: Case, record: StepRecord, today: date, tasks: dict[str, UserTask]) -> list[Fact]:
    data, changed = case.data, _set(record)
    if "steg" in changed and isinstance(changed["steg"], int):
        facts = [Fact("lf_steg", today, value=changed["steg"])]
        before = changed.get("fran_steg")
        if changed.get("sankt") and isinstance(before, int):
            facts.append(Fact("lf_nedtrappning", today, value=before - changed["steg"]))
        return facts
    if record.event != "task_completed":
        return []
    if record.element_id == "informera_vardnadshavare":
        unexcused = _date(data.get("ogiltig_dag"))
        told = _date((data.get("vardnadshavare_informerad") or {}).get("datum"))
        if unexcused is None:
            return []
        return [Fact("lf_informerad", unexcused, outcome="met" if told is not None and told <= unexcused else "missed",
                     task_id=record.task_id)]
    if record.element_id in ("mentorsuppfoljning", "rektors_utredning"):
        first = session.scalar(select(func.min(ReportFact.day)).where(
            ReportFact.case_id == case.id, ReportFact.measure == "lf_steg", ReportFact.value >= 2))
        started = first or (local_day(tasks[record.task_id].created_at) if record.task_id in tasks else today)
        measure = "lf_mentor" if record.element_id == "mentorsuppfoljning" else "lf_utredning"
        return [Fact(measure, today, value=(today - started).days, task_id=record.task_id)]
    if record.element_id in ("gor_orosanmalan", "orosanmalan_utredning"):
        return [Fact("lf_orosanmalan", today)]
    return []


def facts_of_step(session: Session, case: Case, records: list[StepRecord], now: datetime,
                  tasks: dict[str, UserTask]) -> list[Fact]:
    """The facts one step's history records give (`tasks`: the case's task rows by id, as the step left them)."""
    today, facts = local_day(now), []
    for record in records:
        facts += _generic(case, record, now, tasks)
        if case.process_key == "hlt":
            facts += _hlt(case, record, today)
        elif case.process_key == "vastbas":
            facts += _vastbas(case, record, today)
        elif case.process_key == "skolfranvaro":
            facts += _ladder(session, case, record, today, tasks)
    return facts


def _daily_key(process_key: str, version: int, row: dict) -> tuple:
    value = row["value"] if row["measure"] in VALUED and row["value"] is not None else NO_VALUE
    return (process_key, row["measure"], row["day"], row["unit"] or "", row["agency"] or "", version,
            row["detail"] or "", row["outcome"] or "", value)


def count_daily(appends: Appends, deltas: dict[tuple, int]) -> None:
    """Add `deltas` to the daily counts as rows of this step's own: no other step's row is touched (or waited on);
    queued with the step's other append-only rows (engine.core.appends)."""
    keys = ("process_key", "measure", "day", "unit", "agency", "process_version_id", "detail", "outcome", "value")
    rows = [dict(zip(keys, key), count=delta) for key, delta in deltas.items() if delta]
    appends.add(ReportDaily.__table__, rows)


def record(session: Session, appends: Appends, case: Case, principal: Principal, records: list[StepRecord],
           now: datetime, tasks: dict[str, UserTask]) -> None:
    """Write the facts of one step beside its history rows, and count them per day (nothing when there are none).

    Only the facts a later step may replace, and those a state on a date reads, are kept one per row; every
    fact is counted in `report_daily`, and a replaced one is counted out again."""
    facts = facts_of_step(session, case, records, now, tasks)
    if not facts:
        return
    latest: dict = {}  # within one step too, the last fact of a one-per-case measure or of a task's deadline wins
    for index, fact in enumerate(facts):
        key = fact.measure if fact.measure in ONE_PER_CASE else (
            ("deadline", fact.task_id) if fact.measure == "deadline" and fact.task_id else index)
        latest[key] = fact
    rows = [{"case_id": case.id, "process_key": case.process_key, "process_version_id": case.process_version_id,
             "unit": case.unit, "agency": f.agency or principal.agency, "measure": f.measure, "day": f.day,
             "task_id": f.task_id, "detail": f.detail, "outcome": f.outcome, "value": f.value}
            for f in latest.values()]
    deltas: dict[tuple, int] = {}
    replaced = {r["measure"] for r in rows if r["measure"] in ONE_PER_CASE}
    # only a deadline done late can have a "missed" fact from its timer already
    per_task = {r["task_id"] for r in rows if r["measure"] == "deadline" and r["task_id"] and r["outcome"] == "missed"}
    gone = []
    if replaced:
        gone += session.execute(delete(ReportFact).where(ReportFact.case_id == case.id,
                                                         ReportFact.measure.in_(replaced))
                                .returning(*_DIMENSIONS)).mappings().all()
    if per_task:
        gone += session.execute(delete(ReportFact).where(ReportFact.case_id == case.id, ReportFact.measure == "deadline",
                                                         ReportFact.task_id.in_(per_task))
                                .returning(*_DIMENSIONS)).mappings().all()
    for row in gone:
        key = _daily_key(case.process_key, row["process_version_id"], dict(row))
        deltas[key] = deltas.get(key, 0) - 1
    for row in rows:
        key = _daily_key(case.process_key, case.process_version_id, row)
        deltas[key] = deltas.get(key, 0) + 1
    kept = [r for r in rows if r["measure"] in KEPT or (r["measure"] == "deadline" and r["outcome"] == "missed")]
    if kept:
        session.execute(insert(ReportFact), kept)
    count_daily(appends, deltas)
