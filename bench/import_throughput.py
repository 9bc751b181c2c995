#!/usr/bin/env python
"""Import throughput and memory of `xjip import` on synthetic CN data, SQLite and PostgreSQL.

For each database kind and each file (bibliographic CSV, concatenated full-text CNIPA XML):
- import into a fresh database, in a child process `xjip import … --quiet --format json` run under
  `/usr/bin/time -v` (wall time, peak RSS of the importing process);
- re-import the same file (every record unchanged);
- the same at a second, smaller size, to show peak memory does not grow with the file;
- the bare streaming parse of the same files (importer.parse() iterated, no database), whose time
  against the import's gives the pipeline overhead.

Targets (from the import issue): ≥ 20,000 bibliographic rows/s from CSV, ≥ 1,000 full-text XML
documents/s on the 2-core machine, peak memory < 500 MB whatever the file size.

    .venv/bin/python bench/import_throughput.py                  # 1,000,000 CSV rows, 100,000 XML docs
    .venv/bin/python bench/import_throughput.py --n 200000 --xml-n 20000 --db sqlite,postgresql

Results are printed and appended to bench/RESULTS.md and bench/results.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    PYTHON, Database, append_results, machine, measure, shell_command, throwaway_database,
)

TARGETS = {"csv": 20_000, "xml": 1_000}
RSS_LIMIT_MB = 500
UNIT = {"csv": "rows", "xml": "docs"}


def parse_only(path: str) -> None:
    """Child mode: iterate importer.parse() over every source of `path`; print counts as JSON."""
    from xjip.hub.importers.base import detect, iter_sources, load_importers
    from xjip.hub.records import Rejection

    load_importers()  # module imports are start-up, not parsing
    started = time.perf_counter()
    records = rejected = 0
    name = None
    for source in iter_sources(path):
        importer = detect(source)
        name = importer.name
        for item in importer.parse(source, {}):
            if isinstance(item, Rejection):
                rejected += 1
            else:
                records += 1
    print(json.dumps({"importer": name, "records": records, "rejected": rejected,
                      "seconds": time.perf_counter() - started}))


def generate(kind: str, n: int, seed: int, workdir: Path) -> tuple[Path, float]:
    """The synthetic file (kept between runs: generation is deterministic for (n, seed))."""
    from xjip.hub import synth

    path = workdir / f"synth_{kind}_{n}_seed{seed}.{'csv' if kind == 'csv' else 'xml'}"
    if path.exists() and path.with_suffix(path.suffix + ".ok").exists():
        return path, 0.0
    started = time.perf_counter()
    tmp = path.with_suffix(path.suffix + ".part")
    if kind == "csv":
        synth.write_cn_biblio_csv(tmp, n, seed)
    else:
        synth.write_cnipa_xml(tmp, n, seed)
    tmp.rename(path)
    path.with_suffix(path.suffix + ".ok").write_text("")
    return path, time.perf_counter() - started


def run_import(db: Database, path: Path, batch_size: int | None) -> tuple[dict[str, Any], Any]:
    cmd = [PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir),
           "import", str(path), "--quiet", "--format", "json"]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    m = measure(cmd)
    summary = m.json() if m.stdout.strip() else None
    if m.returncode != 0 or not summary:
        raise RuntimeError(f"import failed ({m.returncode}): {m.stderr[-3000:]}")
    return summary, m


def job_seconds(summary: dict[str, Any]) -> float | None:
    import datetime as dt

    try:
        start = dt.datetime.fromisoformat(str(summary["created_at"]))
        end = dt.datetime.fromisoformat(str(summary["finished_at"]))
        return round((end - start).total_seconds(), 2)
    except (KeyError, TypeError, ValueError):
        return None


def row(backend: str, step: str, kind: str, records: int, wall: float, rss: float | None,
        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    rate = records / wall if wall else None
    target = TARGETS[kind]
    out = {"backend": backend, "step": step, "format": kind, "records": records, "seconds": round(wall, 2),
           "rate": round(rate, 1) if rate else None, "unit": f"{UNIT[kind]}/s",
           "peak_rss_mb": round(rss, 1) if rss else None,
           "target": f"≥ {target:,} {UNIT[kind]}/s", "rate_ok": "yes" if rate and rate >= target else "no",
           "rss_ok": "yes" if rss is not None and rss < RSS_LIMIT_MB else "no"}
    out.update(extra or {})
    return out


def import_steps(backend: str, kind: str, n: int, path: Path, bare_s: float | None, workdir: Path,
                 batch_size: int | None, reimport: bool) -> list[dict[str, Any]]:
    """Import `path` into a fresh database (and re-import it when asked): one row per run."""
    out = []
    with throwaway_database(backend, workdir, f"{backend[:2]}_{kind}_{n}") as db:
        for step in ("import", "re-import (unchanged)") if reimport else ("import",):
            summary, m = run_import(db, path, batch_size)
            placed = (summary.get("placed") or 0) / summary["addressed"] if summary.get("addressed") else None
            r = row(backend, step, kind, summary["read"], m.wall_s, m.peak_rss_mb,
                    {"file_mb": round(path.stat().st_size / 1e6, 1), "inserted": summary["inserted"],
                     "updated": summary["updated"], "unchanged": summary["unchanged"],
                     "rejected": summary["rejected"], "job_seconds": job_seconds(summary),
                     "pipeline_overhead": round(m.wall_s / bare_s, 2) if bare_s else None,
                     "placed_pct": round(100 * placed, 1) if placed is not None else None})
            out.append(r)
            print(f"{backend} {step} {path.name}: {r['rate']:,} {r['unit']} ({r['seconds']} s, job "
                  f"{r['job_seconds']} s), peak {r['peak_rss_mb']} MB, inserted {r['inserted']:,}, unchanged "
                  f"{r['unchanged']:,}, rejected {r['rejected']}, overhead ×{r['pipeline_overhead']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="CSV rows (large size)")
    ap.add_argument("--xml-n", type=int, default=100_000, help="XML documents (large size)")
    ap.add_argument("--small-ratio", type=int, default=10, help="The small size is the large one divided by this")
    ap.add_argument("--db", default="sqlite,postgresql", help="Comma-separated: sqlite, postgresql")
    ap.add_argument("--formats", default="csv,xml")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--batch-size", type=int, help="Records per transaction (default: the setting)")
    ap.add_argument("--reimport", default="csv,xml", help="Formats whose large file is imported a second time "
                    "(all unchanged); empty for none")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--clean", action="store_true", help="Delete the generated files at the end (by default "
                    "they are kept in --workdir and reused by the next run with the same sizes and seed)")
    ap.add_argument("--parse-only", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    # Background jobs start with SIGINT ignored and SIGTERM kills without cleanup: make both
    # unwind normally so that the throwaway databases are dropped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.parse_only:
        parse_only(args.parse_only)
        return

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    info = machine()
    info["loadavg_start"] = os.getloadavg()
    print(f"machine: {json.dumps(info, ensure_ascii=False)}", flush=True)
    backends = [b.strip() for b in args.db.split(",") if b.strip()]
    kinds = [k.strip() for k in args.formats.split(",") if k.strip()]
    sizes = {"csv": [args.n, max(args.n // args.small_ratio, 1)],
             "xml": [args.xml_n, max(args.xml_n // args.small_ratio, 1)]}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    files: dict[tuple[str, int], Path] = {}
    bare: dict[tuple[str, int], float] = {}
    for kind in kinds:
        for n in sizes[kind]:
            path, gen_s = generate(kind, n, args.seed, workdir)
            files[(kind, n)] = path
            mb = path.stat().st_size / 1e6
            if gen_s:
                print(f"generated {path.name}: {n:,} records, {mb:,.0f} MB in {gen_s:.1f} s ({n / gen_s:,.0f}/s)",
                      flush=True)
                rows.append({**row("–", "generate (xjip synth)", kind, n, gen_s, None), "file_mb": round(mb, 1),
                             "target": "–", "rate_ok": "–", "rss_ok": "–"})
            m = measure([PYTHON, str(Path(__file__).resolve()), "--parse-only", str(path)])
            if m.returncode != 0:
                raise RuntimeError(f"parse failed: {m.stderr[-3000:]}")
            got = m.json()
            bare[(kind, n)] = got["seconds"]
            r = row("none (parse only)", "bare parse", kind, got["records"], got["seconds"], m.peak_rss_mb,
                    {"file_mb": round(mb, 1), "importer": got["importer"], "rejected": got["rejected"]})
            rows.append(r)
            print(f"bare parse {path.name}: {r['rate']:,} {r['unit']}, peak {r['peak_rss_mb']} MB", flush=True)

    for backend in backends:
        for kind in kinds:
            for n in sizes[kind]:
                try:
                    rows.extend(import_steps(backend, kind, n, files[(kind, n)], bare.get((kind, n)), workdir,
                                             args.batch_size, reimport=n == sizes[kind][0] and kind in args.reimport.split(",")))
                except Exception as exc:  # noqa: BLE001 - one failed step is reported, the others still run
                    print(f"{backend} {kind} {n}: FAILED {exc}", flush=True)
                    rows.append({"backend": backend, "step": "import FAILED", "format": kind, "records": n,
                                 "error": str(exc)[-500:]})
                    notes.append(f"{backend} {kind} {n:,}: failed: {str(exc).strip().splitlines()[-1][:300]}")

    info["loadavg_end"] = os.getloadavg()
    notes.append(f"load average at start {tuple(round(x, 2) for x in info['loadavg_start'])}, at end "
                 f"{tuple(round(x, 2) for x in info['loadavg_end'])} (other work on the machine shares the 2 cores)")
    notes.append("rate = records read / wall time of the child process (`xjip import`, Python start-up and "
                 "job bookkeeping included); job s = the job's own created→finished time; overhead = import wall "
                 "time / bare-parse time of the same file; peak RSS = the larger of GNU time's maximum "
                 "resident set size of the child and the peak sum over its process tree (the parse processes "
                 "included), sampled every 50 ms")
    notes.append("each import runs on a fresh database (schema + reference data when `xjip init` is available); "
                 "the re-import runs the same file again into the same database")
    columns = [("backend", "database"), ("step", "step"), ("format", "format"), ("records", "records"),
               ("file_mb", "file MB"), ("seconds", "wall s"), ("job_seconds", "job s"), ("rate", "rate"),
               ("unit", "unit"), ("target", "target"), ("rate_ok", "rate ok"), ("peak_rss_mb", "peak RSS MB"),
               ("rss_ok", "< 500 MB"), ("pipeline_overhead", "overhead ×"), ("inserted", "inserted"),
               ("unchanged", "unchanged"), ("rejected", "rejected"), ("placed_pct", "placed %")]
    if args.clean:
        for path in files.values():
            path.unlink(missing_ok=True)
            path.with_suffix(path.suffix + ".ok").unlink(missing_ok=True)
    append_results("Import throughput (xjip import, synthetic CN data)", shell_command(), info, rows, columns, notes)
    print("results appended to bench/RESULTS.md and bench/results.jsonl", flush=True)


if __name__ == "__main__":
    main()
