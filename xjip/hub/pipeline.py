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
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub.importers.base import Source, detect, iter_sources
from xjip.hub.records import BaseRecord, Locator, Rejection, SourceError
from xjip.hub.store import Store
from xjip.i18n import both

log = logging.getLogger(__name__)

ProgressCallback = Callable[[m.ImportJob], None]
# Called after each committed batch with {record_type: [ids]}; the search index subscribes here.
AFTER_COMMIT_HOOKS: list[Callable[[Store, dict[str, list[int]]], None]] = []

UNFINISHED = ("queued", "running", "interrupted", "failed")


class ImportAlreadyRunning(Exception):
    def __init__(self, job_id: int):
        self.job_id = job_id
        zh, en = both("import.error.already_running", job_id=job_id)
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
    with store.session() as s:
        existing = s.scalars(
            select(m.ImportJob).where(m.ImportJob.fingerprint == fp, m.ImportJob.status.in_(UNFINISHED))
            .order_by(m.ImportJob.id.desc())).first()
        if existing is not None:
            return existing.id
        options = dict(options or {})
        if format:
            options["format"] = format  # forced importer; `format` itself records the one detected
        job = m.ImportJob(path=str(path.resolve()), display_name=display_name or path.name, fingerprint=fp,
                          format=format, options=options, status="queued", created_by=actor,
                          bytes_total=total, bytes_done=0, checkpoint={})
        s.add(job)
        s.flush()
        s.add(m.AuditEvent(tag="hub:import:create", actor=actor, details={"job_id": job.id, "path": str(path)}))
        return job.id


def run_import(store: Store, path: str | os.PathLike[str], *, actor: str | None = None, format: str | None = None,
               options: dict[str, Any] | None = None, progress: ProgressCallback | None = None,
               display_name: str | None = None) -> m.ImportJob:
    job_id = create_job(store, path, display_name=display_name, actor=actor, format=format, options=options)
    return run_job(store, job_id, progress=progress)


