"""`xjip semantic --distil`: a static embedding model distilled here from the shipped encoder,
model2vec-style (Tulkens & van Dongen 2024, "Model2Vec"): every vocabulary token is embedded by
the encoder on its own, the vectors are reduced by PCA and weighted by frequency; a text is then
the normalised sum of its tokens' vectors, at no transformer cost.

Settings (documented choices, no published recipe for Chinese patents): the vocabulary is the
`size` most frequent rjieba tokens (seen at least twice) of the IPC Chinese titles, the stored
patents' titles and abstracts and, when present, the labelled titles of shared/data, plus the
most frequent Chinese characters, up to a quarter of `size` (the fallback for unknown words); PCA to
256 dimensions as model2vec's
default; SIF weights a / (a + p(token)), a = 1e-3 (Arora, Liang & Ma 2017) in place of
model2vec's Zipf rank weight, since real token counts are at hand."""
from __future__ import annotations

import collections
import gzip
import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from sqlalchemy import select

from xjip.hub import models as m
from xjip.search.semantic.encoder import _HAN, e5, static_path, tokens

DEFAULT_SIZE = 15_000
PCA_DIM = 256
SIF_A = 1e-3
BATCH = 64


def corpus_texts(store: Any, limit: int = 200_000) -> Iterator[str]:
    from xjip.hub.reference import PACKAGE_DIR, ipc_rows

    for row in ipc_rows(PACKAGE_DIR):
        if row["title_zh"]:
            yield row["title_zh"]
    with store.reading() as s:
        for title, abstract in s.execute(select(m.Patent.title, m.Patent.abstract).order_by(m.Patent.id).limit(limit)):
            yield " ".join(filter(None, [title, abstract]))
    labelled = Path(store.settings.shared_data_dir) / "patents" / "cn_ipc_classification" / \
        "lxingy3_chinese-patent-ipc-classifier" / "title_ipc_subclasses.jsonl.gz"
    if labelled.is_file():
        with gzip.open(labelled, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)["title"]


def vocabulary(texts: Iterable[str], size: int = DEFAULT_SIZE, n_chars: int | None = None) -> tuple[list[str], np.ndarray]:
    counts: collections.Counter[str] = collections.Counter()
    chars: collections.Counter[str] = collections.Counter()
    for text in texts:
        for tok in tokens(text):
            counts[tok] += 1
            if _HAN.match(tok):
                chars.update(tok)
    words = [w for w, c in counts.most_common() if c >= 2 and (len(w) > 1 or not _HAN.match(w))][:size]
    chosen = set(words)
    words += [c for c, _ in chars.most_common() if c not in chosen][:max(size // 4, 100) if n_chars is None else n_chars]
    total = sum(counts.values()) + sum(chars.values())
    freq = np.array([(counts.get(w, 0) or chars.get(w, 0)) / max(total, 1) for w in words], dtype=np.float64)
    return words, freq


def distil(store: Any, size: int = DEFAULT_SIZE, progress: Callable[[int, int], None] | None = None,
           chars: int | None = None) -> dict[str, Any]:
    """Build <data_dir>/semantic/static.npz. Resumable: the encoder's vectors are kept in a
    partial file every batch, and a second run carries on where the first stopped."""
    from sklearn.decomposition import PCA

    started = time.perf_counter()
    encoder = e5(store.settings.semantic_model)
    words, freq = vocabulary(corpus_texts(store), size, chars)
    out = static_path(store.settings.data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.npz")
    known: dict[str, np.ndarray] = {}
    if partial.is_file():  # a run that stopped: every token it embedded is reused, whatever the new list
        with np.load(partial, allow_pickle=False) as data:
            known = dict(zip(data["tokens"].tolist(), data["vectors"]))
    todo = [w for w in words if w not in known]
    embed_started, embedded = time.perf_counter(), 0
    for start in range(0, len(todo), BATCH * 8):
        chunk = todo[start:start + BATCH * 8]
        vectors = np.vstack([encoder.passages(chunk[i:i + BATCH]) for i in range(0, len(chunk), BATCH)])
        known.update(zip(chunk, vectors))
        embedded += len(chunk)
        tmp = partial.with_suffix(".tmp.npz")
        np.savez(tmp, tokens=np.array(list(known)), vectors=np.vstack(list(known.values())))
        tmp.replace(partial)
        if progress:
            progress(len(words) - len(todo) + embedded, len(words))
    embed_seconds = time.perf_counter() - embed_started
    vectors = np.vstack([known[w] for w in words]).astype(np.float32)
    dim = min(PCA_DIM, vectors.shape[0], vectors.shape[1])
    reduced = PCA(n_components=dim, random_state=0).fit_transform(vectors).astype(np.float32)
    reduced *= (SIF_A / (SIF_A + freq))[:, None].astype(np.float32)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, tokens=np.array(words), vectors=reduced, source=np.array(f"{encoder.name}:{encoder.dim}"))
    tmp.replace(out)
    partial.unlink(missing_ok=True)
    return {"path": str(out), "tokens": len(words), "dim": dim, "seconds": round(time.perf_counter() - started, 1),
            "encoder_texts_per_second": round(embedded / embed_seconds, 1) if embedded and embed_seconds else None}
