"""Parse processes (`xjip.hub.parallel`) store exactly what one process stores: the same rows,
the same rejections with the same locations, the same counts, on SQLite and PostgreSQL, for a
CSV and a concatenated XML file that hold duplicates, bad records and a broken end."""
from __future__ import annotations

import csv
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from xjip.hub import models as m
from xjip.hub import parallel
from xjip.hub.pipeline import run_import
from xjip.hub.store import Store
from xjip.hub.synth import iter_cnipa_xml, write_cn_biblio_csv

# what differs between two imports of the same data: row ids, times, the job
VOLATILE = {"id", "imported_at", "created_at", "updated_at", "import_job_id", "job_id", "acquired_at"}


def _csv_with_trouble(path: Path) -> None:
    """400 synthetic rows, then a repeat of row 3 (duplicate key), one with a wrong check digit,
    one with 2023-02-30 (a repeat of row 21 otherwise), and a repeat of a row from a later batch."""
    write_cn_biblio_csv(path, 400, seed=11)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    app = header.index("申请号")
    date = header.index("申请日")
    bad_digit = list(body[10])
    last = bad_digit[app][-1]
    bad_digit[app] = bad_digit[app][:-1] + ("0" if last in "Xx" else "X" if last == "9" else str(int(last) + 1))
    bad_date = list(body[20])
    bad_date[date] = "2023-02-30"
    with open(path, "a", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        for row in (body[2], bad_digit, bad_date, body[250]):
            out.writerow(row)


def _xml_with_trouble(path: Path) -> None:
    """120 documents with a malformed one at 57, a repeat of document 5 at 90, truncated at the end."""
    docs = [doc.encode("utf-8") for _p, doc in iter_cnipa_xml(120, seed=12)]
    docs[56] = docs[56].replace(b"</", b"<", 3)
    docs[89] = docs[4]
    docs[-1] = docs[-1][: len(docs[-1]) // 2]
    path.write_bytes(b"".join(docs))


def _snapshot(store: Store, job_id: int) -> dict[str, Any]:
    """Every stored row, keyed by natural keys rather than ids; the job's counts and rejections."""
    out: dict[str, Any] = {}
    with store.session() as s:
        keys = dict(s.execute(select(m.Patent.id, m.Patent.key)).all())
        entities = dict(s.execute(select(m.Entity.id, m.Entity.name_key)).all())
        for table in ("patent", "patent_party", "patent_text", "patent_event", "patent_family_member",
                      "source_record", "entity", "entity_alias", "import_rejection"):
            rows = []
            for row in s.execute(text(f"SELECT * FROM {table}")).mappings():
                row = {k: v for k, v in row.items() if k not in VOLATILE}
                for column in ("patent_id",):
                    if column in row:
                        row[column] = keys[row[column]]
                for column in ("entity_id", "first_applicant_entity_id"):
                    if row.get(column) is not None:
                        row[column] = entities[row[column]]
                rows.append(tuple(sorted((k, str(v)) for k, v in row.items())))
            out[table] = sorted(rows)
        job = s.get(m.ImportJob, job_id)
        out["job"] = {c: getattr(job, c) for c in ("status", "read_count", "inserted_count", "updated_count",
                                                   "unchanged_count", "rejected_count", "addressed_count",
                                                   "placed_count", "checkpoint", "error")}
    return out


def _clear(store: Store) -> None:
    with store.session() as s:
        for table in reversed(m.Base.metadata.sorted_tables):
            s.execute(table.delete())


def _import(store: Store, path: Path, parallel_mb: int) -> dict[str, Any]:
    settings = dataclasses.replace(store.settings, import_parallel_mb=parallel_mb)
    mode = Store(settings)
    try:
        job = run_import(mode, path)
        return _snapshot(mode, job.id)
    finally:
        mode.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "xml"])
