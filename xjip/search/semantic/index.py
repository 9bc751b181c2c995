"""Vectors on disk, one folder per encoder under <data_dir>/semantic/: `vectors.f32` (rows of
`dim` float32) and `ids.i64` (the row's record id), both only ever appended; a record embedded
again gets a new row and the newest row of an id is the one searched.

Search is exact (a matrix-vector product over a memory map) up to `ANN_MIN_ROWS` rows: 9 ms per
query at 200k x 384 (../shared/stack.md), 39/48 ms p50/p95 at 1M x 256 (bench/RESULTS.md). Above
it, `refresh_ann` (run by `xjip embed` when a run ends) builds a faiss IVF index with 8-bit
codes over the rows so far (`ann.faiss`); a query probes it for candidates, adds the rows
appended since (the tail, searched exactly), and scores every candidate exactly from the
vectors, so the scores are the exact ones and only recall is approximate (measured in
bench/semantic.py --ann)."""
from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

ID_DTYPE = np.int64
# Documented settings (no published recipe; chosen on bench/semantic.py --ann at 1M static vectors):
ANN_MIN_ROWS = 200_000  # below this an exact search is fast enough and needs no second structure
ANN_STALE_SHARE = 0.1  # rebuild when the exactly-searched tail exceeds this share of the rows
ANN_NPROBE = 64  # lists probed per query (of about 4·sqrt(rows))
ANN_TRAIN_ROWS = 150_000  # k-means sample
ANN_OVERFETCH = 1.5  # candidates asked of the index per result wanted, all then scored exactly


