#!/usr/bin/env python
"""Retrieval quality of the rankers the platform serves (issue 11 "Measured — Quality"), on the
real exports (../shared/data/patents/real_exports/, every patent file imported with a plain
`xjip import FILE` into one throwaway store; the trademark files are left out).

Index and vectors as a deployment builds them: `xjip search --rebuild` (tantivy) and
`xjip embed --model e5 --missing` (the shipped encoder); with --static also the distilled model
(`xjip semantic --distil`, `xjip embed --model static`), which makes the semantic ranker two-stage.

Queries: a fixed-seed sample of patents whose IPC main group (of the main IPC) is shared by at
least one other patent; the query text is the record's title (the Chinese one where it has one,
else the English); the record itself is dropped from its results.

Relevance, judged independently of every ranker (binary gain):
- group: the other patent's main IPC is in the same main group (G06F16/35 → G06F16/00);
- subclass: same main-IPC subclass (G06F);
- link: a family or citation link in the records (same family id, a family member's number, a
  cited number — either direction), evaluated on its own query set: the patents with any link.

Rankers, through the platform's own functions:
- lexical: `xjip.search.service.lexical_ranker`, the ranker registered for hybrid, given the title
  as the search box gets it (the query language: words are ANDed);
- lexical OR: the same ranker given the title's tokens joined by OR (quoted, ≤ 40): the "any word"
  form a searcher could type; the shipped ranker has no such fallback;
- semantic: `xjip.search.semantic.search.semantic_ranker`;
- hybrid: `xjip.search.semantic.search.hybrid` (RRF over the registered rankers, depth 100);
- weighted RRF of the lexical (AND or OR) and semantic rankings, to measure what a weighting would do;
- with --static, the semantic ranker's pieces: the encoder's exact search, the distilled model's,
  and its two stages (static top 200 reranked by the encoder), and hybrid over the two stages.

The encoder embeds about 2 texts/s on the 2 shared cores of the benchmark machine, so by default
the corpus is a fixed-seed sample of 2,000 patents (--corpus; 0 = all): every ranker's list is
restricted to it, and the lexical rankers are measured again over every patent.

    nice -n 15 .venv/bin/python bench/retrieval.py                     # SQLite, appends to RESULTS.md
    nice -n 15 .venv/bin/python bench/retrieval.py --db both
    nice -n 15 .venv/bin/python bench/retrieval.py --store DIR --static \
        --rankers 'lexical,semantic (encoder exact),static,two-stage,hybrid two-stage' --weights ''
    nice -n 15 .venv/bin/python bench/retrieval.py --store /tmp/xjip_bench/retrieval_sqlite --no-append
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_NUM_THREADS", "2")

from bench._common import (  # noqa: E402
    PYTHON, REPO, Database, append_results, machine, measured_backends, prepare, shell_command, throwaway_database,
)

SEED = 20261206
DEPTH = 100  # Recall@100; hybrid asks each ranker for this many
OR_TOKENS = 40  # the query language allows 64 clauses
CJK = re.compile(r"[\u4e00-\u9fff]")

Hit = tuple[str, int, float]


# --- the store -----------------------------------------------------------------------------

def cli(db: Database, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    cmd = [PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir), *args]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: an import that finished with rejections
        raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0, done


def patent_count(url: str) -> int:
    from sqlalchemy import create_engine, func, select

    from xjip.hub import models as m
    from xjip.hub.store import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(m.Patent)) or 0
    finally:
        engine.dispose()


def corpus_ids(url: str, size: int) -> list[int] | None:
    """A fixed-seed sample of `size` patents with a title: the corpus when the encoder cannot embed
    every patent in the time there is (2 shared cores: about 2 texts/s)."""
    if not size:
        return None
    from sqlalchemy import create_engine, select

    from xjip.hub import models as m
    from xjip.hub.store import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            ids = sorted(conn.scalars(select(m.Patent.id).where(m.Patent.title.is_not(None)
                                                                | m.Patent.title_en.is_not(None))))
    finally:
        engine.dispose()
    return sorted(random.Random(SEED).sample(ids, min(size, len(ids))))


def fill(db: Database, root: Path, static: bool, corpus: int) -> tuple[dict[str, Any], list[int] | None]:
    """Import every patent file, build the index and the vectors; steps already done are skipped
    (a --store given again). With a corpus, only its patents are embedded."""
    info: dict[str, Any] = {}
    if not patent_count(db.url):
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".md"
                       and not p.name.startswith(".") and "trademark" not in p.parts)
        info["import_s"] = round(sum(cli(db, "import", str(p), "--quiet", "--format", "json")[0] for p in files), 1)
        info["files"] = len(files)
    info["index_s"] = round(cli(db, "search", "--rebuild")[0], 1)
    chosen = corpus_ids(db.url, corpus)
    if chosen is None:
        info["e5_embed_s"] = round(cli(db, "embed", "--model", "e5", "--missing", "--format", "json")[0], 1)
    else:  # the import queued every patent: the queue is trimmed to the corpus, which is queued whole
        from sqlalchemy import create_engine, delete

        from xjip.hub import models as m
        from xjip.hub.store import normalise_url
        from xjip.search.semantic.index import index_for

        have = set(index_for(db.data_dir, "e5").ids().tolist())
        engine = create_engine(normalise_url(db.url))
        with engine.begin() as conn:
            conn.execute(delete(m.EmbedQueue).where(m.EmbedQueue.model == "e5"))
            rows = [{"model": "e5", "record_type": "patent", "record_id": i, "queued_at": m.utcnow()}
                    for i in chosen if i not in have]
            if rows:
                conn.execute(m.EmbedQueue.__table__.insert(), rows)
        engine.dispose()
        info["e5_embed_s"] = round(cli(db, "embed", "--model", "e5", "--format", "json")[0], 1)
    if static:
        if not (db.data_dir / "semantic" / "static.npz").exists():
            info["distil_s"] = round(cli(db, "semantic", "--distil")[0], 1)
        info["static_embed_s"] = round(cli(db, "embed", "--model", "static", "--missing", "--format", "json")[0], 1)
    return info, chosen


def open_store(db: Database) -> Any:
    import xjip.search.semantic  # noqa: F401 - registers the semantic ranker
    from xjip.hub.store import open_store as open_
    from xjip.search import live
    from xjip.settings import Settings

    live.install()  # registers the lexical ranker, as the web app and the CLI do
    return open_(Settings.from_env(data_dir=str(db.data_dir), database_url=db.url))


# --- relevance -----------------------------------------------------------------------------

def _num(value: Any) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(value or "").upper())


def _stem(number: str) -> str:
    """The document without its kind code: US6315062B1 → US6315062 (A and B of one application)."""
    m = re.fullmatch(r"([A-Z]{2}\d+)[A-Z]\d?", number)
    return m.group(1) if m else number


def records(store: Any) -> tuple[dict[int, dict[str, Any]], dict[int, set[int]]]:
    """Every patent's title, IPC and the link graph (family and citations, both directions)."""
    from sqlalchemy import select

    from xjip.hub import models as m

    rows: dict[int, dict[str, Any]] = {}
    by_number: dict[str, set[int]] = {}
    cites: dict[int, list[str]] = {}
    members: dict[int, list[str]] = {}
    family: dict[str, set[int]] = {}
    with store.reading() as s:
        for r in s.execute(select(m.Patent.id, m.Patent.title, m.Patent.title_en, m.Patent.ipc_main,
                                  m.Patent.family_id, m.Patent.citations, m.Patent.pub_number, m.Patent.app_number,
                                  m.Patent.grant_number)):
            main = (r.ipc_main or "").replace(" ", "").upper()
            rows[r.id] = {"title": r.title or r.title_en, "zh": bool(r.title and CJK.search(r.title)),
                          "sub": main[:4] or None, "group": main.split("/")[0] + "/00" if "/" in main else None}
            for n in (r.pub_number, r.app_number, r.grant_number):
                if n:
                    by_number.setdefault(_stem(_num(n)), set()).add(r.id)
            cites[r.id] = [c if isinstance(c, str) else (c or {}).get("number", "") for c in (r.citations or [])]
            if r.family_id:
                family.setdefault(r.family_id, set()).add(r.id)
        for pid, n in s.execute(select(m.PatentPublication.patent_id, m.PatentPublication.number)):
            by_number.setdefault(_stem(_num(n)), set()).add(pid)
        for pid, n in s.execute(select(m.PatentFamilyMember.patent_id, m.PatentFamilyMember.number)):
            members.setdefault(pid, []).append(n)
    links: dict[int, set[int]] = {}

    def link(a: int, b: int) -> None:
        if a != b:
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)

    for ids in family.values():
        for a in ids:
            for b in ids:
                link(a, b)
    for source in (cites, members):
        for a, numbers in source.items():
            for n in numbers:
                for b in by_number.get(_stem(_num(n)), ()):
                    link(a, b)
    return rows, links


