#!/usr/bin/env python
"""Import throughput of the other rights (the template importers): trademarks, GI special-mark
users, copyrights, plant varieties, transfers/licences, pledges, cases and institutions, as
`xjip synth --rights N` writes them (every record marked synthetic), into a fresh database per
backend; then the same folder again (every record unchanged). The import templates are what an
office fills in by hand or exports from its own systems, so these files are its usual input.

    .venv/bin/python bench/import_rights.py --n 50000               # SQLite and PostgreSQL
    .venv/bin/python bench/import_rights.py --n 5000 --db sqlite --no-append
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    PYTHON, append_results, machine, measure, measured_backends, shell_command, throwaway_database,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000, help="--rights N: trademarks, copyrights, transfers (fewer of "
                                                            "the rarer kinds)")
    ap.add_argument("--patents", type=int, default=20_000, help="the synthetic patent run the rights name")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--no-append", action="store_true", help="Print only; do not append to bench/RESULTS.md")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    folder = workdir / f"rights_{args.n}_p{args.patents}_seed{args.seed}"
    if not (folder / ".ok").exists():
        from xjip.hub.synth_rights import write_rights

        started = time.perf_counter()
        counts = write_rights(folder, args.n, args.seed, patents=args.patents, patent_seed=args.seed)
        (folder / ".ok").write_text("")
        print(f"generated {sum(counts.values()):,} records in {time.perf_counter() - started:.1f} s: {counts}",
              flush=True)
    megabytes = sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e6
    backends = measured_backends(args.db)
    rows = []
    for backend in backends:
        with throwaway_database(backend, workdir, "rights") as db:
            for step in ("import", "re-import (unchanged)"):
                got = measure([PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir),
                               "import", str(folder), "--synthetic", "--quiet", "--format", "json"])
                summary = got.json()
                if got.returncode != 0 or not summary:
                    raise SystemExit(f"import failed: {got.stderr[-2000:]}")
                rate = summary["read"] / got.wall_s
                rss = max(got.peak_rss_mb or 0.0, got.extra.get("tree_peak_rss_mb", 0.0))
                rows.append({"db": backend, "step": step, "records": summary["read"], "mb": megabytes,
                             "wall_s": got.wall_s, "rate": rate, "rss_mb": rss,
                             "inserted": summary["inserted"], "unchanged": summary["unchanged"],
                             "rejected": summary["rejected"],
                             "placed": 100.0 * summary["placed"] / summary["addressed"] if summary["addressed"] else None})
                print(f"{backend} {step}: {summary['read']:,} records in {got.wall_s:.1f} s = {rate:,.0f} records/s, "
                      f"peak {rss:.0f} MB; inserted {summary['inserted']:,}, unchanged "
                      f"{summary['unchanged']:,}, rejected {summary['rejected']:,}", flush=True)
    if args.no_append:
        return
    columns = [("db", "database"), ("step", "step"), ("records", "records"), ("mb", "files MB"), ("wall_s", "wall s"),
               ("rate", "records/s"), ("rss_mb", "peak RSS MB"), ("inserted", "inserted"), ("unchanged", "unchanged"),
               ("rejected", "rejected"), ("placed", "placed %")]
    notes = ["records: the 8 template files of `xjip synth --rights N` (trademarks, copyrights and transfers/licences "
             "N each; GI special-mark users, pledges and cases N/2; plant varieties N/4; the agencies and some "
             "service institutions), every one marked synthetic; transfers, licences, pledges and cases name patents "
             f"of a {args.patents:,}-patent synthetic run",
             "rate = records read / wall time of `xjip import FOLDER` (start-up included); these files are read by "
             "one process (the template importers do not shard), peak RSS over its process tree"]
    append_results(f"Import throughput, other rights (template files, {args.n:,})", shell_command(), machine(), rows,
                   columns, notes)


if __name__ == "__main__":
    main()