class VectorIndex:
    def __init__(self, data_dir: str | os.PathLike[str], name: str):
        self.folder = Path(data_dir) / "semantic" / name
        self.name = name
        self._cache: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._ann: tuple[float, Any] | None = None  # (file mtime, faiss index)
        self._lock = threading.Lock()

    # files
    @property
    def meta_path(self) -> Path:
        return self.folder / "meta.json"

    def dim(self) -> int | None:
        try:
            return int(json.loads(self.meta_path.read_text())["dim"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def rows(self) -> int:
        try:
            return (self.folder / "ids.i64").stat().st_size // 8
        except FileNotFoundError:
            return 0

    def append(self, ids: list[int], vectors: np.ndarray) -> None:
        """Vectors first, then ids, each flushed to disk: a reader that sees n ids finds n vectors,
        and a crash between the two leaves extra vectors that the next append overwrites."""
        if not ids:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one writer at a time (two workers, one folder)
            dim = self.dim()
            if dim is None:
                self.meta_path.write_text(json.dumps({"dim": int(vectors.shape[1])}))
                dim = int(vectors.shape[1])
            if vectors.shape[1] != dim:
                raise ValueError(f"{self.name}: vectors of {vectors.shape[1]} dimensions, index has {dim}")
            n = self.rows()
            with open(self.folder / "vectors.f32", "r+b" if (self.folder / "vectors.f32").exists() else "wb") as fh:
                fh.seek(n * dim * 4)
                fh.write(vectors.tobytes())
                fh.truncate()
                fh.flush()
                os.fsync(fh.fileno())
            with open(self.folder / "ids.i64", "ab") as fh:
                fh.write(np.asarray(ids, dtype=ID_DTYPE).tobytes())
                fh.flush()
                os.fsync(fh.fileno())

    def clear(self) -> None:
        for name in ("ann.faiss", "ids.i64", "vectors.f32", "meta.json"):
            (self.folder / name).unlink(missing_ok=True)
        self._cache = None
        self._ann = None

    # the approximate index over the first rows
    @property
    def ann_path(self) -> Path:
        return self.folder / "ann.faiss"

    def _ann_index(self) -> Any | None:
        try:
            mtime = self.ann_path.stat().st_mtime
        except FileNotFoundError:
            self._ann = None
            return None
        with self._lock:
            if self._ann is None or self._ann[0] != mtime:
                import faiss

                self._ann = (mtime, faiss.read_index(str(self.ann_path)))
            return self._ann[1]

    def ann_rows(self) -> int:
        index = self._ann_index()
        return int(index.ntotal) if index is not None else 0

    def ann_needed(self) -> bool:
        n = self.rows()
        return n >= ANN_MIN_ROWS and n - self.ann_rows() > ANN_STALE_SHARE * n

    def refresh_ann(self, progress: Callable[[int, int], None] | None = None, force: bool = False) -> dict[str, Any] | None:
        """Build the IVF index over every row so far when the exactly-searched tail has grown
        past its share (or `force`); written beside the vectors and swapped in by rename."""
        if not force and not self.ann_needed():
            return None
        import time

        import faiss

        started = time.perf_counter()
        n, dim = self.rows(), self.dim()
        if not n or not dim:
            return None
        matrix = np.memmap(self.folder / "vectors.f32", dtype=np.float32, mode="r", shape=(n, dim))
        nlist = max(16, int(4 * math.sqrt(n)))
        rng = np.random.default_rng(20261206)
        sample = np.sort(rng.choice(n, size=min(n, max(ANN_TRAIN_ROWS, 40 * nlist)), replace=False))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(matrix[sample]))
        step = 100_000
        for start in range(0, n, step):
            index.add(np.ascontiguousarray(matrix[start:start + step]))  # row numbers are the ids
            if progress:
                progress(min(n, start + step), n)
        tmp = self.folder / f"ann.faiss.{os.getpid()}.tmp"
        faiss.write_index(index, str(tmp))
        os.replace(tmp, self.ann_path)
        return {"rows": n, "lists": nlist, "seconds": round(time.perf_counter() - started, 1),
                "bytes": self.ann_path.stat().st_size}

    # reading
    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, matrix, live): `live` marks each id's newest row. Re-read when the files grew."""
        n = self.rows()
        with self._lock:
            if self._cache is not None and self._cache[0] == n:
                return self._cache[1], self._cache[2], self._cache[3]
            dim = self.dim()
            if not n or not dim:
                empty = (np.zeros(0, ID_DTYPE), np.zeros((0, dim or 1), np.float32), np.zeros(0, bool))
                self._cache = (n, *empty)
                return empty
            ids = np.fromfile(self.folder / "ids.i64", dtype=ID_DTYPE, count=n)
            matrix = np.memmap(self.folder / "vectors.f32", dtype=np.float32, mode="r", shape=(n, dim))
            # newest row per id: the last occurrence
            _, last_from_end = np.unique(ids[::-1], return_index=True)
            live = np.zeros(n, bool)
            live[n - 1 - last_from_end] = True
            self._cache = (n, ids, matrix, live)
            return ids, matrix, live

    def count(self) -> int:
        return int(self._load()[2].sum())

    def ids(self) -> np.ndarray:
        ids, _, live = self._load()
        return ids[live]

    def vectors_of(self, record_ids: list[int]) -> dict[int, np.ndarray]:
        ids, matrix, live = self._load()
        if not len(ids):
            return {}
        wanted = np.isin(ids, np.asarray(record_ids, dtype=ID_DTYPE)) & live
        return {int(i): np.asarray(matrix[row]) for row, i in zip(np.flatnonzero(wanted), ids[wanted])}

    def search(self, query: np.ndarray, k: int, exclude: set[int] | None = None,
               exact: bool = False) -> list[tuple[int, float]]:
        ids, matrix, live = self._load()
        if not len(ids) or k <= 0:
            return []
        query = np.ascontiguousarray(query, dtype=np.float32)
        ann = None if exact else self._ann_index()
        if ann is not None and 0 < ann.ntotal <= len(ids):
            hits = self._ann_search(ann, ids, matrix, live, query, k, exclude)
            if hits is not None:
                return hits
        scores = matrix @ query
        scores[~live] = -np.inf
        if exclude:
            scores[np.isin(ids, np.fromiter(exclude, dtype=ID_DTYPE))] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(ids[r]), float(scores[r])) for r in top]

    @staticmethod
    def _ann_search(ann: Any, ids: np.ndarray, matrix: np.ndarray, live: np.ndarray, query: np.ndarray, k: int,
                    exclude: set[int] | None) -> list[tuple[int, float]] | None:
        """Candidates from the IVF index plus the tail, every one scored exactly; None when too
        few are left after dropping superseded and excluded rows (the caller then searches exactly)."""
        covered = int(ann.ntotal)
        ann.nprobe = ANN_NPROBE
        want = int(k * ANN_OVERFETCH) + len(exclude or ()) + 16  # 8-bit codes blur the order near the cut
        _, found = ann.search(query[None, :], min(covered, want))
        rows = np.unique(found[0][found[0] >= 0])  # sorted: the memory map is read in order
        scores = np.asarray(matrix[rows] @ query)
        if covered < len(ids):  # appended since the build: one contiguous product
            rows = np.concatenate([rows, np.arange(covered, len(ids))])
            scores = np.concatenate([scores, np.asarray(matrix[covered:] @ query)])
        keep = live[rows]
        if exclude:
            keep &= ~np.isin(ids[rows], np.fromiter(exclude, dtype=ID_DTYPE))
        rows, scores = rows[keep], scores[keep]
        if len(rows) < k and len(rows) < int(live.sum()) - len(exclude or ()):
            return None
        order = np.argsort(-scores)[:k]
        return [(int(ids[rows[i]]), float(scores[i])) for i in order]


_INDEXES: dict[tuple[str, str], VectorIndex] = {}


def index_for(data_dir: str | os.PathLike[str], name: str) -> VectorIndex:
    key = (str(Path(data_dir).resolve()), name)
    if key not in _INDEXES:
        _INDEXES[key] = VectorIndex(data_dir, name)
    return _INDEXES[key]


def type_index(data_dir: str | os.PathLike[str], model: str, record_type: str) -> VectorIndex:
    """One folder per (encoder, record type). Patents keep the folder they had before other types
    were embedded (`semantic/<model>/`), so an existing data dir is searched as it is; every other
    type sits beside it in `semantic/<model>.<type>/` (e.g. `semantic/e5.trademark/`)."""
    return index_for(data_dir, model if record_type == "patent" else f"{model}.{record_type}")
