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
    Column("doc_type", String(32), nullable=False),
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
Index("ix_jobs_claim", jobs.c.status, jobs.c.run_after, jobs.c.id)
Index("ix_jobs_message", jobs.c.message_id)

# X12 interchanges seen per partner: a resent ISA13 is recognised even under a new Message-ID.
interchanges = Table(
    "interchanges", metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("sender", String(20), primary_key=True),       # ISA05/ISA06
    Column("control_number", String(9), primary_key=True),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Persistent counters: X12 control numbers per partner, and the like.
counters = Table(
    "counters", metadata,
    Column("scope", String(64), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Reconciliation ledger
# Documents the ledger has booked, by documents.id (idempotency), with their validated body.
reconcile_documents = Table(
    "reconcile_documents", metadata,
    Column("document_id", String(36), primary_key=True),
    Column("partner_id", String(64), nullable=False),
    Column("doc_type", String(32), nullable=False),
    Column("number", String(64), nullable=False),           # PO, shipment, invoice, ... number
    Column("issued_at", Float, nullable=False),             # the document's own date
    Column("received_at", Float, nullable=False),
    Column("body", Text, nullable=False),                   # JSON
    Column("booked_at", Float, nullable=False),
)
Index("ix_reconcile_documents_type", reconcile_documents.c.partner_id,
      reconcile_documents.c.doc_type, reconcile_documents.c.issued_at)

# What ties documents together: (kind, value) = (po | shipment | invoice | ..., number).
reconcile_links = Table(
    "reconcile_links", metadata,
    Column("document_id", String(36), ForeignKey("reconcile_documents.document_id"),
           primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(64), primary_key=True),
    Column("partner_id", String(64), nullable=False),
)
Index("ix_reconcile_links_value", reconcile_links.c.partner_id, reconcile_links.c.kind,
      reconcile_links.c.value)

# One row per subject (po:…, invoice:…, return:…, remittance:…): locked while it is evaluated,
# and due for the sweep at next_check_at.
reconcile_subjects = Table(
    "reconcile_subjects", metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("subject", String(80), primary_key=True),
    Column("next_check_at", Float),
    Column("open_amount", String(32)),                      # decimal text, invoices only
    Column("currency", String(3)),
    Column("evaluated_at", Float, nullable=False),
)
Index("ix_reconcile_subjects_due", reconcile_subjects.c.next_check_at)

# Discrepancies: open -> acknowledged -> resolved (by a later document, or by an operator).
reconcile_discrepancies = Table(
    "reconcile_discrepancies", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", String(64), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("key", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("severity", String(8), nullable=False),          # error | warning
    Column("status", String(16), nullable=False),           # open | acknowledged | resolved
    Column("message", Text, nullable=False),
    Column("documents", Text, nullable=False),              # JSON list of documents.id
    Column("details", Text, nullable=False),                # JSON: quantities, amounts, codes
    Column("po_number", String(64)),
    Column("invoice_number", String(64)),
    Column("shipment_id", String(64)),
    Column("amount", String(32)),                           # decimal text: the money at stake
    Column("currency", String(3)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolved_by", String(64)),                      # "auto" or the operator
    Column("comment", Text),
    UniqueConstraint("partner_id", "subject", "key", name="uq_reconcile_discrepancies_key"),
)
Index("ix_reconcile_discrepancies_status", reconcile_discrepancies.c.status,
      reconcile_discrepancies.c.partner_id)
Index("ix_reconcile_discrepancies_po", reconcile_discrepancies.c.partner_id,
      reconcile_discrepancies.c.po_number)
Index("ix_reconcile_discrepancies_invoice", reconcile_discrepancies.c.partner_id,
      reconcile_discrepancies.c.invoice_number)

# Customs consignments: one row per order or shipment declared, its state and filing version.
customs_consignments = Table(
    "customs_consignments", metadata,
    Column("id", String(36), primary_key=True),
    Column("partner_id", String(64), nullable=False),      # whose order or shipment
    Column("regime", String(8), nullable=False),           # eu | cn | us
    Column("consignment", String(64), nullable=False),     # order or shipment id
    Column("waybill", String(64)),                         # the carrier's number (CEB506 names it)
    Column("state", String(16), nullable=False),           # draft | checked | filed | accepted | rejected
    Column("version", Integer, nullable=False),            # filings made: 0 until first filed
    Column("problems", Integer, nullable=False),           # error findings of the last check
    Column("findings", Text),                              # JSON: the last check's findings
    Column("reasons", Text),                               # JSON: the authority's last rejection
    Column("document_id", String(36), ForeignKey("documents.id")),   # the latest document read
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("partner_id", "consignment", name="uq_customs_consignments_partner"),
)
Index("ix_customs_consignments_consignment", customs_consignments.c.consignment)
Index("ix_customs_consignments_waybill", customs_consignments.c.waybill)
Index("ix_customs_consignments_state", customs_consignments.c.state,
      customs_consignments.c.updated_at)

# A consignment's history: every check, filing, receipt and refused step, oldest first.
customs_events = Table(
    "customs_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consignment_id", String(36), ForeignKey("customs_consignments.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("version", Integer, nullable=False),            # the filing version it concerns
    Column("event", String(16), nullable=False),           # drafted | amended | checked | refused | filed | simulated | receipt | accepted | rejected | out-of-turn
    Column("document_id", String(36), ForeignKey("documents.id")),   # the document read, if any
    Column("actor", String(64), nullable=False),           # node name or operator
    Column("detail", Text),                                # JSON: findings, files, receipt, error
)
Index("ix_customs_events_consignment", customs_events.c.consignment_id, customs_events.c.id)

# Customs filings: one row per filed document, from the checks through the authority's receipt.
customs_filings = Table(
    "customs_filings", metadata,
    Column("id", String(36), primary_key=True),
    Column("partner_id", String(64), nullable=False),      # whose order or shipment
    Column("document_id", String(36), ForeignKey("documents.id")),
    Column("regime", String(8), nullable=False),           # eu | cn | us
    Column("consignment", String(64), nullable=False),     # order or shipment id
    Column("kind", String(16)),                            # H7, US-ENTRY, CEB303, ...
    Column("filename", String(255)),
    Column("sha256", String(64)),
    Column("status", String(16), nullable=False),          # simulated | filed | accepted | rejected
    Column("findings", Text),                              # JSON list of the checks' findings
    Column("receipt", Text),                               # the authority's or broker's answer
    Column("message_id", String(36), ForeignKey("messages.id")),   # the outbound filing
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),   # the consignment's filing
    UniqueConstraint("document_id", "kind", name="uq_customs_filings_document_kind"),
)
Index("ix_customs_filings_consignment", customs_filings.c.consignment)

# Functional groups we sent that await the partner's 997/999, matched by GS control number.
acks_expected = Table(
    "acks_expected", metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("group_control", String(9), primary_key=True),
    Column("functional_id", String(2), nullable=False),
    Column("message_id", String(36), ForeignKey("messages.id"), nullable=False),
    Column("status", String(16), nullable=False),          # awaiting | accepted | partial | rejected
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("ix_acks_expected_status", acks_expected.c.status, acks_expected.c.created_at)
