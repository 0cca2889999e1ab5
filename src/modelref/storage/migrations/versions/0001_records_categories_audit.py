"""Records, category versions and the hash-chained audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("baseline", sa.Text, nullable=True),
        sa.Column("nsfw", sa.Boolean, nullable=True),
        sa.UniqueConstraint("category", "name", name="uq_records_category_name"),
    )
    op.create_table(
        "categories",
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.Float, nullable=False),
        sa.Column("initialized_at", sa.Float, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("domain", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("model_name", sa.Text, nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("logical_user_id", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_category", "audit_events", ["category", "event_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("last_event_id"), sa.column("last_hash")),
        [{"id": 1, "last_event_id": 0, "last_hash": "0" * 64}],
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_index("ix_audit_events_category", "audit_events")
    op.drop_table("audit_events")
    op.drop_table("categories")
    op.drop_table("records")
