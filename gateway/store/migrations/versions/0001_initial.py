"""Initial schema: messages, events, documents, jobs, interchanges, counters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(255)),
        sa.Column("filename", sa.String(255)),
        sa.Column("size", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        sa.Column("payload_sha256", sa.String(64)),
        sa.Column("mic", sa.String(255)),
        sa.Column("disposition", sa.String(255)),
        sa.Column("error", sa.Text),
        sa.Column("headers", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("partner_id", "direction", "message_id",
                            name="uq_messages_partner_msgid"),
    )
    op.create_index("ix_messages_status", "messages", ["status", "updated_at"])
    op.create_index("ix_messages_partner", "messages", ["partner_id", "created_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id")),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32)),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_events_message", "events", ["message_id", "id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("message_id", "position", name="uq_documents_message_position"),
    )
    op.create_index("ix_documents_reference", "documents",
                    ["partner_id", "doc_type", "reference"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("dedupe_key", sa.String(255)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("run_after", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kind", "dedupe_key", name="uq_jobs_kind_dedupe"),
    )
    op.create_index("ix_jobs_claim", "jobs", ["status", "run_after", "id"])
    op.create_index("ix_jobs_message", "jobs", ["message_id"])
    op.create_table(
        "interchanges",
        sa.Column("partner_id", sa.String(64), primary_key=True),
        sa.Column("sender", sa.String(20), primary_key=True),
        sa.Column("control_number", sa.String(9), primary_key=True),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade():
    for table in ("counters", "interchanges", "jobs", "documents", "events", "messages"):
        op.drop_table(table)
