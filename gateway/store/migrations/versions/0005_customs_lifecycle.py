"""Customs consignments with their state and history; filings carry their version.

Existing filings become consignments: refused checks a draft with its findings, filed
documents a consignment in the state their statuses give.

Revision ID: 0005
Revises: 0004
"""

import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    consignments = op.create_table(
        "customs_consignments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("regime", sa.String(8), nullable=False),
        sa.Column("consignment", sa.String(64), nullable=False),
        sa.Column("waybill", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("problems", sa.Integer, nullable=False),
        sa.Column("findings", sa.Text),
        sa.Column("reasons", sa.Text),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id")),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("partner_id", "consignment", name="uq_customs_consignments_partner"),
    )
    op.create_index("ix_customs_consignments_consignment", "customs_consignments",
                    ["consignment"])
    op.create_index("ix_customs_consignments_waybill", "customs_consignments", ["waybill"])
    op.create_index("ix_customs_consignments_state", "customs_consignments",
                    ["state", "updated_at"])
    events = op.create_table(
        "customs_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consignment_id", sa.String(36), sa.ForeignKey("customs_consignments.id"),
                  nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id")),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_customs_events_consignment", "customs_events", ["consignment_id", "id"])
    op.add_column("customs_filings",
                  sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    _backfill(consignments, events)


def _backfill(consignments, events):
    filings = sa.table("customs_filings", *(sa.column(c) for c in (
        "id", "partner_id", "document_id", "regime", "consignment", "kind", "filename", "status",
        "findings", "created_at", "updated_at")))
    conn = op.get_bind()
    grouped: dict[tuple[str, str], list] = {}
    for row in conn.execute(sa.select(filings).order_by(filings.c.created_at)):
        grouped.setdefault((row.partner_id, row.consignment), []).append(row)
    for (partner_id, reference), rows in grouped.items():
        filed = [r for r in rows if r.kind != "checks"]
        statuses = {r.status for r in filed}
        state = ("draft" if not filed else "rejected" if "rejected" in statuses else
                 "accepted" if statuses == {"accepted"} else "filed")
        last = rows[-1]
        findings = last.findings if last.kind == "checks" else None
        id = str(uuid.uuid4())
        conn.execute(consignments.insert().values(
            id=id, partner_id=partner_id, regime=last.regime, consignment=reference, state=state,
            version=1 if filed else 0, problems=len(json.loads(findings)) if findings else 0,
            findings=findings, document_id=last.document_id, created_at=rows[0].created_at,
            updated_at=last.updated_at))
        for r in rows:
            event = "refused" if r.kind == "checks" else r.status
            detail = r.findings if r.kind == "checks" else json.dumps({"files": [r.filename]})
            conn.execute(events.insert().values(
                consignment_id=id, at=r.created_at, version=0 if r.kind == "checks" else 1,
                event=event, document_id=r.document_id, actor="migration", detail=detail))
    # Refused checks now live with their consignment; the filings table holds documents only.
    conn.execute(filings.delete().where(filings.c.kind == "checks"))


def downgrade():
    op.drop_column("customs_filings", "version")
    op.drop_table("customs_events")
    op.drop_table("customs_consignments")
