"""The API's request and response shapes: plain pydantic models, never engine objects."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from engine.integration import outbox

T = TypeVar("T")
EventType = Literal[tuple(outbox.EVENT_TYPES)]  # type: ignore[valid-type]
PROCESS_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$"  # a BPMN process id (an XML NCName)


INT32_MAX = 2_147_483_647  # ids and version numbers are 32-bit in the database


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page")


class ProcessVersionOut(Out):
    key: str
    version: int
    name: str
    content_hash: str
    deployed_at: datetime
    deployed_by: str


class DeployProblem(BaseModel):
    location: str
    message: str = Field(description="The rule broken, in words")
    file: str | None = None
    line: int | None = None
    element: str | None = None


class DeployedOut(ProcessVersionOut):
    created: bool = Field(description="false when identical content was already deployed as this version")


class DeploymentOut(BaseModel):
    processes: list[DeployedOut]
    warnings: list[DeployProblem] = Field(default_factory=list, description="What could not be proven right "
                                          "(e.g. a gateway reading data nothing upstream sets); not refused")


class ElementChange(BaseModel):
    id: str
    type: str = Field(description="The BPMN/DMN element, e.g. userTask, boundaryEvent, rule")
    name: str | None = None


class ElementChanges(BaseModel):
    added: list[ElementChange]
    removed: list[ElementChange]
    changed: list[ElementChange]


class FileChanges(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[str]


class ProcessChanges(BaseModel):
    key: str
    name: str
    deployed_version: int | None = Field(description="The newest deployed version compared with; null if none")
    unchanged: bool = Field(description="true when deploying would return the deployed version as it is")
    elements: ElementChanges
    forms: FileChanges
    templates: FileChanges


class DryRunOut(BaseModel):
    valid: bool = Field(description="false when deploying would be refused (see problems)")
    problems: list[DeployProblem] = Field(description="What would refuse the deployment: file, line, element, rule")
    warnings: list[DeployProblem] = Field(description="What could not be proven right, without refusing")
    processes: list[ProcessChanges] = Field(description="What each process's new version would change")


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    process_key: str = Field(min_length=1, max_length=200, description="The BPMN process id")
    data: dict[str, Any] = Field(default_factory=dict, description="Initial case data")
    barn_personnummer: str | None = Field(None, max_length=20, description=(
        "The child's personnummer or samordningsnummer (date and check digit are validated). Kept encrypted; "
        "the case's `barn` becomes the child's reference unless given. The only field that may hold one."))
    unit: str | None = Field(None, max_length=200, description=(
        "The unit the case belongs to (one of yours; needed if you work at several and the process does not say)"))


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_]*$",
                      description="The BPMN message name, e.g. samtycke_aterkallat")
    data: dict[str, Any] = Field(default_factory=dict, description="The message's data; lands in the case under its name")


class TaskOut(Out):
    id: str
    case_id: str
    process_key: str
    element_id: str
    name: str
    candidate_group: str | None = Field(description="The role that may work the task (its BPMN lane)")
    form_key: str | None
    state: Literal["open", "completed", "cancelled"]
    assignee: str | None
    due_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class TaskCompleted(TaskOut):
    open_tasks: list[TaskOut] = Field(description="The case's open tasks you may act on now, after this step "
                                                  "(what is next for you in the case, without a second request)")


class TaskPartOut(BaseModel):
    name: str = Field(description="The part's name: its data goes into the case data under it")
    role: str = Field(description="The role (lane) whose seat does the part")
    agency: str | None = Field(description="Only this agency's holders of the role do it")
    required: bool = Field(description="The task is completed only once this part is done")
    form_key: str | None = Field(description="The form the part's data is validated against")
    state: Literal["open", "done"]
    done_by: str | None
    done_at: datetime | None
    data: dict[str, Any] | None = Field(description="What the part says; none if you may not see its agency's data")
    yours: bool = Field(description="Whether you may do (or redo) this part: POST /tasks/{id}/parts/{name}")


class TaskDetail(TaskOut):
    form: dict[str, Any] | None = Field(None, description="JSON Schema (2020-12) of the data the task takes")
    ui_schema: dict[str, Any] | None = Field(None, description="react-jsonschema-form UI schema, if any")
    parts: list[TaskPartOut] = Field(default_factory=list, description="Other seats' parts of the task")


class TaskComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)


class TimerOut(Out):
    id: str
    element_id: str
    name: str
    due_at: datetime = Field(description="When the process says the timer is due (engine clock)")
    kind: Literal["boundary", "intermediate", "event_subprocess"]
    effect: Literal["interrupts_task", "runs_alongside_task", "continues", "interrupts_process",
                    "runs_alongside_process"] = Field(description="What firing does to the case")
    leads_to: list[str] = Field(description="The steps that start when it fires")
    expression: str = Field(description="The BPMN timer value, e.g. P30D or R/P6M")
    repeats: bool
    attached_to: str | None = Field(description="The task whose deadline this is, for a boundary timer")
    interrupting: bool
    attempts: int = Field(description="Failed attempts to fire it so far (0 normally)")


class TimerDetail(TimerOut):
    description: str = Field(description="What happens when it fires, in words")


class DeadlineOut(TaskOut):
    overdue: bool = Field(description="true when the due time has passed (engine clock)")


class CaseSummary(Out):
    id: str
    case_number: str | None = Field(None, description="The human case number, one series per process and year: HLT-2026-0042")
    status: Literal["open", "completed", "cancelled"]
    process_key: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    created_by: str
    unit: str | None = Field(None, description="The unit the case belongs to: open seats reach its role holders")
    suspended_at: datetime | None = Field(None, description="Set while a process owner has the case suspended")
    blocked: bool = Field(False, description="The case is stopped at a step that failed (see blocked_by)")

    @model_validator(mode="before")
    @classmethod
    def _blocked(cls, value):
        if hasattr(value, "incident_id") and not isinstance(value, dict):
            return {**{k: getattr(value, k, None) for k in cls.model_fields if k != "blocked"},
                    "blocked": value.incident_id is not None}
        return value


class LinkOut(Out):
    case_id: str
    process_key: str
    relation: Literal["startade", "startad_av"] = Field(description="startade: this case started it; startad_av: it started this case")


class BlockedOut(Out):
    """Why a case cannot go on: the element it stopped at and the error, in the words the engine has."""

    id: str = Field(description="The incident's id")
    kind: Literal["element", "message"]
    element_id: str | None
    element_name: str | None
    error: str
    created_at: datetime


class CaseOut(CaseSummary):
    barn_personnummer: str | None = Field(None, description="The child's number, for those who may read the case")
    process_version: int
    data: dict[str, Any]
    open_tasks: list[TaskOut]
    timers: list[TimerOut]
    links: list[LinkOut] = Field(default_factory=list, description="Linked cases about the same child")
    blocked_by: BlockedOut | None = Field(None, description="The incident the case is stopped by, if any")


class Actor(BaseModel):
    user: str
    agency: str | None
    roles: list[str]


class HistoryOut(BaseModel):
    id: int
    at: datetime
    event: str
    element_id: str | None
    element_name: str | None
    element_type: str | None
    task_id: str | None
    actor: Actor
    data_changes: dict[str, Any] | None
    details: dict[str, Any] | None = Field(None, description="Facts of the event, e.g. a timer's due time and lag")
    redacted: bool = Field(False, description="Recorded by an agency whose data you may not see now (no consent)")


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(description="Where deliveries are POSTed")
    # An unknown type or a malformed key would make a subscription that silently never receives anything.
    event_types: list[EventType] = Field(default_factory=list, max_length=100,
                                         description="Only these event types; empty for all")
    process_keys: list[Annotated[str, Field(pattern=PROCESS_KEY_PATTERN)]] = Field(
        default_factory=list, max_length=100, description="Only these processes (BPMN process ids); empty for all")


class WebhookOut(Out):
    id: str
    url: str
    event_types: list[str]
    process_keys: list[str]
    created_by: str
    created_at: datetime
    dead: int = Field(0, description="Dead-lettered deliveries: redeliver or skip them")
    held_back: int = Field(0, description="Deliveries waiting behind a dead letter of their case (per-case order)")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Standard Webhooks signing secret (whsec_...); shown only now")


class DeliveryOut(Out):
    id: int
    event_id: str
    event_type: str
    case_id: str
    state: Literal["pending", "delivered", "dead", "skipped"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime


class CloudEventOut(BaseModel):
    specversion: Literal["1.0"]
    id: str
    source: str
    type: str
    subject: str | None
    time: datetime
    datacontenttype: str
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[CloudEventOut]
    next_cursor: str = Field(description="Pass as `after` to continue; stable, so a consumer can resume from it")


class CorrelatedMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_]*$", description="BPMN message name")
    correlation: dict[str, str] = Field(description=(
        "What selects the case: case_id, barn (the child's reference), personnummer, or skola with elev (a "
        "pupil's reference within the school); process_key narrows. It must select one case that waits for the "
        "message, unless `all` is set."))
    data: dict[str, Any] = Field(default_factory=dict)
    all: bool = Field(False, description="Deliver to every case the correlation selects (scope messages-all:PROCESS)")


class MessageDelivered(BaseModel):
    name: str
    delivered_to: list[str] = Field(description="The cases that were waiting for the message")


class AbsenceRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elev: str = Field(min_length=1, max_length=100, description="The pupil's reference in the school's system")
    franvaro_procent: float = Field(ge=0, le=100)
    giltig_procent: float | None = Field(None, ge=0, le=100)
    ogiltig_franvaro: bool
    rattelse: bool = Field(False, description="Corrects figures sent before for this pupil and period")


class AbsenceImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skola: str = Field(min_length=1, max_length=200)
    period_start: date
    period_slut: date
    rows: list[AbsenceRow] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _period(self):
        if self.period_slut < self.period_start:
            raise ValueError("period_slut is before period_start")
        return self


class AbsenceImportOut(BaseModel):
    processed: int
    delivered: int = Field(description="Reports delivered to a ladder case (new or existing)")
    started: int = Field(description="Ladder cases started by the ladder's entry rule")
    below_threshold: int = Field(description="Pupils without a case whom the entry rule left alone")
    unchanged: int = Field(0, description="Reports sent before with the same figures: acknowledged, nothing changed")
    corrected: int = Field(0, description="Reports that corrected figures sent before (rattelse)")
    failed: list[dict[str, Any]] = Field(description="Rows not applied: row index, pupil reference, reason")


class ImportJobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done"]
    total: int = Field(description="Rows in the import")
    processed: int = Field(description="Rows applied or refused so far")
    created_at: datetime
    finished_at: datetime | None = None
    result: AbsenceImportOut | None = Field(None, description="When done: what happened to the rows")


class StepFiguresOut(Out):
    element_id: str
    name: str
    open: int
    overdue: int = Field(description="Open tasks past their due date")


class ProcessFiguresOut(Out):
    process_key: str
    cases: dict[str, int] = Field(description="Cases by status")
    open_tasks: list[StepFiguresOut]
