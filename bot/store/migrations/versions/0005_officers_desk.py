"""the officers' desk: sessions, login throttles, notices and deliveries, push subscriptions,
answer templates, NLU corrections, documents, admin changes; ticket triage/urgency/relay fields

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("predicted_category", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("predicted_kind", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("nlu_confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("status_before_info", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("relay_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("next_due_at", UTCDateTime(), nullable=True))
        batch_op.create_foreign_key("fk_tickets_duplicate_of_id_tickets", "tickets",
                                    ["duplicate_of_id"], ["id"])
        batch_op.create_index("ix_tickets_duplicate_of_id", ["duplicate_of_id"])
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(20), nullable=False,
                                      server_default="citizen"))
    with op.batch_alter_table("ticket_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extensions", sa.Integer(), nullable=False,
                                      server_default="0"))
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("training_consent", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("training_consent_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("on_call", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    op.create_table(
        "desk_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("csrf_secret", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], ondelete="CASCADE",
                                name="fk_desk_sessions_officer_id_officers"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_desk_sessions"),
    )
    op.create_index("ix_desk_sessions_officer_id", "desk_sessions", ["officer_id"])
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttles"),
    )
    op.create_table(
        "officer_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], ondelete="CASCADE",
                                name="fk_officer_notices_officer_id_officers"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name="fk_officer_notices_ticket_id_tickets"),
        sa.PrimaryKeyConstraint("id", name="pk_officer_notices"),
        sa.UniqueConstraint("dedupe_key", name="uq_officer_notices_dedupe_key"),
    )
    op.create_index("ix_officer_notices_unread", "officer_notices", ["officer_id", "read_at"])
    op.create_index("ix_officer_notices_ticket_id", "officer_notices", ["ticket_id"])
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["officer_notices.id"], ondelete="CASCADE",
                                name="fk_notice_deliveries_notice_id_officer_notices"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"],
                                name="fk_notice_deliveries_outbox_id_outbox"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_deliveries"),
        sa.UniqueConstraint("notice_id", "via", name="uq_notice_deliveries_notice_id"),
    )
    op.create_index("ix_notice_deliveries_due", "notice_deliveries",
                    ["status", "next_attempt_at"])
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(1000), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"], ondelete="CASCADE",
                                name="fk_push_subscriptions_officer_id_officers"),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        sa.UniqueConstraint("endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_officer_id", "push_subscriptions", ["officer_id"])
    op.create_table(
        "answer_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_answer_templates"),
    )
    op.create_index("ix_answer_templates_category", "answer_templates", ["category"])
    op.create_table(
        "nlu_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("predicted_category", sa.String(40), nullable=True),
        sa.Column("predicted_kind", sa.String(20), nullable=True),
        sa.Column("fixed_category", sa.String(40), nullable=False),
        sa.Column("fixed_kind", sa.String(20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name="fk_nlu_corrections_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"],
                                name="fk_nlu_corrections_officer_id_officers"),
        sa.PrimaryKeyConstraint("id", name="pk_nlu_corrections"),
        sa.UniqueConstraint("ticket_id", name="uq_nlu_corrections_ticket_id"),
    )
    op.create_table(
        "ticket_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name="fk_ticket_documents_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"],
                                name="fk_ticket_documents_attachment_id_attachments"),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"],
                                name="fk_ticket_documents_officer_id_officers"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_documents"),
    )
    op.create_index("ix_ticket_documents_ticket_id", "ticket_documents", ["ticket_id"])
    op.create_table(
        "admin_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"],
                                name="fk_admin_changes_officer_id_officers"),
        sa.PrimaryKeyConstraint("id", name="pk_admin_changes"),
    )
    # The queue sorts by deadline and filters by unit/officer/status; these keep it fast.
    op.create_index("ix_ticket_clocks_due", "ticket_clocks", ["stopped_at", "due_at"])
    op.create_index("ix_tickets_received_at", "tickets", ["received_at"])
    _create_queue_order()


# tickets.next_due_at: the nearest deadline of a ticket's clocks that run, or were paused after
# their deadline passed (still late). Triggers on ticket_clocks keep it, whatever code changes
# a clock, so the queue sorts and counts from one indexed table. NOTE for later migrations on
# SQLite: drop these triggers before a batch (copy-and-move) alteration of tickets or
# ticket_clocks, and create them again after.
OPEN_TICKETS = "status IN ('received', 'accepted', 'assigned', 'in_progress', 'need_info')"
NEXT_DUE = ("(SELECT min(c.due_at) FROM ticket_clocks c WHERE c.ticket_id = {id} "
            "AND c.stopped_at IS NULL AND (c.paused_at IS NULL OR c.paused_at > c.due_at))")
SQLITE_TRIGGERS = {"insert": ("INSERT", "NEW"), "update": ("UPDATE OF due_at, paused_at, "
                                                           "stopped_at", "NEW"),
                   "delete": ("DELETE", "OLD")}


def _create_queue_order() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, (event, row) in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER ticket_clocks_next_due_{name} AFTER {event} ON ticket_clocks "
                f"BEGIN UPDATE tickets SET next_due_at = {NEXT_DUE.format(id=row + '.ticket_id')}"
                f" WHERE id = {row}.ticket_id; END")
    else:
        op.execute(
            "CREATE FUNCTION ticket_clocks_next_due() RETURNS trigger AS $$ "
            "DECLARE tid integer; due timestamp; BEGIN "
            "IF TG_OP = 'DELETE' THEN tid := OLD.ticket_id; ELSE tid := NEW.ticket_id; END IF; "
            f"due := {NEXT_DUE.format(id='tid')}; "
            "UPDATE tickets SET next_due_at = due WHERE id = tid "
            "AND next_due_at IS DISTINCT FROM due; RETURN NULL; END $$ LANGUAGE plpgsql")
        op.execute(
            "CREATE TRIGGER ticket_clocks_next_due AFTER INSERT OR DELETE OR UPDATE OF due_at, "
            "paused_at, stopped_at ON ticket_clocks "
            "FOR EACH ROW EXECUTE FUNCTION ticket_clocks_next_due()")
    op.execute(f"UPDATE tickets SET next_due_at = {NEXT_DUE.format(id='tickets.id')}")
    op.create_index("ix_tickets_queue", "tickets", [sa.text("urgent DESC"), "next_due_at",
                                                    "received_at", "id"],
                    postgresql_where=sa.text(OPEN_TICKETS), sqlite_where=sa.text(OPEN_TICKETS))
    op.create_index("ix_tickets_queue_scope", "tickets",
                    ["unit_id", "officer_id", "status", "confidential", "next_due_at",
                     "updated_at", "id"],
                    postgresql_where=sa.text(OPEN_TICKETS), sqlite_where=sa.text(OPEN_TICKETS))


def _drop_queue_order() -> None:
    op.drop_index("ix_tickets_queue_scope", table_name="tickets")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER ticket_clocks_next_due_{name}")
    else:
        op.execute("DROP TRIGGER ticket_clocks_next_due ON ticket_clocks")
        op.execute("DROP FUNCTION ticket_clocks_next_due()")


def downgrade() -> None:
    _drop_queue_order()
    op.drop_index("ix_tickets_received_at", table_name="tickets")
    op.drop_index("ix_ticket_clocks_due", table_name="ticket_clocks")
    for table in ("admin_changes", "ticket_documents", "nlu_corrections", "answer_templates",
                  "push_subscriptions", "notice_deliveries", "officer_notices",
                  "login_throttles", "desk_sessions"):
        op.drop_table(table)
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_column("on_call")
        batch_op.drop_column("email")
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.drop_column("training_consent_at")
        batch_op.drop_column("training_consent")
    with op.batch_alter_table("ticket_clocks", schema=None) as batch_op:
        batch_op.drop_column("extensions")
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_duplicate_of_id")
        batch_op.drop_constraint("fk_tickets_duplicate_of_id_tickets", type_="foreignkey")
        for column in ("next_due_at", "search_text", "relay_until", "duplicate_of_id", "status_before_info", "urgent",
                       "nlu_confidence", "predicted_kind", "predicted_category"):
            batch_op.drop_column(column)