# --- metrics -------------------------------------------------------------------------------

def scores(ranked: list[int], relevant: set[int]) -> tuple[float, float, float]:
    """(nDCG@10, Recall@100, reciprocal rank of the first relevant in the top 100), binary gain."""
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    recall = len(relevant.intersection(ranked[:DEPTH])) / len(relevant)
    rr = next((1 / (i + 1) for i, d in enumerate(ranked[:DEPTH]) if d in relevant), 0.0)
    return dcg / ideal, recall, rr


def paired_ci(a: list[float], b: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """Mean of a - b over the same queries and its 95% percentile-bootstrap interval (fixed seed)."""
    import numpy as np

    d = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(SEED)
    means = d[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def or_query(title: str) -> str:
    from xjip.search import text

    toks = list(dict.fromkeys(t for t in text.tokens(title) if t.strip() and '"' not in t))[:OR_TOKENS]
    return " OR ".join(f'"{t}"' for t in toks)


def run_rankers(store: Any, titles: dict[int, str], weights: list[float], corpus: set[int] | None,
                names: tuple[str, ...]) -> tuple[dict[str, dict[int, list[int]]], dict[str, dict[str, int]]]:
    """Each ranker's patent ids per query (the query's own record dropped), and per ranker how
    many queries it refused (a title that is no valid query). With a corpus, every ranker's list
    is restricted to it (order kept; asked deep enough to still hold DEPTH) and hybrid is
    `search.hybrid`'s fusion (unweighted RRF, k = 60) of the restricted lexical and semantic lists."""
    from xjip.search import service
    from xjip.search.query import QueryError
    from xjip.search.rankers import reciprocal_rank_fusion
    from xjip.search.semantic import search

    deep = corpus is not None

    def restrict(hits: list[Hit], pid: int) -> list[Hit]:
        if not deep:  # other record types keep their places, as the hybrid ranks them
            return [h for h in hits if not (h[0] == "patent" and h[1] == pid)]
        return [h for h in hits if h[0] == "patent" and h[1] != pid and h[1] in corpus]

    def keep(hits: list[Hit], pid: int) -> list[Hit]:
        return restrict(hits, pid)[:DEPTH]

    # the semantic ranker's own pieces, each over the corpus: the encoder's exact search, the
    # distilled model's, and its two stages (static top RECALL, reranked by the encoder's vectors)
    data_dir = store.settings.data_dir
    e5_queries: dict[str, Any] = {}

    def e5_query(q: str) -> Any:
        if q not in e5_queries:
            e5_queries[q] = search.encoder_for(store, search.E5_NAME).queries([q])[0]
        return e5_queries[q]

    def everything(name: str, vector: Any) -> list[Hit]:
        index = search.index_for(data_dir, name)
        return [("patent", i, sc) for i, sc in index.search(vector, index.count())]

    def static_only(pid: int, q: str) -> list[Hit]:
        return everything(search.STATIC_NAME, search.static(data_dir).queries([q])[0])

    def two_stage(pid: int, q: str) -> list[Hit]:
        candidates = restrict(static_only(pid, q), pid)[:max(search.RECALL, DEPTH)]
        vectors = search.index_for(data_dir, search.E5_NAME).vectors_of([i for _t, i, _s in candidates])
        qv = e5_query(q)
        return sorted((("patent", i, float(vectors[i] @ qv)) for _t, i, _s in candidates if i in vectors),
                      key=lambda h: -h[2])

    def lexical(q: str) -> list[Hit]:
        return service.lexical_ranker(store, q, 50_000 if deep else DEPTH + 1)

    def hybrid(pid: int, q: str) -> list[Hit]:
        if not deep:
            return search.hybrid(store, q, DEPTH + 1, depth=DEPTH + 1)[0]
        return reciprocal_rank_fusion([raw["lexical"][pid], raw["semantic"][pid]])

    rankers: dict[str, Callable[[int, str], list[Hit]]] = {
        "lexical": lambda pid, q: lexical(q),
        "lexical OR": lambda pid, q: lexical(or_query(q)),
        "semantic": lambda pid, q: search.semantic_ranker(store, q, search.MAX_LIMIT if deep else DEPTH + 1),
        "hybrid": hybrid,
        "semantic (encoder exact)": lambda pid, q: everything(search.E5_NAME, e5_query(q)),
        "static": static_only,
        "two-stage": two_stage,
        "hybrid two-stage": lambda pid, q: reciprocal_rank_fusion([raw["lexical"][pid], raw["two-stage"][pid]]),
    }
    raw: dict[str, dict[int, list[Hit]]] = {}
    stats: dict[str, dict[str, int]] = {}
    for name in names:
        fn = rankers[name]
        raw[name], stats[name] = {}, {"refused": 0}
        for pid, title in titles.items():
            try:
                hits = fn(pid, title)
            except QueryError:
                hits, stats[name]["refused"] = [], stats[name]["refused"] + 1
            raw[name][pid] = keep(hits, pid)
    if "semantic" in raw and weights:
        for lex in ("lexical", "lexical OR"):
            for w in weights if lex in raw else []:
                raw[f"RRF {lex} ×{w:g} + semantic"] = {
                    pid: reciprocal_rank_fusion([raw[lex][pid], raw["semantic"][pid]], weights=[w, 1.0])[:DEPTH]
                    for pid in titles}
    out = {name: {pid: [i for t, i, _s in hits if t == "patent"] for pid, hits in per.items()}
           for name, per in raw.items()}
    empty = {name: {pid for pid, hits in per.items() if not hits} for name, per in raw.items()}
    return out, {name: {**stats.get(name, {"refused": 0}), "empty_ids": empty[name]} for name in out}


def evaluate(store: Any, queries: int, weights: list[float], corpus: list[int] | None,
             names: tuple[str, ...] = ("lexical", "lexical OR", "semantic", "hybrid")
             ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, links = records(store)
    allowed = set(corpus) if corpus is not None else None
    if allowed is not None:
        rows = {p: r for p, r in rows.items() if p in allowed}
        links = {p: {q for q in qs if q in allowed} for p, qs in links.items() if p in allowed}
    by_group: dict[str, set[int]] = {}
    by_sub: dict[str, set[int]] = {}
    for pid, r in rows.items():
        if r["group"]:
            by_group.setdefault(r["group"], set()).add(pid)
        if r["sub"]:
            by_sub.setdefault(r["sub"], set()).add(pid)
    eligible = sorted(p for p, r in rows.items() if r["title"] and r["group"] and len(by_group[r["group"]]) > 1)
    sample = sorted(random.Random(SEED).sample(eligible, min(queries, len(eligible))))
    linked = sorted(p for p in rows if rows[p]["title"] and links.get(p))
    link_sample = sorted(random.Random(SEED).sample(linked, min(queries, len(linked))))
    info = {"patents": len(rows), "eligible": len(eligible), "queries": len(sample),
            "queries_zh": sum(rows[p]["zh"] for p in sample), "sample_with_links": sum(bool(links.get(p)) for p in sample),
            "patents_with_links": len(linked), "link_queries": len(link_sample),
            "mean_group_relevant": sum(len(by_group[rows[p]["group"]]) - 1 for p in sample) / max(1, len(sample)),
            "mean_sub_relevant": sum(len(by_sub[rows[p]["sub"]]) - 1 for p in sample) / max(1, len(sample)),
            "mean_link_relevant": sum(len(links[p]) for p in link_sample) / max(1, len(link_sample))}
    titles = {p: rows[p]["title"] for p in sorted(set(sample) | set(link_sample))}
    t0 = time.perf_counter()
    ranked, stats = run_rankers(store, titles, weights, allowed, names)
    info["rank_s"] = round(time.perf_counter() - t0, 1)
    judged = [("group", sample, lambda p: by_group[rows[p]["group"]] - {p}),
              ("subclass", sample, lambda p: by_sub[rows[p]["sub"]] - {p}),
              ("link", link_sample, lambda p: links[p])]
    corpus_label = f"{len(rows):,} of the patents (sample)" if allowed is not None else f"all {len(rows):,}"
    out = []
    for kind, qs, relevant in judged:
        first = next((n for n in ranked if n.startswith("semantic")), names[0])
        base = [scores(ranked[first][p], relevant(p))[0] for p in qs]
        for name in ranked:
            got = [scores(ranked[name][p], relevant(p)) for p in qs]
            if not got:
                continue
            n = len(got)
            delta = paired_ci([g[0] for g in got], base) if n > 1 else None
            out.append({"corpus": corpus_label, "relevance": kind, "ranker": name, "queries": n,
                        "ndcg10": sum(g[0] for g in got) / n, "recall100": sum(g[1] for g in got) / n,
                        "mrr": sum(g[2] for g in got) / n,
                        "zero": 100.0 * len(stats[name]["empty_ids"].intersection(qs)) / n,
                        "delta": None if delta is None else f"{delta[0]:+.3f} [{delta[1]:+.3f}, {delta[2]:+.3f}]",
                        "versus": first})
    info["refused"] = {name: st["refused"] for name, st in stats.items()}
    from xjip.search.rankers import RANKERS

    info["registered"] = sorted(RANKERS)
    return out, info


def _describe(label: str, info: dict[str, Any]) -> str:
    refused = info["refused"]
    steps = ", ".join(f"{k} {v}" for k, v in info.items() if k.endswith("_s"))
    return (f"{label}: {info['patents']:,} patents in the corpus; {info['eligible']:,} with a main group shared by "
            f"another; {info['queries']} queries sampled (seed {SEED}), {info['queries_zh']} with a Chinese title "
            f"(the rest English); mean relevant per query: group {info['mean_group_relevant']:.1f}, subclass "
            f"{info['mean_sub_relevant']:.1f}; {info['sample_with_links']} of the sampled queries have a family or "
            f"citation link to another patent of the corpus, {info['patents_with_links']} patents with a title have "
            f"any ({info['link_queries']} link queries); titles the lexical ranker refused as queries: "
            f"{refused.get('lexical', 0)}, OR form {refused.get('lexical OR', 0)}; rankers registered: "
            f"{', '.join(info['registered'])}; steps (s): {steps}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=None, help="folder of real exports (default: ../shared/data/patents/real_exports)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--static", action="store_true", help="also distil and embed the static model (two-stage semantic)")
    ap.add_argument("--corpus", type=int, default=2000,
                    help="patents embedded and searched (fixed-seed sample; 0 = all, ~70 min of encoder on 2 busy cores)")
    ap.add_argument("--weights", default="2,1.5,1,0.75,0.5", help="lexical weights of the weighted RRF rows")
    ap.add_argument("--rankers", default="lexical,lexical OR,semantic,hybrid",
                    help="with --static also: 'semantic (encoder exact)', static, two-stage, hybrid two-stage")
    ap.add_argument("--store", default=None, help="a SQLite store folder to fill or reuse (kept afterwards)")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--no-append", action="store_true", help="Print only; do not append to bench/RESULTS.md")
    args = ap.parse_args()
    from xjip.settings import _default_shared_data

    root = Path(args.root or Path(_default_shared_data()) / "patents" / "real_exports")
    weights = [float(w) for w in args.weights.split(",") if w.strip()]
    rows: list[dict[str, Any]] = []
    infos: dict[str, dict[str, Any]] = {}
    for backend in ([] if args.store else measured_backends(args.db)) + (["sqlite"] if args.store else []):
        if args.store:
            folder = Path(args.store)
            folder.mkdir(parents=True, exist_ok=True)
            db = Database("sqlite", f"sqlite:///{folder / 'xjip.db'}", folder)
            if not (folder / "xjip.db").exists():
                prepare(db)
            ctx = None
        else:
            ctx = throwaway_database(backend, Path(args.workdir), "retrieval")
            db = ctx.__enter__()
        try:
            info, chosen = fill(db, root, args.static, args.corpus)
            print(f"{backend}: filled {info}", flush=True)
            store = open_store(db)
            got, more = evaluate(store, args.queries, weights, chosen, tuple(n.strip() for n in args.rankers.split(",")))
            info.update(more)
            if chosen is not None and not args.static:  # the lexical ranker needs no vectors: also over every patent
                whole, more = evaluate(store, args.queries, weights, None, ("lexical", "lexical OR"))
                got += whole
                info["whole"] = more
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
        infos[backend] = info
        for r in got:
            r["db"] = backend
            rows.append(r)
            print(f"{backend} {r['corpus'][:12]:12} {r['relevance']:8} {r['ranker']:34} nDCG@10 {r['ndcg10']:.3f} R@100 {r['recall100']:.3f} "
                  f"MRR {r['mrr']:.3f} zero {r['zero']:.0f}% Δ {r['delta']}", flush=True)
        print({k: v for k, v in info.items()}, flush=True)
    if args.no_append or not rows:
        return
    columns = [("db", "database"), ("corpus", "corpus"), ("relevance", "relevant when"), ("ranker", "ranker"), ("queries", "queries"),
               ("ndcg10", "nDCG@10"), ("recall100", "Recall@100"), ("mrr", "MRR"), ("zero", "no results %"),
               ("delta", "ΔnDCG@10 vs semantic (all-patent rows: vs lexical), 95% CI")]
    for r in rows:
        for k in ("ndcg10", "recall100", "mrr"):
            r[k] = f"{r[k]:.3f}"
    notes = []
    for backend, info in infos.items():
        notes.append(_describe(backend, info))
        if "whole" in info:
            notes.append(_describe(backend + ", all patents", info["whole"]))
    notes += ["relevance judged from the records alone, never from a ranker: main IPC main group, main IPC subclass, "
              "family id / family member numbers / cited numbers matched to another stored patent's publication, "
              "application or grant number (kind code ignored), either direction; binary gain",
              "corpus sample (--corpus): the encoder embeds ~2 texts/s on the 2 shared cores, so only a fixed-seed "
              "sample of patents is embedded; every ranker's list is restricted to it, order kept (lexical asked for "
              "every hit, semantic for 1,000), queries and relevance drawn from it; hybrid there is `search.hybrid`'s "
              "fusion (`reciprocal_rank_fusion`, unweighted, k = 60) of the restricted lexical and semantic lists, "
              "each cut to 100 as `search.hybrid` asks; the lexical ranker's IDF is over all patents",
              "all patents: the lexical ranker needs no vectors, so it is measured again over every imported patent "
              "(other record types — entities, laws — keep their places in its list and count as not relevant)",
              "the query's own record is dropped from every list; no results % counts queries answered with nothing "
              "else (a refused title included); ΔnDCG@10: mean per-query difference, paired percentile bootstrap "
              "(2,000 resamples)",
              "RRF rows: `rankers.reciprocal_rank_fusion([lexical, semantic], weights=[w, 1])` over the same two "
              "lists; w = 1 with the AND form is the served hybrid"]
    append_results("Retrieval quality of the shipped rankers on the real exports (issue 11 Quality)", shell_command(),
                   machine(), rows, columns, notes)


if __name__ == "__main__":
    main()
