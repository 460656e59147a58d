"""pre-aggregated figures: ticket_facts, figure_rollup (by day and by month), the rollup's
state, and figure_dirty with the triggers that mark a ticket whose facts may have changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None



def _fact_columns() -> list[sa.Column]:
    """The groups and the fact, as ticket_facts and figure_rollup both have them."""
    return [sa.Column("unit_id", sa.Integer(), nullable=False),
            sa.Column("area_id", sa.Integer(), nullable=False),
            sa.Column("category", sa.String(40), nullable=False),
            sa.Column("kind", sa.String(20), nullable=False),
            sa.Column("day", sa.Integer(), nullable=False),
            sa.Column("measure", sa.String(20), nullable=False),
            sa.Column("key", sa.String(40), nullable=False),
            sa.Column("value", sa.Integer(), nullable=False),
            sa.Column("count", sa.Integer(), nullable=False)]


# What a ticket's facts are made of (bot/core/figures_facts.py). Any write there marks the
# ticket, whatever code (or a restore, or a hand-made UPDATE) did it. NOTE for later
# migrations on SQLite: drop these triggers before a batch (copy-and-move) alteration of these
# tables and create them again after.
TICKET_COLUMNS = ("status", "category", "kind", "area_id", "unit_id", "confidential",
                  "needs_triage", "duplicate_of_id", "received_at")
CLOCK_COLUMNS = ("unit", "started_at", "due_at", "paused_at", "stopped_at", "stopped_by")
PERIOD_COLUMNS = ("unit", "started_at", "due_at", "stopped_at", "stopped_by", "ticket_id")
WATCHED = {  # table: (id column, columns whose update matters)
    "tickets": ("id", TICKET_COLUMNS),
    "ticket_events": ("ticket_id", ()),
    "ticket_clocks": ("ticket_id", CLOCK_COLUMNS),
    "ticket_clock_periods": ("ticket_id", PERIOD_COLUMNS),
}


def upgrade() -> None:
    op.create_table("figure_dirty",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("ticket_id", sa.Integer(), nullable=False))
    op.create_table("ticket_facts",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("ticket_id", sa.Integer(), nullable=False), *_fact_columns())
    op.create_index("ix_ticket_facts_ticket", "ticket_facts", ["ticket_id"])
    op.create_table("figure_rollup",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("grain", sa.SmallInteger(), nullable=False),
                    *_fact_columns(),
                    sa.UniqueConstraint("grain", "measure", "day", "unit_id", "area_id",
                                        "category", "kind", "key", "value",
                                        name="uq_figure_rollup"))
    op.create_table("figure_rollup_state",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("calendar", sa.String(64), nullable=False),
                    sa.Column("built_at", sa.DateTime(), nullable=False))
    _create_triggers()


def _create_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.execute(
            "CREATE FUNCTION figure_mark_dirty() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN "
            "INSERT INTO figure_dirty (ticket_id) VALUES (OLD.ticket_id); "
            "ELSE INSERT INTO figure_dirty (ticket_id) VALUES (NEW.ticket_id); END IF; "
            "IF TG_OP = 'UPDATE' AND OLD.ticket_id <> NEW.ticket_id THEN "
            "INSERT INTO figure_dirty (ticket_id) VALUES (OLD.ticket_id); END IF; "
            "RETURN NULL; END $$ LANGUAGE plpgsql")
        op.execute(
            "CREATE FUNCTION figure_mark_ticket_dirty() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' THEN "
            "INSERT INTO figure_dirty (ticket_id) VALUES (OLD.id); "
            "ELSE INSERT INTO figure_dirty (ticket_id) VALUES (NEW.id); END IF; "
            "RETURN NULL; END $$ LANGUAGE plpgsql")
    for table, (id_column, columns) in WATCHED.items():
        events = {"insert": ("INSERT", "NEW", ""), "delete": ("DELETE", "OLD", "")}
        if columns:
            changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" if sqlite
                                  else f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
            events["update"] = (f"UPDATE OF {', '.join(columns)}", "NEW", changed)
        for name, (event, row, when) in events.items():
            trigger = f"{table}_figure_dirty_{name}"
            if sqlite:
                old = (f"INSERT INTO figure_dirty (ticket_id) VALUES (OLD.{id_column}); "
                       if name == "update" and id_column == "ticket_id" else "")
                op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
                           f"{'WHEN ' + when if when else ''} BEGIN "
                           f"INSERT INTO figure_dirty (ticket_id) VALUES ({row}.{id_column}); "
                           f"{old}END")
            else:
                function = ("figure_mark_ticket_dirty" if table == "tickets"
                            else "figure_mark_dirty")
                op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON {table} FOR EACH ROW "
                           f"{'WHEN (' + when + ')' if when else ''} "
                           f"EXECUTE FUNCTION {function}()")


def _drop_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, (_, columns) in WATCHED.items():
        for name in ("insert", "delete", *(("update",) if columns else ())):
            trigger = f"{table}_figure_dirty_{name}"
            op.execute(f"DROP TRIGGER {trigger}" if sqlite else f"DROP TRIGGER {trigger} ON {table}")
    if not sqlite:
        op.execute("DROP FUNCTION figure_mark_dirty()")
        op.execute("DROP FUNCTION figure_mark_ticket_dirty()")


def downgrade() -> None:
    _drop_triggers()
    op.drop_table("figure_rollup_state")
    op.drop_table("figure_rollup")
    op.drop_index("ix_ticket_facts_ticket", table_name="ticket_facts")
    op.drop_table("ticket_facts")
    op.drop_table("figure_dirty")
