"""Vectors on disk, one folder per encoder under <data_dir>/semantic/: `vectors.f32` (rows of
`dim` float32) and `ids.i64` (the row's record id), both only ever appended; a record embedded
again gets a new row and the newest row of an id is the one searched.

Exact search with numpy (a matrix-vector product over a memory map): measured in bench/semantic.py
and in ../shared/stack.md at 9 ms per query over 200k x 384, which is below what an approximate
index (faiss HNSW) would save at this platform's scale and avoids a second copy to keep in step.
Above ~1M rows a deployment would put an HNSW index behind the same `search` call."""
from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

import numpy as np

ID_DTYPE = np.int64


class VectorIndex:
    def __init__(self, data_dir: str | os.PathLike[str], name: str):
        self.folder = Path(data_dir) / "semantic" / name
        self.name = name
        self._cache: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
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
        for name in ("ids.i64", "vectors.f32", "meta.json"):
            (self.folder / name).unlink(missing_ok=True)
        self._cache = None

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

    def search(self, query: np.ndarray, k: int, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        ids, matrix, live = self._load()
        if not len(ids) or k <= 0:
            return []
        scores = matrix @ query.astype(np.float32)
        scores[~live] = -np.inf
        if exclude:
            scores[np.isin(ids, np.fromiter(exclude, dtype=ID_DTYPE))] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(ids[r]), float(scores[r])) for r in top]


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
