"""Webhook subscriptions for integrators, and their dead letters."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from engine.access.sealing import sealer_for
from engine.integration.webhooks import WebhookService

from ..deps import PrincipalDep, SessionDep
from ..schemas import INT32_MAX, DeliveryOut, Page, WebhookCreated, WebhookIn, WebhookOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _service(request: Request, session) -> WebhookService:
    state = request.app.state
    return WebhookService(session, state.clock, sealer_for(state.settings), state.settings.webhook_allow_private)


def _delivery_out(delivery) -> DeliveryOut:
    return DeliveryOut(id=delivery.id, event_id=delivery.event.id, event_type=delivery.event.type,
                       case_id=delivery.case_id, state=delivery.state, attempts=delivery.attempts,
                       last_status=delivery.last_status, last_error=delivery.last_error,
                       next_attempt_at=delivery.next_attempt_at)


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookIn, request: Request, session: SessionDep, principal: PrincipalDep):
    """Subscribe an endpoint to events (role `integrator`). The response holds the signing secret, once."""
    subscription, secret = _service(request, session).create(principal, str(body.url), body.event_types,
                                                             body.process_keys)
    return WebhookCreated(**WebhookOut.model_validate(subscription).model_dump(), secret=secret)


def _webhook_out(service: WebhookService, subscription) -> WebhookOut:
    return WebhookOut(**WebhookOut.model_validate(subscription).model_dump(exclude={"dead", "held_back"}),
                      **service.counts(subscription.id))


@router.get("", response_model=list[WebhookOut])
def list_webhooks(request: Request, session: SessionDep, principal: PrincipalDep):
    """Your subscriptions, each with its dead letters and the deliveries they hold back."""
    service = _service(request, session)
    return [_webhook_out(service, s) for s in service.list(principal)]


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    """One subscription, with its dead letters and the deliveries they hold back."""
    service = _service(request, session)
    return _webhook_out(service, service.get(principal, webhook_id))


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    """Unsubscribe; pending deliveries are dropped."""
    _service(request, session).delete(principal, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/failures", response_model=Page[DeliveryOut])
def webhook_failures(webhook_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
                     cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Deliveries that failed for the whole retry window (dead letters)."""
    page = _service(request, session).failures(principal, webhook_id, cursor, limit)
    return Page[DeliveryOut](items=[_delivery_out(d) for d in page.items], next_cursor=page.next_cursor)


@router.post("/{webhook_id}/failures/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(webhook_id: str, delivery_id: Annotated[int, Path(ge=1, le=INT32_MAX)], request: Request,
              session: SessionDep, principal: PrincipalDep):
    """Send a dead-lettered delivery again; its case's later events, held back meanwhile, follow it in order."""
    return _delivery_out(_service(request, session).redeliver(principal, webhook_id, delivery_id))


@router.post("/{webhook_id}/failures/{delivery_id}/skip", response_model=DeliveryOut)
def skip(webhook_id: str, delivery_id: Annotated[int, Path(ge=1, le=INT32_MAX)], request: Request,
         session: SessionDep, principal: PrincipalDep):
    """Give up on a dead-lettered delivery, so that its case's later events, held back behind it, go out."""
    return _delivery_out(_service(request, session).skip(principal, webhook_id, delivery_id))
