"""Semantic search on real records, on SQLite and PostgreSQL: the after-commit hook queues what an
import wrote, `embed.run` empties the queue and resumes after an interruption, the ranker finds
patents by meaning, hybrid fuses whatever rankers are registered."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

import xjip.search.semantic  # noqa: F401 - subscribes the hook, registers the ranker
from xjip.hub import models as m
from xjip.hub.pipeline import AFTER_COMMIT_HOOKS, run_import
from xjip.search import rankers
from xjip.search.semantic import embed, search
from xjip.search.semantic.index import VectorIndex, index_for
from xjip.search.semantic.texts import EMBEDDED_TYPES

OPENAI_EXPORT = Path("patents/real_exports/cn_export/incopat_OpenAI_72.xlsx")


def _queued(store, model="e5") -> int:  # noqa: ANN001
    with store.reading() as s:
        return s.scalar(select(func.count()).select_from(m.EmbedQueue).where(m.EmbedQueue.model == model))


@pytest.fixture
def imported(store, shared_data):  # noqa: ANN001, ANN201
    path = shared_data / OPENAI_EXPORT
    if not path.is_file():
        pytest.skip(f"{path} not present")
    store.upgrade()
    job = run_import(store, path)
    assert job.status == "done", job.error
    with store.reading() as s:
        return {p.id: p.title for p in s.scalars(select(m.Patent))}


def test_hook_is_subscribed_once() -> None:
    import importlib

    importlib.reload(xjip.search.semantic)
    assert AFTER_COMMIT_HOOKS.count(embed.after_commit) == 1
    assert "semantic" in rankers.RANKERS


def test_import_queues_and_embed_resumes(store, imported) -> None:  # noqa: ANN001
    # the hook queued every patent the import wrote (two batches of 50)
    assert _queued(store) == len(imported) > 50
    # a run stopped after its first batch keeps that batch and the rest stays queued
    calls = []
    result = embed.run(store, "e5", batch=16, should_stop=lambda: len(calls) > 0,
                       progress=lambda done, total, rate: calls.append(done))
    assert result["status"] == "interrupted" and result["embedded"] == 16
    assert _queued(store) == len(imported) - 16
    assert index_for(store.settings.data_dir, "e5").count() == 16
    assert embed.status(store)[0]["status"] == "interrupted"

    # Ctrl-C in the middle of a batch: that batch is not lost from the queue
    def interrupt(done, total, rate):  # noqa: ANN001
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed.run(store, "e5", batch=16, progress=interrupt)
    assert index_for(store.settings.data_dir, "e5").count() == 32
    assert _queued(store) == len(imported) - 32

    # the next run finishes; every patent has exactly one live vector
    result = embed.run(store, "e5", batch=32)
    assert result["status"] == "idle" and _queued(store) == 0
    index = index_for(store.settings.data_dir, "e5")
    assert sorted(index.ids().tolist()) == sorted(imported)
    # nothing left: a further run does nothing
    assert embed.run(store, "e5")["embedded"] == 0


def test_semantic_finds_by_meaning_and_similar(store, imported) -> None:  # noqa: ANN001
    embed.run(store, "e5", batch=64)
    # a description sharing no word with the title it should find
    speech = [i for i, t in imported.items() if t and "语音" in t]
    assert speech, "the export has speech-recognition patents"
    hits = search.semantic_ranker(store, "让机器听懂人说话的技术", 10)
    assert hits and all(t == "patent" for t, _, _ in hits)
    scores = [s for _, _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert any(i in speech for _, i, _ in hits[:5])
    # similar patents: never itself, nearest first
    first = speech[0]
    near = search.similar(store, first, 5)
    assert near and first not in [i for i, _ in near]
    assert [s for _, s in near] == sorted((s for _, s in near), reverse=True)
    # a filter to another right excludes the semantic ranker
    assert search.semantic_ranker(store, "语音识别", 10, {"type": "trademark"}) == []


@pytest.mark.parametrize("query", ["", "   ", "😀🚀", "ئۇيغۇرچە تېكىست Қазақша мәтін", "\"NEAR\" * column: ' OR 1=1 --",
                                   "专利" * 5000])
def test_bad_queries_do_not_fail(store, imported, query) -> None:  # noqa: ANN001
    embed.run(store, "e5", batch=64, limit=20)
    hits = search.semantic_ranker(store, query, 10)
    assert isinstance(hits, list)
    if not query.strip():
        assert hits == []


def test_hybrid_fuses_registered_rankers(store, imported, monkeypatch) -> None:  # noqa: ANN001
    embed.run(store, "e5", batch=64)
    some = sorted(imported)[:3]

    def fake_lexical(store, query, limit, filters=None):  # noqa: ANN001, ANN202
        return [("patent", i, 1.0) for i in some][:limit]

    monkeypatch.setitem(rankers.RANKERS, "lexical", fake_lexical)
    fused, used = search.hybrid(store, "语音唤醒", 10)
    assert used == ["lexical", "semantic"]
    semantic_only = [i for _, i, _ in search.semantic_ranker(store, "语音唤醒", 100)]
    # RRF: a patent ranked by both beats one ranked by one alone at the same rank
    both_ranked = [i for i in some if i in semantic_only]
    assert {i for _, i, _ in fused} >= set(some)
    if both_ranked:
        assert fused[0][1] in both_ranked


def test_hybrid_lists_only_what_it_can_show(store, imported) -> None:  # noqa: ANN001
    """The lexical ranker also finds the applicant (an entity); hybrid lists the embedded kinds of
    record, so an entity must not take a place (a page of 10 showed 6 on the real exports,
    bench/retrieval.py)."""
    from xjip.search import live
    from xjip.search.index import backend_for

    live.install()
    backend_for(store.settings).rebuild(store)
    query = "开放智能机器"
    assert any(t != "patent" for t, _i, _s in rankers.RANKERS["lexical"](store, query, 100))
    fused, used = search.hybrid(store, query, 10)
    assert "lexical" in used and len(fused) == 10
    assert all(t in EMBEDDED_TYPES for t, _i, _s in fused)
    assert len(search.hydrate(store, fused)) == 10


def test_static_model_two_stage(store, imported, tmp_path) -> None:  # noqa: ANN001
    """A tiny distilled model (built by the real code from the store's texts) recalls, the encoder reranks."""
    from xjip.search.semantic import distil

    report = distil.distil(store, size=300)
    assert report["tokens"] >= 300 and report["dim"] <= 256
    assert "static" in embed.models_enabled(store)
    embed.enqueue_missing(store, "static")
    embed.run(store, "static", batch=500)
    embed.run(store, "e5", batch=64, limit=30)  # the encoder has embedded only some
    static_index = index_for(store.settings.data_dir, "static")
    assert static_index.count() == len(imported)
    hits = search.semantic_ranker(store, "语音唤醒测试", 10)
    assert len(hits) == 10
    e5_ids = set(index_for(store.settings.data_dir, "e5").ids().tolist())
    # reranked candidates (those with encoder vectors) come first
    flags = [i in e5_ids for _, i, _ in hits]
    assert flags == sorted(flags, reverse=True)


def test_index_newest_row_wins(tmp_path) -> None:  # noqa: ANN001
    index = VectorIndex(tmp_path, "t")
    a = np.eye(4, dtype=np.float32)
    index.append([1, 2], a[:2])
    index.append([1], a[2:3])  # record 1 embedded again (its text changed)
    assert index.count() == 2
    assert index.search(a[2], 5) [0] == (1, pytest.approx(1.0))
    assert [i for i, _ in index.search(a[0], 5)] != [1] or index.search(a[0], 1)[0][1] < 0.5
    with pytest.raises(ValueError):
        index.append([3], np.zeros((1, 5), np.float32))


def test_cli_import_queues_for_embedding(tmp_path, shared_data) -> None:  # noqa: ANN001
    """`xjip import` in a fresh process subscribes the hook (the part's CLI module loads with the CLI)."""
    import subprocess
    import sys

    path = shared_data / OPENAI_EXPORT
    if not path.is_file():
        pytest.skip(f"{path} not present")
    env = {"XJIP_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "xjip.cli", "import", str(path), "--quiet"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    status = subprocess.run([sys.executable, "-m", "xjip.cli", "embed", "--status", "--format", "json"], env=env,
                            capture_output=True, text=True, timeout=600)
    rows = {r["model"]: r for r in __import__("json").loads(status.stdout)}
    assert rows["e5"]["queued"] == rows["e5"]["patents"] > 50


def _clustered(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    """Unit vectors around 50 centres, like embeddings of texts on a few topics."""
    centres = rng.normal(size=(50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_approximate_index_agrees_with_exact_search(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Above ANN_MIN_ROWS the search probes the IVF index: its hits carry exact scores, it finds
    (nearly) the exact top k, drops superseded and excluded records, and sees rows appended since."""
    from xjip.search.semantic import index as vindex

    monkeypatch.setattr(vindex, "ANN_MIN_ROWS", 1000)
    monkeypatch.setattr(vindex, "ANN_TRAIN_ROWS", 2000)
    rng = np.random.default_rng(7)
    vectors = _clustered(rng, 4000)
    index = VectorIndex(tmp_path, "t")
    index.append(list(range(1, 4001)), vectors)
    queries = _clustered(np.random.default_rng(8), 20)
    exact = [index.search(q, 10) for q in queries]  # no approximate index yet: exact
    assert index.ann_needed()
    built = index.refresh_ann()
    assert built is not None and built["rows"] == 4000 and index.ann_path.is_file()
    assert not index.ann_needed() and index.refresh_ann() is None
    found = [index.search(q, 10) for q in queries]
    recall = np.mean([len({i for i, _ in a} & {i for i, _ in e}) / 10 for a, e in zip(found, exact)])
    assert recall >= 0.9
    for hits in found:
        for record, score in hits:
            assert score == pytest.approx(float(vectors[record - 1] @ queries[found.index(hits)]), abs=1e-5)
    best = exact[0][0][0]
    assert best not in {i for i, _ in index.search(queries[0], 10, exclude={best})}
    index.append([best], -queries[0][None, :])  # embedded again: its old row is superseded
    assert best not in {i for i, _ in index.search(queries[0], 10)}
    index.append([9999], queries[0][None, :])  # the tail: appended after the build
    assert index.search(queries[0], 1)[0] == (9999, pytest.approx(1.0))
    index.clear()
    assert not index.ann_path.exists() and index.search(queries[0], 5) == []
