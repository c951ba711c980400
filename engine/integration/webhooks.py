"""Webhooks: integrators' subscriptions, and the deliverer that sends their events.

Deliveries are signed per the Standard Webhooks specification (webhook-id = the event id, so a
receiver can de-duplicate; webhook-timestamp; webhook-signature), retried with exponential
back-off for the retry window (25 h by default) and then dead-lettered, where an integrator
can see them and redeliver or skip them.

Order: the events of one case reach a subscription in the order they happened. A delivery waits
while an earlier one for the same case and subscription is pending *or dead*: a dead letter holds
its case's later events back (they are counted as `held_back` on the subscription) until it is
redelivered and arrives, or an operator skips it. Other cases' events go on. Each attempt has a
total deadline (not per read), so a receiver that drips its answer cannot hold the deliverer.
"""
from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from standardwebhooks import Webhook

from engine.access.identity import Principal
from engine.access.policy import event_processes, require_client
from engine.access.sealing import Sealer
from engine.core.clock import Clock, SystemClock
from engine.core.errors import FieldError, InvalidInput, NotFound, Refused
from engine.core.models import WebhookDelivery, WebhookSubscription
from engine.core.paging import Page, keyset_page
from engine.integration.outbox import cloudevent, forget_subscriptions

RETRY_WINDOW = timedelta(hours=25)
LEASE_MARGIN = 5  # seconds a claimed delivery stays leased beyond the attempt's own deadline
HOLDING = ("pending", "dead")  # states of an earlier delivery that hold a case's later ones back
log = structlog.get_logger("samverka.webhooks")


def backoff(attempts: int) -> timedelta:
    """Wait after `attempts` failures: 30 s, doubling, at most 2 h."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=2))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def plainly_global(address: str) -> bool:
    """Whether an address is global unicast, once any IPv4 address an IPv6 one carries is taken out (mapped,
    IPv4-compatible, NAT64, 6to4, Teredo): a wrapped 127.0.0.1 is loopback all the same."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_multicast or ip.is_site_local:
            return False
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and (ip in _NAT64 or ip in _IPV4_COMPATIBLE):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return plainly_global(str(inner))
    return ip.is_global and not ip.is_multicast


