"""The index rebuild as a resumable job, on SQLite and PostgreSQL: interrupted after a checkpoint
(or killed between a commit and its checkpoint) it continues in the same folder and the final index
holds every record exactly once; one build at a time across processes (a stale claim is taken
over, a live one refused)."""
from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import tantivy

from xjip.search import documents, index, live, service
from xjip.search.index import RebuildInterrupted, RebuildRunning, SCHEMA, backend_for
from xjip.hub.pipeline import run_import

GI = "gi/xinjiang_gi_records.csv"
PATENTS = "patents/real_exports/cn_export/ptics_cn_阿波罗智行.csv"

live.install()


def by_type(backend) -> dict[str, int]:  # noqa: ANN001
    """Documents per record type in the live index."""
    idx, searcher = backend.searcher()
    return {t: searcher.search(tantivy.Query.term_query(SCHEMA, "rtype", t), 1).count
            for t in documents.INDEXED_TYPES}


def expected(store) -> dict[str, int]:  # noqa: ANN001
    with store.reading() as s:
        return documents.count_rows(s)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "CHECKPOINT_EVERY", 20)
    monkeypatch.setattr(documents, "CHUNK", 10)  # two reads per checkpoint: one is uncommitted at a cut


def test_an_interrupted_rebuild_resumes_and_holds_every_record_once(store, shared_data: Path,
                                                                     small_chunks: None) -> None:  # noqa: ANN001
    backend = backend_for(store.settings)
    run_import(store, shared_data / GI)

    def cut(state: dict) -> None:
        if state["done"] >= 30:  # 20 committed with their checkpoint, 10 more not
            raise KeyboardInterrupt

    with pytest.raises(RebuildInterrupted):
        backend.rebuild(store, cut)
    status = backend.status()
    assert status["state"] == "interrupted" and status["resumable"] and not status["exists"]
    assert status["checkpoint"]["done"] == 20 and status["done"] == 30
    folder = status["checkpoint"]["folder"]
    # a record added while it was cut off: read by the resumed run (its id is past the checkpoint)
    run_import(store, shared_data / PATENTS)
    result = backend.rebuild(store)
    assert result["resumed"] and result["folder"] == folder and result["state"] == "ready"
    counts = expected(store)
    assert by_type(backend) == counts and counts["patent"] > 0 and counts["gi"] > 0
    assert backend.status()["docs"] == sum(counts.values())
    assert service.search(store, "库尔勒香梨", service.Filters(type="gi"))["total"] >= 1
    with store.reading() as s:
        title = s.execute(documents.select(documents.m.Patent.title)).scalars().first()
    assert service.search(store, f'TI="{title}"', service.Filters(type="patent"))["total"] >= 1
    assert backend.status()["percent"] == 100.0 and not backend.status()["resumable"]


def test_killed_between_a_commit_and_its_checkpoint(store, shared_data: Path, small_chunks: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    backend = backend_for(store.settings)
    run_import(store, shared_data / GI)
    real = type(backend)._update
    cuts = []

    def update(self, **values):  # noqa: ANN001, ANN202
        if "checkpoint" in values and values.get("done", 0) >= 20 and not cuts:
            cuts.append(values["done"])
            raise KeyboardInterrupt  # the commit made, its checkpoint never written
        return real(self, **values)

    monkeypatch.setattr(type(backend), "_update", update)
    with pytest.raises(RebuildInterrupted):
        backend.rebuild(store)
    monkeypatch.setattr(type(backend), "_update", real)
    assert backend.status()["checkpoint"]["done"] == 0  # the 20 committed documents are past it
    backend.rebuild(store)
    assert by_type(backend) == expected(store)


def test_stop_request_and_restart(store, shared_data: Path, small_chunks: None) -> None:  # noqa: ANN001
    backend = backend_for(store.settings)
    run_import(store, shared_data / GI)

    def ask_stop(state: dict) -> None:
        if state["done"] >= 10:
            assert backend.request_stop()

    with pytest.raises(RebuildInterrupted):
        backend.rebuild(store, ask_stop)
    status = backend.status()
    assert status["state"] == "interrupted" and status["checkpoint"]["done"] == status["done"] == 20
    first = status["checkpoint"]["folder"]
    assert not backend.request_stop()  # nothing runs
    result = backend.rebuild(store, restart=True)
    assert not result["resumed"] and result["folder"] != first and not (backend.root / first).exists()
    assert by_type(backend) == expected(store)


def _claim(backend, pid: int, host: str, beat: float) -> None:  # noqa: ANN001
    backend._write_status({"state": "building", "pid": pid, "host": host, "heartbeat": beat, "done": 0, "total": 9})


def test_one_build_at_a_time(store, shared_data: Path) -> None:  # noqa: ANN001
    backend = backend_for(store.settings)
    run_import(store, shared_data / GI)
    here = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    _claim(backend, gone.pid, here, time.time())
    assert backend.status()["state"] == "interrupted"  # its process is gone
    assert backend.rebuild(store)["state"] == "ready"  # taken over
    _claim(backend, 12345, "another-host", time.time() - 3600)
    assert backend.rebuild(store)["state"] == "ready"  # a heartbeat an hour old: taken over
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _claim(backend, sleeper.pid, here, time.time())
        with pytest.raises(RebuildRunning) as caught:
            backend.rebuild(store)
        assert caught.value.pid == sleeper.pid and caught.value.host == here
        assert backend.status()["state"] == "building"
        assert backend.request_stop() and backend._read_status()["stop_requested"] is True
        backend._update(pid_start="1")  # the pid now belongs to another process than the claim's
        assert backend.status()["state"] == "interrupted"
        assert backend.rebuild(store)["state"] == "ready"
        _claim(backend, 12345, "another-host", time.time())
        with pytest.raises(RebuildRunning):
            backend.rebuild(store)  # a fresh heartbeat from elsewhere
    finally:
        sleeper.kill()
        sleeper.wait()
