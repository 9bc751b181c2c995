"""Import jobs: source → importer → resolve places and owners → upsert, one transaction per batch.

Guarantees
- Idempotent: rows are upserted on their natural key; a source record whose content hash is
  unchanged is not written again (re-running an import changes nothing).
- Transactional per batch: the batch's rows, its rejections, the job's counters and its
  checkpoint are committed together, so a `kill -9` loses at most the uncommitted batch and the
  restarted job resumes after the last committed record.
- One run per source at a time: a lock row keyed by the source's fingerprint; a lock whose
  process is gone (same host) or whose heartbeat is stale is taken over.
- Bad records become located rejections (中文 + English) and never stop the good ones.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import parallel
from xjip.hub.importers.base import Source, detect, iter_sources
from xjip.hub.records import BaseRecord, Locator, Note, Rejection, SourceError
from xjip.hub.store import Store
from xjip.i18n import both

log = logging.getLogger(__name__)

ProgressCallback = Callable[[m.ImportJob], None]
# Called after each committed batch with {record_type: [ids]}; the search index subscribes here.
AFTER_COMMIT_HOOKS: list[Callable[[Store, dict[str, list[int]]], None]] = []

UNFINISHED = ("queued", "running", "interrupted", "failed")
# A batch is committed after `import_batch_size` records or after this many bytes of (decompressed)
# input, whichever comes first: 2,000 full texts of 200 KB, or CSV rows carrying whole
# descriptions, would not fit in memory as one batch.
BATCH_MAX_BYTES = 32 << 20
# With several parse processes each holds its window and the writer another: smaller windows.
SHARD_MAX_BYTES = 4 << 20


MIXED_FORMATS = "mixed"  # import_job.format of a job whose sources came in several formats
# Rejected records kept per reason (code and field); the rest are counted, not stored: a file of
# junk rows costs a few thousand rows, not one per junk row (import_job.rejection_counts).
REJECTION_SAMPLES = 1000


class ImportAlreadyRunning(Exception):
    def __init__(self, job_id: int):
        self.job_id = job_id
        zh, en = both("import.error.already_running", job_id=job_id)
        super().__init__(f"{zh} / {en}")


class TooManyRejections(Exception):
    """A job rejected more records than `import_max_rejections`: it stops, resumable."""

    def __init__(self, locator: Locator, count: int, limit: int):
        self.locator, self.count, self.limit = locator, count, limit
        super().__init__(f"{locator}: {count} rejected > {limit}")


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C in a job: what was committed is kept and the job can be resumed."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        zh, en = both("import.interrupted", job_id=job_id)
        super().__init__(f"{zh} / {en}")


# --- jobs ------------------------------------------------------------------------------

def fingerprint(path: str | os.PathLike[str]) -> str:
    """sha256 over the bytes of every file below `path` (names included for folders)."""
    root = Path(path)
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for file in files:
        if root.is_dir():
            digest.update(str(file.relative_to(root)).encode() + b"\0")
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


SOURCE_KEY = "_source_key"  # in a running job's options: the name its source's records are stored under


def source_key(store: Store, path: str | os.PathLike[str], name: str) -> str:
    """The name a source's records are stored under (`source_record.source`, provenance). The
    same file at the same place is the same source: importing it again updates its records.
    A different file of the same name elsewhere (a second EPO response.xml.gz) is another
    source, 'response.xml.gz (2)', instead of overwriting the first one's records. An upload
    is kept by its name alone (each lands in a fresh folder): uploading a file again is its
    next version."""
    root = Path(path).resolve()
    uploads = Path(store.settings.uploads_dir).resolve()
    if root.is_relative_to(uploads):
        location = f"upload:{name}"
    else:
        location = str(root.parent / name)
    digest = hashlib.sha256(location.encode("utf-8", "surrogatepass")).hexdigest()
    for attempt in range(3):
        try:
            with store.session() as s:
                known = s.scalar(select(m.ImportSource.key).where(m.ImportSource.location_hash == digest))
                if known is not None:
                    return known
                taken = set(s.scalars(select(m.ImportSource.key).where(
                    (m.ImportSource.name == name[:300]) | (m.ImportSource.key == name[:300]))))
                key, n = name[:300], 1
                while key in taken:
                    n += 1
                    suffix = f" ({n})"
                    key = name[:300 - len(suffix)] + suffix
                s.add(m.ImportSource(location_hash=digest, location=location, name=name[:300], key=key))
            return key
        except IntegrityError:  # another process registered it (or took the key) meanwhile
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def create_job(store: Store, path: str | os.PathLike[str], *, display_name: str | None = None,
               actor: str | None = None, format: str | None = None,
               options: dict[str, Any] | None = None) -> int:
    """A job for `path`. An unfinished job for the same content is reused, so that a second
    `xjip import` of the same file resumes the first instead of starting over."""
    path = Path(path)
    if not path.exists():
        raise SourceError(Locator(str(path)), "read_error", detail="no such file or folder / 文件或目录不存在")
    fp = fingerprint(path)
    total = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    options = dict(options or {})
    if format:
        options["format"] = format  # forced importer; `format` itself records the one detected
    if options.get("mapping"):
        options["mapping_sha256"] = _file_sha256(options["mapping"])
    with store.session() as s:
        for existing in s.scalars(
                select(m.ImportJob).where(m.ImportJob.fingerprint == fp, m.ImportJob.status.in_(UNFINISHED))
                .order_by(m.ImportJob.id.desc())):
            # the same file asked for in the same way resumes; with another --importer or
            # --mapping (or an edited mapping file) it is read anew, as asked
            if _same_reading(existing, options):
                return existing.id
        job = m.ImportJob(path=str(path.resolve()), display_name=display_name or path.name, fingerprint=fp,
                          format=format, options=options, status="queued", created_by=actor,
                          bytes_total=total, bytes_done=0, checkpoint={})
        s.add(job)
        s.flush()
        s.add(m.AuditEvent(tag="hub:import:create", actor=actor, details={"job_id": job.id, "path": str(path)}))
        return job.id


# The options that decide how a source is read: a job resumed must have been asked the same way.
READING_OPTIONS = ("mapping", "mapping_sha256", "synthetic", "licence")


def _same_reading(job: m.ImportJob, options: dict[str, Any]) -> bool:
    """Whether an unfinished job reads its source as `options` ask. An --importer names the
    importer the job forced or detected; without one, any importer will do (the job's)."""
    old = job.options or {}
    if any(old.get(k) != options.get(k) for k in READING_OPTIONS):
        return False
    wanted = options.get("format")
    return wanted is None or wanted == (old.get("format") or job.format)


def _file_sha256(path: str | os.PathLike[str]) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None  # the importer reports the unreadable mapping, located


def run_import(store: Store, path: str | os.PathLike[str], *, actor: str | None = None, format: str | None = None,
               options: dict[str, Any] | None = None, progress: ProgressCallback | None = None,
               display_name: str | None = None) -> m.ImportJob:
    job_id = create_job(store, path, display_name=display_name, actor=actor, format=format, options=options)
    return run_job(store, job_id, progress=progress)


# Set in the web worker processes of `xjip serve --workers N`: they do not run imports
# themselves but ask the server's one import runner (`run_requested_jobs`, in the parent process).
WEB_WORKER_ENV = "XJIP_WEB_WORKER"


def _run_logged(store: Store, job_id: int) -> None:
    try:
        run_job(store, job_id)
    except ImportAlreadyRunning:
        log.info("job %s already running elsewhere", job_id)
    except ImportInterrupted:
        log.info("import job %s stopped on request", job_id)
    except Exception:  # noqa: BLE001 - recorded on the job; a thread has nobody to raise to
        log.exception("import job %s failed", job_id)


def start_job_thread(store: Store, *job_ids: int) -> threading.Thread | None:
    """Run (or resume) these jobs one after the other in a background thread; in a web worker
    process (several workers), hand them to the server's import runner instead (None)."""
    if os.environ.get(WEB_WORKER_ENV) == "1":
        request_jobs(store, *job_ids)
        return None

    def target() -> None:
        for job_id in job_ids:
            _run_logged(store, job_id)

    thread = threading.Thread(target=target, name=f"import-{'-'.join(map(str, job_ids))}", daemon=True)
    thread.start()
    return thread


def request_jobs(store: Store, *job_ids: int) -> None:
    """Ask the import runner to run these jobs (a repeated request is one request)."""
    with store.session() as s:
        have = set(s.scalars(select(m.ImportRequest.job_id).where(m.ImportRequest.job_id.in_(job_ids))))
        s.add_all(m.ImportRequest(job_id=j) for j in dict.fromkeys(job_ids) if j not in have)


def run_requested_jobs(store: Store, stop: threading.Event, poll_seconds: float = 0.5) -> None:
    """The server's one import runner: runs the requested jobs one after the other, in this
    process, until `stop` is set. One place, so that imports neither run twice nor compete with
    each other for the two cores, and no web worker's requests wait behind an import's writer."""
    while not stop.is_set():
        try:
            with store.session() as s:
                ids = list(s.scalars(select(m.ImportRequest.job_id)
                                     .order_by(m.ImportRequest.requested_at, m.ImportRequest.job_id)))
                if ids:
                    s.execute(delete(m.ImportRequest).where(m.ImportRequest.job_id.in_(ids)))
        except Exception:  # noqa: BLE001 - a locked or unreachable database: try again at the next poll
            log.exception("import runner: cannot read the requests")
            ids = []
        for job_id in ids:
            _run_logged(store, job_id)
        stop.wait(poll_seconds)


def requeue(store: Store, job_id: int) -> bool:
    """An interrupted or failed job set back to queued, to be run again (`start_job_thread`);
    False when it is in no state to resume (one conditional update: two clicks requeue once)."""
    if not m.is_row_id(job_id):
        return False
    with store.session() as s:
        return s.execute(update(m.ImportJob).where(m.ImportJob.id == job_id,
                                                   m.ImportJob.status.in_(m.ImportJob.RESUMABLE))
                         .values(status="queued")).rowcount == 1


def job_status(store: Store, job_id: int) -> str | None:
    """A job's status, None when there is no such job (what a refused resume or stop reports)."""
    if not m.is_row_id(job_id):
        return None
    with store.reading() as s:
        return s.scalar(select(m.ImportJob.status).where(m.ImportJob.id == job_id))


def request_stop(store: Store, job_id: int) -> bool:
    """Ask a queued or running job, in whichever process runs it, to stop after its next
    commit (it is then interrupted, and can be resumed). False when it is not running."""
    if not m.is_row_id(job_id):
        return False
    with store.session() as s:
        return s.execute(update(m.ImportJob).where(m.ImportJob.id == job_id,
                                                   m.ImportJob.status.in_(("queued", "running")))
                         .values(stop_requested=True)).rowcount == 1


def recover_orphaned_jobs(store: Store) -> list[tuple[int, str]]:
    """Jobs recorded as queued or running whose process has gone (a server stopped or killed in
    the middle of an import): marked interrupted, so that they say so and can be resumed.
    Returns their (id, source path). Called at start-up, before this process runs any job."""
    host = socket.gethostname()
    stale = m.utcnow() - dt.timedelta(seconds=store.settings.heartbeat_stale_seconds)
    found = []
    with store.session() as s:
        for job in s.scalars(select(m.ImportJob).where(m.ImportJob.status.in_(("queued", "running")))):
            if job.status == "queued":
                gone = job.created_at is not None and job.created_at < stale
            else:
                gone = (job.host == host and (job.pid is None or job.pid == os.getpid() or not _pid_alive(job.pid))) \
                    or (job.heartbeat_at is not None and job.heartbeat_at < stale)
            if gone:
                job.status = "interrupted"
                found.append((job.id, job.path))
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire_lock(store: Store, job: m.ImportJob) -> None:
    host, pid = socket.gethostname(), os.getpid()
    stale = dt.timedelta(seconds=store.settings.heartbeat_stale_seconds)
    for _attempt in range(3):
        try:
            with store.session() as s:
                s.add(m.ImportLock(fingerprint=job.fingerprint, job_id=job.id, pid=pid, host=host))
            return
        except IntegrityError:
            pass
        with store.session() as s:
            lock = s.get(m.ImportLock, job.fingerprint)
            if lock is None:
                continue
            holder = s.get(m.ImportJob, lock.job_id)
            beat = holder.heartbeat_at if holder else None
            dead = (lock.host == host and not _pid_alive(lock.pid)) or (
                beat is not None and m.utcnow() - beat > stale) or (lock.host == host and lock.pid == pid
                                                                     and lock.job_id == job.id)
            if not dead:
                raise ImportAlreadyRunning(lock.job_id)
            # Take over in one statement so two restarters cannot both win.
            taken = s.execute(update(m.ImportLock).where(m.ImportLock.fingerprint == job.fingerprint,
                                                         m.ImportLock.pid == lock.pid,
                                                         m.ImportLock.host == lock.host)
                              .values(job_id=job.id, pid=pid, host=host, acquired_at=m.utcnow())).rowcount
            if taken == 1:
                if holder is not None and holder.id != job.id and holder.status == "running":
                    holder.status = "interrupted"
                return
    raise ImportAlreadyRunning(job.id)


def _release_lock(store: Store, job: m.ImportJob) -> None:
    with store.session() as s:
        s.execute(delete(m.ImportLock).where(m.ImportLock.fingerprint == job.fingerprint,
                                             m.ImportLock.pid == os.getpid()))


def run_job(store: Store, job_id: int, *, progress: ProgressCallback | None = None) -> m.ImportJob:
    """Run (or resume) a job to the end. Blocking; raises ImportAlreadyRunning."""
    with store.session() as s:
        job = s.get(m.ImportJob, job_id) if m.is_row_id(job_id) else None
        if job is None:
            raise KeyError(job_id)
        if job.status == "done":
            return job
    _acquire_lock(store, job)
    thresholds = None
    try:
        with store.session() as s:
            job = s.get(m.ImportJob, job_id)
            job.status, job.pid, job.host = "running", os.getpid(), socket.gethostname()
            now = m.utcnow()
            job.started_at = job.started_at or now
            job.run_started_at, job.run_bytes_start, job.run_read_start = now, job.bytes_done or 0, job.read_count or 0
            job.heartbeat_at = now
            job.error = None
        ensure_indexes(store, BulkIndexes.TABLES)  # a job killed in a bulk load left them dropped
        runner = _JobRunner(store, job_id, progress)
        main_thread = threading.current_thread() is threading.main_thread()
        thresholds = parallel.bulk_gc() if main_thread else None
        previous_sigint = _stop_at_next_commit(runner) if main_thread else None
        try:
            runner.run()
        except KeyboardInterrupt:
            runner.finish("interrupted")
            raise ImportInterrupted(job_id) from None
        except SystemExit:
            runner.finish("interrupted")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the job "running"
            log.exception("import job %s crashed", job_id)
            runner.finish("failed", {"code": "read_error", "message_zh": str(exc), "message_en": str(exc)})
            raise
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
        if thresholds is not None:
            parallel.normal_gc(thresholds)
        _release_lock(store, job)
    with store.session() as s:
        return s.get(m.ImportJob, job_id)


def _stop_at_next_commit(runner: "_JobRunner") -> Any:
    """Ctrl-C asks the job to stop after its next commit, where nothing is half done; a second
    Ctrl-C stops it at once. A KeyboardInterrupt raised anywhere, say inside the database
    driver, can come out as another error (psycopg turned one into a ProgrammingError), and the
    job then failed instead of stopping. Returns the handler to put back, None when SIGINT is
    not Python's default (e.g. ignored, as in a shell's background job)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        return None

    def stop(_signum: int, _frame: Any) -> None:
        if runner.stop_requested:
            raise KeyboardInterrupt
        runner.stop_requested = True
        zh, en = both("import.stopping")
        print(f"\n{zh}\n{en}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, stop)
    return previous


# --- running ---------------------------------------------------------------------------

class _JobRunner:
    BULK_TRANSACTION_ROWS = 20_000

    def __init__(self, store: Store, job_id: int, progress: ProgressCallback | None):
        self.store, self.job_id, self.progress = store, job_id, progress
        self.settings = store.settings
        with store.session() as s:
            job = s.get(m.ImportJob, job_id)
            self.path = job.path
            self.options = dict(job.options or {})
            self.format = self.options.get("format")
            self.checkpoint: dict[str, Any] = dict(job.checkpoint or {})
            self.bytes_total = job.bytes_total or 0
            self.samples = RejectionSampler(job.rejection_counts)
        # column mappings staff saved for headers nobody knew: the importer uses the one of its
        # file's header (xjip.hub.mappings); read at run time, never stored in the job
        from xjip.hub import mappings

        self.options["_saved_mappings"] = mappings.for_import(store)
        self.batch_size = int(self.options.get("batch_size") or self.settings.import_batch_size)
        self.resolver = Resolver(store)
        self.writer = BatchWriter(store.dialect, self.resolver)
        self.error: dict[str, Any] | None = None
        self.seen: SeenKeys | None = None
        self.lz4 = store.dialect == "postgresql" and _has_lz4(store)
        self.bulk = BulkIndexes(store)
        self.batches = 0
        self._open: Session | None = None  # a transaction held open (see `_commit`)
        self._held: tuple[Any, ...] | None = None
        self._held_records = 0
        self._changed: dict[str, list[int]] = {}
        # SQLite only. A PostgreSQL commit saves nothing (its WAL is written as rows come, and
        # an import commits asynchronously), and held transactions measured slower there: 47 s
        # → 61 s for 200k CSV rows, probably because the savepoints of `insert_new` then exceed
        # the 64 subtransactions a backend caches, which slows every later snapshot.
        self.hold_open = store.dialect == "sqlite"
        self.stop_requested = False  # Ctrl-C: stop after the next commit (`_stop_at_next_commit`)

    def run(self) -> None:
        done_bytes = 0
        sources = 0
        listing = iter_sources(self.path)
        while True:
            try:
                source = next(listing)
            except StopIteration:
                break
            except SourceError as exc:  # e.g. an archive refused whole (a bomb): nothing of it is read
                self._record_source_error(None, exc.rejection)
                break
            sources += 1
            state = self.checkpoint.get(source.name, {})
            if state.get("done") and not state.get("error"):
                done_bytes += source.size or 0
                continue
            # a source that broke is read again from its last commit: resuming a failed job
            # says again why it fails (or goes on, were the cause elsewhere), never "done"
            if state.get("error"):
                self._forget_source_error(source, state["error"])
            try:
                self._run_source(source, state.get("items", 0), done_bytes)
            except SourceError as exc:
                self._record_source_error(source, exc.rejection)
            except TooManyRejections as exc:
                zh, en = both("import.error.too_many_rejections", count=f"{exc.count:,}", limit=f"{exc.limit:,}")
                self.finish("failed", {"code": "too_many_rejections", "message_zh": zh, "message_en": en,
                                       "locator": str(exc.locator), "field": None})
                return
            done_bytes += source.size or 0
        # A broken single file fails the job; in a folder or archive the other files still count,
        # and the job ends "partial" with the broken files listed among its rejections.
        status = "done" if not self.error else ("failed" if sources <= 1 else "partial")
        self.finish(status, self.error)

    def _run_source(self, source: Source, skip: int, done_bytes: int) -> None:
        try:
            importer = detect(source, self.format)
        except SourceError as exc:  # a header nobody knew, that staff have mapped since?
            from xjip.hub import mappings

            importer = mappings.importer_for(source, self.options, exc)
        key = source_key(self.store, self.path, source.name)
        self.options = {**self.options, SOURCE_KEY: key}
        if parallel.use_child(self.settings, source.total or source.size):
            shards = parallel.shard_count(importer, source) if skip == 0 else 1
            if shards > 1:
                self._run_source_in_shards(source, importer, shards, done_bytes)
            else:
                self._run_source_in_child(source, importer, skip, done_bytes)
            return
        # Loaded now rather than from inside a batch's transaction, where it would need a second
        # pooled connection (and, on SQLite, a second bulk-load page cache).
        self.resolver.gazetteer  # noqa: B018
        self.seen = SeenKeys()
        try:
            for batch, position, finished in iter_batches(importer, source, self.options, skip, self.seen,
                                                          self.batch_size, BATCH_MAX_BYTES):
                self._commit(source, importer.name, batch, position, done_bytes, finished=finished)
        finally:
            self.seen.close()
            self.seen = None

    def _run_source_in_child(self, source: Source, importer: Any, skip: int, done_bytes: int) -> None:
        """Parsing and row preparation run in a child process (`xjip.hub.parallel`); this one
        writes and commits the batches in the order they were read."""
        reader = parallel.ChildReader(self.settings, self.path, source.name, importer, self.options, skip,
                                      self.batch_size, BATCH_MAX_BYTES, self.job_id)
        self.seen = SeenKeys()
        try:
            for msg in reader:
                if msg[0] == "remember":  # keys of records committed before a resume
                    self.seen.remember(msg[1])
                    continue
                if msg[0] == "source_error":
                    raise _source_error(msg[1])
                _kind, parts, position, bytes_read, finished = msg
                source.bytes_read = bytes_read
                self._commit(source, importer.name, parts, position, done_bytes, finished=finished,
                             hold=not finished)
        except SourceError:
            self._flush()  # the records read before the source broke are kept
            raise
        finally:
            self._abandon()
            reader.close()
            self.seen.close()
            self.seen = None

    def _run_source_in_shards(self, source: Source, importer: Any, count: int, done_bytes: int) -> None:
        """Several parse processes, each preparing every count-th window (batch) of the source
        (`importers.base.Shard`); this process commits the windows in order."""
        readers = [parallel.ChildReader(self.settings, self.path, source.name, importer, self.options, 0,
                                        self.batch_size, SHARD_MAX_BYTES, self.job_id, shard=(index, count))
                   for index in range(count)]
        streams = [iter(r) for r in readers]
        self.seen = SeenKeys()
        try:
            window = 0
            while True:
                msg = next(streams[window % count], None)
                if msg is None:
                    raise parallel.ParseProcessError(f"parse process {window % count} ended before window {window}")
                if msg[0] == "source_error":
                    raise _source_error(msg[1])
                _kind, got, parts, position, bytes_read, finished, error = msg
                if got != window:
                    raise parallel.ParseProcessError(f"window {got} arrived instead of {window}")
                source.bytes_read = bytes_read
                self._commit(source, importer.name, parts, position, done_bytes, finished=finished,
                             hold=not finished and error is None)
                if error is not None:
                    raise _source_error(error)
                if finished:
                    return
                window += 1
        except SourceError:
            self._flush()  # the windows before the one where the source broke are kept
            raise
        finally:
            self._abandon()
            for reader in readers:
                reader.close()
            self.seen.close()
            self.seen = None

    def _commit(self, source: Source, fmt: str, batch: list[Any], position: int, done_bytes: int,
                finished: bool, hold: bool = False) -> None:
        """Write a batch with the job's checkpoint, and commit. With `hold`, in a bulk load, the
        transaction stays open for the next windows until it holds BULK_TRANSACTION_ROWS
        records: each commit of SQLite writes every index page the batch touched, and random
        keys (numbers, owner names) touch most of them, so that fewer, larger transactions
        write far less (SQLite only: `hold_open`). Whatever is held is committed or rolled
        back as one."""
        fraction = (source.bytes_read / source.total) if source.total else (1.0 if finished else 0.0)
        bytes_done = done_bytes + int((source.size or 0) * min(fraction, 1.0))
        if self._open is None:
            self._open = self.store.sessions()
            try:
                if self.store.dialect == "sqlite":
                    _bulk_load_pragmas(self._open)
                else:
                    _bulk_load_settings(self._open, self.lz4)
            except BaseException:
                self._abandon()
                raise
        s = self._open
        try:
            counts, changed = self.writer.write(s, batch, source_name=self.options.get(SOURCE_KEY) or source.name,
                                                source_format=fmt, job_id=self.job_id, options=self.options,
                                                seen=self.seen, samples=self.samples)
            self.checkpoint[source.name] = {"items": position, "done": finished, "format": fmt}
            job = s.get(m.ImportJob, self.job_id)
            job.checkpoint = dict(self.checkpoint)
            # a folder or archive of several formats: each source's is in the checkpoint
            formats = {v.get("format") for v in self.checkpoint.values() if isinstance(v, dict) and v.get("format")}
            job.format = fmt if len(formats) <= 1 else MIXED_FORMATS
            job.bytes_done = min(bytes_done, self.bytes_total) if self.bytes_total else bytes_done
            methods = dict(job.place_methods or {})
            for name, value in counts.items():
                if name.startswith("place:"):  # records per place method (writers.count_method)
                    methods[name[6:]] = methods.get(name[6:], 0) + value
                else:
                    setattr(job, f"{name}_count", (getattr(job, f"{name}_count") or 0) + value)
            if methods:
                job.place_methods = methods
            if counts["rejected"]:
                job.rejection_counts = self.samples.counts()
            job.heartbeat_at = m.utcnow()
            self._held = (source, position, finished, _snapshot(job))
        except BaseException:
            self._abandon()
            raise
        for kind, ids in changed.items():
            self._changed.setdefault(kind, []).extend(ids)
        self._held_records += counts["read"]
        if hold and self.hold_open and self.bulk.dropped and self._held_records < self.BULK_TRANSACTION_ROWS \
                and not self.stop_requested:
            return
        self._flush()

    def _flush(self) -> None:
        """Commit the open transaction, then what follows a commit."""
        if self._open is None:
            return
        s, self._open = self._open, None
        try:
            s.commit()
        except BaseException:
            # What the transaction added to the per-job caches was rolled back with it.
            s.rollback()
            self._forget()
            raise
        finally:
            s.close()
        source, position, finished, snapshot = self._held
        changed = self._changed
        self._changed, self._held_records, self._held = {}, 0, None
        self.resolver.commit()
        self.samples.commit()
        if self.seen is not None:
            self.seen.commit()
        self.batches += 1
        parallel.release_memory()
        if not finished and snapshot.inserted_count:
            self.bulk.consider(source, position)
        if self.store.dialect == "postgresql" and self.batches % 10 == 1:
            _refresh_statistics(self.store)
        for hook in AFTER_COMMIT_HOOKS:
            hook(self.store, changed)
        if self.progress:
            self.progress(snapshot)
        # Ctrl-C here, or a person's stop button (`request_stop`), read with the job's row in the
        # transaction just committed: no query of its own.
        if not finished and (self.stop_requested or snapshot.stop_requested):
            raise KeyboardInterrupt
        limit = self.settings.import_max_rejections
        if not finished and limit and (snapshot.rejected_count or 0) > limit:
            raise TooManyRejections(Locator(source.name, position), snapshot.rejected_count, limit)

    def _abandon(self) -> None:
        """Roll back the open transaction, if any (the job resumes after the last commit)."""
        if self._open is None:
            return
        s, self._open = self._open, None
        try:
            s.rollback()
        finally:
            s.close()
            self._forget()

    def _forget(self) -> None:
        self.resolver.rollback()
        self.samples.rollback()
        if self.seen is not None:
            self.seen.rollback()
        self._changed, self._held_records, self._held = {}, 0, None

    def _forget_source_error(self, source: Source, code: Any) -> None:
        """The error a source ended with, read again: its rejection is the next run's to make."""
        with self.store.session() as s:
            conds = [m.ImportRejection.job_id == self.job_id, m.ImportRejection.file == source.name,
                     m.ImportRejection.record.is_(None)]
            if isinstance(code, str):
                conds.append(m.ImportRejection.code == code)
            gone = s.execute(delete(m.ImportRejection).where(*conds)).rowcount or 0
            job = s.get(m.ImportJob, self.job_id)
            job.rejected_count = max((job.rejected_count or 0) - gone, 0)

    def _record_source_error(self, source: Source | None, rejection: Rejection) -> None:
        zh, en = _messages(rejection)
        name = source.name if source is not None else rejection.locator.file
        with self.store.session() as s:
            s.add(_rejection_row(self.job_id, rejection, zh, en))
            job = s.get(m.ImportJob, self.job_id)
            job.rejected_count = (job.rejected_count or 0) + 1
            self.samples.keep(rejection)
            job.rejection_counts = self.samples.counts()
            self.checkpoint[name] = {**self.checkpoint.get(name, {}), "done": True, "error": rejection.code}
            job.checkpoint = dict(self.checkpoint)
        self.samples.commit()
        self.error = {"code": rejection.code, "message_zh": zh, "message_en": en, "locator": str(rejection.locator),
                      "field": rejection.field}

    def finish(self, status: str, error: dict[str, Any] | None = None) -> None:
        self.bulk.restore()
        with self.store.session() as s:
            if self.store.dialect == "sqlite":
                _default_pragmas(s)
            job = s.get(m.ImportJob, self.job_id)
            if status == "done":
                # owners placed by an address in other records place this job's unplaced ones
                from xjip.hub import places

                moved = places.place_from_owners(s, self.job_id)
                if moved:
                    job.place_methods = places.apply_moves(job.place_methods, moved)
            job.status = status
            job.stop_requested = None  # answered: a resumed job runs on
            job.finished_at = m.utcnow() if status in ("done", "failed", "partial") else None
            if status == "done":
                job.bytes_done = job.bytes_total or job.bytes_done
            if error:
                job.error = error
            s.add(m.AuditEvent(tag=f"hub:import:{status}", actor=job.created_by,
                               details={"job_id": job.id, "inserted": job.inserted_count,
                                        "updated": job.updated_count, "rejected": job.rejected_count}))
            snapshot = _snapshot(job)
        if self.progress:
            self.progress(snapshot)


def iter_batches(importer: Any, source: Source, options: dict[str, Any], skip: int, seen: "SeenKeys",
                 batch_size: int, max_bytes: int) -> Iterator[tuple[list[Any], int, bool]]:
    """(batch, position after it, last?) over a source's records and rejections, skipping the
    first `skip` (committed before a resume: their keys are remembered as met). When the source
    breaks, the good records read before are yielded first, then the SourceError is raised."""
    items = importer.parse(source, options)
    position = 0
    batch: list[BaseRecord | Rejection] = []
    started_at = source.bytes_read  # input bytes read when the batch started
    skipped: list[tuple[str, str, int | None]] = []
    try:
        for item in items:
            position += 1
            if position <= skip:
                if not isinstance(item, Rejection):
                    skipped.append((item.record_type, (item.natural_key() or "").strip(),
                                    item.locator.record if item.locator else None))
                    if len(skipped) >= 5000:
                        seen.remember(skipped)
                        skipped = []
                continue
            if skipped:
                seen.remember(skipped)
                skipped = []
            batch.append(item)
            if len(batch) >= batch_size or source.bytes_read - started_at >= max_bytes:
                yield batch, position, False
                batch, started_at = [], source.bytes_read
    except SourceError:
        yield batch, position, False
        raise
    if skipped:
        seen.remember(skipped)
    yield batch, position, True


class _Preparer:
    """A parse process's source, importer and places, and how it makes a batch ready."""

    def __init__(self, store: Store, path: str, source_name: str, importer_name: str, options: dict[str, Any],
                 job_id: int):
        source = next((s for s in iter_sources(path) if s.name == source_name), None)
        if source is None:
            raise SourceError(Locator(source_name), "read_error",
                              detail="source changed during the import / 导入期间源文件已改变")
        self.source = source
        self.importer = detect(source, importer_name)
        self.resolver = Resolver(store)
        self.resolver.gazetteer  # noqa: B018
        self.dialect = store.engine.dialect
        self.options, self.job_id = options, job_id

    def ready(self, batch: list[Any]) -> BatchParts:
        from xjip.hub import writers

        parts = split_batch(batch, self.options)
        prepare_parts(parts, writers.PrepareEnv(self.dialect, self.resolver.place,
                                                self.options.get(SOURCE_KEY) or self.source.name,
                                                self.importer.name, self.options.get("licence"), self.job_id,
                                                m.utcnow(), None, entity_facts=True,
                                                place_owner=self.resolver.place_owner))
        self.resolver.commit()
        return parts


def produce_batches(store: Store, path: str, source_name: str, importer_name: str, options: dict[str, Any],
                    skip: int, batch_size: int, max_bytes: int, job_id: int) -> Iterator[tuple[Any, ...]]:
    """The parse process's side of a job (see `xjip.hub.parallel`): batches made ready for the
    store, then ("source_error", rejection) if the source breaks."""
    side = _Preparer(store, path, source_name, importer_name, options, job_id)
    skipped = _Remembered()  # the writing process keeps the keys met (pipeline.SeenKeys)
    try:
        for batch, position, finished in iter_batches(side.importer, side.source, options, skip, skipped,
                                                      batch_size, max_bytes):
            if skipped.items:
                yield ("remember", skipped.items)
                skipped.items = []
            yield ("batch", side.ready(batch), position, side.source.bytes_read, finished)
    except SourceError as exc:
        yield ("source_error", exc.rejection)


def produce_windows(store: Store, path: str, source_name: str, importer_name: str, options: dict[str, Any],
                    shard: tuple[int, int], batch_size: int, max_bytes: int, job_id: int) -> Iterator[tuple[Any, ...]]:
    """One shard's side of a job: ("window", index, parts, position, bytes_read, last?, error)
    for each window this process owns, the error (a Rejection) on the window where the
    source broke."""
    from xjip.hub.importers.base import SKIPPED, Shard

    side = _Preparer(store, path, source_name, importer_name, options, job_id)
    cut = Shard(shard[0], shard[1], batch_size, max_bytes)
    mine = cut.index

    def ready(window: int, batch: list[Any], position: int, last: bool, error: Rejection | None) -> tuple[Any, ...]:
        return ("window", window, side.ready(batch), position, side.source.bytes_read, last, error)

    position = 0
    window = 0  # window of the batch being filled
    batch: list[Any] = []
    try:
        for item in side.importer.parse(side.source, {**options, "_shard": cut}):
            position += 1
            if cut.window != window:
                if window % cut.count == mine:
                    yield ready(window, batch, position - 1, False, None)
                batch, window = [], cut.window
            if item is not SKIPPED:
                batch.append(item)
    except SourceError as exc:
        if window % cut.count == mine:
            yield ready(window, batch, position, False, exc.rejection)
        else:
            yield ("source_error", exc.rejection)
        return
    if window % cut.count == mine:  # the last window (window 0 of an empty source)
        yield ready(window, batch, position, True, None)


class _Remembered:
    """Collects what `iter_batches` remembers of skipped records, for the writing process."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, int | None]] = []

    def remember(self, items: list[tuple[str, str, int | None]]) -> None:
        self.items.extend(items)


def _source_error(rejection: Rejection) -> SourceError:
    """The SourceError a parse process met, from the Rejection it sent over."""
    return SourceError(rejection.locator, rejection.code, rejection.field, **rejection.params)


def _snapshot(job: m.ImportJob) -> m.ImportJob:
    copy = m.ImportJob()
    for column in m.ImportJob.__table__.columns:
        setattr(copy, column.key, getattr(job, column.key))
    return copy


def _messages(rejection: Rejection | Note) -> tuple[str, str]:
    params = {k: v for k, v in rejection.params.items()}
    return both(f"import.error.{rejection.code}", **params)


SYNTHETIC_COLUMNS = ("合成数据", "synthetic", "is_synthetic")


def _says_synthetic(raw: Any) -> bool:
    """A source row that declares itself synthetic (`xjip synth` writes 合成数据=是) stays marked
    as such however it is imported."""
    if not isinstance(raw, dict):
        return False
    for column in SYNTHETIC_COLUMNS:
        value = raw.get(column)
        if value not in (None, "", 0, False, "0", "否", "no", "false", "False"):
            return True
    return False


def _rejection_row(job_id: int, r: Rejection | Note, zh: str, en: str) -> m.ImportRejection:
    raw = getattr(r, "raw", None)
    raw = raw if raw is None or isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
    return m.ImportRejection(job_id=job_id, file=r.locator.file, record=r.locator.record, line=r.locator.line,
                             cell=r.locator.cell, field=r.field, code=r.code, message_zh=zh, message_en=en,
                             raw=raw[:4000] if raw else None)


# --- bulk-load settings -------------------------------------------------------------------

def _bulk_load_pragmas(session: Session) -> None:
    """SQLite, during a job: a 32 MB page cache (the default 2 MB makes every index insert of a
    large table a read) and WAL checkpoints every ~40 MB instead of every 4 MB. Durability is
    unchanged (synchronous stays as the store sets it). Only settings a transaction may change:
    the session has begun one (`store.make_engine`)."""
    session.execute(text("PRAGMA cache_size=-32768"))
    session.execute(text("PRAGMA wal_autocheckpoint=10000"))


def _bulk_load_settings(session: Session, lz4: bool) -> None:
    """PostgreSQL, for a batch's transaction: commit without waiting for the WAL flush. A
    server crash may then lose the last batches committed (PostgreSQL docs 30.4, "Asynchronous
    Commit"), never part of one: the job's checkpoint is in the same transaction, so the job
    resumes after the last batch that did reach the disk."""
    session.execute(text("SET LOCAL synchronous_commit = off"))
    if lz4:
        session.execute(text("SET LOCAL default_toast_compression = 'lz4'"))


def _has_lz4(store: Store) -> bool:
    """PostgreSQL built with lz4 (14+): an import compresses its large text (raw XML, full
    texts) with lz4, several times faster than the default pglz; readers see no difference."""
    try:
        with store.engine.connect() as conn:
            values = conn.execute(text("SELECT enumvals FROM pg_settings "
                                       "WHERE name = 'default_toast_compression'")).scalar()
    except Exception:  # noqa: BLE001 - an optimisation only
        return False
    return bool(values) and "lz4" in values


def _default_pragmas(session: Session | Connection) -> None:
    session.execute(text("PRAGMA cache_size=-2000"))
    session.execute(text("PRAGMA wal_autocheckpoint=1000"))
    session.execute(text("PRAGMA shrink_memory"))


def _refresh_statistics(store: Store) -> None:
    """PostgreSQL: ANALYZE the tables that changed a lot since their statistics were taken.
    The per-batch key lookups are planned from those statistics; on a table never analysed
    (autovacuum lags behind a bulk load) the planner expects one row and scans the whole
    index for every batch, a cost growing with the table (PostgreSQL docs 14.4.9, "Run
    ANALYZE Afterwards"). Checked after the first batch of a job and every tenth one."""
    tables = _import_tables()
    try:
        with store.engine.connect() as conn:
            stale = conn.execute(text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND n_mod_since_analyze > greatest(1000, 0.2 * n_live_tup)")).scalars().all()
            for name in stale:
                if name not in tables:
                    continue
                conn.execute(text('ANALYZE "' + name.replace('"', '""') + '"'))
            conn.commit()
    except Exception:  # noqa: BLE001 - statistics are an optimisation (e.g. no ANALYZE right)
        log.warning("could not refresh table statistics", exc_info=True)


@lru_cache(maxsize=1)
def _import_tables() -> frozenset[str]:
    """Tables an import writes: the rights (they carry `import_job_id`), their child tables,
    source records and owners (reference tables are left to autovacuum)."""
    rights = {t.name for t in m.Base.metadata.sorted_tables if "import_job_id" in t.c}
    children = {t.name for t in m.Base.metadata.sorted_tables
                if any(fk.column.table.name in rights for fk in t.foreign_keys)}
    return frozenset(rights | children | {"entity", "entity_alias"})


# --- bulk loads -----------------------------------------------------------------------------

REBUILD_CACHE_KB = 256 << 10  # SQLite page cache while secondary indexes are rebuilt (KiB)


class BulkIndexes:
    """A load that will add many rows, relative to what the tables hold, runs without their
    secondary indexes and rebuilds them at the end: one sort per index instead of a random
    B-tree insert per row and index, which dominates a large load once the indexes outgrow the
    page cache (PostgreSQL docs 14.4.3, "Remove Indexes"; the same holds for SQLite). Unique
    indexes stay: the upserts need them. The writer's lookups by publication or grant number,
    for records without an application number, put those two back when such a record comes
    (`writers._ensure_number_indexes`). Rebuilt when the job ends however it ends, and by the
    next job if the process was killed (`ensure_indexes`). Meanwhile, queries on these tables
    are slower."""

    TABLES = ("patent", "patent_party", "source_record", "patent_publication")
    MIN_RECORDS = 50_000  # records still to come

    def __init__(self, store: Store):
        self.store = store
        self.decided = False
        self.dropped = False

    def consider(self, source: Source, position: int) -> None:
        """Decide once, after a first batch that inserted rows: drop when the records still to
        come (estimated from the bytes read so far) are many, and many relative to the table."""
        if self.decided:
            return
        self.decided = True
        if not source.total or not source.bytes_read:
            return
        expected = position * source.total / source.bytes_read
        coming = expected - position
        if coming < self.MIN_RECORDS:
            return
        with self.store.reading() as s:
            stored = s.scalar(select(func.count()).select_from(m.Patent)) or 0
        if coming < stored / 2:
            return
        tables = [m.Base.metadata.tables[t] for t in self.TABLES]
        with self.store.engine.begin() as conn:
            for table in tables:
                for index in table.indexes:
                    if not index.unique:
                        conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index.name}"')
        self.dropped = True
        log.info("bulk load: secondary indexes of %s dropped, rebuilt at the end", ", ".join(self.TABLES))

    def restore(self) -> None:
        if self.dropped:
            ensure_indexes(self.store, self.TABLES)
            self.dropped = False


def ensure_indexes(store: Store, tables: Iterable[str]) -> int:
    """Create the models' indexes of `tables` that are missing; returns how many were."""
    names = set(tables)
    listing = ("SELECT name FROM sqlite_master WHERE type = 'index'" if store.dialect == "sqlite"
               else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    created = 0
    with store.engine.connect() as conn:
        with conn.begin():
            present = set(conn.exec_driver_sql(listing).scalars())
            missing = [index for table in m.Base.metadata.sorted_tables if table.name in names
                       for index in table.indexes if index.name not in present]
            big_cache = bool(missing) and store.dialect == "sqlite"
            if big_cache:
                # One table scan per index: with a page cache that holds the table, and sorts
                # done in memory, only the first reads it. Runs after the parse processes have
                # ended, so this memory does not add to an import's peak; given back below.
                conn.exec_driver_sql(f"PRAGMA cache_size=-{REBUILD_CACHE_KB}")
            for index in missing:
                index.create(conn)
                created += 1
        if big_cache:
            _default_pragmas(conn)
            conn.commit()
    if created and store.dialect == "postgresql":  # statistics for the planner, now that the load is in
        with store.engine.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f'ANALYZE "{name}"')
            conn.commit()
    return created


# --- keys met so far ---------------------------------------------------------------------

class SeenKeys:
    """Natural keys met so far in one source of a job, each with the record that carried it
    first: a key met again is a duplicate (rejected, the first one kept), even when its first
    record was unchanged and so never written. Kept in a private temporary SQLite database
    (on disk, with a bounded page cache) rather than a dict, so memory does not grow with the
    file. Additions of a batch are committed or rolled back with the batch."""

    def __init__(self) -> None:
        # "" = a private temporary on-disk database, deleted when closed (sqlite.org/inmemorydb.html)
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA cache_size=-8192")
        self._db.execute("PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (kind TEXT NOT NULL, key TEXT NOT NULL, record INTEGER, "
                         "PRIMARY KEY (kind, key)) WITHOUT ROWID")
        self._open = False

    def first_of(self, kind: str, keys: list[str]) -> dict[str, int | None]:
        """key → record index of its first occurrence, for the keys already met."""
        out: dict[str, int | None] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            out.update(self._db.execute(
                f"SELECT key, record FROM seen WHERE kind = ? AND key IN ({','.join('?' * len(chunk))})",
                [kind, *chunk]))
        return out

    def add(self, kind: str, items: list[tuple[str, int | None]]) -> None:
        if not self._open:
            self._db.execute("BEGIN")
            self._open = True
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", [(kind, k, r) for k, r in items])

    def remember(self, items: list[tuple[str, str, int | None]]) -> None:
        """(kind, key, record) of records committed earlier (skipped on resume)."""
        self._db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", [i for i in items if i[1]])

    def commit(self) -> None:
        if self._open:
            self._db.execute("COMMIT")
            self._open = False

    def rollback(self) -> None:
        if self._open:
            self._db.execute("ROLLBACK")
            self._open = False

    def close(self) -> None:
        self._db.close()


# --- places and owners -------------------------------------------------------------------

class Resolver:
    """Addresses → GB/T 2260 codes and owner names → entity ids, with per-job caches. Entity
    ids found or created by a batch enter the cache only once that batch is committed."""

    # Cache bounds: memory must not grow with the file (a million distinct addresses or owner
    # names would otherwise all be kept). Real exports repeat both heavily, so hits stay high.
    ENTITY_CACHE_MAX = 50_000
    PLACE_CACHE_MAX = 20_000

    def __init__(self, store: Store):
        self.store = store
        self._gazetteer = None
        self._entity_ids: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._places = 0  # addresses resolved since the gazetteer's cache was last emptied
        self._owners = None  # places.OwnerPlacer, built with the gazetteer

    @property
    def gazetteer(self):  # noqa: ANN201
        if self._gazetteer is None:
            from xjip.hub.gazetteer import Gazetteer

            with self.store.reading() as s:
                has_regions = s.scalar(select(func.count()).select_from(m.Region)) or 0
                if has_regions:
                    self._gazetteer = Gazetteer.from_session(s)
                else:  # before `xjip init`: the tables the package ships
                    from xjip.hub.reference import PACKAGE_DIR

                    self._gazetteer = Gazetteer.from_shared(PACKAGE_DIR)
        return self._gazetteer

    def place(self, address: str | None, on: dt.date | None = None) -> Any:
        """The place as of `on` (region_code keeps the unit of that day, e.g. 库车县 652923 in
        2015), with prefecture and county mapped to today's units (库车市 652902), so that
        statistics by prefecture/county count a record where that area belongs now."""
        if not address:
            return None
        self._places += 1
        # cached per address and validity period (the cache is emptied now and then in `commit`)
        place = self.gazetteer.resolve(address, on=on)
        if place is None or on is None:
            return place
        gaz = self.gazetteer
        return place._replace(
            prefecture_code=gaz.code_on(place.prefecture_code) if place.prefecture_code else None,
            county_code=gaz.code_on(place.county_code) if place.county_code else None)

    def place_owner(self, name: str | None, country: str | None = None) -> Any:
        """Where an owner is by its name alone (xjip.hub.places: organisation list, place names)."""
        if self._owners is None:
            from xjip.hub.places import OwnerPlacer

            self._owners = OwnerPlacer(self.gazetteer)
        return self._owners.place(name, country)

    def entities(self, session: Session, names: Iterable[str],
                 facts: dict[str, tuple[str, str, str]] | None = None) -> dict[str, int]:
        """Entity ids of owner names; `facts` (name → entities.entity_facts) when worked out
        already by the parse process."""
        from xjip.hub.entities import resolve_many

        cache = self._entity_ids
        out: dict[str, int] = {}
        wanted = []
        for n in names:
            if n:
                hit = cache.get(n)
                if hit is None:
                    wanted.append(n)
                else:
                    out[n] = hit
        if wanted:
            found = resolve_many(session, sorted(set(wanted)), facts=facts)
            out.update(found)
            self._pending.update(found)
        return out

    def commit(self) -> None:
        if self._places > self.PLACE_CACHE_MAX and self._gazetteer is not None:
            self._gazetteer.cache_clear()
            self._places = 0
        if len(self._entity_ids) + len(self._pending) > self.ENTITY_CACHE_MAX:
            self._entity_ids.clear()
        self._entity_ids.update(self._pending)
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()


# --- writing a batch -------------------------------------------------------------------

@dataclasses.dataclass
class BatchParts:
    """A batch sorted by record type. A part is a list of records, or, made ready in a parse
    process, a `writers.PatentBatch`. `notes`: the records' and rejections' `import_notes`."""
    read: int
    rejections: list[Rejection]
    by_type: dict[str, Any]
    notes: list[Note] = dataclasses.field(default_factory=list)


def split_batch(batch: list[Any], options: dict[str, Any]) -> BatchParts:
    by_type: dict[str, list[BaseRecord]] = {}
    rejections: list[Rejection] = []
    notes: list[Note] = []
    synthetic = bool(options.get("synthetic"))
    for item in batch:
        if item.import_notes:
            notes += item.import_notes
        if isinstance(item, Rejection):
            rejections.append(item)
        else:
            if synthetic or _says_synthetic(item.raw):
                item.is_synthetic = True
            by_type.setdefault(item.record_type, []).append(item)
    return BatchParts(len(batch), rejections, by_type, notes)


def prepare_parts(parts: BatchParts, env: Any) -> None:
    """What of a batch can be done without the database (run in the parse process)."""
    from xjip.hub import writers

    for record_type, records in parts.by_type.items():
        if record_type == "patent":  # the bulk of large sources; other kinds go as records
            parts.by_type[record_type] = writers.prepare_patents(env, records)


class BatchWriter:
    def __init__(self, dialect: str, resolver: Resolver):
        self.dialect = dialect
        self.resolver = resolver
        from xjip.hub import writers

        self.writers = writers.WRITERS
        self.store_patents = writers.store_patents
        self.PatentBatch = writers.PatentBatch

    def write(self, session: Session, batch: list[Any] | BatchParts, *, source_name: str, source_format: str,
              job_id: int, options: dict[str, Any], seen: SeenKeys | None = None,
              samples: "RejectionSampler | None" = None) -> tuple[dict[str, int], dict[str, list[int]]]:
        counts = {"read": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0, "placed": 0,
                  "addressed": 0, "merged": 0}
        changed: dict[str, list[int]] = {}
        parts = batch if isinstance(batch, BatchParts) else split_batch(batch, options)
        rejections = parts.rejections
        counts["read"] = parts.read
        now = m.utcnow()  # one timestamp per batch (= per transaction)
        for record_type, part in parts.by_type.items():
            ctx = WriteContext(session, self.dialect, self.resolver, source_name, source_format, job_id,
                               options.get("licence"), counts, rejections, seen, now)
            if isinstance(part, self.PatentBatch):
                ids = self.store_patents(ctx, part)
            else:
                ids = self.writers[record_type](ctx, part)
            if ids:
                changed.setdefault(record_type, []).extend(ids)
        for r in rejections:
            if samples is None or samples.keep(r):
                zh, en = _messages(r)
                session.add(_rejection_row(job_id, r, zh, en))
        counts["rejected"] += len(rejections)
        for note in parts.notes:  # kept with the rejections (`notes.job_notes`), not counted as ones
            zh, en = _messages(note)
            session.add(_rejection_row(job_id, note, zh, en))
        return counts, changed


@dataclasses.dataclass
class WriteContext:
    session: Session
    dialect: str
    resolver: Resolver
    source_name: str
    source_format: str
    job_id: int
    licence: str | None
    counts: dict[str, int]
    rejections: list[Rejection]
    seen: SeenKeys | None = None
    now: dt.datetime = dataclasses.field(default_factory=m.utcnow)
    existing_keys: set[str] | None = None  # keys of the batch stored before it (set by writers.finish)


class RejectionSampler:
    """Exact counts of a job's rejected records per reason, and which of them to keep: the first
    REJECTION_SAMPLES of each. Counts of a batch become final when it commits (`commit`), or are
    dropped with it (`rollback`), like the job's other counters."""

    def __init__(self, saved: dict[str, Any] | None = None):
        self._saved: dict[str, int] = {k: int(v) for k, v in (saved or {}).items()}
        self._pending: dict[str, int] = {}

    @staticmethod
    def reason(code: str, field_name: str | None) -> str:
        return f"{code}\t{field_name or ''}"

    def keep(self, rejection: Rejection) -> bool:
        """Count a rejected record; True if it is one of the first of its reason, to be stored."""
        key = self.reason(rejection.code, rejection.field)
        seen = self._saved.get(key, 0) + self._pending.get(key, 0)
        self._pending[key] = self._pending.get(key, 0) + 1
        return seen < REJECTION_SAMPLES

    def counts(self) -> dict[str, int]:
        merged = dict(self._saved)
        for key, n in self._pending.items():
            merged[key] = merged.get(key, 0) + n
        return merged

    def commit(self) -> None:
        self._saved = self.counts()
        self._pending = {}

    def rollback(self) -> None:
        self._pending = {}


def iter_rejections(store: Store, job_id: int, limit: int = 100, after_id: int = 0) -> list[m.ImportRejection]:
    with store.session() as s:
        return list(s.scalars(select(m.ImportRejection).where(m.ImportRejection.job_id == job_id,
                                                              m.ImportRejection.id > after_id)
                              .order_by(m.ImportRejection.id).limit(min(limit, 1000))))


def write_rejection_report(store: Store, job_id: int, path: str | os.PathLike[str]) -> int:
    """CSV (UTF-8 with BOM so that Excel opens Chinese correctly) of every rejected record."""
    import csv

    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "record", "line", "cell", "field", "code", "message_zh", "message_en"])
        after = 0
        while True:
            rows = iter_rejections(store, job_id, limit=1000, after_id=after)
            if not rows:
                break
            for r in rows:
                out.writerow([r.file, r.record, r.line, r.cell, r.field, r.code, r.message_zh, r.message_en])
                count += 1
            after = rows[-1].id
    return count


def iter_jobs(store: Store, limit: int = 50) -> Iterator[m.ImportJob]:
    with store.session() as s:
        yield from s.scalars(select(m.ImportJob).order_by(m.ImportJob.id.desc()).limit(min(limit, 500)))

