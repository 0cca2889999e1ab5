"""An index on the queue's case-folded names: a name filter scans the small index, not the rows (whose
payloads can be large).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pending_changes_name_folded", "pending_changes", ["name_folded", "change_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_changes_name_folded", "pending_changes")
