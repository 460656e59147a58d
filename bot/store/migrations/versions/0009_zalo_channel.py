"""the Zalo Official Account channel: channel_accounts (an OA, its unit and its rotating
tokens) and channel_pauses (citizens the bot keeps quiet for while staff write to them)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("seed_hash", sa.String(64), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_failed_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"],
                                name="fk_channel_accounts_unit_id_org_units"),
        sa.PrimaryKeyConstraint("id", name="pk_channel_accounts"),
        sa.UniqueConstraint("channel", "external_id", name="uq_channel_accounts_channel"),
    )
    op.create_table(
        "channel_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("paused_until", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_pauses"),
        sa.UniqueConstraint("channel", "external_id", name="uq_channel_pauses_channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_pauses")
    op.drop_table("channel_accounts")
