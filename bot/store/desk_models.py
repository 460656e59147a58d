"""Tables of the officers' desk: web sessions and login throttles (shared by every bot process),
notices and their deliveries, Web Push subscriptions, answer templates, triage corrections,
documents (acceptance notices, decisions, extensions) and the admin audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base
from bot.store.types import utcnow


class DeskSession(Base):
    """A logged-in desk session. Only the hash of the cookie's token is stored; the CSRF secret
    is per session, so every bot process checks the same token."""

    __tablename__ = "desk_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"),
                                            index=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins per key (a username, or a client address), seen by every process."""

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class OfficerNotice(Base):
    """Every notice to an officer is kept here (the desk's list and unread count), whatever
    happens to its deliveries by push, e-mail or chat."""

    __tablename__ = "officer_notices"
    __table_args__ = (Index("ix_officer_notices_unread", "officer_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # new | assigned | escalated | reminder | citizen_answered | reopened | urgent | digest
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class NoticeDelivery(Base):
    """One way a notice reaches the officer beyond the desk: push, email or chat (the chat one
    points at its outbox row). `held` says why it could not go (no subscription, no SMTP...)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_id", "via"),
                      Index("ix_notice_deliveries_due", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("officer_notices.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(20))  # push | email | chat
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|held|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]  # a worker's lease; another process skips the row
    last_error: Mapped[str | None] = mapped_column(String(500))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    sent_at: Mapped[datetime | None]


class PushSubscription(Base):
    """A browser's Web Push subscription (endpoint and keys from PushManager.subscribe)."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"),
                                            index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_error: Mapped[str | None] = mapped_column(String(500))


class AnswerTemplate(Base):
    """An answer an officer starts from (per category; empty category = any), edited by admins."""

    __tablename__ = "answer_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str | None] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NluCorrection(Base):
    """An acceptance (thụ lý) that changed the predicted category or kind: what the NLU said,
    what the officer fixed, how sure the NLU was, who and when. Codes only, no text."""

    __tablename__ = "nlu_corrections"
    __table_args__ = (UniqueConstraint("ticket_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    predicted_category: Mapped[str | None] = mapped_column(String(40))
    predicted_kind: Mapped[str | None] = mapped_column(String(20))
    fixed_category: Mapped[str] = mapped_column(String(40))
    fixed_kind: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketDocument(Base):
    """A numbered document of the procedure: acceptance notice (thông báo thụ lý), decision,
    extension decision (gia hạn, tố cáo art. 30), with the signed PDF when uploaded."""

    __tablename__ = "ticket_documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # acceptance | decision | extension | answer
    number: Mapped[str] = mapped_column(String(100))
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdminChange(Base):
    """Who changed which admin record (unit, area, officer, rule, FAQ, template), and which
    fields; never the values (they may be personal)."""

    __tablename__ = "admin_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # create | update | deactivate | delete
    fields: Mapped[list[Any]] = mapped_column(default=list)
