#!/usr/bin/env python
"""Search latency, cost and peers (issue 11, "Measured", lexical half).

Per database (SQLite, PostgreSQL): N synthetic patents (+ other rights) from `xjip synth`, imported
with `xjip import`; the index built with `xjip search --rebuild` (time, size, peak RSS); then, in
this process, the same queries through
- xjip: `service.search` (query parsing, filters, the page's records read back from the database,
  highlighting), without and with the facets the page shows;
- the bare engine: the compiled tantivy query alone (top 20 + count), for the overhead ratio;
- peers on the same records and the same tokens: SQLite FTS5 through sqlite-utils (bm25 top 20)
  and PostgreSQL full-text search (tsvector 'simple' + GIN, ts_rank top 20);
and the analysis of a result set of all N patents (`service.analyse`).

    nice -n 10 .venv/bin/python bench/search.py --patents 100000
    nice -n 10 .venv/bin/python bench/search.py --patents 5000 --db sqlite --no-append   # a quick look

The databases and the synthetic files are kept in --workdir (reused by the next run with the same
N and seed; --fresh rebuilds them)."""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PG_ADMIN_URL, PYTHON, append_results, machine, measure, measured_backends  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def timed(fn: Callable[[], Any], queries: list[Any]) -> list[float]:
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(cmd: list[str], what: str) -> Any:
    got = measure(cmd)
    if got.returncode != 0:
        raise SystemExit(f"{what} failed: {got.stderr[-3000:]}")
    return got


def ensure_database(kind: str, args: argparse.Namespace, workdir: Path, source: Path, rights: Path | None) -> dict[str, Any]:
    """A database holding the synthetic records, kept for the next run."""
    from sqlalchemy import create_engine, text

    from xjip.hub.store import normalise_url

    label = f"search_{args.patents}_r{args.rights}_s{args.seed}"
    data_dir = workdir / f"{label}_{kind}"
    marker = data_dir / ".imported"
    if kind == "sqlite":
        url = f"sqlite:///{data_dir / 'xjip.db'}"
    else:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + f"xjip_bench_{label}"
    info: dict[str, Any] = {"url": url, "data_dir": data_dir}
    if marker.exists() and not args.fresh:
        return info
    if data_dir.exists():
        import shutil

        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if kind == "postgresql":
        admin = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        name = url.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    base = [PYTHON, "-m", "xjip.cli", "--database-url", url, "--data-dir", str(data_dir)]
    run(base + ["init"], "xjip init")
    for src in (source, rights):
        if src is not None:
            got = run(base + ["import", str(src), "--synthetic", "--quiet", "--format", "json"], f"import {src}")
            print(f"  {kind}: imported {src.name} in {got.wall_s:.0f} s", flush=True)
    marker.write_text("")
    return info


def sample_queries(store: Any, n: int, seed: int) -> dict[str, list[str]]:
    """Keyword queries of 1 and 2 words taken from random stored titles (as stack.md §2 drew its
    queries), and fielded ones: TI + date range, PA, IPC prefix, TI + IPC section."""
    from sqlalchemy import func, select

    from xjip.hub import models as m
    from xjip.search import text

    rng = random.Random(seed)
    with store.reading() as s:
        top = s.scalar(select(func.max(m.Patent.id))) or 0
        ids = [rng.randint(1, top) for _ in range(n * 3)]
        rows = s.execute(select(m.Patent.title, m.Patent.first_applicant, m.Patent.ipc_main, m.Patent.app_date)
                         .where(m.Patent.id.in_(ids))).all()
    one, two, fielded = [], [], []
    for title, applicant, ipc, date in rows:
        words = [w for w in text.tokens((title or "").replace("[合成]", "")) if len(w) >= 2 and not w.isascii()]
        if not words:
            continue
        one.append(rng.choice(words))
        if len(words) >= 2:
            two.append(" ".join(rng.sample(words, 2)))
        kind = len(fielded) % 4
        if kind == 0 and date:
            fielded.append(f"TI={rng.choice(words)} AND AD={date.year - 1}..{date.year + 1}")
        elif kind == 1 and applicant:
            pa = [w for w in text.tokens(applicant) if len(w) >= 2 and not w.isascii()]
            fielded.append(f"PA={rng.choice(pa)}" if pa else f"TI={rng.choice(words)}")
        elif kind == 2 and ipc:
            fielded.append(f"IPC={ipc[:4]}* AND {rng.choice(words)}")
        else:
            fielded.append(f"TI={rng.choice(words)} AND IPC={(ipc or 'A')[:1]}")
    return {"keyword_1": one[:n], "keyword_2": two[:n], "fielded": fielded[:n]}


