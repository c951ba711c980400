"""Shapes of reports: figures only (each measure with its definition and its rows), never a case."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MeasureOut(BaseModel):
    key: str
    name: str
    definition: str = Field(description="What is counted, exactly: the text the report prints beside the figures")
    kind: Literal["share", "count", "duration", "open_share", "rungs"]
    goal: float | None = Field(description="The share aimed at (shares), drawn as the goal line")
    rows: list[dict[str, Any]] = Field(description="One per period (and `hela perioden`), breakdown value (and "
                                                   "`alla`) and split; a hidden count reads \"<5\", and a share or "
                                                   "median that would need it is null")


class ReportBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    process_key: str
    from_: str = Field(alias="from")
    to: str
    period: Literal["month", "term", "lasar", "year", "all"]
    breakdown: Literal["unit", "agency", "version"] | None
    threshold: int = Field(description="Cells counting fewer than this are hidden")
    periods: list[str]
    measures: list[MeasureOut]


class ReportOut(ReportBody):
    compare: ReportBody | None = Field(None, description="The second span (compare_from..compare_to), if asked for")