def resolve_destination(url: str) -> tuple[str | None, str | None]:
    """(an address `url`'s host resolves to that may receive webhooks, why not): the server must not be made
    to call into its own network. Deliveries connect to the address that was checked, never a second lookup."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        return None, f"the host {host[:100]!r} does not resolve"
    inner = sorted({a for a in addresses if not plainly_global(a)})
    if inner:
        return None, f"the host resolves to a non-public address ({', '.join(inner[:3])})"
    return addresses[0].split("%")[0], None


def refused_destination(url: str) -> str | None:
    """Why `url` may not receive webhooks, or None."""
    return resolve_destination(url)[1]


class WebhookService:
    """Subscriptions and dead letters; the caller owns the transaction."""

    def __init__(self, session: Session, clock: Clock, sealer: Sealer, allow_private: bool = False):
        self.session, self.clock, self.sealer, self.allow_private = session, clock, sealer, allow_private

    def create(self, principal: Principal, url: str, event_types: list[str],
               process_keys: list[str]) -> tuple[WebhookSubscription, str]:
        """A new subscription, and its signing secret (kept sealed; shown this once)."""
        require_client(principal, "webhooks")
        allowed = event_processes(principal)
        if allowed is not None:  # a client scoped to some processes subscribes to their events only
            if not set(process_keys) <= allowed:
                raise Refused(f"your scopes cover the events of {', '.join(sorted(allowed))} only")
            process_keys = process_keys or sorted(allowed)
        why = None if self.allow_private else refused_destination(url)
        if why:
            raise InvalidInput("this URL may not receive webhooks", [FieldError("/url", why)])
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        subscription = WebhookSubscription(id=str(uuid.uuid4()), url=url, secret=self.sealer.seal(secret),
                                           event_types=event_types,
                                           process_keys=process_keys, created_by=principal.user,
                                           created_at=self.clock.now(), active=True)
        self.session.add(subscription)
        self.session.flush()
        forget_subscriptions(self.session)
        return subscription, secret

    def list(self, principal: Principal) -> list[WebhookSubscription]:
        require_client(principal, "webhooks")
        return list(self.session.scalars(select(WebhookSubscription).where(
            WebhookSubscription.created_by == principal.user).order_by(WebhookSubscription.created_at)))

    def get(self, principal: Principal, subscription_id: str) -> WebhookSubscription:
        require_client(principal, "webhooks")
        subscription = self.session.get(WebhookSubscription, subscription_id)
        if subscription is None or subscription.created_by != principal.user:
            raise NotFound(f"no webhook {subscription_id}")
        return subscription

    def delete(self, principal: Principal, subscription_id: str) -> None:
        self.session.delete(self.get(principal, subscription_id))
        self.session.flush()
        forget_subscriptions(self.session)

    def failures(self, principal: Principal, subscription_id: str, cursor: str | None, limit: int) -> Page:
        """Dead-lettered deliveries of a subscription, oldest first."""
        self.get(principal, subscription_id)
        query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id,
                                              WebhookDelivery.state == "dead")
        return keyset_page(self.session, query, None, WebhookDelivery.id, cursor, limit)

    def _dead(self, principal: Principal, subscription_id: str, delivery_id: int) -> WebhookDelivery:
        self.get(principal, subscription_id)
        delivery = self.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.subscription_id != subscription_id or delivery.state != "dead":
            raise NotFound(f"no failed delivery {delivery_id} for webhook {subscription_id}")
        return delivery

    def redeliver(self, principal: Principal, subscription_id: str, delivery_id: int) -> WebhookDelivery:
        """Put a dead delivery back in line, to be sent at once; its case's later events follow it."""
        delivery = self._dead(principal, subscription_id, delivery_id)
        delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, self.clock.now()
        self.session.flush()
        return delivery

    def skip(self, principal: Principal, subscription_id: str, delivery_id: int) -> WebhookDelivery:
        """Give up on a dead delivery (the receiver will never get it), so its case's later events go out."""
        delivery = self._dead(principal, subscription_id, delivery_id)
        delivery.state = "skipped"
        delivery.last_error = f"skipped by {principal.user} at {self.clock.now().isoformat()}; " \
                              f"{delivery.last_error or ''}"[:1000]
        self.session.flush()
        return delivery

    def counts(self, subscription_id: str) -> dict[str, int]:
        """Dead letters, and the pending deliveries they hold back, of one subscription."""
        dead = aliased(WebhookDelivery)
        held = exists().where(and_(dead.subscription_id == WebhookDelivery.subscription_id,
                                   dead.case_id == WebhookDelivery.case_id, dead.state == "dead",
                                   dead.event_seq < WebhookDelivery.event_seq))
        base = select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.subscription_id == subscription_id)
        return {"dead": self.session.scalar(base.where(WebhookDelivery.state == "dead")),
                "held_back": self.session.scalar(base.where(WebhookDelivery.state == "pending", held))}


