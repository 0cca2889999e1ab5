"""Text-group aliases (DATA.md §16.1): an alias names one canonical group.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_group_aliases",
        sa.Column("alias", sa.String(200), primary_key=True),
        sa.Column("canonical", sa.String(200), nullable=False),
    )
    op.create_index("ix_text_group_aliases_canonical", "text_group_aliases", ["canonical", "alias"])


def downgrade() -> None:
    op.drop_index("ix_text_group_aliases_canonical", "text_group_aliases")
    op.drop_table("text_group_aliases")
