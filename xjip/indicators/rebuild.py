"""Rebuilding the indicator facts and series as a job with progress, like an import job.

After an upgrade, or on a database whose records were stored before the after-commit hook kept
the facts (or while it failed), the per-patent and per-trademark facts and the year-end series
must be computed again: minutes at 1,000,000 records. So that no request waits for it:

- `needed` says whether anything is to be rebuilt ('facts', 'series' or None);
- `run` does it in chunks of patents, then trademarks, each committed with its checkpoint (the
  last id done) in the one `indicator_rebuild` row, then builds the series of the current
  settings. Interrupted (Ctrl-C, a stop request, a killed server) it is 'interrupted' and the next
  `run` continues from the checkpoint; `restart=True` starts again from nothing. Only one process
  runs it at a time (a claim on the row; a running row whose heartbeat is stale, or whose
  process on this host is gone, is taken over);
- `start_background` runs it in a daemon thread of the web process (the dashboard's first
  request), and `progress` is what the dashboard and `GET /api/indicators/rebuild` show.

`xjip indicators rebuild` calls `run` in the foreground with a progress bar. The hook
(`facts.on_commit`) may refresh patents while a rebuild runs: a chunk deletes the rows of its
patents before inserting them, and the series are built only after every fact row is written.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import weakref
from typing import Any, Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.indicators import aggregates, entries, facts

log = logging.getLogger(__name__)

ROW_ID = 1
PATENT_CHUNK = 10_000
PHASES = ("patents", "trademarks", "series")
RETRY_AFTER = dt.timedelta(minutes=5)  # a failed rebuild is started again by a page after this
Progress = Callable[[dict[str, Any]], None]


class RebuildRunning(Exception):
    """Another live process is running the rebuild."""

    def __init__(self, pid: int | None, host: str | None):
        self.pid, self.host = pid, host
        super().__init__(f"indicator rebuild running in {pid}@{host}")


class RebuildInterrupted(KeyboardInterrupt):
    """The rebuild stopped on request (or Ctrl-C) after its last commit; `run` continues it."""


def _counts(session: Session) -> tuple[int, int, int, int]:
    patents = session.scalar(select(func.count()).select_from(m.Patent).where(m.Patent.patent_type == "invention"))
    marks = session.scalar(select(func.count()).select_from(m.Trademark))
    return (int(patents or 0), int(session.scalar(select(func.count()).select_from(m.IndicatorPatent)) or 0),
            int(marks or 0), int(session.scalar(select(func.count()).select_from(m.IndicatorTrademark)) or 0))


def needed(session: Session, settings: Any | None = None) -> str | None:
    """'facts' when the fact tables do not hold one row per invention patent and trademark (or an
    earlier rebuild did not finish), 'series' when only the series of these settings are
    missing, None when the indicators can be read."""
    settings = settings or entries.load_settings(session)
    row = session.get(m.IndicatorRebuild, ROW_ID)
    if row is not None and row.status != "done" and row.phase in ("patents", "trademarks"):
        return "facts"
    if aggregates.built(session, aggregates.TM) and aggregates.built(session, aggregates.hv_series(settings)):
        return None  # the cheap answer of every request; the counts only when a series is missing
    patents, patent_facts, marks, mark_facts = _counts(session)
    return "facts" if patents != patent_facts or marks != mark_facts else "series"


_here = {"running": 0}  # rebuilds running (or queued to run) in this process


def _alive(row: m.IndicatorRebuild, stale_seconds: int) -> bool:
    """Whether the process named on a queued or running row still has it: on this host, whether
    that process exists (this process: whether it runs one now); elsewhere, a fresh heartbeat."""
    if row.status not in ("running", "queued"):
        return False
    if row.host == socket.gethostname() and row.pid is not None:
        if row.pid == os.getpid():
            return _here["running"] > 0
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = row.heartbeat_at or row.started_at
    return beat is not None and beat >= m.utcnow() - dt.timedelta(seconds=stale_seconds)


def _claim(store: Any, actor: str | None, *, own_queued: bool = False) -> m.IndicatorRebuild:
    """Take the job row for this process (status running), or raise RebuildRunning."""
    stale = store.settings.heartbeat_stale_seconds
    with store.session() as s:
        aggregates.lock(s)
        row = s.get(m.IndicatorRebuild, ROW_ID, with_for_update=True)
        if row is None:
            row = m.IndicatorRebuild(id=ROW_ID, status="done", done=0, total=0, checkpoint={})
            s.add(row)
            s.flush()
        mine = own_queued and row.status == "queued" and row.pid == os.getpid() and row.host == socket.gethostname()
        if not mine and _alive(row, stale):
            raise RebuildRunning(row.pid, row.host)
        now = m.utcnow()
        row.status, row.pid, row.host, row.heartbeat_at, row.stop_requested = "running", os.getpid(), \
            socket.gethostname(), now, None
        row.started_at, row.finished_at, row.error = now, None, None
        row.requested_by = actor or row.requested_by
        s.flush()
        s.expunge(row)
        return row


def _save(store: Any, **values: Any) -> bool:
    """Write progress on the job row; True when a stop was requested."""
    with store.session() as s:
        s.execute(update(m.IndicatorRebuild).where(m.IndicatorRebuild.id == ROW_ID)
                  .values(heartbeat_at=m.utcnow(), **values))
        return bool(s.scalar(select(m.IndicatorRebuild.stop_requested).where(m.IndicatorRebuild.id == ROW_ID)))


def run(store: Any, *, full: bool = False, restart: bool = False, progress: Progress | None = None,
        actor: str | None = None, stop: threading.Event | None = None, _own_queued: bool = False) -> dict[str, Any]:
    """Continue an unfinished rebuild from its checkpoint, else rebuild what is needed (`full`:
    everything). `restart`: everything from nothing, even when one was unfinished.
    Returns the final `state`. Raises RebuildRunning or RebuildInterrupted."""
    row = _claim(store, actor, own_queued=_own_queued)
    _here["running"] += 1
    try:
        _run(store, row, full, restart, progress, stop)
    except (KeyboardInterrupt, RebuildInterrupted):
        _save(store, status="interrupted", stop_requested=None)
        raise RebuildInterrupted() from None
    except BaseException as exc:
        _save(store, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=m.utcnow())
        raise
    finally:
        _here["running"] -= 1
    _save(store, status="done", phase=None, finished_at=m.utcnow(), stop_requested=None)
    return state(store)


def _run(store: Any, row: m.IndicatorRebuild, full: bool, restart: bool, progress: Progress | None,
         stop: threading.Event | None) -> None:
    with store.reading() as r:
        settings = entries.load_settings(r)
    resuming = not restart and row.phase in ("patents", "trademarks") and bool(row.checkpoint)
    checkpoint = dict(row.checkpoint or {}) if resuming else {}
    phase = row.phase if resuming else None
    if not resuming:
        with store.reading() as r:
            need = "facts" if restart or full else needed(r, settings)
        if need == "facts":
            with store.session() as s:
                aggregates.lock(s)
                s.execute(delete(m.IndicatorDelta))
                s.execute(delete(m.IndicatorPatent))
                s.execute(delete(m.IndicatorTrademark))
            checkpoint, phase = {"patent": 0, "trademark": 0}, "patents"
        else:
            phase = "series" if need == "series" else None

    def report(**values: Any) -> None:
        if _save(store, **values) or (stop is not None and stop.is_set()):
            raise RebuildInterrupted()
        if progress is not None:
            progress(state(store))

    facts_rebuilt = phase in ("patents", "trademarks")
    if phase == "patents":
        with store.reading() as r:
            total = int(r.scalar(select(func.count()).select_from(m.Patent).where(m.Patent.patent_type == "invention")) or 0)
            done = int(r.scalar(select(func.count()).select_from(m.Patent).where(
                m.Patent.patent_type == "invention", m.Patent.id <= checkpoint.get("patent", 0))) or 0)
            ctx = facts.Context(r)
        report(phase="patents", total=total, done=done, checkpoint=checkpoint)
        while True:
            with store.session() as s:
                aggregates.lock(s)
                ids = list(s.scalars(select(m.Patent.id).where(m.Patent.id > checkpoint.get("patent", 0),
                                                               m.Patent.patent_type == "invention")
                                     .order_by(m.Patent.id).limit(PATENT_CHUNK)))
                if ids:
                    rows = facts.compute(s, ctx, ids)
                    s.execute(delete(m.IndicatorPatent).where(m.IndicatorPatent.patent_id.in_(ids)))
                    for start in range(0, len(rows), facts.CHUNK):
                        s.execute(insert(m.IndicatorPatent), rows[start:start + facts.CHUNK])
            if not ids:
                break
            checkpoint = {**checkpoint, "patent": ids[-1]}
            done += len(ids)
            report(done=min(done, total), checkpoint=checkpoint)
        phase = "trademarks"
    if phase == "trademarks":
        with store.reading() as r:
            total = int(r.scalar(select(func.count()).select_from(m.Trademark)) or 0)
            done = int(r.scalar(select(func.count()).select_from(m.Trademark)
                                .where(m.Trademark.id <= checkpoint.get("trademark", 0))) or 0)
        report(phase="trademarks", total=total, done=done, checkpoint=checkpoint)
        T = m.IndicatorTrademark
        while True:
            with store.session() as s:
                aggregates.lock(s)
                rows = facts.trademark_rows(s, last=checkpoint.get("trademark", 0), limit=PATENT_CHUNK)
                if rows:
                    ids = [r["trademark_id"] for r in rows]
                    s.execute(delete(T).where(T.trademark_id.in_(ids)))
                    s.execute(insert(T), rows)
            if not rows:
                break
            checkpoint = {**checkpoint, "trademark": rows[-1]["trademark_id"]}
            done += len(rows)
            report(done=min(done, total), checkpoint=checkpoint)
        phase = "series"
    if phase == "series":
        report(phase="series", total=1, done=0, checkpoint=checkpoint)
        with store.session() as s:
            aggregates.lock(s)
            settings = entries.load_settings(s)  # as they are now (a setting may have changed meanwhile)
            if facts_rebuilt or not aggregates.built(s, aggregates.TM):
                aggregates.build(s, aggregates.TM)
            # high-value series of earlier settings are stale: one series, of the current settings
            s.execute(delete(m.IndicatorDelta).where(m.IndicatorDelta.series.like("hv:%")))
            aggregates.build(s, aggregates.hv_series(settings), settings)
        report(done=1, checkpoint={})


def state(store: Any) -> dict[str, Any]:
    """The job as the dashboard shows it: status, phase, done, total, percent, times, error."""
    with store.reading() as r:
        row = r.get(m.IndicatorRebuild, ROW_ID)
        if row is None:
            return {"status": None, "phase": None, "done": 0, "total": 0, "percent": None}
        pct = None
        if row.phase and row.total:
            # patents weigh most; the three phases share the bar 80 / 15 / 5
            base, width = {"patents": (0, 80), "trademarks": (80, 15), "series": (95, 5)}[row.phase]
            pct = round(base + width * min(row.done, row.total) / row.total, 1)
        elif row.status == "done":
            pct = 100.0
        def when(value: dt.datetime | None) -> str | None:  # stored naive UTC; JSON-safe everywhere
            return value.replace(tzinfo=dt.timezone.utc).isoformat() if value else None

        return {"status": row.status, "phase": row.phase, "done": row.done, "total": row.total, "percent": pct,
                "started_at": when(row.started_at), "heartbeat_at": when(row.heartbeat_at),
                "finished_at": when(row.finished_at),
                # the exception's text stays on the row (and in the log, `xjip indicators rebuild`)
                "error": bool(row.error) or None}


def request_stop(store: Any) -> bool:
    with store.session() as s:
        return s.execute(update(m.IndicatorRebuild).where(m.IndicatorRebuild.id == ROW_ID,
                                                          m.IndicatorRebuild.status.in_(("queued", "running")))
                         .values(stop_requested=True)).rowcount == 1


_threads: "weakref.WeakKeyDictionary[Any, threading.Thread]" = weakref.WeakKeyDictionary()
_threads_lock = threading.Lock()


def _queue(store: Any, actor: str | None) -> bool:
    """Mark the row queued by this process unless a live process has it (one conditional step)."""
    try:
        with store.session() as s:
            aggregates.lock(s)
            row = s.get(m.IndicatorRebuild, ROW_ID, with_for_update=True)
            if row is None:
                row = m.IndicatorRebuild(id=ROW_ID, done=0, total=0, checkpoint={})
                s.add(row)
            elif _alive(row, store.settings.heartbeat_stale_seconds):
                return False
            elif row.status == "failed" and row.finished_at and row.finished_at > m.utcnow() - RETRY_AFTER:
                return False  # failed a moment ago: not again on every request (the page says it failed)
            row.status, row.pid, row.host, row.heartbeat_at = "queued", os.getpid(), socket.gethostname(), m.utcnow()
            row.requested_by, row.error = actor, None
    except Exception:  # noqa: BLE001 - two workers creating the row at once: the other one has it
        log.info("indicator rebuild: another process queued it first", exc_info=True)
        return False
    return True


def start_background(store: Any, actor: str | None = None) -> threading.Thread | None:
    """Run the rebuild in a daemon thread of this process, unless one (here or elsewhere) runs it."""
    with _threads_lock:
        thread = _threads.get(store)
        if thread is not None and thread.is_alive():
            return thread
        if not _queue(store, actor):
            return None

        _here["running"] += 1  # queued by this process: alive until the thread's run() has it

        def target() -> None:
            try:
                _here["running"] -= 1
                run(store, actor=actor, _own_queued=True)
            except RebuildRunning:
                log.info("indicator rebuild already running elsewhere")
            except RebuildInterrupted:
                log.info("indicator rebuild stopped on request")
            except Exception:  # noqa: BLE001 - recorded on the job row; a thread has nobody to raise to
                log.exception("indicator rebuild failed")

        thread = threading.Thread(target=target, name="indicator-rebuild", daemon=True)
        _threads[store] = thread
        thread.start()
        return thread


def ensure_started(store: Any, actor: str | None = None) -> dict[str, Any] | None:
    """None when the indicators can be read now; else the rebuild's state, after starting it in
    the background when no process runs it (the dashboard's answer)."""
    with store.reading() as r:
        need = needed(r)
    if need is None:
        return None
    start_background(store, actor)
    out = state(store)
    out["needed"] = need
    return out


def wait(store: Any, timeout: float = 60.0) -> None:
    """Wait for this process's background rebuild (tests; a server never waits for it)."""
    thread = _threads.get(store)
    if thread is not None:
        thread.join(timeout)
