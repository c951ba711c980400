"""Bulk absence import: one school's absence for one period, each pupil's report to their ladder case.

A pupil with an open ladder case gets the period's `franvarorapport`. A pupil without one gets
a new case when the ladder's own decision table puts them above rung 0 for this period (the
entry rule lives in `skolfranvaro_trappa.dmn`, not in code). Rows are applied in chunks, one
transaction each; a chunk that fails is redone row by row, so a bad row is reported and
never half-applied, and the other rows still go in.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from engine.access.identity import Principal
from engine.bpmn.runner import Runner
from engine.bpmn.specs import SpecCache
from engine.casework.cases import CaseService
from engine.casework.deployments import get_version
from engine.core.clock import Clock
from engine.core.errors import EngineError
from engine.core.models import Case, CaseCorrelation

LADDER, REPORT, ENTRY_DECISION = "skolfranvaro", "franvarorapport", "trappsteg"
CHUNK = 200


@dataclass
class ImportResult:
    processed: int = 0
    delivered: int = 0
    started: int = 0
    below_threshold: int = 0
    failed: list[dict] = field(default_factory=list)


class AbsenceImport:
    """Applies a period's rows; owns its transactions (per chunk), unlike request-scoped services."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, runner: Runner, specs: SpecCache):
        self.session_factory, self.clock, self.runner, self.specs = session_factory, clock, runner, specs

    def run(self, principal: Principal, school: str, period_start: str, period_end: str, rows: list[dict]):
        """Apply every row; the result counts what happened and lists each failed row with its reason."""
        result = ImportResult()
        reports = [{"period_start": period_start, "period_slut": period_end, "skola": school,
                    "franvaro_procent": r["franvaro_procent"], "ogiltig_franvaro": r["ogiltig_franvaro"],
                    **({"giltig_procent": r["giltig_procent"]} if r.get("giltig_procent") is not None else {})}
                   for r in rows]
        for first in range(0, len(rows), CHUNK):
            indexes = list(range(first, min(first + CHUNK, len(rows))))
            try:
                outcome = self._apply(principal, rows, reports, indexes)
            except Exception:  # noqa: BLE001 - the chunk is redone row by row below
                outcome = None
            if outcome is None:
                outcome = ImportResult()
                for index in indexes:
                    try:
                        self._add(outcome, self._apply(principal, rows, reports, [index]))
                    except EngineError as exc:
                        outcome.processed += 1
                        outcome.failed.append({"row": index, "elev": rows[index]["elev"], "error": exc.detail})
                    except Exception as exc:  # noqa: BLE001 - reported per row, never a 500 for the batch
                        outcome.processed += 1
                        outcome.failed.append({"row": index, "elev": rows[index]["elev"],
                                               "error": f"{type(exc).__name__}"})
            self._add(result, outcome)
        return result

    @staticmethod
    def _add(total: ImportResult, part: ImportResult) -> None:
        total.processed += part.processed
        total.delivered += part.delivered
        total.started += part.started
        total.below_threshold += part.below_threshold
        total.failed += part.failed

    def _apply(self, principal: Principal, rows, reports, indexes: list[int]) -> ImportResult:
        outcome = ImportResult()
        with self.session_factory() as session:
            cases = CaseService(session, self.clock, self.runner, self.specs)
            version = get_version(session, LADDER)
            entry = _entry_rule(cases.spec_for(version), self.runner)
            elevs = [str(rows[i]["elev"]) for i in indexes]
            open_cases = dict(session.execute(
                select(CaseCorrelation.value, Case.id).join(Case, Case.id == CaseCorrelation.case_id)
                .where(CaseCorrelation.key == "barn", CaseCorrelation.value.in_(elevs), Case.status == "open",
                       Case.process_key == LADDER)).all())
            for index in indexes:
                elev, report = str(rows[index]["elev"]), reports[index]
                outcome.processed += 1
                case_id = open_cases.get(elev)
                if case_id is None:
                    if not entry(report):
                        outcome.below_threshold += 1
                        continue
                    case_id = cases.start(principal, LADDER, {"barn": elev, "skola": report["skola"]},
                                          authorized=True).id
                    open_cases[elev] = case_id
                    outcome.started += 1
                cases.deliver(principal, case_id, REPORT, report, authorized=True)
                outcome.delivered += 1
            session.commit()
        return outcome


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
        return engine.result(task).get("nytt_steg", 0) >= 1
    return decide
