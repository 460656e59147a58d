"""The schema: typed SQLAlchemy 2 mappings. Migrations in bot/store/migrations follow this file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgUnit(Timestamped, Base):
    """Province -> commune/ward -> department; a tree, no district level (since 1/7/2025)."""

    __tablename__ = "org_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    is_triage: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")
    areas: Mapped[list[Area]] = relationship(back_populates="unit")


class Area(Timestamped, Base):
    """Thôn, xóm, ấp, bản, tổ dân phố inside a commune; aliases help matching free text."""

    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("unit_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    # vùng sâu, vùng xa: longer complaint clocks (Luật Khiếu nại 2011, art. 28)
    is_remote: Mapped[bool] = mapped_column(Boolean, default=False)

    unit: Mapped[OrgUnit] = relationship(back_populates="areas")


class Officer(Timestamped, Base):
    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(200))
    on_call: Mapped[bool] = mapped_column(Boolean, default=False)  # urgent reports, any hour

    unit: Mapped[OrgUnit] = relationship()
    roles: Mapped[list[OfficerRole]] = relationship(cascade="all, delete-orphan")


class OfficerRole(Base):
    __tablename__ = "officer_roles"
    __table_args__ = (UniqueConstraint("officer_id", "role", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))


class Citizen(Timestamped, Base):
    """One person, possibly reached on several channels. Only what answering needs is kept."""

    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(20))
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    erased_at: Mapped[datetime | None]
    # Separate from the privacy consent: may their words train the NLU? None = not asked.
    training_consent: Mapped[bool | None] = mapped_column(Boolean)
    training_consent_at: Mapped[datetime | None]

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="citizen")


class ChannelIdentity(Timestamped, Base):
    """An account on one channel (Telegram user id, Zalo user id, web session), for a citizen
    or, once linked with an invite code, an officer."""

    __tablename__ = "channel_identities"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        CheckConstraint("citizen_id IS NOT NULL OR officer_id IS NOT NULL", name="owner"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    last_seen_at: Mapped[datetime | None]

    citizen: Mapped[Citizen | None] = relationship(back_populates="identities")


class TicketCodeCounter(Base):
    """Per-prefix, per-year sequence; bumped with one atomic upsert (see core/codes.py)."""

    __tablename__ = "ticket_code_counters"
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


# Open tickets (not final, not resolved): the desk's queue indexes only these.
OPEN_TICKETS_SQL = "status IN ('received', 'accepted', 'assigned', 'in_progress', 'need_info')"


class Ticket(Timestamped, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_unit", "status", "unit_id"),
        Index("ix_tickets_received_at", "received_at"),
        # The desk's queue counts open tickets and polls for changes from this index alone
        # (ix_tickets_queue, below the class, holds its order): index scans at 100,000 tickets.
        Index("ix_tickets_queue_scope", "unit_id", "officer_id", "status", "confidential",
              "next_due_at", "updated_at", "id", postgresql_where=text(OPEN_TICKETS_SQL),
              sqlite_where=text(OPEN_TICKETS_SQL)),
        # The leaders' figures (0007): any ticket's groups by id; the open tickets' groups.
        Index("ix_tickets_figures", "id", "unit_id", "area_id", "category", "kind"),
        Index("ix_tickets_open_figures", "received_at", "unit_id", "area_id", "category",
              "kind", "duplicate_of_id", "confidential", "status", "id",
              postgresql_where=text(OPEN_TICKETS_SQL), sqlite_where=text(OPEN_TICKETS_SQL)),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # The key of the step that created it (e.g. the inbound message), so a retry finds it.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    kind_intended: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    needs_triage: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    is_complex: Mapped[bool] = mapped_column(Boolean, default=False)
    answer_text: Mapped[str | None] = mapped_column(Text)
    external_body: Mapped[str | None] = mapped_column(String(300))
    # What the NLU predicted at filing (kept for triage corrections), and its confidence.
    predicted_category: Mapped[str | None] = mapped_column(String(40))
    predicted_kind: Mapped[str | None] = mapped_column(String(20))
    nlu_confidence: Mapped[float | None] = mapped_column(Float)
    # Danger to life or property now: tops every queue, short accept clock in hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The status a need_info question interrupted; the citizen's answer returns the ticket to it.
    status_before_info: Mapped[str | None] = mapped_column(String(20))
    # Linked by an officer as a duplicate of another ticket (never for khiếu nại or tố cáo).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # Until then the citizen's next messages go to this ticket (relay after an officer's message).
    relay_until: Mapped[datetime | None]
    # Code, words and place folded (lower case, no diacritics) for the desk's search; erasure
    # clears it with the text.
    search_text: Mapped[str | None] = mapped_column(Text)
    # The nearest deadline of its clocks that run (or were paused after their deadline passed),
    # for the desk's queue order. Kept by database triggers on ticket_clocks (migration 0005):
    # never set it in code.
    next_due_at: Mapped[datetime | None]
    # The public board: a summary the officer writes or approves when resolving (never the
    # citizen's own words), and an officer's decision to hide it, with the reason.
    public_summary: Mapped[str | None] = mapped_column(Text)
    public_summary_by: Mapped[int | None] = mapped_column(Integer)
    public_hidden_at: Mapped[datetime | None]
    public_hidden_reason: Mapped[str | None] = mapped_column(String(300))
    public_hidden_by: Mapped[int | None] = mapped_column(Integer)

    clocks: Mapped[list[TicketClock]] = relationship(cascade="all, delete-orphan")
    events: Mapped[list[TicketEvent]] = relationship(
        order_by="TicketEvent.id", back_populates="ticket"
    )
    attachments: Mapped[list[Attachment]] = relationship(back_populates="ticket")


# The desk's queue order of open tickets: urgent first, then the nearest deadline.
Index("ix_tickets_queue", Ticket.urgent.desc(), Ticket.next_due_at, Ticket.received_at,
      Ticket.id, postgresql_where=text(OPEN_TICKETS_SQL), sqlite_where=text(OPEN_TICKETS_SQL))


class TicketNote(Base):
    """Texts around a ticket: what the citizen added, officers' questions, replies, answers and
    reasons (told to the citizen), and internal notes. Erasure clears them; events keep codes."""

    __tablename__ = "ticket_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    author_type: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(Integer)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    # citizen | note | question | reply | answer | reason | rating_comment
    kind: Mapped[str] = mapped_column(String(20), default="citizen")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketClock(Base):
    """One legal clock of a ticket (accept, resolve), with its unit and pauses."""

    __tablename__ = "ticket_clocks"
    __table_args__ = (UniqueConstraint("ticket_id", "name"),
                      Index("ix_ticket_clocks_due", "stopped_at", "due_at"),
                      # The leaders' figures (0007): deadlines; clocks still running.
                      Index("ix_ticket_clocks_due_at", "due_at"),
                      Index("ix_ticket_clocks_running", "due_at", "started_at", "paused_at",
                            "ticket_id", postgresql_where=text("stopped_at IS NULL"),
                            sqlite_where=text("stopped_at IS NULL")))
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))  # calendar_days | working_days
    length: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    extensions: Mapped[int] = mapped_column(Integer, default=0)  # tố cáo: at most 2 (art. 30)
    # The status that stopped it (accepted, resolved, withdrawn...), or "duplicate" when the
    # ticket was linked to another: figures leave withdrawn and duplicate clocks out.
    stopped_by: Mapped[str | None] = mapped_column(String(20))


class TicketEvent(Base):
    """Append-only audit trail: who did what, when, on which channel (triggers forbid edits)."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_at", "at"),  # figures (0007)
                      Index("ix_ticket_events_action_at", "action", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    # Field names and codes only: personal data and message texts live in their own tables.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Attachment(Timestamped, Base):
    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("inbox_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    media_type: Mapped[str] = mapped_column(String(20))  # photo | video | voice | document
    content_type: Mapped[str] = mapped_column(String(100))
    storage_key: Mapped[str] = mapped_column(String(300), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))

    ticket: Mapped[Ticket | None] = relationship(back_populates="attachments")


class InboxMessage(Base):
    """Every inbound message, stored before the platform is acknowledged."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "platform_message_id"),
        Index("ix_inbox_pending", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    platform_message_id: Mapped[str] = mapped_column(String(128))
    sender_external_id: Mapped[str] = mapped_column(String(128), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxMessage(Base):
    """Every outbound message, stored before it is sent; delivered at least once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient_external_id: Mapped[str] = mapped_column(String(128), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    in_reply_to: Mapped[int | None] = mapped_column(ForeignKey("inbox.id"))
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class FaqEntry(Base):
    """Answers officers can edit without retraining; `key` is what the NLU predicts."""

    __tablename__ = "faq_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DataAccessLog(Base):
    """Who looked at whose personal data, when and why."""

    __tablename__ = "data_access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    purpose: Mapped[str] = mapped_column(String(100))


class ConversationTracker(Base):
    """Rasa conversation state for the default setup (Rasa's SQLTrackerStore needs SQLAlchemy 1)."""

    __tablename__ = "conversation_trackers"
    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(Text)  # Rasa's own serialised tracker (JSON text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoutingRule(Base):
    """(category, kind, area) -> unit and default officer; empty fields match anything and
    the rule with the most matching fields wins."""

    __tablename__ = "routing_rules"
    __table_args__ = (UniqueConstraint("category", "kind", "area_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str | None] = mapped_column(String(20))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))


class OfficerInvite(Base):
    """One-time code linking a Telegram/Zalo account to an officer; only its hash is kept."""

    __tablename__ = "officer_invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))


class JobRun(Base):
    """A scheduled job's run for one period: the primary key makes a second run impossible."""

    __tablename__ = "job_runs"
    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


# The officers' desk (sessions, notices, templates, corrections...) lives in its own module;
# importing it here puts its tables on the same metadata for Alembic and create_all.
from bot.store import (  # noqa: E402, F401
    channel_models,
    desk_models,
    link_models,
    report_models,
    rollup_models,
)
