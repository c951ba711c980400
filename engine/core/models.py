"""Persistence: deployed process versions, cases, their open tasks, timers and history."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Timestamp(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class ProcessVersion(Base):
    """One deployed version of one BPMN process, with the files it needs."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_process_version_key_version"),
        UniqueConstraint("key", "content_hash", name="uq_process_version_key_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict] = mapped_column(JsonType)  # file name -> XML; the process's own file first
    # {"forms": {file: JSON text}, "templates": {file: Jinja2 text}} deployed with it; None before forms were
    resources: Mapped[dict | None] = mapped_column(JsonType, nullable=True)
    deployed_at: Mapped[datetime] = mapped_column(Timestamp())
    deployed_by: Mapped[str] = mapped_column(String(200))


class CaseNumberCounter(Base):
    """The last case number handed out per process and year."""

    __tablename__ = "case_number_counter"

    process_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """One ärende: a running process instance and its serialized runtime state."""

    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_process_status_created", "process_key", "status", "created_at", "id"),
        Index("ix_case_created", "created_at", "id"),
        Index("ix_case_closed", "closed_at"),
        Index("ux_case_number", "case_number", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict] = mapped_column(JsonType)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp())
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    child_id: Mapped[str | None] = mapped_column(ForeignKey("child.id", name="fk_case_child", ondelete="SET NULL"),
                                                 nullable=True)
    # Which agency last wrote each data key: another agency sees it only under consent (engine.access).
    data_origin: Mapped[dict] = mapped_column(JsonType, default=dict, server_default="{}")
    consent: Mapped[dict | None] = mapped_column(JsonType, nullable=True)  # see engine.consent
    culled_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)  # gallrad
    # The open incident the case is blocked by (engine.casework.incidents); None while it runs.
    incident_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Suspended by a process owner: tasks are not completed, timers wait, messages are held until resumed.
    suspended_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    held_messages: Mapped[list | None] = mapped_column(JsonType, nullable=True)
    case_number: Mapped[str | None] = mapped_column(String(60), nullable=True)  # HLT-2026-0042 (case_numbers)
    # The unit the case belongs to (a school, a social-services office): open seats reach its role holders only.
    unit: Mapped[str | None] = mapped_column(String(200), nullable=True)

    # Optimistic concurrency: every UPDATE checks and bumps `version`; a stale writer gets a conflict.
    __mapper_args__ = {"version_id_col": version}


