"""attachments: the same file may be sent in two messages (one row each, one copy on disk)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_attachments_storage_key", type_="unique")
        batch_op.create_index("ix_attachments_storage_key", ["storage_key"], unique=False)
        batch_op.create_unique_constraint("uq_attachments_inbox_id",
                                          ["inbox_id", "sha256"])


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_attachments_inbox_id", type_="unique")
        batch_op.drop_index("ix_attachments_storage_key")
        batch_op.create_unique_constraint("uq_attachments_storage_key", ["storage_key"])
