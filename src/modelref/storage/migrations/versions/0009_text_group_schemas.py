"""Text-group naming schemas (DATA.md §16.3): a group's custom schema, one row per group.

Revision ID: 0009
Revises: 0008
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
        "text_group_schemas",
        sa.Column("group_name", sa.String(200), primary_key=True),
        sa.Column("name_schema", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("text_group_schemas")