def peer_body(store: Any, limit: int, cache: Path | None = None) -> list[tuple[int, str]]:
    """id, the tokens the index gets for title + abstract + claims + applicants (space-joined).

    Both databases hold the same synthetic records, so the second run reads the tokens the first
    wrote to `cache` (at 1,000,000 patents tokenising takes about ten minutes)."""
    from sqlalchemy import select

    from xjip.hub import models as m
    from xjip.search import text

    if cache is not None and cache.exists():
        with open(cache, encoding="utf-8") as fh:
            return [(int(pid), body.rstrip("\n")) for pid, body in (line.split("\t", 1) for line in fh)]
    out = []
    with store.reading() as s:
        for pid, title, abstract, claim, applicant in s.execute(
                select(m.Patent.id, m.Patent.title, m.Patent.abstract, m.Patent.first_claim, m.Patent.first_applicant)
                .order_by(m.Patent.id).limit(limit)):
            toks = [t for part in (title, abstract, claim, applicant) for t in text.tokens(part)]
            out.append((pid, " ".join(toks)))
    if cache is not None:
        partial = cache.with_suffix(".partial")
        with open(partial, "w", encoding="utf-8") as fh:
            fh.writelines(f"{pid}\t{body}\n" for pid, body in out)
        partial.replace(cache)
    return out


def fts5_peer(bodies: list[tuple[int, str]], folder: Path) -> tuple[Callable[[str], Any], float, int]:
    import sqlite_utils

    path = folder / "fts5_peer.db"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite_utils.Database(path)
    db["doc"].insert_all(({"id": i, "body": b} for i, b in bodies), pk="id", batch_size=5000)
    db["doc"].enable_fts(["body"], tokenize="unicode61", create_triggers=False)
    db["doc_fts"].optimize()
    build = time.perf_counter() - started
    size = path.stat().st_size
    conn = db.conn

    def query(tokens: str) -> Any:
        match = " ".join('"' + t.replace('"', '""') + '"' for t in tokens.split())
        return conn.execute("SELECT rowid FROM doc_fts WHERE doc_fts MATCH ? ORDER BY rank LIMIT 20",
                            [match]).fetchall(), conn.execute(
            "SELECT count(*) FROM doc_fts WHERE doc_fts MATCH ?", [match]).fetchone()

    return query, build, size