class Deliverer:
    """Sends due deliveries in batches; run by the worker, never inside a request."""

    def __init__(self, session_factory: sessionmaker, clock: Clock, sealer: Sealer, allow_private: bool = False,
                 wall_clock: Clock | None = None, batch_size: int = 50, timeout: float = 10.0,
                 retry_window: timedelta = RETRY_WINDOW):
        self.session_factory, self.clock = session_factory, clock
        self.sealer, self.allow_private = sealer, allow_private
        self.wall_clock = wall_clock or SystemClock()  # signatures carry real time: receivers check freshness
        self.batch_size, self.retry_window = batch_size, retry_window
        self.timeout = timeout  # the whole attempt: connect, send, and the answer to its last byte

    def _post(self, url: str, body: bytes, headers: dict, address: str | None = None) -> httpx.Response:
        """POST with a total deadline: cancelling the request closes its connection, however slowly it answers.
        Redirects are never followed (a 3xx is a failed attempt). With `address`, the connection goes to that
        (checked) address, with the URL's host in the Host header and TLS name, so a name that changes between
        the check and the connection gains nothing."""
        parts = urlsplit(url)
        extensions = {}
        if address is not None:
            host = f"[{address}]" if ":" in address else address
            headers = {**headers, "host": parts.netloc.rsplit("@", 1)[-1]}
            if parts.scheme == "https":
                extensions["sni_hostname"] = parts.hostname
            url = parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()

        async def post() -> httpx.Response:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                request = client.build_request("POST", url, content=body, headers=headers, extensions=extensions)
                return await asyncio.wait_for(client.send(request), self.timeout)
        try:
            return asyncio.run(post())
        except (asyncio.TimeoutError, TimeoutError):
            raise httpx.TimeoutException(f"no complete answer within {self.timeout:g} s") from None

    def _claim(self, session: Session) -> list[WebhookDelivery]:
        earlier = aliased(WebhookDelivery)
        blocked = exists().where(and_(earlier.subscription_id == WebhookDelivery.subscription_id,
                                      earlier.case_id == WebhookDelivery.case_id, earlier.state.in_(HOLDING),
                                      earlier.event_seq < WebhookDelivery.event_seq))
        query = (select(WebhookDelivery).where(WebhookDelivery.state == "pending",
                                               WebhookDelivery.next_attempt_at <= self.clock.now(), ~blocked)
                 .order_by(WebhookDelivery.event_seq).limit(self.batch_size))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
        return list(session.scalars(query).unique())

    def run_once(self) -> int:
        """Attempt one batch of due deliveries; returns how many were attempted.

        The batch is claimed in a short transaction that leases it (nobody else takes it until the lease runs
        out, so a worker that dies mid-delivery leaves it to the next), and sent with no transaction open: a
        slow receiver holds no row lock, and a subscription can be deleted meanwhile."""
        with self.session_factory() as session:
            now, batch = self.clock.now(), []
            for delivery in self._claim(session):
                subscription = session.get(WebhookSubscription, delivery.subscription_id)
                body = json.dumps(cloudevent(delivery.event), ensure_ascii=False, separators=(",", ":"))
                batch.append(_InFlight(delivery.id, subscription.id, subscription.url, subscription.secret,
                                       delivery.event.id, delivery.event.time, body))
                delivery.next_attempt_at = now + timedelta(seconds=self.timeout + LEASE_MARGIN)
            session.commit()
        failing: set[str] = set()
        for item in batch:
            if item.subscription_id in failing:  # one failure per receiver per batch: a receiver that is down
                self._record(item, None, "not attempted: the receiver failed just before", attempted=False)
                continue
            status, error = self._send(item)
            self._record(item, status, error)
            if error is not None:
                failing.add(item.subscription_id)
        return len(batch)

    def next_attempt_at(self) -> datetime | None:
        """When the next pending delivery is due, for the worker's sleep."""
        with self.session_factory() as session:
            return session.scalar(select(func.min(WebhookDelivery.next_attempt_at))
                                  .where(WebhookDelivery.state == "pending"))

    def run_until_idle(self) -> int:
        total = 0
        while attempted := self.run_once():
            total += attempted
        return total

    def _send(self, item: "_InFlight") -> tuple[int | None, str | None]:
        """(HTTP status, error or None when delivered) of one attempt."""
        sent_at = self.wall_clock.now().astimezone(timezone.utc)
        headers = {"webhook-id": item.event_id, "webhook-timestamp": str(int(sent_at.timestamp())),
                   "webhook-signature": Webhook(self.sealer.open(item.secret)).sign(item.event_id, sent_at, item.body),
                   "content-type": "application/cloudevents+json; charset=utf-8"}
        try:
            # Checked again at each attempt (the name may point somewhere else since it was subscribed), and
            # the connection goes to the address that passed.
            address, why = (None, None) if self.allow_private else resolve_destination(item.url)
            if why:
                raise httpx.RequestError(f"destination refused: {why}")
            response = self._post(item.url, item.body.encode(), headers, address)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:1000]
        return response.status_code, None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"

    def _record(self, item: "_InFlight", status: int | None, error: str | None, attempted: bool = True) -> None:
        """The attempt's outcome, in a transaction of its own: delivered, retried after a back-off, or dead."""
        with self.session_factory() as session:
            delivery = session.get(WebhookDelivery, item.id)
            if delivery is None:  # its subscription was deleted while it was in flight
                return
            now = self.clock.now()
            if attempted:
                delivery.attempts += 1
                delivery.last_status, delivery.last_error = status, error
            if attempted and error is None:
                delivery.state, delivery.delivered_at = "delivered", now
            elif attempted and now - item.event_time >= self.retry_window:
                delivery.state = "dead"
                log.warning("webhook_dead_lettered", delivery_id=item.id, subscription_id=item.subscription_id,
                            event_id=item.event_id, attempts=delivery.attempts)
            else:
                delivery.next_attempt_at = now + backoff(max(delivery.attempts, 1))
            session.commit()


@dataclass(frozen=True)
class _InFlight:
    """What one delivery needs once its claim has committed."""

    id: int
    subscription_id: str
    url: str
    secret: str
    event_id: str
    event_time: datetime
    body: str
