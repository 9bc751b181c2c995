"""Embeddings built in the background: the hub's after-commit hook queues the patents an import
wrote (`embed_queue`), and `xjip embed` (or the job page's button) empties the queue, a batch at
a time: vectors are appended to disk first, then the batch's queue rows are deleted in one
transaction, so a run stopped anywhere (Ctrl-C, kill -9) loses at most one batch of work and the
next run resumes with the rows still queued."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from typing import Any, Callable, Iterable

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from xjip.hub import models as m
from xjip.hub.store import Store
from xjip.search.semantic.encoder import E5_NAME, STATIC_NAME, Encoder, e5, static, static_path
from xjip.search.semantic.index import index_for

log = logging.getLogger(__name__)
RECORD_TYPE = "patent"  # the rights with a technical text to embed
CHUNK = 1000


class EmbedAlreadyRunning(RuntimeError):
    def __init__(self, model: str, pid: int | None, host: str | None):
        self.model, self.pid, self.host = model, pid, host
        super().__init__(f"{model}: pid {pid} on {host}")


def models_enabled(store: Store) -> list[str]:
    """The encoder always; the distilled model once `xjip semantic --distil` has built it."""
    names = [E5_NAME]
    if static_path(store.settings.data_dir).is_file():
        names.append(STATIC_NAME)
    return names


def encoder_for(store: Store, name: str) -> Encoder:
    if name == E5_NAME:
        return e5(store.settings.semantic_model)
    if name == STATIC_NAME:
        enc = static(store.settings.data_dir)
        if enc is None:
            raise FileNotFoundError("static model not built: xjip semantic --distil")
        return enc
    raise ValueError(name)


def patent_text(title: str | None, abstract: str | None, first_claim: str | None, title_en: str | None = None) -> str:
    return "。".join(filter(None, [title or title_en, abstract or first_claim]))


def _insert_ignore(store: Store):  # noqa: ANN202
    return (pg_insert if store.dialect == "postgresql" else sqlite_insert)(m.EmbedQueue.__table__)


def enqueue(store: Store, record_ids: Iterable[int], models: list[str] | None = None) -> int:
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    models = models or models_enabled(store)
    now = m.utcnow()
    with store.session() as s:
        for start in range(0, len(ids), CHUNK):
            rows = [{"model": name, "record_type": RECORD_TYPE, "record_id": i, "queued_at": now}
                    for name in models for i in ids[start:start + CHUNK]]
            s.execute(_insert_ignore(store).on_conflict_do_nothing(), rows)
    return len(ids)


def enqueue_missing(store: Store, model: str) -> int:
    """Queue every patent without a vector in `model`'s index (after a new model, a lost folder,
    or records written before this part existed)."""
    have = set(index_for(store.settings.data_dir, model).ids().tolist())
    with store.reading() as s:
        missing = [i for i in s.scalars(select(m.Patent.id).order_by(m.Patent.id)) if i not in have]
    return enqueue(store, missing, [model])


def after_commit(store: Store, changed: dict[str, list[int]]) -> None:
    """Subscribed to `xjip.hub.pipeline.AFTER_COMMIT_HOOKS`. A failure here must not fail the
    import whose batch is already committed: it is logged, and `xjip embed --missing` finds the
    records later."""
    ids = changed.get(RECORD_TYPE)
    if not ids:
        return
    try:
        enqueue(store, ids)
    except Exception:  # noqa: BLE001
        log.exception("semantic: could not queue %d patents for embedding", len(ids))


def status(store: Store) -> list[dict[str, Any]]:
    out = []
    fields = ("status", "done", "total", "texts_per_second", "started_at", "heartbeat_at", "finished_at", "error")
    with store.reading() as s:
        queued = dict(s.execute(select(m.EmbedQueue.model, func.count()).group_by(m.EmbedQueue.model)).all())
        runs = {r.model: {f: getattr(r, f) for f in fields} for r in s.scalars(select(m.EmbedRun))}
        patents = s.scalar(select(func.count()).select_from(m.Patent)) or 0
    blank = {"status": "idle", "done": 0, "total": 0, "texts_per_second": None, "started_at": None,
             "heartbeat_at": None, "finished_at": None, "error": None}
    for name in sorted(set(models_enabled(store)) | set(queued) | set(runs)):
        run = runs.get(name) or blank
        stale = bool(run["status"] == "running" and run["heartbeat_at"]
                     and (m.utcnow() - run["heartbeat_at"]).total_seconds() > store.settings.heartbeat_stale_seconds)
        out.append({"model": name, "vectors": index_for(store.settings.data_dir, name).count(),
                    "queued": int(queued.get(name, 0)), "patents": patents,
                    **run, "status": "interrupted" if stale else run["status"]})
    return out


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _claim(store: Store, model: str, total: int) -> None:
    host = socket.gethostname()
    with store.session() as s:
        run = s.get(m.EmbedRun, model, with_for_update=True)
        now = m.utcnow()
        if run is None:
            run = m.EmbedRun(model=model)
            s.add(run)
        elif run.status == "running" and (run.pid, run.host) != (os.getpid(), host):
            fresh = run.heartbeat_at and (now - run.heartbeat_at).total_seconds() <= store.settings.heartbeat_stale_seconds
            if fresh and (run.host != host or _pid_alive(run.pid)):
                raise EmbedAlreadyRunning(model, run.pid, run.host)
        run.status, run.pid, run.host = "running", os.getpid(), host
        run.started_at = run.heartbeat_at = now
        run.finished_at, run.error, run.done, run.total = None, None, 0, total


def _finish(store: Store, model: str, status: str, error: str | None = None) -> None:
    with store.session() as s:
        run = s.get(m.EmbedRun, model)
        if run is not None and run.pid == os.getpid():
            run.status, run.error, run.finished_at = status, error, m.utcnow()


def run(store: Store, model: str = E5_NAME, *, batch: int = 64, limit: int | None = None,
        progress: Callable[[int, int, float], None] | None = None,
        should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Embed what is queued for `model`; returns counts. Safe to run again at any time."""
    encoder = encoder_for(store, model)
    index = index_for(store.settings.data_dir, model)
    with store.reading() as s:
        total = s.scalar(select(func.count()).select_from(m.EmbedQueue).where(m.EmbedQueue.model == model)) or 0
    if limit is not None:
        total = min(total, limit)
    _claim(store, model, total)
    done, started, spent = 0, time.perf_counter(), 0.0
    status = "idle"
    try:
        while limit is None or done < limit:
            if should_stop and should_stop():
                status = "interrupted"
                break
            size = batch if limit is None else min(batch, limit - done)
            with store.reading() as s:
                queued = s.execute(select(m.EmbedQueue.id, m.EmbedQueue.record_id)
                                   .where(m.EmbedQueue.model == model, m.EmbedQueue.record_type == RECORD_TYPE)
                                   .order_by(m.EmbedQueue.id).limit(size)).all()
                if not queued:
                    break
                texts = {pid: patent_text(ti, ab, cl, te) for pid, ti, ab, cl, te in s.execute(
                    select(m.Patent.id, m.Patent.title, m.Patent.abstract, m.Patent.first_claim, m.Patent.title_en)
                    .where(m.Patent.id.in_([r.record_id for r in queued])))}
            ids = [r.record_id for r in queued if r.record_id in texts]  # a deleted patent: dropped
            if ids:
                t0 = time.perf_counter()
                vectors = encoder.passages([texts[i] for i in ids])
                spent += time.perf_counter() - t0
                index.append(ids, vectors)
            done += len(queued)
            rate = done / spent if spent else None
            with store.session() as s:
                s.execute(delete(m.EmbedQueue).where(m.EmbedQueue.id.in_([r.id for r in queued])))
                run_row = s.get(m.EmbedRun, model)
                if run_row is not None:
                    run_row.done, run_row.heartbeat_at, run_row.texts_per_second = done, m.utcnow(), rate
            if progress:
                progress(done, total, rate or 0.0)
    except KeyboardInterrupt:
        _finish(store, model, "interrupted")
        raise
    except Exception as exc:
        _finish(store, model, "failed", str(exc)[:2000])
        raise
    ann = index.refresh_ann() if status == "idle" else None  # at 1M+ rows: the approximate index
    _finish(store, model, status)
    elapsed = time.perf_counter() - started
    return {"model": model, "embedded": done, "seconds": round(elapsed, 2),
            "texts_per_second": round(done / spent, 1) if spent else None, "status": status,
            "vectors": index.count(), **({"approximate_index": ann} if ann else {})}


def vector_of(store: Store, model: str, record_id: int) -> np.ndarray | None:
    return index_for(store.settings.data_dir, model).vectors_of([record_id]).get(record_id)