def pg_peer(url: str, bodies: list[tuple[int, str]]) -> tuple[Callable[[str], Any], float, int, Callable[[], None]]:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    conn.execute("DROP TABLE IF EXISTS bench_fts_peer")
    started = time.perf_counter()
    conn.execute("CREATE TABLE bench_fts_peer (id integer primary key, body text, "
                 "tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED)")
    with conn.cursor() as cur, cur.copy("COPY bench_fts_peer (id, body) FROM STDIN") as copy:
        for row in bodies:
            copy.write_row(row)
    conn.execute("CREATE INDEX bench_fts_peer_gin ON bench_fts_peer USING gin (tsv)")
    conn.execute("ANALYZE bench_fts_peer")
    build = time.perf_counter() - started
    size = conn.execute("SELECT pg_total_relation_size('bench_fts_peer')").fetchone()[0]

    def query(tokens: str) -> Any:
        q = " & ".join(t.replace("'", "''").replace("\\", "") for t in tokens.split())
        rows = conn.execute("SELECT id FROM bench_fts_peer WHERE tsv @@ to_tsquery('simple', %s) "
                            "ORDER BY ts_rank(tsv, to_tsquery('simple', %s)) DESC LIMIT 20", [q, q]).fetchall()
        count = conn.execute("SELECT count(*) FROM bench_fts_peer WHERE tsv @@ to_tsquery('simple', %s)", [q]).fetchone()
        return rows, count

    def drop() -> None:
        conn.execute("DROP TABLE IF EXISTS bench_fts_peer")
        conn.close()

    return query, build, size, drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patents", type=int, default=100_000)
    ap.add_argument("--rights", type=int, default=None, help="--rights for xjip synth (default: patents / 10)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--queries", type=int, default=200, help="per kind")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--fresh", action="store_true", help="rebuild the databases even if kept from a run before")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--reuse-index", action="store_true", help="query the index an earlier run built (its build "
                                                                  "figures are reported again) instead of rebuilding")
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--build-only", action="store_true", help="import and build the index, then stop (measure later, "
                                                                 "on a quiet machine, with --reuse-index)")
    args = ap.parse_args()
    args.rights = args.patents // 10 if args.rights is None else args.rights
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    src_dir = workdir / "synthetic"
    source = src_dir / f"synth_cn_csv_{args.patents}_seed{args.seed}.csv"
    rights = src_dir / f"synth_rights_{args.rights}_seed{args.seed}" if args.rights else None
    if not source.exists() or (rights is not None and not rights.exists()):
        got = run([PYTHON, "-m", "xjip.cli", "--data-dir", str(workdir / "synth_home"), "synth", "--patents",
                   str(args.patents), "--seed", str(args.seed), "--rights", str(args.rights), "--out", str(source),
                   "--json"], "xjip synth")
        print(f"synthetic files written in {got.wall_s:.0f} s", flush=True)
    backends = measured_backends(args.db)
    from xjip.hub.store import Store
    from xjip.search import service
    from xjip.search.index import backend_for
    from xjip.settings import Settings

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for kind in backends:
        db = ensure_database(kind, args, workdir, source, rights)
        base = [PYTHON, "-m", "xjip.cli", "--database-url", db["url"], "--data-dir", str(db["data_dir"])]
        status_file = Path(db["data_dir"]) / "search" / "status.json"
        if args.reuse_index and status_file.exists() and backend_for(
                Settings.from_env(database_url=db["url"], data_dir=str(db["data_dir"]))).exists():
            import json as _json

            result = _json.loads(status_file.read_text())  # the build figures of the run that built it
            built = None
        else:
            built = run(base + ["search", "--rebuild", "--format", "json"], "xjip search --rebuild")
            result = built.json()
        kept = Path(db["data_dir"]) / "bench_build.json"  # what the build run measured, for --reuse-index
        if built is not None:
            rss = built.peak_rss_mb or 0
            kept.write_text(json.dumps({"peak_rss_mb": rss, "load_average": os.getloadavg()[0]}))
        else:
            rss = json.loads(kept.read_text())["peak_rss_mb"] if kept.exists() else float("nan")
        docs = result["done"]
        per100k = 100_000 / max(1, docs)
        rows.append({"backend": kind, "engine": "xjip index build", "what": f"{docs:,} records",
                     "p50_ms": None, "p95_ms": None,
                     "note": f"{result['seconds']:.0f} s ({result['seconds'] * per100k:.0f} s/100k), "
                             f"{result['bytes'] / 1e6:.0f} MB ({result['bytes'] / 1e6 * per100k:.0f} MB/100k), "
                             f"peak RSS {rss:.0f} MB" + (" (index of an earlier run, reused)" if built is None else "")})
        print(f"{kind}: index {docs:,} docs in {result['seconds']:.0f} s, {result['bytes'] / 1e6:.0f} MB, "
              f"RSS {rss:.0f} MB", flush=True)
        if args.build_only:
            continue
        store = Store(Settings.from_env(database_url=db["url"], data_dir=str(db["data_dir"])))
        queries = sample_queries(store, args.queries, args.seed)
        _index, searcher = backend_for(store.settings).searcher()  # type: ignore[misc]
        compiled = {k: [service.build_query(store, q, None)[0] for q in qs] for k, qs in queries.items()}
        # warm the caches (region names, jieba, pages) once
        for q in queries["keyword_1"][:20]:
            service.search(store, q)
        for k, qs in queries.items():
            page = timed(lambda q: service.search(store, q, with_facets=False), qs)
            full = timed(lambda q: service.search(store, q), qs)
            bare = timed(lambda q: searcher.search(q, 20, count=True), compiled[k])
            for engine, values in (("xjip search (page)", page), ("xjip search + facets", full),
                                   ("bare tantivy (same query)", bare)):
                rows.append({"backend": kind, "engine": engine, "what": f"{k} ×{len(qs)}",
                             "p50_ms": round(pct(values, 0.5), 2), "p95_ms": round(pct(values, 0.95), 2),
                             "note": f"overhead ×{pct(page, 0.5) / max(pct(bare, 0.5), 1e-6):.0f} (p50)"
                             if engine.startswith("xjip search (page)") else ""})
            print(f"  {k}: page p50/p95 {pct(page, .5):.1f}/{pct(page, .95):.1f} ms, +facets "
                  f"{pct(full, .5):.1f}/{pct(full, .95):.1f}, bare {pct(bare, .5):.2f}/{pct(bare, .95):.2f}", flush=True)
        analysis = timed(lambda q: service.analyse(store, q), ["TYPE=patent"] * 5)
        total = service.analyse(store, "TYPE=patent")["total"]
        rows.append({"backend": kind, "engine": "xjip analysis", "what": f"result set of {total:,} patents ×5",
                     "p50_ms": round(pct(analysis, 0.5), 1), "p95_ms": round(max(analysis), 1), "note": "target ≤ 1,000 ms"})
        print(f"  analysis of {total:,}: {pct(analysis, .5):.0f} ms", flush=True)
        if not args.no_peers:
            bodies = peer_body(store, args.patents,
                               workdir / f"peer_tokens_{args.patents}_r{args.rights}_s{args.seed}.tsv")
            kw = [" ".join(service.text.tokens(q)) for q in queries["keyword_1"] + queries["keyword_2"]]
            if kind == "sqlite":
                query, build, size = fts5_peer(bodies, Path(db["data_dir"]))
                values = timed(query, kw)
                rows.append({"backend": kind, "engine": "peer: SQLite FTS5 (sqlite-utils), bm25 top 20 + count",
                             "what": f"keyword_1+2 ×{len(kw)}", "p50_ms": round(pct(values, .5), 2),
                             "p95_ms": round(pct(values, .95), 2),
                             "note": f"build {build:.0f} s, {size / 1e6:.0f} MB (patents only)"})
            else:
                query, build, size, drop = pg_peer(db["url"], bodies)
                values = timed(query, kw)
                drop()
                rows.append({"backend": kind, "engine": "peer: PostgreSQL FTS (tsvector simple + GIN), ts_rank top 20 + count",
                             "what": f"keyword_1+2 ×{len(kw)}", "p50_ms": round(pct(values, .5), 2),
                             "p95_ms": round(pct(values, .95), 2),
                             "note": f"build {build:.0f} s, {size / 1e6:.0f} MB (patents only)"})
            print(f"  peer {kind}: p50/p95 {pct(values, .5):.1f}/{pct(values, .95):.1f} ms", flush=True)
            kw_bare = [service.build_query(store, q, None)[0] for q in queries["keyword_1"] + queries["keyword_2"]]
            bare_kw = timed(lambda q: searcher.search(q, 20, count=True), kw_bare)
            rows.append({"backend": kind, "engine": "bare tantivy, same keyword queries", "what": f"keyword_1+2 ×{len(kw)}",
                         "p50_ms": round(pct(bare_kw, .5), 2), "p95_ms": round(pct(bare_kw, .95), 2),
                         "note": "all fields + sub-words + pinyin, all record types"})
        store.dispose()
    notes += [
        f"{args.patents:,} synthetic patents (`xjip synth --seed {args.seed}`, every record marked synthetic) and "
        f"`--rights {args.rights}` other rights, imported with `xjip import`; owners (entities) indexed too.",
        "Queries: keyword_1/keyword_2 = 1 or 2 words (jieba tokens of ≥ 2 characters) of random stored titles; "
        "fielded = TI=w AND AD=y-1..y+1, PA=w, IPC=X99X* AND w, TI=w AND IPC=section, in turn.",
        "xjip search (page): parse + compile + top 20 + total + the 20 records read back from the database + "
        "highlighting; + facets: the counts by type, year, prefecture, county, IPC levels, status, kind, "
        "applicant that /search shows. Bare tantivy: the compiled query, top 20 + count, in this process.",
        "Peers index title + abstract + first claim + first applicant of the patents only (the same jieba tokens), "
        "one field, AND of the words; xjip searches every record type and field, sub-words and pinyin.",
        "One client, warm caches, measured in Python; the machine's 2 cores are shared with other work "
        f"(load average {os.getloadavg()[0]:.1f} at the end).",
    ]
    cols = [("backend", "database"), ("engine", "engine"), ("what", "queries"), ("p50_ms", "p50 ms"),
            ("p95_ms", "p95 ms"), ("note", "note")]
    for r in rows:
        print(r)
    if not args.no_append and not args.build_only:
        append_results("Search: keyword and fielded latency, index cost, analysis, peers (issue 11)",
                       "nice -n 10 .venv/bin/python bench/search.py " + " ".join(sys.argv[1:]), machine(), rows, cols,
                       notes)


if __name__ == "__main__":
    main()
