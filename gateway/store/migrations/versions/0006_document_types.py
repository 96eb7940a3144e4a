"""Document types up to 32 characters (po_acknowledgment).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("documents", "reconcile_documents")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("doc_type", type_=sa.String(32), existing_type=sa.String(16),
                               existing_nullable=False)


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("doc_type", type_=sa.String(16), existing_type=sa.String(32),
                               existing_nullable=False)
