"""Customs filings and their receipts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "customs_filings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id")),
        sa.Column("regime", sa.String(8), nullable=False),
        sa.Column("consignment", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("filename", sa.String(255)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text),
        sa.Column("receipt", sa.Text),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("document_id", "kind", name="uq_customs_filings_document_kind"),
    )
    op.create_index("ix_customs_filings_consignment", "customs_filings", ["consignment"])


def downgrade():
    op.drop_table("customs_filings")