def start_job_thread(store: Store, job_id: int) -> threading.Thread:
    def target() -> None:
        try:
            run_job(store, job_id)
        except ImportAlreadyRunning:
            log.info("job %s already running elsewhere", job_id)
        except Exception:  # noqa: BLE001 - recorded on the job; a thread has nobody to raise to
            log.exception("import job %s failed", job_id)

    thread = threading.Thread(target=target, name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread


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
        job = s.get(m.ImportJob, job_id)
        if job is None:
            raise KeyError(job_id)
        if job.status == "done":
            return job
    _acquire_lock(store, job)
    try:
        with store.session() as s:
            job = s.get(m.ImportJob, job_id)
            job.status, job.pid, job.host = "running", os.getpid(), socket.gethostname()
            job.started_at = job.started_at or m.utcnow()
            job.heartbeat_at = m.utcnow()
            job.error = None
        runner = _JobRunner(store, job_id, progress)
        try:
            runner.run()
        except (KeyboardInterrupt, SystemExit):
            runner.finish("interrupted")
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the job "running"
            log.exception("import job %s crashed", job_id)
            runner.finish("failed", {"code": "read_error", "message_zh": str(exc), "message_en": str(exc)})
            raise
    finally:
        _release_lock(store, job)
    with store.session() as s:
        return s.get(m.ImportJob, job_id)


# --- running ---------------------------------------------------------------------------

class _JobRunner:
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
        self.batch_size = int(self.options.get("batch_size") or self.settings.import_batch_size)
        self.resolver = Resolver(store)
        self.writer = BatchWriter(store.dialect, self.resolver)
        self.error: dict[str, Any] | None = None

    def run(self) -> None:
        done_bytes = 0
        sources = 0
        for source in iter_sources(self.path):
            sources += 1
            state = self.checkpoint.get(source.name, {})
            if state.get("done"):
                done_bytes += source.size or 0
                continue
            try:
                self._run_source(source, state.get("items", 0), done_bytes)
            except SourceError as exc:
                self._record_source_error(source, exc.rejection)
            done_bytes += source.size or 0
        # A broken single file fails the job; in a folder or archive the other files still count,
        # and the job ends "partial" with the broken files listed among its rejections.
        status = "done" if not self.error else ("failed" if sources <= 1 else "partial")
        self.finish(status, self.error)

    def _run_source(self, source: Source, skip: int, done_bytes: int) -> None:
        importer = detect(source, self.format)
        options = dict(self.options)
        items = importer.parse(source, options)
        position = 0
        batch: list[BaseRecord | Rejection] = []
        try:
            for item in items:
                position += 1
                if position <= skip:
                    continue
                batch.append(item)
                if len(batch) >= self.batch_size:
                    self._commit(source, importer.name, batch, position, done_bytes, finished=False)
                    batch = []
        except SourceError:
            # The good records read before the source broke are kept.
            self._commit(source, importer.name, batch, position, done_bytes, finished=False)
            raise
        self._commit(source, importer.name, batch, position, done_bytes, finished=True)

    def _commit(self, source: Source, fmt: str, batch: list[Any], position: int, done_bytes: int,
                finished: bool) -> None:
        fraction = (source.bytes_read / source.total) if source.total else (1.0 if finished else 0.0)
        bytes_done = done_bytes + int((source.size or 0) * min(fraction, 1.0))
        with self.store.session() as s:
            counts, changed = self.writer.write(s, batch, source_name=source.name, source_format=fmt,
                                                job_id=self.job_id, options=self.options)
            self.checkpoint[source.name] = {"items": position, "done": finished}
            job = s.get(m.ImportJob, self.job_id)
            job.checkpoint = dict(self.checkpoint)
            job.format = fmt
            job.bytes_done = min(bytes_done, self.bytes_total) if self.bytes_total else bytes_done
            for name, value in counts.items():
                setattr(job, f"{name}_count", (getattr(job, f"{name}_count") or 0) + value)
            job.heartbeat_at = m.utcnow()
            snapshot = _snapshot(job)
        for hook in AFTER_COMMIT_HOOKS:
            hook(self.store, changed)
        if self.progress:
            self.progress(snapshot)

    def _record_source_error(self, source: Source, rejection: Rejection) -> None:
        zh, en = _messages(rejection)
        with self.store.session() as s:
            s.add(_rejection_row(self.job_id, rejection, zh, en))
            job = s.get(m.ImportJob, self.job_id)
            job.rejected_count = (job.rejected_count or 0) + 1
            self.checkpoint[source.name] = {**self.checkpoint.get(source.name, {}), "done": True, "error": True}
            job.checkpoint = dict(self.checkpoint)
        self.error = {"code": rejection.code, "message_zh": zh, "message_en": en, "locator": str(rejection.locator),
                      "field": rejection.field}

    def finish(self, status: str, error: dict[str, Any] | None = None) -> None:
        with self.store.session() as s:
            job = s.get(m.ImportJob, self.job_id)
            job.status = status
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


def _snapshot(job: m.ImportJob) -> m.ImportJob:
    copy = m.ImportJob()
    for column in m.ImportJob.__table__.columns:
        setattr(copy, column.key, getattr(job, column.key))
    return copy


def _messages(rejection: Rejection) -> tuple[str, str]:
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


def _rejection_row(job_id: int, r: Rejection, zh: str, en: str) -> m.ImportRejection:
    raw = r.raw if r.raw is None or isinstance(r.raw, str) else json.dumps(r.raw, ensure_ascii=False, default=str)
    return m.ImportRejection(job_id=job_id, file=r.locator.file, record=r.locator.record, line=r.locator.line,
                             cell=r.locator.cell, field=r.field, code=r.code, message_zh=zh, message_en=en,
                             raw=raw[:4000] if raw else None)


# --- places and owners -------------------------------------------------------------------

class Resolver:
    """Addresses → GB/T 2260 codes and owner names → entity ids, with per-job caches."""

    def __init__(self, store: Store):
        self.store = store
        self._gazetteer = None

    @property
    def gazetteer(self):  # noqa: ANN201
        if self._gazetteer is None:
            from xjip.hub.gazetteer import Gazetteer

            with self.store.session() as s:
                has_regions = s.scalar(select(func.count()).select_from(m.Region)) or 0
                self._gazetteer = (Gazetteer.from_session(s) if has_regions
                                   else Gazetteer.from_shared(self.store.settings.shared_data_dir))
        return self._gazetteer

    def place(self, address: str | None, on: dt.date | None = None) -> Any:
        """The place as of `on` (region_code keeps the unit of that day, e.g. 库车县 652923 in
        2015), with prefecture and county mapped to today's units (库车市 652902), so that
        statistics by prefecture/county count a record where that area belongs now."""
        if not address:
            return None
        place = self.gazetteer.resolve(address, on=on)  # cached per address and validity period
        if place is None or on is None:
            return place
        gaz = self.gazetteer
        return place._replace(
            prefecture_code=gaz.code_on(place.prefecture_code) if place.prefecture_code else None,
            county_code=gaz.code_on(place.county_code) if place.county_code else None)

    def entities(self, session: Session, names: Iterable[str]) -> dict[str, int]:
        from xjip.hub.entities import resolve_many

        wanted = sorted({n for n in names if n})
        return resolve_many(session, wanted) if wanted else {}


# --- writing a batch -------------------------------------------------------------------

def content_hash(record: BaseRecord) -> str:
    payload = record.raw if record.raw is not None else _record_dict(record)
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return hashlib.sha1(payload).hexdigest()


def _record_dict(record: BaseRecord) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name not in ("locator", "raw")}


def _raw_text(record: BaseRecord) -> str | None:
    raw = record.raw
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, default=str)


def _nonempty(value: Any) -> Any:
    """Empty strings/lists/dicts become None so that COALESCE keeps what an earlier source gave."""
    if value in ("", [], {}):
        return None
    return value


class BatchWriter:
    def __init__(self, dialect: str, resolver: Resolver):
        self.dialect = dialect
        self.resolver = resolver
        from xjip.hub import writers

        self.writers = writers.WRITERS

    def write(self, session: Session, batch: list[Any], *, source_name: str, source_format: str, job_id: int,
              options: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[int]]]:
        counts = {"read": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0, "placed": 0,
                  "addressed": 0}
        changed: dict[str, list[int]] = {}
        by_type: dict[str, list[BaseRecord]] = {}
        rejections: list[Rejection] = []
        for item in batch:
            counts["read"] += 1
            if isinstance(item, Rejection):
                rejections.append(item)
            else:
                if options.get("synthetic") or _says_synthetic(item.raw):
                    item.is_synthetic = True
                by_type.setdefault(item.record_type, []).append(item)
        for record_type, records in by_type.items():
            writer = self.writers[record_type]
            ctx = WriteContext(session, self.dialect, self.resolver, source_name, source_format, job_id,
                               options.get("licence"), counts, rejections)
            ids = writer(ctx, records)
            if ids:
                changed.setdefault(record_type, []).extend(ids)
        for r in rejections:
            zh, en = _messages(r)
            session.add(_rejection_row(job_id, r, zh, en))
        counts["rejected"] += len(rejections)
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

    @property
    def now(self) -> dt.datetime:
        return m.utcnow()


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
