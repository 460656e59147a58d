"""routing rules, officer invites, job runs, ticket notes, clock marks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("period_key", sa.String(length=60), nullable=False),
        sa.Column("started_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("job", "period_key", name=op.f("pk_job_runs")),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_routing_rules_area_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_routing_rules_officer_id_officers")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_routing_rules_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
        sa.UniqueConstraint("category", "kind", "area_id", name=op.f("uq_routing_rules_category")),
    )
    op.create_table(
        "officer_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", bot.store.types.UTCDateTime(), nullable=True),
        sa.Column("used_by_identity_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_officer_invites_officer_id_officers")
        ),
        sa.ForeignKeyConstraint(
            ["used_by_identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_officer_invites_used_by_identity_id_channel_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_officer_invites_code_hash")),
    )
    with op.batch_alter_table("officer_invites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_invites_officer_id"), ["officer_id"], unique=False
        )

    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("author_type", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_notes_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_notes")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ticket_notes_idempotency_key")),
    )
    op.create_index(op.f("ix_ticket_notes_ticket_id"), "ticket_notes", ["ticket_id"])
    # Plain ADD COLUMN (no table copy): SQLite supports it, and copying `tickets` would trip
    # the foreign keys of ticket_events.
    op.add_column(
        "areas", sa.Column("is_remote", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("ticket_clocks", sa.Column("reminded_at", bot.store.types.UTCDateTime()))
    op.add_column("ticket_clocks", sa.Column("escalated_at", bot.store.types.UTCDateTime()))
    op.add_column(
        "tickets", sa.Column("is_complex", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("tickets", sa.Column("answer_text", sa.Text()))
    op.add_column("tickets", sa.Column("external_body", sa.String(length=300)))


def downgrade() -> None:
    for table, column in (
        ("tickets", "external_body"),
        ("tickets", "answer_text"),
        ("tickets", "is_complex"),
        ("ticket_clocks", "escalated_at"),
        ("ticket_clocks", "reminded_at"),
        ("areas", "is_remote"),
    ):
        op.drop_column(table, column)  # native DROP COLUMN (SQLite >= 3.35)
    with op.batch_alter_table("officer_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_invites_officer_id"))

    op.drop_index(op.f("ix_ticket_notes_ticket_id"), table_name="ticket_notes")
    op.drop_table("ticket_notes")
    op.drop_table("officer_invites")
    op.drop_table("routing_rules")
    op.drop_table("job_runs")
