"""The pending queue: changes and the counters for change and batch ids.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_changes",
        sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("model_name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.Integer, nullable=True),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_pending_changes_status", "pending_changes", ["status"])
    op.create_index("ix_pending_changes_batch", "pending_changes", ["batch_id"])
    op.create_table(
        "queue_counters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_change_id", sa.Integer, nullable=False),
        sa.Column("last_batch_id", sa.Integer, nullable=False),
    )
    op.bulk_insert(
        sa.table("queue_counters", sa.column("id"), sa.column("last_change_id"), sa.column("last_batch_id")),
        [{"id": 1, "last_change_id": 0, "last_batch_id": 0}],
    )


def downgrade() -> None:
    op.drop_table("queue_counters")
    op.drop_index("ix_pending_changes_batch", "pending_changes")
    op.drop_index("ix_pending_changes_status", "pending_changes")
    op.drop_table("pending_changes")