def test_parse_processes_store_what_one_process_stores(store, tmp_path, kind):
    path = tmp_path / f"trouble.{kind}"
    (_csv_with_trouble if kind == "csv" else _xml_with_trouble)(path)
    store.upgrade()
    alone = _import(store, path, -1)
    _clear(store)
    shared = _import(store, path, 0)
    assert shared == alone
    # the data holds what the test means it to hold
    job = alone["job"]
    codes = sorted(dict(r)["code"] for r in alone["import_rejection"])
    if kind == "csv":
        assert job["status"] == "done" and job["read_count"] == 404 and job["inserted_count"] == 400
        assert codes == ["check_digit", "duplicate_key", "duplicate_key", "invalid_date"]
    else:
        assert job["status"] == "failed" and job["error"]["code"] == "xml_truncated"
        assert codes == ["duplicate_key", "xml_malformed", "xml_truncated"] and job["inserted_count"] == 117


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "xml"])
def test_a_bulk_load_commits_windows_together_and_stores_the_same(store, tmp_path, kind, monkeypatch):
    """In a bulk load the writer holds its transaction open over several windows
    (`_JobRunner.BULK_TRANSACTION_ROWS`): fewer commits, the same rows, rejections and counts,
    and a broken end still keeps every window read before it."""
    from xjip.hub import pipeline

    monkeypatch.setattr(pipeline.BulkIndexes, "MIN_RECORDS", 30)
    monkeypatch.setattr(pipeline._JobRunner, "BULK_TRANSACTION_ROWS", 120)
    commits: list[int] = []
    monkeypatch.setattr(pipeline, "AFTER_COMMIT_HOOKS", [lambda s, changed: commits.append(1)])
    path = tmp_path / f"trouble.{kind}"
    (_csv_with_trouble if kind == "csv" else _xml_with_trouble)(path)
    store.upgrade()
    alone = _import(store, path, -1)  # one process: a transaction per batch
    per_batch = len(commits)
    _clear(store)
    commits.clear()
    shared = _import(store, path, 0)
    assert shared == alone
    assert per_batch >= 3
    if store.dialect == "sqlite":
        assert len(commits) < per_batch
    else:  # PostgreSQL commits each window (`_JobRunner.hold_open`)
        assert len(commits) == per_batch


def test_sources_that_cannot_be_split_use_one_parse_process(tmp_path):
    from xjip.hub.importers import cn_biblio
    from xjip.hub.importers.base import iter_sources

    path = tmp_path / "rows.jsonl"
    path.write_text('{"申请号": "CN202310000001.X"}\n', encoding="utf-8")
    source = next(iter_sources(path))
    assert parallel.shard_count(cn_biblio.importer, source) == 1
    write_cn_biblio_csv(tmp_path / "rows.csv", 3)
    source = next(iter_sources(tmp_path / "rows.csv"))
    assert parallel.shard_count(cn_biblio.importer, source) == min(parallel.os.cpu_count() or 1, parallel.MAX_SHARDS)


# --- bulk loads without secondary indexes ------------------------------------------------------

