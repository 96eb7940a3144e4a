"""Functional groups awaiting the partner's 997/999.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "acks_expected",
        sa.Column("partner_id", sa.String(64), primary_key=True),
        sa.Column("group_control", sa.String(9), primary_key=True),
        sa.Column("functional_id", sa.String(2), nullable=False),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_acks_expected_status", "acks_expected", ["status", "created_at"])


def downgrade():
    op.drop_table("acks_expected")
