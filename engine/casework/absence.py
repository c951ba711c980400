"""Bulk absence import: one school's absence for one period, each pupil's report to their ladder case.

A pupil is found by their reference *within the school* (engine.casework.correlation: `elev`),
so one school's report never reaches another school's pupil with the same reference. A pupil
with an open ladder case gets the period's `franvarorapport`; one without gets a new case when
the ladder's own decision table puts them above rung 0 for this period (the entry rule lives in
`skolfranvaro_trappa.dmn`, not in code).

A report is identified by (school, pupil, period). Sent again with the same figures it is
acknowledged and changes nothing, so a retried import never counts a period twice. Other
figures for a period already applied are refused unless the row says `rattelse: true`: then
the correction is kept on the report and written to the case's history and access log, and the
ladder's decisions stand (the EHT sees the correction in the history).

Rows are applied in chunks, one transaction each; a chunk that fails is redone row by row, so a
bad row is reported and never half-applied, and the other rows still go in.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from engine.access import audit
from engine.access.identity import Principal
from engine.bpmn.runner import Runner, StepRecord
from engine.bpmn.specs import SpecCache
from engine.casework.cases import CaseService
from engine.casework.correlation import pupil_key
from engine.casework.deployments import get_version
from engine.core.clock import Clock
from engine.core.errors import Conflict, EngineError
from engine.core.models import AbsenceReport, Case, CaseCorrelation
from engine.core.roles import role_id

LADDER, REPORT, ENTRY_DECISION = "skolfranvaro", "franvarorapport", "trappsteg"
CHUNK = 200
FIGURES = ("franvaro_procent", "ogiltig_franvaro", "giltig_procent")


@dataclass
class ImportResult:
    processed: int = 0
    delivered: int = 0
    started: int = 0
    below_threshold: int = 0
    unchanged: int = 0
    corrected: int = 0
    failed: list[dict] = field(default_factory=list)

    def add(self, part: "ImportResult") -> None:
        for name in ("processed", "delivered", "started", "below_threshold", "unchanged", "corrected"):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.failed += part.failed


@dataclass(frozen=True)
class Period:
    school: str
    start: date
    end: date


class AbsenceImport:
    """Applies a period's rows; owns its transactions (per chunk), unlike request-scoped services."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, runner: Runner, specs: SpecCache):
        self.session_factory, self.clock, self.runner, self.specs = session_factory, clock, runner, specs

    def run(self, principal: Principal, school: str, period_start: date, period_end: date, rows: list[dict],
            progress: Callable[[int], None] | None = None) -> ImportResult:
        """Apply every row; the result counts what happened and lists each failed row with its reason."""
        result, period = ImportResult(), Period(school, period_start, period_end)
        for first in range(0, len(rows), CHUNK):
            indexes = list(range(first, min(first + CHUNK, len(rows))))
            try:
                outcome = self._apply(principal, period, rows, indexes)
            except Exception:  # noqa: BLE001 - the chunk is redone row by row below
                outcome = None
            if outcome is None:
                outcome = ImportResult()
                for index in indexes:
                    try:
                        outcome.add(self._apply(principal, period, rows, [index]))
                    except EngineError as exc:
                        outcome.processed += 1
                        outcome.failed.append({"row": index, "elev": rows[index]["elev"], "error": exc.detail})
                    except Exception as exc:  # noqa: BLE001 - reported per row, never a 500 for the batch
                        outcome.processed += 1
                        outcome.failed.append({"row": index, "elev": rows[index]["elev"],
                                               "error": f"{type(exc).__name__}"})
            result.add(outcome)
            if progress is not None:
                progress(result.processed)
        return result

    def _apply(self, principal: Principal, period: Period, rows, indexes: list[int]) -> ImportResult:
        outcome = ImportResult()
        with self.session_factory() as session:
            cases = CaseService(session, self.clock, self.runner, self.specs)
            version = get_version(session, LADDER)
            entry = _entry_rule(cases.spec_for(version), self.runner)
            pupils = [str(rows[i]["elev"]) for i in indexes]
            keys = {pupil_key(period.school, p): p for p in pupils}
            open_cases = {keys[value]: case_id for value, case_id in session.execute(
                select(CaseCorrelation.value, CaseCorrelation.case_id).where(
                    CaseCorrelation.process_key == LADDER, CaseCorrelation.key == "elev",
                    CaseCorrelation.value.in_(list(keys))))}
            applied = {r.pupil: r for r in session.scalars(select(AbsenceReport).where(
                AbsenceReport.school == role_id(period.school), AbsenceReport.pupil.in_(pupils),
                AbsenceReport.period_start == period.start, AbsenceReport.period_end == period.end))}
            for index in indexes:
                row, pupil = rows[index], str(rows[index]["elev"])
                outcome.processed += 1
                figures = {k: row[k] for k in FIGURES if row.get(k) is not None}
                earlier = applied.get(pupil)
                if earlier is not None:
                    self._again(cases, principal, earlier, figures, bool(row.get("rattelse")), outcome)
                    continue
                report = {"period_start": period.start.isoformat(), "period_slut": period.end.isoformat(),
                          "skola": period.school, **figures}
                case_id = open_cases.get(pupil)
                if case_id is None:
                    if not entry(report):
                        outcome.below_threshold += 1
                        continue
                    case_id = cases.start(principal, LADDER, {"skola": period.school, "elev": pupil},
                                          authorized=True, trusted=True).id
                    open_cases[pupil] = case_id
                    outcome.started += 1
                cases.deliver(principal, case_id, REPORT, report, authorized=True)
                applied[pupil] = AbsenceReport(school=role_id(period.school), pupil=pupil, case_id=case_id,
                                               period_start=period.start, period_end=period.end, figures=figures,
                                               received_at=self.clock.now(), corrections=0)
                session.add(applied[pupil])
                outcome.delivered += 1
            session.commit()
        return outcome

    def _again(self, cases: CaseService, principal: Principal, earlier: AbsenceReport, figures: dict,
               correction: bool, outcome: ImportResult) -> None:
        """A period already applied: acknowledged when unchanged, kept and recorded when corrected."""
        if figures == earlier.figures:
            outcome.unchanged += 1
            return
        if not correction:
            raise Conflict("this period was reported before with other figures; send the row with "
                              "rattelse: true to correct it")
        case = cases.session.get(Case, earlier.case_id)
        record = StepRecord("report_corrected", None, "Frånvarorapport rättad", "Message", details={
            "period_start": earlier.period_start.isoformat(), "period_slut": earlier.period_end.isoformat(),
            "before": earlier.figures, "after": figures})
        now = self.clock.now()
        cases.record_history(case, principal, now, record)
        audit.record(cases.session, self.clock, principal, [case.id], "write", "absence report corrected")
        earlier.figures, earlier.corrected_at, earlier.corrections = figures, now, earlier.corrections + 1
        outcome.corrected += 1


def _entry_rule(cached, runner: Runner):
    """Whether the ladder's decision table puts a pupil with no case above rung 0 for a report."""
    task_spec = next(t for t in cached.spec.task_specs.values()
                     if getattr(t, "bpmn_id", None) == ENTRY_DECISION and hasattr(t, "dmnEngine"))
    engine = task_spec.dmnEngine

    def decide(report: dict) -> bool:
        data = {"franvarorapport": copy.deepcopy(report), "franvaro_procent": report["franvaro_procent"],
                "ogiltig_franvaro": report["ogiltig_franvaro"], "steg": 0, "perioder_over": 0,
                "perioder_under": 0, "perioder": 0}
        # The decision engine evaluates against a task's data with its workflow's script engine.
        task = SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=runner.script_engine))
        result = engine.result(task)
        if "grans_upp" in result:  # the table of each rung's thresholds: rung 0's row says when to climb
            return bool(report["ogiltig_franvaro"]) or report["franvaro_procent"] >= result["grans_upp"]
        return result.get("nytt_steg", 0) >= 1  # a table that decides the rung itself
    return decide
