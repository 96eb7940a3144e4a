"""Migration 0005 on both databases: filings made before consignments existed become
consignments, refused checks a draft with its findings, with one history event per row."""

import json
import time
import uuid

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

from gateway.store.database import MIGRATIONS, Database
from gateway.store.schema import customs_consignments, customs_events, customs_filings


def migrate(db, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_existing_filings_become_consignments(db_url):
    db = Database(db_url)
    migrate(db, "0004")
    findings = [{"rule": "EU-PARTY", "severity": "error", "where": "PO-2: consignee.phone",
                 "message": "The consignee phone is missing"}]
    now = time.time()
    rows = [("PO-1", "H7", "filed", None), ("CN-3", "CEB303", "accepted", None),
            ("CN-3", "CEB603", "rejected", None), ("PO-2", "checks", "refused", findings)]
    with db.engine.begin() as conn:
        for n, (consignment, kind, status, found) in enumerate(rows):
            conn.execute(text(
                "INSERT INTO customs_filings (id, partner_id, regime, consignment, kind, "
                "filename, status, findings, created_at, updated_at) VALUES (:id, 'shop', 'eu', "
                ":c, :kind, :file, :status, :findings, :at, :at)"),
                dict(id=str(uuid.uuid4()), c=consignment, kind=kind, status=status,
                     file=None if found else f"{kind}_{consignment}.json",
                     findings=json.dumps(found) if found else None, at=now + n))
    migrate(db, "head")
    with db.engine.connect() as conn:
        states = {r.consignment: (r.state, r.version, r.problems) for r in conn.execute(
            select(customs_consignments))}
        kinds = sorted((r.consignment, r.kind, r.version) for r in conn.execute(
            select(customs_filings)))
        events = conn.execute(select(customs_events)).all()
        draft = conn.execute(select(customs_consignments.c.findings).where(
            customs_consignments.c.consignment == "PO-2")).scalar()
    db.engine.dispose()
    assert states == {"PO-1": ("filed", 1, 0), "CN-3": ("rejected", 1, 0), "PO-2": ("draft", 0, 1)}
    assert json.loads(draft) == findings
    assert kinds == [("CN-3", "CEB303", 1), ("CN-3", "CEB603", 1), ("PO-1", "H7", 1)]
    assert sorted(e.event for e in events) == ["accepted", "filed", "refused", "rejected"]
