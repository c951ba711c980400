"""Reports: the processes' measures per period and unit for process owners and the steering group."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from engine.casework import report_output
from engine.casework.reports import ReportService, parse_query
from engine.core.calendar import calendar_from
from engine.core.errors import FieldError, InvalidInput

from ..deps import PrincipalDep, SessionDep
from ..report_schemas import ReportOut

router = APIRouter(prefix="/reports", tags=["reports"])

From = Annotated[date | None, Query(alias="from", description="First day (ISO date, Swedish days); default: "
                                                              "364 days before `to`")]
To = Annotated[date | None, Query(description="Last day, inclusive; default: today")]
By = Annotated[str | None, Query(max_length=100, description="A period (`month`, `term`, `lasar`, `year`, `all`) "
                                                             "and at most one breakdown (`unit`, `agency`, "
                                                             "`version`), comma-separated: `term,unit`")]
CompareFrom = Annotated[date | None, Query(description="A second span to compare with: its first day")]
CompareTo = Annotated[date | None, Query(description="The second span's last day")]
ProcessKey = Annotated[str, Path(max_length=200, description="The process: `hlt`, `vastbas`, `skolfranvaro`, ...")]
_CSV = {"content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report as JSON, or with `Accept: text/csv` one row per measure, period and breakdown"}


def _report(request: Request, session, principal, process, start, end, by, compare_from=None, compare_to=None,
            only=None) -> dict:
    settings, clock = request.app.state.settings, request.app.state.clock
    today = clock.now().date()
    query = parse_query(process, start, end, by, today)
    compare = None
    if compare_from is not None or compare_to is not None:
        if compare_from is None or compare_to is None:
            missing = "compare_from" if compare_from is None else "compare_to"
            raise InvalidInput("a comparison needs both compare_from and compare_to",
                               [FieldError(f"/query/{missing}", "required with the other")])
        compare = parse_query(process, compare_from, compare_to, by, today, prefix="compare_")
    service = ReportService(session, clock, calendar_from(settings.school_calendar), settings.report_min_cell)
    return service.report(principal, query, compare, only)


@router.get("/{process}", response_model=ReportOut, responses={200: _CSV})
def process_report(process: ProcessKey, request: Request, session: SessionDep, principal: PrincipalDep,
                   start: From = None, to: To = None, by: By = None, compare_from: CompareFrom = None,
                   compare_to: CompareTo = None):
    """The measures of a process per period and breakdown (roles `processagare` and `ledning`).

    Each measure comes with its definition: HLT's contact within 7 days and SIP within 30 days, SDQ in the
    last 6 months, days to SIP, Västbas's days per step and evaluations on time, the ladder's pupils per
    rung, and every process's deadlines met or missed, cases opened and closed, incidents. Figures only:
    a cell counting fewer than the threshold (`SAMVERKA_REPORT_MIN_CELL`, 5) reads "<5", and so do enough
    others that no total gives it back. `Accept: text/csv` gives a table for spreadsheets. Every read is
    a row in the access log."""
    report = _report(request, session, principal, process, start, to, by, compare_from, compare_to)
    if "text/csv" in request.headers.get("accept", ""):
        return Response(report_output.to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{process}-{report["from"]}.csv"'})
    return report


@router.get("/{process}/charts/{measure}.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}, "description": "The chart"}})
def report_chart(process: ProcessKey, measure: Annotated[str, Path(max_length=100)], request: Request,
                 session: SessionDep, principal: PrincipalDep, start: From = None, to: To = None, by: By = None):
    """One measure as an SVG chart: a share per period against its goal line, pupils per rung as bars
    (roles `processagare` and `ledning`). 404 for a measure the process is not reported on."""
    report = _report(request, session, principal, process, start, to, by, only=measure)
    return Response(report_output.chart_svg(report, measure), media_type="image/svg+xml")


@router.get("/{process}/term-report", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The report, ready to print"}})
def term_report(process: ProcessKey, request: Request, session: SessionDep, principal: PrincipalDep,
                start: From = None, to: To = None, by: By = None):
    """A printable report (HTML with print CSS): each measure's definition, chart and table; by default per
    term (`by=term`) over the last 364 days (roles `processagare` and `ledning`)."""
    report = _report(request, session, principal, process, start, to, by or "term")
    return HTMLResponse(report_output.term_report_html(report, f"Rapport {process}: {report['from']} – {report['to']}"))
