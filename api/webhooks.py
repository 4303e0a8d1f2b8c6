"""Webhooks: an organisation's subscriptions, signed deliveries, retries and their log.

* ``POST /v1/webhooks`` ``{"url", "topics"}`` subscribes the caller's organisation to
  :data:`~insutrace.trace.notify.TOPICS` (what each reaches: :mod:`insutrace.trace.notify`).
  The answer carries the signing secret ``whsec_<base64>`` once; it is never shown again.
  ``GET /v1/webhooks`` lists, ``DELETE /v1/webhooks/{id}`` ends one,
  ``GET /v1/webhooks/{id}/deliveries`` is its delivery log.
* A subscription hears of entries logged after it was made. The :class:`Worker` (a thread of
  the server process) reads each new entry once per subscription, queues a delivery per
  notice, and POSTs it as JSON ``{"type", "timestamp", "data"}`` signed per Standard
  Webhooks 1.0.0: ``webhook-id`` (the delivery's id, the same on every retry),
  ``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``
  ``v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>``.
* Any 2xx is delivered; anything else (3xx included: redirects are not followed, timeouts,
  refused connections) is retried after :data:`RETRY_SCHEDULE` with ±10 % jitter, then
  marked failed. 410 Gone ends the subscription.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from insutrace.api.deps import AccountDep, Services, ServicesDep
from insutrace.api.interop_tables import delivery_table, subscription_table
from insutrace.api.problems import PROBLEM_RESPONSES
from insutrace.trace.entry import Entry
from insutrace.trace.errors import NotFound, RuleViolation
from insutrace.trace.notify import TOPICS, names_org, notices

__all__ = ["RETRY_SCHEDULE", "Worker", "router", "sign"]

log = logging.getLogger("insutrace.webhooks")
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=PROBLEM_RESPONSES)

RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
"""Seconds before each retry (Standard Webhooks' example: 5 s, 5 min, 30 min, 2 h, 5 h,
10 h, 14 h, 20 h, 24 h — the last about 75 h after the first attempt)."""
TIMEOUT = 15.0
BATCH = 200


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` of a delivery: ``v1,<base64 HMAC-SHA256>`` keyed by the
    decoded bytes of ``whsec_<base64>``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- subscriptions -------------------------------------------------------------------------


class SubscriptionIn(BaseModel):
    url: str = Field(max_length=500, description="The http(s) endpoint to POST to.")
    topics: list[str] = Field(min_length=1, max_length=len(TOPICS), description=", ".join(TOPICS))


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "url": row["url"],
        "topics": json.loads(row["topics"]),
        "created": row["created"],
        "active": bool(row["active"]),
    }


def _create(services: Services, org: str, body: SubscriptionIn) -> dict[str, Any]:
    parts = urlsplit(body.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation("webhook.dest", f"{body.url} is not an http(s) URL")
    unknown = sorted(set(body.topics) - set(TOPICS))
    if unknown:
        raise RuleViolation(
            "webhook.topic", f"unknown topics {', '.join(unknown)} (known: {', '.join(TOPICS)})"
        )
    with services.ledger.store.read() as tx:
        size = tx.head()[0]
    row = {
        "id": "wh_" + secrets.token_hex(8),
        "org": org,
        "url": body.url,
        "topics": json.dumps(sorted(set(body.topics))),
        "secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "created": _iso(time.time()),
        "after": size - 1,
        "active": True,
    }
    with services.accounts.engine.begin() as conn:
        conn.execute(subscription_table.insert().values(**row))
    return {**_public(row), "secret": row["secret"]}


def _own(services: Services, org: str, sub_id: str) -> Any:
    with services.accounts.engine.connect() as conn:
        row = conn.execute(
            select(subscription_table).where(
                subscription_table.c.id == sub_id, subscription_table.c.org == org
            )
        ).first()
    if row is None:
        raise NotFound(f"no webhook {sub_id} of {org}")
    return row


@router.post("", status_code=201, summary="Subscribe my organisation to topics")
async def create_webhook(
    body: SubscriptionIn, services: ServicesDep, account: AccountDep
) -> JSONResponse:
    """The new subscription with its signing secret (shown only here)."""
    created = await run_in_threadpool(_create, services, account.org, body)
    return JSONResponse(
        created, status_code=201, headers={"Location": f"/v1/webhooks/{created['id']}"}
    )


@router.get("", summary="My organisation's subscriptions")
async def list_webhooks(services: ServicesDep, account: AccountDep) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        with services.accounts.engine.connect() as conn:
            rows = conn.execute(
                select(subscription_table)
                .where(subscription_table.c.org == account.org)
                .order_by(subscription_table.c.created, subscription_table.c.id)
            ).all()
        return [_public(dict(r._mapping)) for r in rows]

    return await run_in_threadpool(read)


@router.delete("/{sub_id}", status_code=204, summary="End a subscription")
async def delete_webhook(
    services: ServicesDep, account: AccountDep, sub_id: Annotated[str, Path(max_length=40)]
) -> Response:
    def delete() -> None:
        _own(services, account.org, sub_id)
        with services.accounts.engine.begin() as conn:
            conn.execute(delivery_table.delete().where(delivery_table.c.subscription == sub_id))
            conn.execute(subscription_table.delete().where(subscription_table.c.id == sub_id))

    await run_in_threadpool(delete)
    return Response(status_code=204)


@router.get("/{sub_id}/deliveries", summary="A subscription's delivery log")
async def deliveries(
    services: ServicesDep, account: AccountDep, sub_id: Annotated[str, Path(max_length=40)]
) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        _own(services, account.org, sub_id)
        with services.accounts.engine.connect() as conn:
            rows = conn.execute(
                select(delivery_table)
                .where(delivery_table.c.subscription == sub_id)
                .order_by(delivery_table.c.seq, delivery_table.c.id)
            ).all()
        return [
            {
                "id": r.id,
                "topic": r.topic,
                "seq": r.seq,
                "status": r.status,
                "attempts": r.attempts,
                "created": r.created,
                "next_attempt": r.next_at,
                "delivered": r.delivered,
                "last_status_code": r.last_code,
                "last_error": r.last_error,
                "body": json.loads(r.body),
            }
            for r in rows
        ]

    return await run_in_threadpool(read)


# -- the worker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sub:
    id: str
    org: str
    topics: frozenset[str]
    after: int


class Worker:
    """Queues and sends the deliveries: :meth:`run_once` does one round (new entries →
    deliveries, then every due delivery); :meth:`start` runs rounds in a daemon thread
    every ``interval`` seconds until :meth:`stop`. Several workers may share a database:
    a subscription's progress and a delivery's attempt are each claimed by a conditional
    update, so nothing is queued or sent twice."""

    def __init__(
        self,
        services: Services,
        *,
        interval: float = 1.0,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        timeout: float = TIMEOUT,
        jitter: float = 0.1,
    ) -> None:
        self.services = services
        self.interval = interval
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.jitter = jitter
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="insutrace-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep the server's worker alive; the next round retries
                log.exception("webhook round failed")

    def run_once(self) -> int:
        """Queue the deliveries of new entries and send those due; how many were sent."""
        for sub in self._subscriptions():
            self._queue(sub)
        return self._send_due()

    def _subscriptions(self) -> list[_Sub]:
        with self.services.accounts.engine.connect() as conn:
            rows = conn.execute(
                select(subscription_table).where(subscription_table.c.active.is_(True))
            ).all()
        return [_Sub(r.id, r.org, frozenset(json.loads(r.topics)), int(r.after)) for r in rows]

    def _queue(self, sub: _Sub) -> None:
        queued: list[dict[str, Any]] = []
        with self.services.ledger.store.read() as tx:
            size = tx.head()[0]
            stop = min(size, sub.after + 1 + BATCH)
            rows = tx.entries(sub.after + 1, stop) if stop > sub.after + 1 else []
            for seq, data in zip(range(sub.after + 1, stop), rows, strict=True):
                entry = Entry.from_bytes(data)
                found = [n for n in notices(tx, seq, entry) if n.org == sub.org]
                for n in found:
                    if n.topic in sub.topics:
                        queued.append(self._delivery(sub, n.topic, seq, entry, n.data))
                if "entry.names_org" in sub.topics and names_org(tx, seq, entry, sub.org):
                    data_ = {"org": sub.org}
                    queued.append(self._delivery(sub, "entry.names_org", seq, entry, data_))
        if stop <= sub.after + 1:
            return
        with self.services.accounts.engine.begin() as conn:
            claimed = conn.execute(
                update(subscription_table)
                .where(subscription_table.c.id == sub.id, subscription_table.c.after == sub.after)
                .values(after=stop - 1)
            ).rowcount
            if claimed == 1 and queued:
                conn.execute(delivery_table.insert(), queued)

    def _delivery(
        self, sub: _Sub, topic: str, seq: int, entry: Entry, facts: dict[str, Any]
    ) -> dict[str, Any]:
        body = {
            "type": topic,
            "timestamp": entry.time,
            "data": {"seq": seq, "entryType": entry.type, "actor": entry.actor, **facts},
        }
        now = _iso(time.time())
        return {
            "id": "msg_" + secrets.token_hex(12),
            "subscription": sub.id,
            "topic": topic,
            "seq": seq,
            "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            "created": now,
            "attempts": 0,
            "next_at": now,
            "status": "pending",
            "last_code": None,
            "last_error": None,
            "delivered": None,
        }

    def _send_due(self) -> int:
        now = _iso(time.time())
        with self.services.accounts.engine.connect() as conn:
            due = conn.execute(
                select(delivery_table, subscription_table.c.url, subscription_table.c.secret)
                .join(subscription_table, subscription_table.c.id == delivery_table.c.subscription)
                .where(
                    delivery_table.c.status == "pending",
                    delivery_table.c.next_at <= now,
                    subscription_table.c.active.is_(True),
                )
                .order_by(delivery_table.c.next_at, delivery_table.c.seq)
                .limit(BATCH)
            ).all()
        if not due:  # a client costs a TLS context (milliseconds of CPU): only when sending
            return 0
        sent = 0
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
            for row in due:
                if self._claim(row):
                    sent += self._attempt(http, row)
        return sent

    def _claim(self, row: Any) -> bool:
        """Take the delivery for this attempt (another worker may hold it)."""
        with self.services.accounts.engine.begin() as conn:
            return (
                conn.execute(
                    update(delivery_table)
                    .where(
                        delivery_table.c.id == row.id,
                        delivery_table.c.status == "pending",
                        delivery_table.c.attempts == row.attempts,
                    )
                    .values(status="sending")
                ).rowcount
                == 1
            )

    def _attempt(self, http: httpx.Client, row: Any) -> int:
        stamp = int(time.time())
        body = row.body.encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": row.id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(row.secret, row.id, stamp, body),
            "user-agent": "InsuTrace-Webhooks",
        }
        code: int | None = None
        error: str | None = None
        try:
            code = http.post(row.url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = int(row.attempts) + 1
        values: dict[str, Any] = {"attempts": attempts, "last_code": code, "last_error": error}
        if code is not None and 200 <= code < 300:
            values |= {"status": "delivered", "next_at": None, "delivered": _iso(time.time())}
        elif attempts > len(self.schedule):
            values |= {"status": "failed", "next_at": None}
        else:
            wait = self.schedule[attempts - 1] * (1 + random.uniform(-self.jitter, self.jitter))
            values |= {"status": "pending", "next_at": _iso(time.time() + wait)}
        with self.services.accounts.engine.begin() as conn:
            conn.execute(
                update(delivery_table).where(delivery_table.c.id == row.id).values(**values)
            )
            if code == 410:  # the receiver asks to be left alone
                conn.execute(
                    update(subscription_table)
                    .where(subscription_table.c.id == row.subscription)
                    .values(active=False)
                )
                conn.execute(
                    update(delivery_table)
                    .where(
                        delivery_table.c.subscription == row.subscription,
                        delivery_table.c.status == "pending",
                    )
                    .values(status="failed", next_at=None)
                )
        return 1 if values["status"] == "delivered" else 0
