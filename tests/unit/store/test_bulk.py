"""Bulk inserts and updates through the driver (gateway.store.sql), on SQLite and PostgreSQL."""

import psycopg
import pytest
from sqlalchemy import select

from gateway.store.schema import reconcile_subjects as subjects
from gateway.store.sql import insert_many, one_of, update_many


def _rows(conn):
    return {(r.partner_id, r.subject): (r.next_check_at, r.open_amount, r.evaluated_at)
            for r in conn.execute(select(subjects))}


def test_insert_skips_conflicts_and_returns_what_it_inserted(db):
    def work(conn):
        first = insert_many(conn, subjects, [
            dict(partner_id="p", subject="po:1", evaluated_at=1.0),
            dict(partner_id="p", subject="po:2", evaluated_at=1.0)],
            ignore_conflicts_on=("partner_id", "subject"), returning="subject")
        again = insert_many(conn, subjects, [
            dict(partner_id="p", subject="po:2", evaluated_at=2.0),
            dict(partner_id="p", subject="po:3", evaluated_at=2.0),
            dict(partner_id="q", subject="po:2", evaluated_at=2.0)],
            ignore_conflicts_on=("partner_id", "subject"), returning="subject")
        return sorted(first), sorted(again), _rows(conn)
    first, again, rows = db.transaction(work)
    assert first == ["po:1", "po:2"]
    assert again == ["po:2", "po:3"]       # q's po:2 and p's po:3; p's po:2 was there
    assert rows[("p", "po:2")] == (None, None, 1.0)   # the stored row is left as it was
    assert len(rows) == 4


def test_update_sets_the_other_columns_of_the_rows_named_by_the_keys(db):
    def work(conn):
        insert_many(conn, subjects, [dict(partner_id=p, subject=s, evaluated_at=0.0)
                                     for p in ("p", "q") for s in ("a", "b")])
        # Values of mixed and all-missing types: PostgreSQL gets one typed array per column.
        update_many(conn, subjects, [
            dict(partner_id="p", subject="a", next_check_at=5.5, open_amount=None,
                 evaluated_at=1.0),
            dict(partner_id="q", subject="b", next_check_at=None, open_amount="12.50",
                 evaluated_at=2.0)], keys=("partner_id", "subject"))
        update_many(conn, subjects, [], keys=("partner_id", "subject"))   # nothing to do
        return _rows(conn)
    rows = db.transaction(work)
    assert rows == {("p", "a"): (5.5, None, 1.0), ("p", "b"): (None, None, 0.0),
                    ("q", "a"): (None, None, 0.0), ("q", "b"): (None, "12.50", 2.0)}


def test_text_with_quotes_braces_and_non_ascii_arrives_unchanged(db):
    tricky = ['{"a": "b,c"}', "NULL", "", "back\\slash", "新华书店 \u00e9", '"', "x" * 32]

    def work(conn):
        insert_many(conn, subjects, [dict(partner_id="p", subject=str(i), currency=None,
                                          open_amount=t, evaluated_at=0.0)
                                     for i, t in enumerate(tricky)])
        return {r.subject: r.open_amount for r in conn.execute(select(subjects))}
    assert db.transaction(work) == {str(i): t for i, t in enumerate(tricky)}


def test_a_value_too_long_for_its_column_is_refused_or_kept_never_cut(db):
    long = "9" * 33   # open_amount holds 32 characters

    def work(conn):
        insert_many(conn, subjects, [dict(partner_id="p", subject="s", open_amount=long,
                                          evaluated_at=0.0)])
        return conn.execute(select(subjects.c.open_amount)).scalar()
    if db.dialect == "postgresql":
        with pytest.raises(psycopg.errors.StringDataRightTruncation):
            db.transaction(work)
    else:   # SQLite keeps text of any length
        assert db.transaction(work) == long


def test_one_of_matches_whole_values_only(db):
    stored = "P" * 80   # as long as subject holds: a longer lookup must not match it cut

    def work(conn):
        insert_many(conn, subjects, [dict(partner_id="p", subject=s, evaluated_at=0.0)
                                     for s in (stored, "a", "b")])
        query = select(subjects.c.subject).where(
            one_of(subjects.c.subject, "names", conn.dialect.name))
        return [sorted(conn.execute(query, dict(names=names)).scalars())
                for names in (["a", stored, "zz"], [stored + "Q"], [])]
    assert db.transaction(work) == [sorted(["a", stored]), [], []]
