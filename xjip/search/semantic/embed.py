"""Embeddings built in the background: the hub's after-commit hook queues the records of every
embedded type (`texts.EMBEDDED_TYPES`) an import or an edit wrote (`embed_queue`), and `xjip
embed` (or the job page's button) empties the queue type by type, a batch at a time: vectors are
appended to disk first, then the batch's queue rows are deleted in one transaction, so a run
stopped anywhere (Ctrl-C, kill -9) loses at most one batch of work and the next run resumes with
the rows still queued."""
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
from xjip.search.semantic.index import type_index
from xjip.search.semantic.texts import EMBEDDED_TYPES, MODELS, patent_text, texts_of

log = logging.getLogger(__name__)
RECORD_TYPE = "patent"  # the first type embedded; its vectors keep their folder (index.type_index)
CHUNK = 1000
# `xjip reference sync` reports every law article as changed each time it runs, and an article's
# text does not change under its id (a law's new version is new rows): only articles without a
# vector are queued, rather than ~1,500 re-embedded per sync.
ONLY_NEW = {"law"}
__all__ = ["EMBEDDED_TYPES", "patent_text"]


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


def _insert_ignore(store: Store):  # noqa: ANN202
    return (pg_insert if store.dialect == "postgresql" else sqlite_insert)(m.EmbedQueue.__table__)


def enqueue(store: Store, record_ids: Iterable[int], models: list[str] | None = None,
            record_type: str = RECORD_TYPE) -> int:
    if record_type not in EMBEDDED_TYPES:
        raise ValueError(record_type)
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    models = models or models_enabled(store)
    now = m.utcnow()
    with store.session() as s:
        for start in range(0, len(ids), CHUNK):
            rows = [{"model": name, "record_type": record_type, "record_id": i, "queued_at": now}
                    for name in models for i in ids[start:start + CHUNK]]
            s.execute(_insert_ignore(store).on_conflict_do_nothing(), rows)
    return len(ids)


def enqueue_missing(store: Store, model: str, record_types: Iterable[str] | None = None) -> dict[str, int]:
    """Queue every record without a vector in `model`'s index of its type (after a new model, a
    lost folder, or records written before this part existed): {type: queued}."""
    out = {}
    for record_type in record_types or EMBEDDED_TYPES:
        have = set(type_index(store.settings.data_dir, model, record_type).ids().tolist())
        table = MODELS[record_type]
        with store.reading() as s:
            missing = [i for i in s.scalars(select(table.id).order_by(table.id)) if i not in have]
        out[record_type] = enqueue(store, missing, [model], record_type)
    return out


def after_commit(store: Store, changed: dict[str, list[int]]) -> None:
    """Subscribed to `xjip.hub.pipeline.AFTER_COMMIT_HOOKS`. A failure here must not fail the
    import whose batch is already committed: it is logged, and `xjip embed --missing` finds the
    records later."""
    for record_type in EMBEDDED_TYPES:
        ids = changed.get(record_type)
        if not ids:
            continue
        try:
            if record_type in ONLY_NEW:
                for name in models_enabled(store):
                    have = set(type_index(store.settings.data_dir, name, record_type).ids().tolist())
                    enqueue(store, [i for i in ids if i not in have], [name], record_type)
            else:
                enqueue(store, ids, record_type=record_type)
        except Exception:  # noqa: BLE001
            log.exception("semantic: could not queue %d %s records for embedding", len(ids), record_type)


def record_counts(store: Store) -> dict[str, int]:
    with store.reading() as s:
        return {t: int(s.scalar(select(func.count()).select_from(MODELS[t])) or 0) for t in EMBEDDED_TYPES}


