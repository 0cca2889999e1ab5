"""Text-group families (DATA.md §16.2): a group belongs to at most one family.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_group_families",
        sa.Column("group_name", sa.String(200), primary_key=True),
        sa.Column("family_name", sa.String(200), nullable=False),
    )
    op.create_index("ix_text_group_families_family", "text_group_families", ["family_name", "group_name"])


def downgrade() -> None:
    op.drop_index("ix_text_group_families_family", "text_group_families")
    op.drop_table("text_group_families")
