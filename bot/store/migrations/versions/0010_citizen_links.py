"""one person, several channels: citizen_link_codes (one-time codes linking a citizen's channel
accounts, hashed) and citizen_link_failures (wrong tries that lock a sender for an hour).
channel_identities.last_seen_at, which picks the channel a status push goes to, exists since
0001.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by_identity_id", sa.Integer(), nullable=True),
        sa.Column("merged_citizen_id", sa.Integer(), nullable=True),
        sa.Column("moved_tickets", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"],
                                name="fk_citizen_link_codes_citizen_id_citizens"),
        sa.ForeignKeyConstraint(["identity_id"], ["channel_identities.id"],
                                name="fk_citizen_link_codes_identity_id_channel_identities"),
        sa.ForeignKeyConstraint(
            ["used_by_identity_id"], ["channel_identities.id"],
            name="fk_citizen_link_codes_used_by_identity_id_channel_identities"),
        sa.ForeignKeyConstraint(["merged_citizen_id"], ["citizens.id"],
                                name="fk_citizen_link_codes_merged_citizen_id_citizens"),
        sa.PrimaryKeyConstraint("id", name="pk_citizen_link_codes"),
    )
    op.create_index("ix_citizen_link_codes_citizen_id", "citizen_link_codes", ["citizen_id"])
    op.create_index("ix_citizen_link_codes_code_hash", "citizen_link_codes", ["code_hash"])
    op.create_table(
        "citizen_link_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_citizen_link_failures"),
    )
    op.create_index("ix_citizen_link_failures_sender", "citizen_link_failures",
                    ["channel", "external_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_citizen_link_failures_sender", table_name="citizen_link_failures")
    op.drop_table("citizen_link_failures")
    op.drop_index("ix_citizen_link_codes_code_hash", table_name="citizen_link_codes")
    op.drop_index("ix_citizen_link_codes_citizen_id", table_name="citizen_link_codes")
    op.drop_table("citizen_link_codes")