def status(store: Store) -> list[dict[str, Any]]:
    """Per encoder: vectors, queued and records in all (`records`) and per type (`by_type`);
    `patents` is the patents' count alone, as before other types were embedded."""
    out = []
    fields = ("status", "done", "total", "texts_per_second", "started_at", "heartbeat_at", "finished_at", "error")
    with store.reading() as s:
        queued: dict[tuple[str, str], int] = {
            (name, t): int(n) for name, t, n in s.execute(
                select(m.EmbedQueue.model, m.EmbedQueue.record_type, func.count())
                .group_by(m.EmbedQueue.model, m.EmbedQueue.record_type)).all()}
        runs = {r.model: {f: getattr(r, f) for f in fields} for r in s.scalars(select(m.EmbedRun))}
    records = record_counts(store)
    blank = {"status": "idle", "done": 0, "total": 0, "texts_per_second": None, "started_at": None,
             "heartbeat_at": None, "finished_at": None, "error": None}
    data_dir = store.settings.data_dir
    for name in sorted(set(models_enabled(store)) | {n for n, _ in queued} | set(runs)):
        run = runs.get(name) or blank
        stale = bool(run["status"] == "running" and run["heartbeat_at"]
                     and (m.utcnow() - run["heartbeat_at"]).total_seconds() > store.settings.heartbeat_stale_seconds)
        by_type = [{"record_type": t, "vectors": type_index(data_dir, name, t).count(),
                    "queued": queued.get((name, t), 0), "records": records[t]} for t in EMBEDDED_TYPES]
        out.append({"model": name, "vectors": sum(r["vectors"] for r in by_type),
                    "queued": sum(n for (n2, _), n in queued.items() if n2 == name),
                    "records": sum(records.values()), "patents": records["patent"],
                    "by_type": [r for r in by_type if r["records"] or r["vectors"] or r["queued"]],
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
        should_stop: Callable[[], bool] | None = None,
        record_types: Iterable[str] | None = None,
        on_type: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Embed what is queued for `model` (of `record_types`, default every embedded type), type by
    type; returns counts, in all and per type (`by_type`). Safe to run again at any time.
    `on_type(record_type, done, queued)` hears each type's progress (the CLI prints it)."""
    types = [t for t in (record_types or EMBEDDED_TYPES) if t in EMBEDDED_TYPES]
    encoder = encoder_for(store, model)
    data_dir = store.settings.data_dir
    with store.reading() as s:
        per_type = dict(s.execute(select(m.EmbedQueue.record_type, func.count())
                                  .where(m.EmbedQueue.model == model, m.EmbedQueue.record_type.in_(types))
                                  .group_by(m.EmbedQueue.record_type)).all())
    total = sum(int(n) for n in per_type.values())
    if limit is not None:
        total = min(total, limit)
    _claim(store, model, total)
    done, started, spent = 0, time.perf_counter(), 0.0
    by_type: dict[str, int] = {}
    status = "idle"
    try:
        for record_type in types:
            index = type_index(data_dir, model, record_type)
            type_done = 0
            while limit is None or done < limit:
                if should_stop and should_stop():
                    status = "interrupted"
                    break
                size = batch if limit is None else min(batch, limit - done)
                with store.reading() as s:
                    queued = s.execute(select(m.EmbedQueue.id, m.EmbedQueue.record_id)
                                       .where(m.EmbedQueue.model == model, m.EmbedQueue.record_type == record_type)
                                       .order_by(m.EmbedQueue.id).limit(size)).all()
                    if not queued:
                        break
                    texts = texts_of(s, record_type, [r.record_id for r in queued])
                ids = [r.record_id for r in queued if r.record_id in texts]  # a deleted record: dropped
                if ids:
                    t0 = time.perf_counter()
                    vectors = encoder.passages([texts[i] for i in ids])
                    spent += time.perf_counter() - t0
                    index.append(ids, vectors)
                done += len(queued)
                type_done += len(queued)
                rate = done / spent if spent else None
                with store.session() as s:
                    s.execute(delete(m.EmbedQueue).where(m.EmbedQueue.id.in_([r.id for r in queued])))
                    run_row = s.get(m.EmbedRun, model)
                    if run_row is not None:
                        run_row.done, run_row.heartbeat_at, run_row.texts_per_second = done, m.utcnow(), rate
                if progress:
                    progress(done, total, rate or 0.0)
                if on_type:
                    on_type(record_type, type_done, int(per_type.get(record_type, 0)))
            if type_done:
                by_type[record_type] = type_done
            if status == "interrupted" or (limit is not None and done >= limit):
                break
    except KeyboardInterrupt:
        _finish(store, model, "interrupted")
        raise
    except Exception as exc:
        _finish(store, model, "failed", str(exc)[:2000])
        raise
    # at 200k+ rows of a type: its approximate index (index.VectorIndex.refresh_ann), per type
    ann = {t: built for t in types if status == "idle" and (built := type_index(data_dir, model, t).refresh_ann())}
    _finish(store, model, status)
    elapsed = time.perf_counter() - started
    return {"model": model, "embedded": done, "seconds": round(elapsed, 2),
            "texts_per_second": round(done / spent, 1) if spent else None, "status": status,
            "vectors": sum(type_index(data_dir, model, t).count() for t in EMBEDDED_TYPES), "by_type": by_type,
            **({"approximate_index": ann} if ann else {})}


def vector_of(store: Store, model: str, record_id: int, record_type: str = RECORD_TYPE) -> np.ndarray | None:
    return type_index(store.settings.data_dir, model, record_type).vectors_of([record_id]).get(record_id)
