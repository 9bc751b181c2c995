"""The search index: tantivy in `<data_dir>/search`, behind `SearchBackend`.

Layout: `<data_dir>/search/idx-<stamp>/` holds one whole index; `current` is a symbolic link to
the one in use. A rebuild writes a new folder and swaps the link with one rename (atomic on
POSIX), so a search sees the old index or the new one, never half of one. Every update (the
hub's after-commit hook) takes `writer.lock` (fcntl, across processes), applies to the live index
and appends to `journal.jsonl`; a rebuild replays what the journal got while it read the
database before it swaps, so nothing committed meanwhile is lost.

A region that outgrows one machine would put these documents in OpenSearch (the same flat
documents, keyword fields as `keyword`, analysed text pre-tokenised as here): `SearchBackend` is
the seam (README "Search").
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import tantivy

from xjip.search import documents, text

log = logging.getLogger(__name__)

# Analysed text (positional, pre-tokenised by `text.analyse`, joined by spaces).
TEXT_FIELDS = ("ti", "ab", "cl", "tx", "pa", "inv", "agc")
SUB_FIELDS = ("ti_sub", "tx_sub", "pa_sub")  # jieba search-mode sub-words (bag of words)
PINYIN_FIELD = "py"
# Exact values (raw tokenizer; fast: facets and aggregations).
RAW_FIELDS = ("rtype", "num", "ipc", "ipc_sec", "ipc_cls", "ipc_sub", "ipc_grp", "pref", "county", "region", "prov",
              "status", "kind", "ent", "copair", "syn")
INT_FIELDS = ("date", "ad", "pd", "gd", "year", "gyear")
WRITER_HEAP = 128 << 20
CHECKPOINT_EVERY = 20_000  # records between a rebuild's commits (each with its checkpoint)
STALE_SECONDS = 180  # a building claim whose heartbeat is older is taken over
HEARTBEAT_SECONDS = 20


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("key", stored=True, tokenizer_name="raw")
    sb.add_integer_field("rid", stored=True, fast=True)
    sb.add_integer_field("tnum", fast=True, indexed=True)  # position in documents.INDEXED_TYPES
    for name in TEXT_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in SUB_FIELDS:
        sb.add_text_field(name, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field(PINYIN_FIELD, tokenizer_name="whitespace", index_option="position")
    for name in RAW_FIELDS:
        sb.add_text_field(name, stored=name == "rtype", fast=True, tokenizer_name="raw", index_option="basic")
    for name in INT_FIELDS:
        sb.add_integer_field(name, fast=True, indexed=True)
    return sb.build()


SCHEMA = build_schema()


def to_tantivy(doc: documents.Doc) -> tantivy.Document:
    d = tantivy.Document()
    d.add_text("key", doc.key)
    d.add_integer("rid", doc.record_id)
    d.add_integer("tnum", documents.INDEXED_TYPES.index(doc.record_type))
    d.add_text("rtype", doc.record_type)
    subs: dict[str, list[str]] = {}
    seen: dict[str, tuple[list[str], list[str]]] = {}  # tx repeats the title, abstract and claims: analysed once
    for name, values in doc.text.items():
        toks: list[str] = []
        for value in values:
            if value not in seen:
                seen[value] = text.analyse(value[: documents.MAX_TEXT])
            positional, extra = seen[value]
            toks += positional
            sub = {"ti": "ti_sub", "pa": "pa_sub"}.get(name, "tx_sub")
            subs.setdefault(sub, []).extend(extra)
            toks.append("\u241e")  # a gap token between values: a phrase does not run from one to the next
        if toks:
            d.add_text(name, " ".join(toks))
    for name, toks in subs.items():
        if toks:
            d.add_text(name, " ".join(toks))
    readings = [" ".join(text.pinyin_tokens(n)) for n in doc.names if n]
    if any(readings):
        d.add_text(PINYIN_FIELD, " \u241e ".join(r for r in readings if r))
    for name, values in doc.raw.items():
        for value in dict.fromkeys(values):
            d.add_text(name, value)
    for name, value in doc.ints.items():
        d.add_integer(name, value)
    return d


class SearchBackend(Protocol):
    """What the search part needs from an engine: tantivy here, OpenSearch for a bigger region."""

    def update(self, store: Any, changed: dict[str, list[int]]) -> int: ...
    def rebuild(self, store: Any, progress: Callable[[dict[str, Any]], None] | None = None, threads: int = 1, *,
                restart: bool = False) -> dict[str, Any]: ...
    def request_stop(self) -> bool: ...
    def searcher(self) -> tuple[tantivy.Index, tantivy.Searcher] | None: ...
    def status(self) -> dict[str, Any]: ...


class IndexMissing(RuntimeError):
    pass


class RebuildRunning(RuntimeError):
    """Another live process is rebuilding the index."""

    def __init__(self, pid: Any, host: Any):
        self.pid, self.host = pid, host
        super().__init__(f"search index rebuild running in {pid}@{host}")


class RebuildInterrupted(KeyboardInterrupt):
    """The rebuild stopped (Ctrl-C, a stop request) after its last checkpoint; a rerun continues it."""


_OPEN: dict[str, tantivy.Index] = {}
_WORDS_SEEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()


class TantivyBackend:
    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir) / "search"
        self.current = self.root / "current"
        self.journal = self.root / "journal.jsonl"
        self.status_file = self.root / "status.json"

    # --- locations ----------------------------------------------------------------------

    def _live_path(self) -> Path | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        path = (self.root / target).resolve()
        return path if (path / "meta.json").exists() else None

    @contextlib.contextmanager
    def _flock(self, name: str) -> Iterator[None]:
        """An exclusive lock across processes on `<root>/<name>`: `writer.lock` for the live index
        and its journal, `rebuild.lock` for the rebuild's status file."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def exists(self) -> bool:
        return self._live_path() is not None

    # --- the user dictionary's words from the hub (GI names) ------------------------------
    # Index and query must segment alike: the words the index was built with are kept beside it
    # and loaded by every process that searches it (`_load_words`), not only the one that built it.

    @property
    def words_file(self) -> Path:
        return self.root / "user_words.txt"

    def add_words(self, words: list[str]) -> None:
        words = [w.strip() for w in words if w and w.strip() and "\n" not in w]
        if not words:
            return
        text.prepare(words)
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.words_file, "a", encoding="utf-8") as fh:
            fh.write("".join(w + "\n" for w in words))

    def _load_words(self) -> None:
        try:
            stamp = self.words_file.stat().st_mtime_ns
        except OSError:
            return
        key = str(self.words_file)
        if _WORDS_SEEN.get(key) == stamp:
            return
        text.prepare(self.words_file.read_text(encoding="utf-8").splitlines())
        _WORDS_SEEN[key] = stamp

    # --- reading ------------------------------------------------------------------------

    def searcher(self) -> tuple[tantivy.Index, tantivy.Searcher] | None:
        """The live index's searcher, reloaded to its last commit (a search during an import sees
        what has been committed, and only that)."""
        path = self._live_path()
        if path is None:
            return None
        self._load_words()
        key = str(path)
        with _OPEN_LOCK:
            index = _OPEN.get(key)
            if index is None:
                for old in [k for k in _OPEN if k.startswith(str(self.root))]:
                    _OPEN.pop(old, None)  # a swapped-out index: let it close
                index = tantivy.Index(SCHEMA, key, reuse=True)
                _OPEN[key] = index
        index.reload()
        return index, index.searcher()

    def status(self, stale_seconds: float = STALE_SECONDS) -> dict[str, Any]:
        """The index (exists, docs) and its rebuild: state building / interrupted / failed / ready,
        done, total, by type, percent, ETA, resumable."""
        data = self._read_status()
        if data.get("state") == "building" and not self._alive(data, stale_seconds):
            data["state"] = "interrupted"  # its process is gone: a rerun continues from the checkpoint
        data = self._with_progress(data)
        data["resumable"] = data.get("state") in ("interrupted", "failed") and bool(data.get("checkpoint"))
        pair = self.searcher() if self.exists() else None
        data["exists"] = pair is not None
        data["docs"] = pair[1].num_docs if pair else 0
        return data

    def _write_status(self, data: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, default=str))
        os.replace(tmp, self.status_file)

    # --- writing ------------------------------------------------------------------------

    @staticmethod
    def _apply(index: tantivy.Index, store: Any, changed: dict[str, list[int]]) -> int:
        writer = index.writer(WRITER_HEAP, 1)
        n = 0
        try:
            with store.reading() as s:
                for record_type, ids in changed.items():
                    if record_type not in documents.MODELS or not ids:
                        continue
                    for part, docs in documents.iter_docs(s, record_type, list(ids)):
                        for rid in part:
                            writer.delete_documents_by_term("key", f"{record_type}:{rid}")
                        for doc in docs:
                            writer.add_document(to_tantivy(doc))
                            n += 1
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()
        return n

    def update(self, store: Any, changed: dict[str, list[int]]) -> int:
        """Re-index the records of `changed` ({record_type: [ids]}); a gone record is deleted."""
        changed = {t: list(ids) for t, ids in changed.items() if t in documents.MODELS and ids}
        if not changed:
            return 0
        with self._flock("writer.lock"):
            with open(self.journal, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"at": time.time(), "changed": changed}) + "\n")
            path = self._live_path()
            if path is None:
                return 0  # no index yet: `xjip search --rebuild` (or the first build) reads everything
            index = tantivy.Index(SCHEMA, str(path), reuse=True)
            return self._apply(index, store, changed)

    # --- the rebuild: a resumable job, one at a time across processes ---------------------------
    # Its state is `status.json` (written atomically, read-modify-written under `_flock("rebuild.lock")`): the
    # claim (pid, host, heartbeat), the progress and the checkpoint (the build folder, the record
    # type and last id committed, the journal offset). The builder commits the tantivy writer every
    # CHECKPOINT_EVERY records together with the checkpoint; a rerun continues in the same folder.

    def _read_status(self) -> dict[str, Any]:
        try:
            data = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _update(self, **values: Any) -> dict[str, Any]:
        """Merge `values` into the status file (under the lock: a stop request is never lost)."""
        with self._flock("rebuild.lock"):
            data = self._read_status()
            data.update(values)
            self._write_status(data)
            return data

    def _alive(self, data: dict[str, Any], stale_seconds: float = STALE_SECONDS) -> bool:
        """Whether the process named in a building claim still has it: on this host, that process
        exists (this process: it runs a build now) and beats; elsewhere, a fresh heartbeat."""
        if data.get("state") != "building":
            return False
        beat = data.get("heartbeat") or 0
        if beat < time.time() - stale_seconds:
            return False  # a live builder beats every HEARTBEAT_SECONDS, whatever it is doing
        pid, host = data.get("pid"), data.get("host")
        if host == socket.gethostname() and isinstance(pid, int):
            if pid == os.getpid():
                return _HERE.get(str(self.root), 0) > 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
            started = data.get("pid_start")  # the pid reused by another process: not the claim's
            return not (started and _proc_start(pid) not in (None, started))
        return True

    def claim(self, actor: str | None = None, stale_seconds: float = STALE_SECONDS) -> dict[str, Any]:
        """Take the rebuild for this process, or raise RebuildRunning (a live claim elsewhere)."""
        with self._flock("rebuild.lock"):
            data = self._read_status()
            if self._alive(data, stale_seconds):
                raise RebuildRunning(data.get("pid"), data.get("host"))
            data.update(state="building", pid=os.getpid(), pid_start=_proc_start(os.getpid()),
                        host=socket.gethostname(), heartbeat=time.time(),
                        actor=actor, stop_requested=False, error=None, finished=None)
            data.setdefault("done", 0)
            data.setdefault("total", 0)
            self._write_status(data)
            key = str(self.root)
            _HERE[key] = _HERE.get(key, 0) + 1
            return data

    def request_stop(self, stale_seconds: float = STALE_SECONDS) -> bool:
        """Ask the running build to stop after committing what it has; False when none runs."""
        with self._flock("rebuild.lock"):
            data = self._read_status()
            if not self._alive(data, stale_seconds):
                return False
            data["stop_requested"] = True
            self._write_status(data)
            return True

    def rebuild(self, store: Any, progress: Callable[[dict[str, Any]], None] | None = None,
                threads: int = 1, *, restart: bool = False, stop: threading.Event | None = None,
                actor: str | None = None, _claimed: bool = False) -> dict[str, Any]:
        """Build a whole new index from the database (continuing an unfinished build from its
        checkpoint unless `restart`), then swap it in atomically. Raises RebuildRunning when a live
        process has it, RebuildInterrupted on Ctrl-C or a stop request (a rerun continues)."""
        if not _claimed:
            self.claim(actor, stale_seconds(store))
        beating = threading.Event()

        def beat() -> None:  # the claim stays fresh through long commits, merges and the replay
            while not beating.wait(HEARTBEAT_SECONDS):
                with contextlib.suppress(Exception):
                    with self._flock("rebuild.lock"):
                        data = self._read_status()
                        if data.get("state") == "building" and data.get("pid") == os.getpid():
                            data["heartbeat"] = time.time()
                            self._write_status(data)

        threading.Thread(target=beat, name="xjip-search-rebuild-heartbeat", daemon=True).start()
        try:
            return self._build(store, progress, threads, restart, stop)
        except KeyboardInterrupt:
            self._update(state="interrupted", stop_requested=False, heartbeat=time.time())
            raise RebuildInterrupted() from None
        except BaseException as exc:
            self._update(state="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished=time.time())
            raise
        finally:
            beating.set()
            _HERE[str(self.root)] -= 1

    def _build(self, store: Any, progress: Callable[[dict[str, Any]], None] | None, threads: int,
               restart: bool, stop: threading.Event | None) -> dict[str, Any]:
        now = time.time()
        status = self._read_status()
        live = self._live_path()
        cp = None if restart else status.get("checkpoint")
        name = str((cp or {}).get("folder") or "")
        if cp and not (name.startswith("idx-") and "/" not in name and (self.root / name / "meta.json").exists()):
            cp = None  # its folder is gone: from nothing
        journal_size = self.journal.stat().st_size if self.journal.exists() else 0
        if cp:
            folder = self.root / cp["folder"]
            journal_at = min(int(cp.get("journal_at") or 0), journal_size)
            started = status.get("started") or now
            done, done_by_type = int(cp.get("done") or 0), dict(cp.get("done_by_type") or {})
            last_type, last_id = cp.get("type"), cp.get("after")
        else:
            for old in self.root.glob("idx-*"):  # abandoned builds (the live index stays)
                if old.is_dir() and old.resolve() != live:
                    shutil.rmtree(old, ignore_errors=True)
            stamp = time.strftime("%Y%m%d%H%M%S") + f"-{os.getpid()}-{os.urandom(3).hex()}"
            folder = self.root / f"idx-{stamp}"
            folder.mkdir()
            journal_at, started, done, done_by_type, last_type, last_id = journal_size, now, 0, {}, None, None
        with store.reading() as s:
            counts = documents.count_rows(s)
            gi_names = [n for (n,) in s.execute(documents.select(documents.m.GeographicalIndication.name))]
        self.words_file.write_text("".join(n.strip() + "\n" for n in gi_names if n and n.strip()), encoding="utf-8")
        text.prepare(gi_names)
        total = sum(counts.values())
        index = tantivy.Index(SCHEMA, str(folder), reuse=bool(cp))

        def checkpoint() -> dict[str, Any]:
            return {"folder": folder.name, "type": last_type, "after": last_id, "journal_at": journal_at,
                    "done": done, "done_by_type": dict(done_by_type)}

        state = self._update(state="building", folder=folder.name, started=started, run_started=now,
                             run_done_start=done, done=done, total=total, by_type=counts,
                             done_by_type=dict(done_by_type), checkpoint=checkpoint(), resumed=bool(cp),
                             heartbeat=now)
        if state.get("stop_requested") or (stop is not None and stop.is_set()):
            raise RebuildInterrupted()
        writer = index.writer(WRITER_HEAP * max(1, threads), threads)
        # Killed between a commit and its checkpoint, the index may hold records past the checkpoint,
        # how many is not recorded: a resumed build replaces by key throughout.
        dedupe, since = bool(cp), 0
        chunk = max(1, min(documents.CHUNK, CHECKPOINT_EVERY))
        order = list(documents.INDEXED_TYPES)
        first = order.index(last_type) if last_type in order else 0
        try:
            for record_type in order[first:]:
                after = int(last_id or 0) if record_type == last_type else 0
                with store.reading() as s:
                    for part, docs in documents.iter_docs(s, record_type, chunk=chunk, after=after):
                        for doc in docs:
                            if dedupe:
                                writer.delete_documents_by_term("key", doc.key)
                            writer.add_document(to_tantivy(doc))
                        done += len(part)
                        since += len(part)
                        done_by_type[record_type] = done_by_type.get(record_type, 0) + len(part)
                        last_type, last_id = record_type, part[-1]
                        values: dict[str, Any] = {"done": done, "type": record_type, "heartbeat": time.time(),
                                                  "done_by_type": dict(done_by_type)}
                        if since >= CHECKPOINT_EVERY:
                            writer.commit()
                            values["checkpoint"] = checkpoint()
                            since = 0
                        state = self._update(**values)
                        if state.get("stop_requested") or (stop is not None and stop.is_set()):
                            if since:
                                writer.commit()
                                self._update(checkpoint=checkpoint())
                            raise RebuildInterrupted()
                        if progress:
                            progress(self._with_progress(state))
            writer.commit()
            self._update(checkpoint=checkpoint(), heartbeat=time.time())
            writer.wait_merging_threads()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()  # back to the last checkpoint's commit
            with contextlib.suppress(Exception):
                writer.wait_merging_threads()
            raise
        with self._flock("writer.lock"):
            replay: dict[str, set[int]] = {}
            if self.journal.exists():
                with open(self.journal, encoding="utf-8") as fh:
                    fh.seek(journal_at)
                    for line in fh:
                        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                            for t, ids in json.loads(line)["changed"].items():
                                replay.setdefault(t, set()).update(ids)
            if replay:
                self._apply(index, store, {t: sorted(ids) for t, ids in replay.items()})
            old = self._live_path()
            link = self.root / f".current-{folder.name}-{os.urandom(3).hex()}"
            os.symlink(folder.name, link)
            os.replace(link, self.current)
            self.journal.write_text("")
        if old is not None and old != folder.resolve():
            shutil.rmtree(old, ignore_errors=True)  # open readers keep their mapped files (POSIX)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        finished = time.time()
        result = {"state": "ready", "folder": folder.name, "done": done, "total": total, "started": started,
                  "finished": finished, "seconds": round(finished - started, 2), "bytes": size,
                  "by_type": counts, "done_by_type": dict(done_by_type),
                  "replayed": sum(len(v) for v in replay.values()), "resumed": bool(cp)}
        with self._flock("rebuild.lock"):
            self._write_status(result)  # the claim and the checkpoint end with the build
        return result

    @staticmethod
    def _with_progress(data: dict[str, Any]) -> dict[str, Any]:
        """`data` plus percent and, while building, the time left at this run's rate."""
        out = dict(data)
        done, total = int(out.get("done") or 0), int(out.get("total") or 0)
        out["percent"] = 100.0 if out.get("state") == "ready" else (
            round(min(100.0, 100.0 * done / total), 1) if total else None)
        out["eta_seconds"] = None
        if out.get("state") == "building" and out.get("run_started"):
            ran, moved = time.time() - out["run_started"], done - int(out.get("run_done_start") or 0)
            if ran > 0 and moved > 0:
                out["eta_seconds"] = round(max(total - done, 0) * ran / moved)
        return out


_HERE: dict[str, int] = {}  # builds running in this process, by index folder


def _proc_start(pid: int) -> str | None:
    """When process `pid` started (Linux /proc, clock ticks since boot); None elsewhere."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def stale_seconds(store: Any) -> float:
    return max(STALE_SECONDS, float(getattr(store.settings, "heartbeat_stale_seconds", 0) or 0))


_THREADS: dict[str, threading.Thread] = {}


def start_background(store: Any, *, restart: bool = False, actor: str | None = None) -> dict[str, Any]:
    """Claim the rebuild now (RebuildRunning when a live process has it), then run it in a daemon
    thread of this process (the web's start and resume); returns the job's state."""
    backend = backend_for(store.settings)
    backend.claim(actor, stale_seconds(store))

    def target() -> None:
        try:
            backend.rebuild(store, restart=restart, actor=actor, _claimed=True)
        except RebuildInterrupted:
            log.info("search index rebuild stopped on request; it continues from its checkpoint")
        except Exception:  # noqa: BLE001 - recorded in the status file; a thread has nobody to raise to
            log.exception("search index rebuild failed")

    thread = threading.Thread(target=target, name="xjip-search-rebuild", daemon=True)
    _THREADS[str(backend.root)] = thread
    try:
        thread.start()
    except BaseException:
        _HERE[str(backend.root)] -= 1
        backend._update(state="failed", error="thread not started")
        raise
    return backend.status()


def wait(store: Any, timeout: float = 60.0) -> None:
    """Wait for this process's background rebuild (tests; a server never waits for it)."""
    thread = _THREADS.get(str(backend_for(store.settings).root))
    if thread is not None:
        thread.join(timeout)


def backend_for(settings: Any) -> TantivyBackend:
    return TantivyBackend(settings.data_dir)
