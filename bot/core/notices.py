"""Notices to officers: every one is stored for the desk (its list and unread count), whatever
happens to its deliveries. On top of that, one delivery row per way it may also reach the
officer: Web Push, e-mail and chat. A way that cannot be used now is `held`, with the reason
shown on the desk; push and e-mail rows are `pending` for the delivery job; the chat one is an
outbox row (`queued`, with its outbox id), sent by the channel like every other message."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.messaging import Outbound, queue_outbound
from bot.settings import load_settings
from bot.store.desk_models import NoticeDelivery, OfficerNotice, PushSubscription
from bot.store.models import ChannelIdentity, Officer, Ticket

KINDS = ("new", "assigned", "escalated", "reminder", "citizen_answered", "reopened", "urgent",
         "digest", "channel")  # channel: a chat channel needs an admin (Zalo token refresh)
HELD_PUSH = "chưa bật thông báo trên trình duyệt"
HELD_NO_SMTP = "máy chủ thư (SMTP) chưa được cấu hình"
HELD_NO_EMAIL = "cán bộ chưa có địa chỉ thư điện tử"
HELD_NO_CHAT = "chưa liên kết tài khoản chat"
TAKE, SHOW = "Nhận xử lý", "Chi tiết"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # a link never used sorts last


def ticket_link(code: str, base_url: str | None = None) -> str:
    """The desk page of a ticket (settings.desk_base_url unless given)."""
    base = load_settings().desk_base_url if base_url is None else base_url
    return f"{base.rstrip('/')}/desk/tickets/{code}"


def ticket_buttons(code: str) -> list[dict[str, str]]:
    """The chat quick actions under a ticket's notice (bot.dialogue.officer_chat handles them)."""
    return [{"title": TAKE, "payload": f"officer:take:{code}"},
            {"title": SHOW, "payload": f"officer:show:{code}"}]


def officer_address(session: Session, officer: Officer) -> ChannelIdentity | None:
    """The one linked chat account (Telegram, Zalo OA, Zalo Bot...) a notice goes to: the one
    the officer wrote from last (channel_identities.last_seen_at; linking counts as writing),
    then the preferred channel, then the oldest link. One account, so a quick action is never
    offered twice; on the Zalo OA the account written from last is also the likeliest to be
    inside Zalo's consultation window."""
    identities = list(session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.officer_id == officer.id)))
    if not identities:
        return None
    return max(identities, key=lambda i: (i.last_seen_at or NEVER,
                                          i.channel == officer.preferred_channel, -i.id))


def store_notice(session: Session, officer: Officer, ticket: Ticket | None, kind: str,
                 text: str, key: str, now: datetime, link: str | None,
                 buttons: list[dict[str, str]] | None = None) -> OfficerNotice:
    """Keep the notice (once per dedupe `key`: a retried step returns the stored one) and its
    push, e-mail and chat deliveries, each pending, queued or held with the reason."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind}")
    existing = session.scalar(select(OfficerNotice).where(OfficerNotice.dedupe_key == key))
    if existing is not None:
        return existing
    notice = OfficerNotice(dedupe_key=key, officer_id=officer.id,
                           ticket_id=ticket.id if ticket is not None else None, kind=kind,
                           text=text, link=link, created_at=now)
    try:
        with session.begin_nested():  # another process may store the same notice meanwhile
            session.add(notice)
    except IntegrityError:
        return session.scalar(select(OfficerNotice).where(OfficerNotice.dedupe_key == key))
    _deliveries(session, notice, officer, ticket, text, key, now, link, buttons)
    return notice


def _deliveries(session: Session, notice: OfficerNotice, officer: Officer, ticket: Ticket | None,
                text: str, key: str, now: datetime, link: str | None,
                buttons: list[dict[str, str]] | None) -> None:
    def add(via: str, status: str, reason: str | None = None, outbox_id: int | None = None):
        session.add(NoticeDelivery(notice_id=notice.id, via=via, status=status, last_error=reason,
                                   outbox_id=outbox_id, next_attempt_at=now))

    subscribed = session.scalar(select(PushSubscription.id).where(
        PushSubscription.officer_id == officer.id, PushSubscription.active).limit(1))
    if subscribed:
        add("push", "pending")
    else:
        add("push", "held", HELD_PUSH)
    if not load_settings().smtp_enabled:
        add("email", "held", HELD_NO_SMTP)
    elif not (officer.email or "").strip():
        add("email", "held", HELD_NO_EMAIL)
    else:
        add("email", "pending")
    address = officer_address(session, officer)
    if address is None:
        add("chat", "held", HELD_NO_CHAT)
        return
    chat_text = text if not link or link in text else f"{text}\n{link}"
    row = queue_outbound(session, Outbound(
        address.channel, address.external_id, chat_text, buttons=buttons or [],
        officer_id=officer.id, ticket_id=ticket.id if ticket is not None else None), key, now)
    add("chat", "queued", outbox_id=row.id)


def unread_count(session: Session, officer_id: int) -> int:
    return session.scalar(select(func.count(OfficerNotice.id)).where(
        OfficerNotice.officer_id == officer_id, OfficerNotice.read_at.is_(None))) or 0


def list_notices(session: Session, officer_id: int, limit: int = 50) -> list[OfficerNotice]:
    """Newest first."""
    return list(session.scalars(select(OfficerNotice).where(
        OfficerNotice.officer_id == officer_id)
        .order_by(OfficerNotice.created_at.desc(), OfficerNotice.id.desc()).limit(limit)))


def deliveries_of(session: Session, notice_id: int) -> list[NoticeDelivery]:
    """How the notice went out beyond the desk (push, email, chat), for the notices page."""
    return list(session.scalars(select(NoticeDelivery).where(
        NoticeDelivery.notice_id == notice_id).order_by(NoticeDelivery.id)))


def mark_read(session: Session, officer_id: int, notice_id: int | None = None,
              now: datetime | None = None) -> int:
    """Mark one notice (or, with None, all) of this officer read; another officer's notice is
    left alone. Returns how many changed."""
    when = now or datetime.now(UTC)
    query = update(OfficerNotice).where(OfficerNotice.officer_id == officer_id,
                                        OfficerNotice.read_at.is_(None))
    if notice_id is not None:
        query = query.where(OfficerNotice.id == notice_id)
    return session.execute(query.values(read_at=when)).rowcount or 0
