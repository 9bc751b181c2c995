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
    def rebuild(self, store: Any, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]: ...
    def searcher(self) -> tuple[tantivy.Index, tantivy.Searcher] | None: ...
    def status(self) -> dict[str, Any]: ...


class IndexMissing(RuntimeError):
    pass


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
    def _writer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "writer.lock", "a+") as fh:
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

    def status(self) -> dict[str, Any]:
        try:
            data = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            data = {}
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
        with self._writer_lock():
            with open(self.journal, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"at": time.time(), "changed": changed}) + "\n")
            path = self._live_path()
            if path is None:
                return 0  # no index yet: `xjip search --rebuild` (or the first build) reads everything
            index = tantivy.Index(SCHEMA, str(path), reuse=True)
            return self._apply(index, store, changed)

    def rebuild(self, store: Any, progress: Callable[[dict[str, Any]], None] | None = None,
                threads: int = 1) -> dict[str, Any]:
        """Build a whole new index from the database, then swap it in atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d%H%M%S") + f"-{os.getpid()}-{os.urandom(3).hex()}"
        folder = self.root / f"idx-{stamp}"
        folder.mkdir()
        started = time.time()
        journal_at = self.journal.stat().st_size if self.journal.exists() else 0
        with store.reading() as s:
            counts = documents.count_rows(s)
            gi_names = [n for (n,) in s.execute(documents.select(documents.m.GeographicalIndication.name))]
        self.root.mkdir(parents=True, exist_ok=True)
        self.words_file.write_text("".join(n.strip() + "\n" for n in gi_names if n and n.strip()), encoding="utf-8")
        text.prepare(gi_names)
        total = sum(counts.values())
        state = {"state": "building", "folder": folder.name, "done": 0, "total": total, "started": started,
                 "by_type": counts}
        self._write_status(state)
        index = tantivy.Index(SCHEMA, str(folder), reuse=False)
        writer = index.writer(WRITER_HEAP * max(1, threads), threads)
        done = 0
        try:
            for record_type in documents.INDEXED_TYPES:
                with store.reading() as s:
                    for part, docs in documents.iter_docs(s, record_type):
                        for doc in docs:
                            writer.add_document(to_tantivy(doc))
                        done += len(part)
                        if progress or done % 20_000 < len(part):
                            state.update(done=done, type=record_type)
                            self._write_status(state)
                            if progress:
                                progress(dict(state))
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            self._write_status({**state, "state": "failed", "finished": time.time()})
            raise
        with self._writer_lock():
            replay: dict[str, set[int]] = {}
            if self.journal.exists():
                with open(self.journal, encoding="utf-8") as fh:
                    fh.seek(journal_at)
                    for line in fh:
                        with contextlib.suppress(ValueError):
                            for t, ids in json.loads(line)["changed"].items():
                                replay.setdefault(t, set()).update(ids)
            if replay:
                self._apply(index, store, {t: sorted(ids) for t, ids in replay.items()})
            old = self._live_path()
            link = self.root / f".current-{stamp}"
            os.symlink(folder.name, link)
            os.replace(link, self.current)
            self.journal.write_text("")
        if old is not None and old != folder:
            shutil.rmtree(old, ignore_errors=True)  # open readers keep their mapped files (POSIX)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        result = {"state": "ready", "folder": folder.name, "done": done, "total": total, "started": started,
                  "finished": time.time(), "seconds": round(time.time() - started, 2), "bytes": size,
                  "by_type": counts, "replayed": sum(len(v) for v in replay.values())}
        self._write_status(result)
        return result


def backend_for(settings: Any) -> TantivyBackend:
    return TantivyBackend(settings.data_dir)
