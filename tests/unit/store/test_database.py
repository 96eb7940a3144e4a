"""Group commit on SQLite: calls that wait together are committed together, each undone alone."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway import metrics
from gateway.store import messages, schema
from gateway.store.database import Database, upgrade


class InThread:
    """Stands in for the reactor: answers are delivered in the database thread."""

    def callFromThread(self, fn, *args):
        fn(*args)


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'gateway.db'}", reactor=InThread())
    upgrade(db.engine)
    db.start()
    yield db
    db.stop()


def thd_create(conn, message_id: str) -> str:
    id, _ = messages.thd_create(conn, direction="inbound", transport="as2", partner_id="p",
                                message_id=message_id, status="received", actor="t", now=1.0)
    return id


def thd_create_then_fail(conn, message_id: str) -> None:
    thd_create(conn, message_id)
    raise ValueError(f"{message_id} refused after its insert")


def thd_duplicate_id(conn, id: str) -> None:
    conn.execute(schema.messages.insert().values(
        id=id, direction="inbound", transport="as2", partner_id="p", message_id="<other>",
        status="received", created_at=1.0, updated_at=1.0))


def thd_count(conn) -> tuple[int, int]:
    return (conn.execute(select(func.count()).select_from(schema.messages)).scalar(),
            conn.execute(select(func.count()).select_from(schema.events)).scalar())


def test_a_failing_call_is_undone_alone_and_the_others_commit(sqlite_db):
    first = sqlite_db.transaction(thd_create, "<m0>")
    outcomes = sqlite_db.transactions([
        (thd_create, ("<m1>",), {}),
        (thd_create_then_fail, ("<m2>",), {}),
        (thd_duplicate_id, (first,), {}),
        (thd_create, ("<m3>",), {}),
    ])
    assert [ok for ok, _ in outcomes] == [True, False, False, True]
    assert outcomes[1][1].check(ValueError) and "<m2> refused" in str(outcomes[1][1].value)
    assert outcomes[2][1].check(IntegrityError)
    stored = {sqlite_db.transaction(messages.thd_get, m)["id"] for m in ("<m1>", "<m3>")}
    assert stored == {outcomes[0][1], outcomes[3][1]}
    assert sqlite_db.transaction(messages.thd_get, "<m2>") is None
    assert sqlite_db.transaction(thd_count) == (3, 3)   # m0, m1, m3 with their events


def test_calls_waiting_while_the_database_thread_is_busy_commit_as_one_group(sqlite_db):
    busy, release, answered = threading.Event(), threading.Event(), threading.Event()
    results = []

    def thd_hold(conn):
        busy.set()
        release.wait(10)
        return "held"

    def collect(value):
        results.append(value)
        if len(results) == 7:
            answered.set()

    groups = metrics.DB_GROUP.collect()[0]
    before = {s.name: s.value for s in groups.samples}
    sqlite_db.run(thd_hold).addBoth(collect)
    assert busy.wait(10)
    for n in range(5):
        sqlite_db.run(thd_create, f"<g{n}>").addBoth(collect)
    sqlite_db.run(thd_create_then_fail, "<g-bad>").addBoth(collect)
    release.set()
    assert answered.wait(10)
    after = {s.name: s.value for s in metrics.DB_GROUP.collect()[0].samples}
    assert after["gateway_db_group_size_count"] - before["gateway_db_group_size_count"] == 1
    assert after["gateway_db_group_size_sum"] - before["gateway_db_group_size_sum"] == 6
    assert results[0] == "held"
    assert results[-1].check(ValueError)
    assert sorted(sqlite_db.transaction(messages.thd_get, f"<g{n}>")["id"]
                  for n in range(5)) == sorted(results[1:6])
    assert sqlite_db.transaction(messages.thd_get, "<g-bad>") is None
