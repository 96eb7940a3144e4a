"""Reconciliation ledger: booked documents, their links, subjects and discrepancies.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reconcile_documents",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(16), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("booked_at", sa.Float, nullable=False),
    )
    op.create_index("ix_reconcile_documents_type", "reconcile_documents",
                    ["partner_id", "doc_type", "issued_at"])
    op.create_table(
        "reconcile_links",
        sa.Column("document_id", sa.String(36),
                  sa.ForeignKey("reconcile_documents.document_id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_reconcile_links_value", "reconcile_links",
                    ["partner_id", "kind", "value"])
    op.create_table(
        "reconcile_subjects",
        sa.Column("partner_id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("next_check_at", sa.Float),
        sa.Column("open_amount", sa.String(32)),
        sa.Column("currency", sa.String(3)),
        sa.Column("evaluated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_reconcile_subjects_due", "reconcile_subjects", ["next_check_at"])
    op.create_table(
        "reconcile_discrepancies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("documents", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("po_number", sa.String(64)),
        sa.Column("invoice_number", sa.String(64)),
        sa.Column("shipment_id", sa.String(64)),
        sa.Column("amount", sa.String(32)),
        sa.Column("currency", sa.String(3)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("comment", sa.Text),
        sa.UniqueConstraint("partner_id", "subject", "key",
                            name="uq_reconcile_discrepancies_key"),
    )
    op.create_index("ix_reconcile_discrepancies_status", "reconcile_discrepancies",
                    ["status", "partner_id"])
    op.create_index("ix_reconcile_discrepancies_po", "reconcile_discrepancies",
                    ["partner_id", "po_number"])
    op.create_index("ix_reconcile_discrepancies_invoice", "reconcile_discrepancies",
                    ["partner_id", "invoice_number"])


def downgrade():
    for table in ("reconcile_discrepancies", "reconcile_subjects", "reconcile_links",
                  "reconcile_documents"):
        op.drop_table(table)
