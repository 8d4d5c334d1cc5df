"""DbExecutor: every call runs on one thread, inside a session, in submission order; errors reach the awaiter."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager

import pytest

from workbench.core.errors import ProjectError
from workbench.services.db_executor import DbExecutor


class FakeProject:
    """Records sessions: 'commit' when the block succeeds, 'rollback' when it raises (like store.db.Project)."""

    def __init__(self) -> None:
        self.log: list[str] = []

    @contextmanager
    def session(self):
        session = {"thread": threading.get_ident()}
        try:
            yield session
        except BaseException:
            self.log.append("rollback")
            raise
        else:
            self.log.append("commit")


@pytest.fixture
def db():
    ex = DbExecutor()
    yield ex
    ex.shutdown()


def test_calls_run_on_one_background_thread_in_order(db):
    project = FakeProject()
    db.set_project(project)
    seen: list[tuple[int, int]] = []

    def work(s, i):
        seen.append((i, s["thread"]))
        return i * i

    futures = [db.submit(work, i) for i in range(50)]
    assert [f.result(timeout=10) for f in futures] == [i * i for i in range(50)]
    assert [i for i, _ in seen] == list(range(50))
    threads = {t for _, t in seen}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    assert project.log == ["commit"] * 50


def test_async_call_returns_the_result_and_raises_errors(db):
    project = FakeProject()
    db.set_project(project)

    def boom(s):
        raise ValueError("bad value")

    async def main():
        value = await db.call(lambda s, a, *, b: a + b, 2, b=3)
        with pytest.raises(ValueError, match="bad value"):
            await db.call(boom)
        return value

    assert asyncio.run(main()) == 5
    assert project.log == ["commit", "rollback"]


def test_no_project_is_a_project_error_with_advice(db):
    with pytest.raises(ProjectError, match="open or create a project"):
        db.call_sync(lambda s: 1)
    assert db.call_plain_sync(lambda a: a + 1, 1) == 2  # plain calls need no project


def test_on_db_thread(db):
    db.set_project(FakeProject())
    assert not db.on_db_thread()
    assert db.call_sync(lambda s: db.on_db_thread()) is True
