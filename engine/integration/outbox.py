"""The transactional outbox: every state change becomes a CloudEvent row in the change's own transaction.

Events carry ids and minimal facts (case, process, element, task, due time, message name),
never form data and never a personnummer. Each event is fanned out to the matching webhook
subscriptions as pending deliveries, in the same transaction, for the worker to send.

The feed's cursor is an event's *position*, not its insert number: transactions commit in any
order, so a consumer that has read insert number n+1 while the transaction holding n is still
open would move past n for good. Positions are given after commit, by one sequencer at a time
(`sequence`), to the committed events it finds, in insert order: a position is never given
below one already handed out, so a cursor never skips an event. On PostgreSQL an advisory lock
makes the sequencer one at a time; SQLite has one writer at a time anyway, so there insert
order is commit order and the position is the insert number. Writers pay nothing for this.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from engine.access.consent import CONSENT_WITHDRAWN
from engine.core.appends import Appends
from engine.core.models import Case, Event, WebhookDelivery, WebhookSubscription

TYPE_PREFIX = "se.samverka."
TYPES = {
    "case_started": "case.started", "case_completed": "case.completed", "case_cancelled": "case.cancelled",
    "case_culled": "case.culled",
    "task_created": "task.created", "task_claimed": "task.claimed", "task_unclaimed": "task.unclaimed",
    "task_completed": "task.completed", "task_cancelled": "task.cancelled",
    "timer_fired": "timer.fired", "deadline_missed": "deadline.missed", "timer_failed": "timer.failed",
    "message_received": "message.correlated", "message_sent": "message.sent",
    "incident_raised": "incident.raised", "incident_resolved": "incident.resolved",
    "case_suspended": "case.suspended", "case_resumed": "case.resumed", "migrated": "case.migrated",
}
EVENT_TYPES = sorted({TYPE_PREFIX + t for t in TYPES.values()} | {TYPE_PREFIX + "consent.given",
                                                                  TYPE_PREFIX + "consent.withdrawn"})
_SUBSCRIPTIONS = "samverka.webhook_subscriptions"


def _facts(history_event: str, record) -> list[tuple[str, dict]]:
    """(type, data) of the events one history record stands for."""
    kind = TYPES.get(history_event)
    if kind is None:
        return []
    data = {k: v for k, v in (("element_id", record.element_id), ("task_id", record.task_id)) if v}
    details = record.details or {}
    for key in ("due_at", "message", "lag_seconds", "from_version", "to_version", "incident"):
        if key in details:
            data[key] = details[key]
    events = [(kind, data)]
    changes = (record.data_changes or {}).get("set", {})
    consent = changes.get("samtycke")
    if history_event == "task_completed" and isinstance(consent, dict) and consent.get("lamnat") is True:
        events.append(("consent.given", {**data, "scope": consent.get("omfattning", [])}))
    if history_event == "message_received" and details.get("message") == CONSENT_WITHDRAWN:
        events.append(("consent.withdrawn", data))
    return events


_ACTIVE = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))  # built once, not per step
_EVENTS = Event.__table__


def _subscriptions(session: Session) -> list[WebhookSubscription]:
    """Active subscriptions, read once per transaction."""
    if _SUBSCRIPTIONS not in session.info:
        session.info[_SUBSCRIPTIONS] = list(session.scalars(_ACTIVE))
    return session.info[_SUBSCRIPTIONS]


def none_active(session: Session) -> None:
    """Note that the transaction found no active subscription (read with other rows), so none is looked up."""
    session.info[_SUBSCRIPTIONS] = []


def forget_subscriptions(session: Session) -> None:
    """Drop the per-transaction cache after subscriptions change."""
    session.info.pop(_SUBSCRIPTIONS, None)


def emit(session: Session, case: Case, at: datetime, history_event: str, record) -> None:
    """Write the events of one history record, and a pending delivery per matching subscription."""
    for kind, data in _facts(history_event, record):
        event = Event(id=str(uuid.uuid4()), type=TYPE_PREFIX + kind, case_id=case.id, process_key=case.process_key,
                      time=at, data={"case_id": case.id, "process_key": case.process_key, **data})
        session.add(event)
        for subscription in _subscriptions(session):
            if (not subscription.event_types or event.type in subscription.event_types) and \
                    (not subscription.process_keys or case.process_key in subscription.process_keys):
                session.add(WebhookDelivery(subscription_id=subscription.id, event=event, case_id=case.id,
                                            state="pending", attempts=0, next_attempt_at=at))


def emit_all(session: Session, appends: Appends, case: Case, at: datetime, records: list) -> None:
    """`emit` for the records of one step; with no subscription to fan out to, queued with the step's other
    append-only rows (engine.core.appends: no ORM unit of work, no ids read back)."""
    facts = [(kind, data) for record in records for kind, data in _facts(record.event, record)]
    if not facts:
        return
    if _subscriptions(session):
        for record in records:
            emit(session, case, at, record.event, record)
        return
    appends.add(_EVENTS, [
        {"id": str(uuid.uuid4()), "type": TYPE_PREFIX + kind, "case_id": case.id, "process_key": case.process_key,
         "time": at, "data": {"case_id": case.id, "process_key": case.process_key, **data}} for kind, data in facts])


def cloudevent(event: Event) -> dict:
    """The event in the CloudEvents 1.0 JSON format."""
    return {"specversion": "1.0", "id": event.id, "source": f"/samverka/processes/{event.process_key}",
            "type": event.type, "subject": event.case_id, "time": event.time.isoformat(),
            "datacontenttype": "application/json", "data": event.data}


_SEQUENCER = 0x5A4D5645  # the advisory lock that makes the PostgreSQL sequencer one at a time
SEQUENCE_BATCH = 10_000


def sequence(session_factory: sessionmaker) -> int:
    """Give committed events without a position theirs, in insert order, in a transaction of its own; how many."""
    with session_factory() as session:
        # A look first: a reader takes no write lock (nor waits for one) when everything is numbered.
        if session.scalar(select(Event.seq).where(Event.position.is_(None)).limit(1)) is None:
            return 0
        if session.get_bind().dialect.name != "postgresql":
            done = session.execute(update(Event).where(Event.position.is_(None)).values(position=Event.seq))
            session.commit()
            return done.rowcount
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEQUENCER})
        # After the lock: every event a previous sequencer numbered has committed, and so has every event this
        # statement sees. One statement numbers a batch in insert order, after the highest position given.
        done = session.execute(_NUMBER_PENDING, {"batch": SEQUENCE_BATCH})
        session.commit()
        return done.rowcount


_NUMBER_PENDING = text("""
    UPDATE event SET position = numbered.position
    FROM (SELECT seq, (SELECT coalesce(max(position), 0) FROM event) + row_number() OVER (ORDER BY seq) AS position
          FROM event WHERE position IS NULL ORDER BY seq LIMIT :batch) AS numbered
    WHERE event.seq = numbered.seq""")


def highest_position(session: Session) -> int:
    """The feed's highest position so far (0 for an empty feed)."""
    return session.scalar(select(func.coalesce(func.max(Event.position), 0)))


def feed(session: Session, after: int, types: list[str] | None, limit: int,
         processes: frozenset[str] | None = None) -> list[Event]:
    """Events after position `after`, oldest first, optionally of some types and processes."""
    query = select(Event).where(Event.position > after)
    if processes is not None:
        query = query.where(Event.process_key.in_(sorted(processes)))
    if types:
        query = query.where(Event.type.in_(types))
    return list(session.scalars(query.order_by(Event.position).limit(limit)))
