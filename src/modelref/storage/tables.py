"""The database schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

records = sa.Table(
    "records",
    metadata,
    # The id is the stored order: the order in which keys were first imported or created.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("baseline", sa.Text, nullable=True),
    sa.Column("nsfw", sa.Boolean, nullable=True),
    sa.UniqueConstraint("category", "name", name="uq_records_category_name"),
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("category", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.Float, nullable=False),
    sa.Column("initialized_at", sa.Float, nullable=False),
    sa.Column("last_operation_type", sa.String(16), nullable=True),
    sa.Column("last_operation_model", sa.Text, nullable=True),
    sa.Column("total_creates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total_updates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total_deletes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_count", sa.Integer, nullable=False, server_default="0"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
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
sa.Index("ix_audit_events_category", audit_events.c.category, audit_events.c.event_id)

audit_head = sa.Table(
    "audit_head",
    metadata,
    # One row (id = 1): the chain's head. Appenders lock it, so the chain never forks.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_event_id", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
)

pending_changes = sa.Table(
    "pending_changes",
    metadata,
    sa.Column("change_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=True),
    sa.Column("requested_by", sa.Text, nullable=False),
    # The whole change as JSON; the columns above and below are copies for filtering in the database.
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("name_folded", sa.Text, nullable=False),
)
sa.Index("ix_pending_changes_status", pending_changes.c.status)
sa.Index("ix_pending_changes_batch", pending_changes.c.batch_id)
sa.Index("ix_pending_changes_requested_by", pending_changes.c.requested_by, pending_changes.c.status)
sa.Index("ix_pending_changes_name_folded", pending_changes.c.name_folded, pending_changes.c.change_id)

queue_counters = sa.Table(
    "queue_counters",
    metadata,
    # One row (id = 1): ids are never reused, not even after a purge.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_change_id", sa.Integer, nullable=False),
    sa.Column("last_batch_id", sa.Integer, nullable=False),
)

text_group_aliases = sa.Table(
    "text_group_aliases",
    metadata,
    # An alias belongs to one canonical group (the primary key keeps it so, under concurrent writers too).
    sa.Column("alias", sa.String(200), primary_key=True),
    sa.Column("canonical", sa.String(200), nullable=False),
    sa.Index("ix_text_group_aliases_canonical", "canonical", "alias"),
)

text_group_families = sa.Table(
    "text_group_families",
    metadata,
    # A group belongs to at most one family (the primary key keeps it so).
    sa.Column("group_name", sa.String(200), primary_key=True),
    sa.Column("family_name", sa.String(200), nullable=False),
    sa.Index("ix_text_group_families_family", "family_name", "group_name"),
)

text_group_schemas = sa.Table(
    "text_group_schemas",
    metadata,
    # A group's custom naming schema (DATA.md §16.3), as the JSON of its fields.
    sa.Column("group_name", sa.String(200), primary_key=True),
    sa.Column("name_schema", sa.Text, nullable=False),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    # A signed-in browser: the SHA-256 of its cookie's token (the token itself is never stored), the key it
    # signed in with sealed under a key derived from that token, its CSRF token, who it is, and when it expires.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("sealed_key", sa.Text, nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Index("ix_web_sessions_expires_at", "expires_at"),
)
