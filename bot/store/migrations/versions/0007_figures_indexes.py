"""indexes of the leaders' figures: events by time (and by action and time), clocks by
deadline, archived clock periods by stop (bot/core/figures_sql.py filters by time first), and
covering indexes: the groups of any ticket by id, the open tickets' groups, running clocks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_ticket_events_at", "ticket_events", ["at"]),
    ("ix_ticket_events_action_at", "ticket_events", ["action", "at"]),
    ("ix_ticket_clocks_due_at", "ticket_clocks", ["due_at"]),
    ("ix_ticket_clock_periods_stopped_at", "ticket_clock_periods", ["stopped_at"]),
    # Every figure groups by the ticket's unit, area, category and kind: read from here by
    # id, without the wide ticket rows.
    ("ix_tickets_figures", "tickets", ["id", "unit_id", "area_id", "category", "kind"]),
)
# The same as models.OPEN_TICKETS_SQL (0005's partial indexes): tickets open now.
OPEN_TICKETS_SQL = "status IN ('received', 'accepted', 'assigned', 'in_progress', 'need_info')"
RUNNING_SQL = "stopped_at IS NULL"
OPEN_COLUMNS = ["received_at", "unit_id", "area_id", "category", "kind", "duplicate_of_id",
                "confidential", "status", "id"]


def upgrade() -> None:
    # Plain CREATE INDEX (no batch copy): ticket_events and ticket_clocks carry triggers
    # (0002, 0005) that a SQLite table copy would drop.
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    # "Open at the end" counts every open ticket by its groups: an index-only scan.
    op.create_index("ix_tickets_open_figures", "tickets", OPEN_COLUMNS,
                    postgresql_where=sa.text(OPEN_TICKETS_SQL),
                    sqlite_where=sa.text(OPEN_TICKETS_SQL))
    # "Overdue at the end": the clocks still running, with what decides whether they are late.
    op.create_index("ix_ticket_clocks_running", "ticket_clocks",
                    ["due_at", "started_at", "paused_at", "ticket_id"],
                    postgresql_where=sa.text(RUNNING_SQL), sqlite_where=sa.text(RUNNING_SQL))


def downgrade() -> None:
    op.drop_index("ix_ticket_clocks_running", table_name="ticket_clocks")
    op.drop_index("ix_tickets_open_figures", table_name="tickets")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
