"""Queue reads filter, count and page in the database: a case-folded name column and an index by requester.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_changes = sa.table(
    "pending_changes", sa.column("change_id", sa.Integer), sa.column("model_name"), sa.column("name_folded")
)


def upgrade() -> None:
    with op.batch_alter_table("pending_changes") as batch:
        batch.add_column(sa.Column("name_folded", sa.Text, nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_changes.c.change_id, _changes.c.model_name)).all()
    for change_id, model_name in rows:
        # Folded in Python: SQLite's lower() knows only ASCII, PostgreSQL's follows the locale.
        conn.execute(
            _changes.update().where(_changes.c.change_id == change_id).values(name_folded=model_name.casefold())
        )
    with op.batch_alter_table("pending_changes") as batch:
        batch.alter_column("name_folded", existing_type=sa.Text, nullable=False)
    op.create_index("ix_pending_changes_requested_by", "pending_changes", ["requested_by", "status"])


def downgrade() -> None:
    op.drop_index("ix_pending_changes_requested_by", "pending_changes")
    with op.batch_alter_table("pending_changes") as batch:
        batch.drop_column("name_folded")