class CaseLink(Base):
    """Two cases about the same child, one started from the other (e.g. a ladder case starting an HLT case)."""

    __tablename__ = "case_link"
    __table_args__ = (Index("ix_case_link_from", "from_case_id"), Index("ix_case_link_to", "to_case_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    from_case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    to_case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class UserTask(Base):
    """A user task of a case, open or finished; the list caseworkers query."""

    __tablename__ = "user_task"
    __table_args__ = (
        Index("ix_user_task_state_group", "state", "candidate_group"),
        Index("ix_user_task_state_due", "state", "due_at"),
        Index("ix_user_task_assignee", "assignee"),
        Index("ix_user_task_case", "case_id"),
        Index("ix_user_task_group_due", "candidate_group", "state", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    candidate_group: Mapped[str | None] = mapped_column(String(200), nullable=True)
    seat: Mapped[str | None] = mapped_column(String(20), nullable=True)  # what its lane declares (engine.core.seats)
    form_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Who claimed it, as a person key (directory id): `assignee` is their user name, for display only.
    assignee_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TaskPart(Base):
    """One seat's part of a user task (engine.core.seats: a task's `part`), e.g. IFO's part of Västbas'
    bedömning: created with the task, done by a holder of its role (of its agency, if it names one)."""

    __tablename__ = "task_part"
    __table_args__ = (UniqueConstraint("task_id", "name", name="uq_task_part"),
                      Index("ix_task_part_case", "case_id"), Index("ix_task_part_role_state", "role", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("user_task.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))  # also the case data key its data goes to
    role: Mapped[str] = mapped_column(String(200))
    seat: Mapped[str | None] = mapped_column(String(20), nullable=True)  # what the role's lane declares
    agency: Mapped[str | None] = mapped_column(String(100), nullable=True)  # only this agency's holders
    required: Mapped[bool] = mapped_column(Boolean)
    form_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[str] = mapped_column(String(20))  # open | done
    data: Mapped[dict | None] = mapped_column(JsonType, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    done_by_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    done_agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class Timer(Base):
    """A pending timer of a case, kept in step with the case state in the same transaction.

    `due_at` is when the process says it is due; `fire_at` is when the worker should next
    try it (the same, unless an attempt failed and was put off).
    """

    __tablename__ = "timer"
    __table_args__ = (Index("ix_timer_fire_at", "fire_at"), Index("ix_timer_case", "case_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the waiting timer event's task id
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(30))  # boundary | intermediate | event_subprocess
    effect: Mapped[str] = mapped_column(String(30))  # interrupts_task | runs_alongside_task | continues
    leads_to: Mapped[list] = mapped_column(JsonType)  # names of the elements that run when it fires
    expression: Mapped[str] = mapped_column(String(500))  # the BPMN timer value, e.g. P30D or R/P6M
    repeats: Mapped[bool] = mapped_column(Boolean)
    attached_to: Mapped[str | None] = mapped_column(String(36), nullable=True)  # user task id, if a boundary timer
    interrupting: Mapped[bool] = mapped_column(Boolean)
    due_at: Mapped[datetime] = mapped_column(Timestamp())
    fire_at: Mapped[datetime] = mapped_column(Timestamp())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class HistoryEntry(Base):
    """Append-only record of every step of a case."""

    __tablename__ = "history_entry"
    __table_args__ = (Index("ix_history_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(Timestamp())
    event: Mapped[str] = mapped_column(String(40))
    element_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    element_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    element_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor_user: Mapped[str] = mapped_column(String(200))
    actor_agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    actor_roles: Mapped[list] = mapped_column(JsonType)
    data_changes: Mapped[dict | None] = mapped_column(JsonType, nullable=True)
    details: Mapped[dict | None] = mapped_column(JsonType, nullable=True)  # event facts, e.g. a timer's due time and lag


class ReportFact(Base):
    """What one step means for the measures (engine.reporting.measures): figures only, never case data.

    Written in the transaction of the history row it comes from, so the two never disagree."""

    __tablename__ = "report_fact"
    __table_args__ = (Index("ix_report_fact_process_measure_day", "process_key", "measure", "day"),
                      Index("ix_report_fact_case", "case_id", "measure"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    process_version_id: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(200), nullable=True)
    agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    measure: Mapped[str] = mapped_column(String(60))
    day: Mapped[date] = mapped_column(Date)  # the Swedish day the fact counts on
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # a deadline's task: one fact per task
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)  # e.g. the deadline's element
    outcome: Mapped[str | None] = mapped_column(String(100), nullable=True)  # met | missed | a category
    value: Mapped[int | None] = mapped_column(Integer, nullable=True)  # days, a rung


class ReportDaily(Base):
    """Per Swedish day, how many facts of each kind there are: what a report sums (no case in it at all).

    Text dimensions hold "" for none and `value` holds NO_VALUE when the measure does not count by value.
    A key may have several rows (reports sum them): each step adds its own, unfolded, and a worker folds them
    (engine.casework.report_counts), so that steps never contend for a shared row."""

    __tablename__ = "report_daily"
    __table_args__ = (Index("ix_report_daily", "process_key", "measure", "day", "unit", "agency",
                            "process_version_id", "detail", "outcome", "value"),
                      Index("ix_report_daily_unfolded", "folded", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_key: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(60))
    day: Mapped[date] = mapped_column(Date)
    unit: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(100))
    process_version_id: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    folded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Event(Base):
    """The outbox and the event feed: one CloudEvent per state change, written in the change's transaction."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_case", "case_id", "seq"), Index("ix_event_type_seq", "type", "seq"),
                      Index("uq_event_position", "position", unique=True),
                      Index("ix_event_unpositioned", "seq", postgresql_where=text("position IS NULL"),
                            sqlite_where=text("position IS NULL")))

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # insert order
    # The feed's cursor: given after commit, in commit order (engine.integration.outbox.sequence); NULL until then.
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)  # CloudEvents id, also the webhook-id
    type: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the CloudEvents subject
    process_key: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(Timestamp())
    data: Mapped[dict] = mapped_column(JsonType)


class WebhookSubscription(Base):
    """An integrator's endpoint and what it wants: event types and processes (empty = all)."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list] = mapped_column(JsonType)
    process_keys: Mapped[list] = mapped_column(JsonType)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    active: Mapped[bool] = mapped_column(Boolean)


class WebhookDelivery(Base):
    """One event to one subscription: pending until delivered, or dead after the retry window."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_delivery_due", "state", "next_attempt_at"),
        Index("ix_delivery_order", "subscription_id", "case_id", "state", "event_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event_seq: Mapped[int] = mapped_column(ForeignKey("event.seq", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(String(36))  # events of one case go out in order
    state: Mapped[str] = mapped_column(String(20))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp())
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    event: Mapped[Event] = relationship(lazy="joined")


class CaseCorrelation(Base):
    """A business key of an open case (the child, a school's pupil), for correlating incoming facts.

    Unique per process: two open cases of one process never claim the same key (engine.casework.correlation)."""

    __tablename__ = "case_correlation"
    __table_args__ = (Index("ix_case_correlation_value", "key", "value"),
                      Index("uq_case_correlation_open_key", "process_key", "key", "value", unique=True))

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    process_key: Mapped[str] = mapped_column(String(200))


class AbsenceReport(Base):
    """One pupil's absence for one period at one school, as applied to a ladder case (engine.casework.absence)."""

    __tablename__ = "absence_report"
    __table_args__ = (UniqueConstraint("school", "pupil", "period_start", "period_end",
                                       name="uq_absence_report_period"),
                      Index("ix_absence_report_case", "case_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school: Mapped[str] = mapped_column(String(200))  # the school's slug (engine.core.roles)
    pupil: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    figures: Mapped[dict] = mapped_column(JsonType)
    received_at: Mapped[datetime] = mapped_column(Timestamp())
    corrected_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    corrections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Incident(Base):
    """A step a case could not take at run time: the element, the error in plain words and the data it saw."""

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_process_state", "process_key", "state", "created_at", "id"),
                      Index("ix_incident_case", "case_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(200))
    process_version_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # element | message (a thrown message the engine refused)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the failed element's task
    element_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    element_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    element_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    error_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JsonType)  # what the element saw (a message incident: its payload)
    state: Mapped[str] = mapped_column(String(20))  # open | resolved
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp())
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class MigrationJob(Base):
    """A migration of a process's cases to another version, run by a worker case by case (engine.casework.migration).

    `cursor` is the last case id examined; each case moves, and the cursor and counts advance, in one transaction,
    so a worker that dies leaves every case either moved or untouched and the next one goes on from the cursor."""

    __tablename__ = "migration_job"
    __table_args__ = (Index("ix_migration_job_status", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: every older version
    to_version: Mapped[int] = mapped_column(Integer)
    mapping: Mapped[list] = mapped_column(JsonType)
    principal: Mapped[dict] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done
    total: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[list] = mapped_column(JsonType)  # [{case_id, from_version, reasons}]
    cursor: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    started_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class ImportJob(Base):
    """An absence import run by a worker: the request, its progress and, when done, its result."""

    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_status", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))  # the client that asked; only it reads the job
    principal: Mapped[dict] = mapped_column(JsonType)
    request: Mapped[dict] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done
    total: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result: Mapped[dict | None] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    started_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)  # a worker's claim


class IdempotencyRecord(Base):
    """The answer to a request made with an Idempotency-Key, so a retry gets it again instead of a second effect."""

    __tablename__ = "idempotency_record"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class Child(Base):
    """A child's personnummer/samordningsnummer: a keyed hash to find it, a ciphertext to show it."""

    __tablename__ = "child"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the reference used everywhere else
    pnr_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pnr_cipher: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp())


class Person(Base):
    """One person of the directory: who signed in (or was provisioned by SCIM), their agency, units and roles."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_person_issuer_subject"),
                      Index("ix_person_user_name", "user_name"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    units: Mapped[list] = mapped_column(JsonType)
    roles: Mapped[list] = mapped_column(JsonType)
    active: Mapped[bool] = mapped_column(Boolean)
    managed_by: Mapped[str] = mapped_column(String(20))  # sign-in | scim
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attributes: Mapped[dict | None] = mapped_column(JsonType, nullable=True)  # other SCIM attributes, as provisioned
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp())


class CaseParticipant(Base):
    """Who holds which role in one case, for which agency: a person by issuer + subject (`user` is for display)."""

    __tablename__ = "case_participant"
    __table_args__ = (UniqueConstraint("case_id", "issuer", "subject", "role", name="uq_case_participant"),
                      Index("ix_case_participant_person", "issuer", "subject", "case_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(200))
    user: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # started | task | added
    added_at: Mapped[datetime] = mapped_column(Timestamp())
    added_by: Mapped[str] = mapped_column(String(200))


class AccessLogEntry(Base):
    """One read or write of case data; the table refuses UPDATE and DELETE (database triggers)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Timestamp())
    user: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    roles: Mapped[list] = mapped_column(JsonType)
    client: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # kept after the case is culled
    action: Mapped[str] = mapped_column(String(20))  # read | write | cull
    what: Mapped[str] = mapped_column(String(200))
    # A read of several cases (a list) is one row with case_id NULL, naming its cases here.
    named: Mapped[list["AccessLogCase"]] = relationship(lazy="raise", cascade="save-update")


class AccessLogCase(Base):
    """One of the cases an access-log row names (append-only, like the log)."""

    __tablename__ = "access_log_case"
    __table_args__ = (Index("ix_access_log_case_case", "case_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("access_log.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class ApiKey(Base):
    """An integration client's key: only a hash of its secret is kept."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(100), nullable=True)
    roles: Mapped[list] = mapped_column(JsonType)
    scopes: Mapped[list] = mapped_column(JsonType)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(Timestamp(), nullable=True)


class ScimResource(Base):
    """A User or Group as the identity provider provisioned it over SCIM (engine.access.scim_storage).

    A User has the id of its directory person, which holds what samverka acts on (agency, units, roles,
    active); the body keeps the rest of the resource as sent, so the provider reads back what it wrote."""

    __tablename__ = "scim_resource"
    __table_args__ = (Index("ix_scim_resource_name", "kind", "name_key"),
                      Index("ix_scim_resource_external_id", "kind", "external_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # User | Group
    name_key: Mapped[str] = mapped_column(String(500))  # userName or displayName, case-folded (filters, uniqueness)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[dict] = mapped_column(JsonType)
    version: Mapped[str] = mapped_column(String(64))  # the ETag: a digest of the body
    created_at: Mapped[datetime] = mapped_column(Timestamp())
    updated_at: Mapped[datetime] = mapped_column(Timestamp())

    # Optimistic concurrency: an UPDATE checks the version it read (the storage sets the next one), so of two
    # writes to one group at once the second gets a conflict instead of losing the first's members.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
