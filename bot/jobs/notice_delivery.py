"""Deliver officer notices by Web Push and e-mail (the chat ones go through the outbox).

Every bot process may run this job: a worker first claims due rows (a lease in claimed_until,
taken with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, and under SQLite's write lock, which
every transaction takes at BEGIN), so two workers never send one delivery twice. Sending
happens outside any transaction; the result is written back and the lease released.
Temporary errors back off exponentially; permanent ones stop with the reason."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import structlog
from sqlalchemy import or_, select, update

from bot.channels.base import PermanentError, TemporaryError
from bot.core import digest, webpush
from bot.core.clock import Clock, system_clock
from bot.core.notices import HELD_NO_EMAIL, HELD_NO_SMTP, HELD_PUSH
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery, OfficerNotice, PushSubscription
from bot.store.models import Officer, Ticket

log = structlog.get_logger(__name__)

JOB_NAME = "notice_delivery"
INTERVAL_SECONDS = 10
LEASE_SECONDS = 300  # longer than one batch can take; a crashed worker's rows come back after
BATCH_SIZE = 20
MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
SMTP_TIMEOUT_SECONDS = 20
VIAS = ("push", "email")

# the same reasons notices.store_notice gives when it holds a delivery at once
NO_SUBSCRIPTION, NO_SMTP, NO_EMAIL = HELD_PUSH, HELD_NO_SMTP, HELD_NO_EMAIL
KIND_LABELS = {
    "new": "Đơn mới", "assigned": "Đơn được giao", "escalated": "Đơn cần đôn đốc",
    "reminder": "Nhắc hạn xử lý", "citizen_answered": "Công dân đã bổ sung",
    "reopened": "Đơn được mở lại", "urgent": "KHẨN", "digest": "Tổng hợp",
}
EMAIL_FOOTER = ("\n\n--\nThư gửi tự động từ hệ thống Nghe Dân. Anh/chị mở đường dẫn trên để xem "
                "và xử lý đơn; vui lòng không trả lời thư này.")


@dataclass
class Outcome:
    """What happened to one delivery: sent, or an error (temporary or not)."""

    sent: bool = False
    error: str | None = None
    temporary: bool = False
    retry_after: float | None = None
    held: bool = False
    gone_subscriptions: list[int] = field(default_factory=list)


@dataclass
class Job:
    """One claimed delivery with what sending needs, detached from the session."""

    delivery_id: int
    via: str
    officer_id: int
    officer_email: str | None
    kind: str
    text: str
    link: str
    ticket_code: str | None
    notice_id: int
    # a digest's e-mail: its own subject, the digest text as body, the chart and the workbook
    subject: str | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


def claim_due(db_url: str, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Lease up to `limit` due push/e-mail deliveries to this worker; returns their ids."""
    with session_scope(db_url) as session:
        ids = list(session.scalars(
            select(NoticeDelivery.id)
            .where(NoticeDelivery.status == "pending", NoticeDelivery.via.in_(VIAS),
                   NoticeDelivery.next_attempt_at <= now,
                   or_(NoticeDelivery.claimed_until.is_(None),
                       NoticeDelivery.claimed_until < now))
            .order_by(NoticeDelivery.next_attempt_at, NoticeDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(NoticeDelivery).where(NoticeDelivery.id.in_(ids))
                            .values(claimed_until=now + timedelta(seconds=LEASE_SECONDS)))
        return ids


def _absolute(link: str | None, settings: Settings) -> str:
    base = settings.desk_base_url
    if not link:
        return f"{base}/desk/notices"
    return f"{base}{link}" if link.startswith("/") else link


def _load(db_url: str, ids: list[int], settings: Settings) -> list[Job]:
    with session_scope(db_url) as session:
        rows = session.execute(
            select(NoticeDelivery, OfficerNotice, Officer.email, Ticket.code)
            .join(OfficerNotice, OfficerNotice.id == NoticeDelivery.notice_id)
            .join(Officer, Officer.id == OfficerNotice.officer_id)
            .outerjoin(Ticket, Ticket.id == OfficerNotice.ticket_id)
            .where(NoticeDelivery.id.in_(ids)).order_by(NoticeDelivery.id)).all()
        jobs = [Job(delivery.id, delivery.via, notice.officer_id, email, notice.kind,
                    notice.text, _absolute(notice.link, settings), code, notice.id)
                for delivery, notice, email, code in rows]
        for job in jobs:
            if job.kind == "digest" and job.via == "email":
                parts = digest.email_parts(session, job.link)
                if parts is not None:
                    job.subject, job.text, job.attachments = parts
        return jobs


def _title(job: Job) -> str:
    label = KIND_LABELS.get(job.kind, "Thông báo")
    return f"{label} {job.ticket_code}" if job.ticket_code else label


def push_payload(job: Job) -> str:
    """What the service worker shows: title, body, the page to open, a tag per notice."""
    body = job.text if len(job.text) <= 600 else job.text[:597] + "..."
    return json.dumps({"title": f"Nghe Dân: {_title(job)}", "body": body, "url": job.link,
                       "tag": f"notice-{job.notice_id}", "code": job.ticket_code},
                      ensure_ascii=False)


def _send_push(db_url: str, job: Job, settings: Settings) -> Outcome:
    with session_scope(db_url) as session:
        subscriptions = list(session.scalars(
            select(PushSubscription).where(PushSubscription.officer_id == job.officer_id,
                                           PushSubscription.active.is_(True))
            .order_by(PushSubscription.id)))
        session.expunge_all()
    if not subscriptions:
        return Outcome(error=NO_SUBSCRIPTION, held=True)
    payload = push_payload(job)
    outcome = Outcome()
    errors: list[str] = []
    for subscription in subscriptions:
        try:
            webpush.send_push(subscription, payload, settings)
            outcome.sent = True
        except webpush.SubscriptionGone as error:
            outcome.gone_subscriptions.append(subscription.id)
            errors.append(str(error))
        except TemporaryError as error:
            outcome.temporary = True
            outcome.retry_after = error.retry_after
            errors.append(str(error))
        except PermanentError as error:
            errors.append(str(error))
    if not outcome.sent:
        outcome.error = "; ".join(dict.fromkeys(errors))
    return outcome


def email_message(job: Job, settings: Settings, to: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[Nghe Dân] {job.subject or _title(job)}"
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    link = "" if job.link in job.text else f"\n\n{job.link}"
    message.set_content(f"{job.text}{link}{EMAIL_FOOTER}")
    for name, mime, data in job.attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def _smtp_send(message: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                      timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


def _send_email(job: Job, settings: Settings) -> Outcome:
    if not settings.smtp_enabled:
        return Outcome(error=NO_SMTP, held=True)
    if not job.officer_email:
        return Outcome(error=NO_EMAIL, held=True)
    try:
        message = email_message(job, settings, job.officer_email)
    except ValueError:  # e.g. a line break in the stored address: never a header injection
        return Outcome(error="địa chỉ e-mail không hợp lệ")
    try:
        _smtp_send(message, settings)
    except smtplib.SMTPRecipientsRefused:
        return Outcome(error="máy chủ thư từ chối địa chỉ người nhận")
    except smtplib.SMTPResponseException as error:
        temporary = not 500 <= error.smtp_code < 600 or isinstance(
            error, smtplib.SMTPAuthenticationError)
        return Outcome(error=f"máy chủ thư trả lời {error.smtp_code}", temporary=temporary)
    except (smtplib.SMTPException, OSError) as error:
        return Outcome(error=f"e-mail: lỗi kết nối ({type(error).__name__})", temporary=True)
    return Outcome(sent=True)


def _record(db_url: str, job: Job, outcome: Outcome, now: datetime) -> str:
    """Write the result back and release the lease; returns the delivery's new status."""
    with session_scope(db_url) as session:
        for subscription_id in outcome.gone_subscriptions:
            subscription = session.get(PushSubscription, subscription_id)
            if subscription is not None:
                subscription.active = False
                subscription.last_error = (outcome.error or "")[:500]
        row = session.get(NoticeDelivery, job.delivery_id)
        if row is None or row.status != "pending":
            return row.status if row is not None else "gone"
        row.claimed_until = None
        row.attempts += 1
        if outcome.sent:
            row.status, row.sent_at, row.last_error = "sent", now, None
            return row.status
        row.last_error = (outcome.error or "không rõ lỗi")[:500]
        if outcome.held:
            row.status = "held"
        elif not outcome.temporary or row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
        else:
            delay = outcome.retry_after or min(
                BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
            row.next_attempt_at = now + timedelta(seconds=delay)
        return row.status


def _send(db_url: str, job: Job, settings: Settings) -> Outcome:
    try:
        if job.via == "push":
            return _send_push(db_url, job, settings)
        return _send_email(job, settings)
    except Exception as error:  # a bug or an odd library error must not stop the batch
        log.exception("notice_delivery_error", delivery_id=job.delivery_id, via=job.via)
        return Outcome(error=f"lỗi không mong đợi ({type(error).__name__})", temporary=True)


def _release(db_url: str, ids: list[int]) -> None:
    with session_scope(db_url) as session:
        session.execute(update(NoticeDelivery).where(NoticeDelivery.id.in_(ids))
                        .values(claimed_until=None))


def deliver_notices(db_url: str, settings: Settings | None = None,
                    clock: Clock = system_clock, limit: int = BATCH_SIZE) -> dict[str, int]:
    """Claim what is due, send it, record it. Returns counts per resulting status."""
    settings = settings or load_settings()
    ids = claim_due(db_url, clock(), limit)
    counts: dict[str, int] = {}
    if not ids:
        return counts
    started = time.monotonic()
    jobs = _load(db_url, ids, settings)
    for index, job in enumerate(jobs):
        if time.monotonic() - started > LEASE_SECONDS / 2:  # slow services: never outlive
            _release(db_url, [j.delivery_id for j in jobs[index:]])  # the lease
            break
        outcome = _send(db_url, job, settings)
        status = _record(db_url, job, outcome, clock())
        counts[status] = counts.get(status, 0) + 1
        if outcome.error and not outcome.held:
            log.warning("notice_delivery_failed", delivery_id=job.delivery_id, via=job.via,
                        status=status, reason=outcome.error)
    log.info("notice_delivery", **counts)
    return counts