def _index_names(store: Store) -> set[str]:
    listing = ("SELECT name FROM sqlite_master WHERE type = 'index'" if store.dialect == "sqlite"
               else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    with store.engine.connect() as conn:
        return set(conn.exec_driver_sql(listing).scalars())


def _secondary(table: str) -> set[str]:
    return {i.name for i in m.Base.metadata.tables[table].indexes if not i.unique}


@pytest.mark.parametrize("fail", [False, True], ids=["ends", "fails"])
def test_a_large_load_runs_without_secondary_indexes_and_rebuilds_them(store, tmp_path, monkeypatch, fail):
    from xjip.hub import pipeline

    monkeypatch.setattr(pipeline.BulkIndexes, "MIN_RECORDS", 100)
    path = tmp_path / "many.csv"
    write_cn_biblio_csv(path, 400, seed=21)
    store.upgrade()
    wanted = _secondary("patent") | _secondary("patent_party") | _secondary("source_record")
    assert wanted <= _index_names(store)
    during: list[set[str]] = []

    def look(s: Store, changed: dict[str, list[int]]) -> None:
        during.append(_index_names(s))
        if fail and len(during) == 3:
            raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(pipeline, "AFTER_COMMIT_HOOKS", [look])
    if fail:
        with pytest.raises(RuntimeError):
            run_import(store, path)
    else:
        job = run_import(store, path)
        assert job.status == "done" and job.inserted_count == 400
    assert not wanted & during[1]  # dropped after the first batch showed a large load coming
    assert wanted <= _index_names(store)  # and back however the job ended
    with store.session() as s:
        assert s.scalar(text("SELECT count(*) FROM patent WHERE app_date IS NOT NULL")) > 0


def test_a_small_load_keeps_the_indexes(store, tmp_path, monkeypatch):
    from xjip.hub import pipeline

    path = tmp_path / "few.csv"
    write_cn_biblio_csv(path, 120, seed=22)
    store.upgrade()
    seen: list[set[str]] = []
    monkeypatch.setattr(pipeline, "AFTER_COMMIT_HOOKS", [lambda s, changed: seen.append(_index_names(s))])
    run_import(store, path)
    assert all(_secondary("patent") <= names for names in seen)


def test_indexes_left_dropped_by_a_killed_job_come_back_with_the_next(store, tmp_path):
    store.upgrade()
    with store.engine.begin() as conn:
        conn.exec_driver_sql('DROP INDEX "ix_patent_app_date"')
        conn.exec_driver_sql('DROP INDEX "ix_source_record_import_job_id"')
    path = tmp_path / "one.csv"
    write_cn_biblio_csv(path, 3, seed=23)
    run_import(store, path)
    assert {"ix_patent_app_date", "ix_source_record_import_job_id"} <= _index_names(store)


# --- a parse process that fails -------------------------------------------------------------

CRASH_MARKER = b"#xjip-crash-test\n"


class CrashingImporter:
    """Yields records from a CSV synthetic export, then fails like a bug would, after `n` rows."""

    name = "parallel_test_crash"
    record_types = ("patent",)

    def sniff(self, head: bytes, name: str) -> int:
        return 100 if head.startswith(CRASH_MARKER) else 0

    def parse(self, source, options):  # noqa: ANN001, ANN201
        from xjip.hub.importers import cn_biblio

        with source.open() as fh:
            limit = int(fh.readline().split(b"=")[1])
        for index, item in enumerate(cn_biblio.importer.parse(source, options), start=1):
            if index > limit:
                raise RuntimeError("importer bug after record %d" % limit)
            yield item


from xjip.hub.importers.base import register  # noqa: E402

register(CrashingImporter())


def _import_crashing(store: Store, tmp_path: Path, parallel_mb: int, seed: int) -> tuple[Path, Any, int, int]:
    """Import 130 rows with an importer that fails after 120; (path, job, patents, source records)."""
    plain = tmp_path / "plain.csv"
    write_cn_biblio_csv(plain, 130, seed=seed)
    path = tmp_path / "crash.csv"
    path.write_bytes(CRASH_MARKER[:-1] + b"=120\n" + plain.read_bytes())
    store.upgrade()
    mode = Store(dataclasses.replace(store.settings, import_parallel_mb=parallel_mb))
    try:
        with pytest.raises(Exception, match="importer bug after record 120"):
            run_import(mode, path, format="parallel_test_crash")
        with mode.session() as s:
            job = s.scalars(select(m.ImportJob)).one()
            patents = s.scalar(text("SELECT count(*) FROM patent"))
            sources = s.scalar(text("SELECT count(*) FROM source_record"))
    finally:
        mode.dispose()
    return path, job, patents, sources


@pytest.mark.parametrize("parallel_mb", [-1, 0], ids=["one-process", "parse-process"])
def test_a_crash_in_parsing_fails_the_job_and_keeps_the_committed_batches(store, tmp_path, parallel_mb):
    """A bug in parsing (not a bad record) fails the job with its traceback, in a parse process
    as in the job's own; the batches committed before it stay, whole."""
    path, job, patents, sources = _import_crashing(store, tmp_path, parallel_mb, seed=51)
    assert job.status == "failed" and "importer bug after record 120" in job.error["message_en"]
    assert patents == sources == 100  # the two whole batches of 50; the third was never committed
    assert job.checkpoint[path.name]["items"] == 100


def test_a_crash_in_a_bulk_load_rolls_back_the_windows_held_open(store, tmp_path, monkeypatch):
    """Windows held in an open transaction (SQLite) are committed together or not at all: the
    job resumes after the last commit."""
    from xjip.hub import pipeline

    monkeypatch.setattr(pipeline.BulkIndexes, "MIN_RECORDS", 20)
    monkeypatch.setattr(pipeline._JobRunner, "BULK_TRANSACTION_ROWS", 100)
    committed: list[int] = []
    monkeypatch.setattr(pipeline, "AFTER_COMMIT_HOOKS",
                        [lambda s, changed: committed.append(len(changed.get("patent", [])))])
    path, job, patents, sources = _import_crashing(store, tmp_path, 0, seed=52)
    if store.dialect == "sqlite":
        # the first batch alone (it shows a bulk load coming); the second waited for the third, which failed
        assert committed == [50]
    else:  # PostgreSQL commits each window (`_JobRunner.hold_open`)
        assert committed == [50, 50]
    assert patents == sources == sum(committed) and job.checkpoint[path.name]["items"] == sum(committed)
    assert _secondary("patent") <= _index_names(store)  # rebuilt although the job failed


def test_a_bulk_load_finds_a_patent_by_publication_number_without_the_dropped_index(store, tmp_path, monkeypatch):
    """A bulk load drops the publication and grant number indexes too; a record that has only a
    publication number (a CNKI-like row) puts them back and still joins the stored patent."""
    from xjip.hub import pipeline, synth

    monkeypatch.setattr(pipeline.BulkIndexes, "MIN_RECORDS", 100)
    during: list[set[str]] = []
    monkeypatch.setattr(pipeline, "AFTER_COMMIT_HOOKS", [lambda s, changed: during.append(_index_names(s))])
    store.upgrade()
    rows = [synth.csv_row(p) for p in synth.iter_patents(300, 61)]
    full = rows[0]
    lone = [""] * len(full)
    lone[2], lone[5] = full[2], full[5]  # publication number and title only
    first, bulk = tmp_path / "first.csv", tmp_path / "bulk.csv"
    for path, body in ((first, [full]), (bulk, [*rows[1:], lone])):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(synth.CSV_COLUMNS)
            out.writerows(body)
    run_import(store, first)
    during.clear()
    job = run_import(store, bulk)
    assert job.status == "done" and job.rejected_count == 0 and job.inserted_count == 299
    assert "ix_patent_pub_number" not in during[1]  # dropped for the load
    assert {"ix_patent_pub_number", "ix_patent_grant_number"} <= during[-1]  # back for the lone record
    with store.session() as s:
        assert s.scalar(text("SELECT count(*) FROM patent")) == 300
        assert s.scalar(text("SELECT count(*) FROM source_record WHERE record_key = :k"), {"k": full[2]}) == 1


_SENDER = """
import sys
from xjip.hub import parallel
for i in range({count}):
    parallel._write(sys.stdout.buffer, (i, bytes([i % 251]) * {size}))
parallel._write(sys.stdout.buffer, ("end",))
"""


def test_messages_arrive_whole_when_a_parse_process_is_stopped_and_continued():
    """Ctrl-Z and `fg` stop and continue the parse processes too, often in the middle of a
    pipe write: every message must still arrive whole and in order (with the stream's own
    BufferedWriter, Python 3.11 dropped the tail of a message this way, and the import crashed)."""
    count, size = 150, 1 << 20
    repo = Path(parallel.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", _SENDER.format(count=count, size=size)],
                            stdout=subprocess.PIPE, bufsize=1 << 20, env=env)
    done = threading.Event()

    def stop_and_continue() -> None:
        while not done.is_set():
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.002)
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.003)

    jolter = threading.Thread(target=stop_and_continue)
    jolter.start()
    try:
        assert proc.stdout is not None
        for i in range(count):
            assert parallel._read(proc.stdout) == (i, bytes([i % 251]) * size), f"message {i}"
        assert parallel._read(proc.stdout) == ("end",)
    finally:
        done.set()
        jolter.join()
        proc.kill()
        proc.wait()
