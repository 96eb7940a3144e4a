"""The database schema as SQLAlchemy Core tables; Alembic migrations must produce exactly this."""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per message in or out, on any transport. status is the latest; events hold the history.
messages = Table(
    "messages", metadata,
    Column("id", String(36), primary_key=True),
    Column("direction", String(8), nullable=False),        # inbound | outbound
    Column("transport", String(8), nullable=False),        # as2 | sftp | file
    Column("partner_id", String(64), nullable=False),
    Column("message_id", String(998), nullable=False),     # AS2 Message-ID or file name
    Column("status", String(32), nullable=False),
    Column("content_type", String(255)),
    Column("filename", String(255)),
    Column("size", BigInteger),
    Column("sha256", String(64)),                          # archive reference of the raw body
    Column("payload_sha256", String(64)),                  # the payload once unwrapped
    Column("mic", String(255)),
    Column("disposition", String(255)),                    # the MDN's, sent or received
    Column("error", Text),
    Column("headers", Text),                               # JSON
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("partner_id", "direction", "message_id", name="uq_messages_partner_msgid"),
)
Index("ix_messages_status", messages.c.status, messages.c.updated_at)
Index("ix_messages_partner", messages.c.partner_id, messages.c.created_at)

# Audit trail: every status change and operator action, in the transaction that caused it.
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("message_id", String(36), ForeignKey("messages.id")),
    Column("kind", String(32), nullable=False),            # status | operator | job | config
    Column("status", String(32)),
    Column("actor", String(64), nullable=False),           # node name or operator
    Column("detail", Text),
)
Index("ix_events_message", events.c.message_id, events.c.id)

# Translated documents (internal JSON), idempotent by (message, index in message).
documents = Table(
    "documents", metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("partner_id", String(64), nullable=False),
    Column("doc_type", String(16), nullable=False),
    Column("reference", String(64)),                       # PO number, invoice number, ...
    Column("body", Text, nullable=False),                  # JSON
    Column("created_at", Float, nullable=False),
    UniqueConstraint("message_id", "position", name="uq_documents_message_position"),
)
Index("ix_documents_reference", documents.c.partner_id, documents.c.doc_type,
      documents.c.reference)

# The work queue. Claimed rows carry a lease; an expired lease makes the job claimable again.
jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("payload", Text, nullable=False),               # JSON
    Column("dedupe_key", String(255)),
    Column("status", String(8), nullable=False),           # pending | running | done | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires", Float),
    Column("last_error", Text),
    Column("message_id", String(36), ForeignKey("messages.id")),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("kind", "dedupe_key", name="uq_jobs_kind_dedupe"),
)
Index("ix_jobs_claim", jobs.c.status, jobs.c.run_after)
Index("ix_jobs_message", jobs.c.message_id)

# Persistent counters: X12 control numbers per partner, and the like.
counters = Table(
    "counters", metadata,
    Column("scope", String(64), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
