"""Per-category write counters for the metadata endpoints.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.add_column(sa.Column("last_operation_type", sa.String(16), nullable=True))
        batch.add_column(sa.Column("last_operation_model", sa.Text, nullable=True))
        batch.add_column(sa.Column("total_creates", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("total_updates", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("total_deletes", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("error_count", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        for column in (
            "error_count",
            "total_deletes",
            "total_updates",
            "total_creates",
            "last_operation_model",
            "last_operation_type",
        ):
            batch.drop_column(column)
