"""leaders and the public: working-day calendar table, past clock periods, what stopped a
clock, weekly digests, the public board's summary and hiding

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TICKET_COLUMNS = (
    sa.Column("public_summary", sa.Text(), nullable=True),
    sa.Column("public_summary_by", sa.Integer(), nullable=True),
    sa.Column("public_hidden_at", UTCDateTime(), nullable=True),
    sa.Column("public_hidden_reason", sa.String(300), nullable=True),
    sa.Column("public_hidden_by", sa.Integer(), nullable=True),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): ticket_clocks and tickets carry triggers (0005) that a
    # SQLite table copy would drop.
    op.add_column("ticket_clocks", sa.Column("stopped_by", sa.String(20), nullable=True))
    for column in TICKET_COLUMNS:
        op.add_column("tickets", column.copy())
    op.create_table(
        "work_calendar",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("working_index", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_work_calendar")),
    )
    op.create_table(
        "ticket_clock_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("stopped_by", sa.String(20), nullable=True),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("archived_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE",
                                name=op.f("fk_ticket_clock_periods_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_clock_periods")),
    )
    op.create_index("ix_ticket_clock_periods_ticket_id", "ticket_clock_periods", ["ticket_id"])
    op.create_index("ix_ticket_clock_periods_due", "ticket_clock_periods", ["name", "due_at"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("generated_at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("chart_png", sa.LargeBinary(), nullable=False),
        sa.Column("xlsx", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name=op.f("fk_digests_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("week", "unit_id", name=op.f("uq_digests_week")),
    )


def downgrade() -> None:
    op.drop_table("digests")
    op.drop_index("ix_ticket_clock_periods_due", table_name="ticket_clock_periods")
    op.drop_index("ix_ticket_clock_periods_ticket_id", table_name="ticket_clock_periods")
    op.drop_table("ticket_clock_periods")
    op.drop_table("work_calendar")
    for column in reversed(TICKET_COLUMNS):
        op.drop_column("tickets", column.name)
    op.drop_column("ticket_clocks", "stopped_by")
