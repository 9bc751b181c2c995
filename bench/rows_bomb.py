"""The rows bomb of issue 10 §3: a .gz holding a valid bibliographic header and then only junk
rows. Measures what one `xjip import` of it costs (time, rejection rows stored, their size) with
the rejection bound on (`XJIP_IMPORT_MAX_REJECTIONS`, default 100,000) and off (0), on SQLite
and PostgreSQL. Results go to bench/SECURITY.md and bench/security.jsonl.

    .venv/bin/python bench/rows_bomb.py                      # 300,000 junk rows, both databases
    .venv/bin/python bench/rows_bomb.py --rows 30000 --db sqlite
"""
from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common  # noqa: E402
from bench._common import PYTHON, machine, measure, shell_command, throwaway_database  # noqa: E402

_common.RESULTS_MD = _common.BENCH_DIR / "SECURITY.md"
_common.RESULTS_JSONL = _common.BENCH_DIR / "security.jsonl"


def junk_file(workdir: Path, rows: int, seed: int = 7) -> Path:
    from xjip.hub.synth import write_cn_biblio_csv

    path = workdir / f"rows_bomb_{rows}.csv.gz"
    if path.exists():
        return path
    write_cn_biblio_csv(workdir / "header.csv", 1, seed=seed)
    header = (workdir / "header.csv").read_text(encoding="utf-8").splitlines(keepends=True)[0]
    rnd = random.Random(seed)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(header)
        for _ in range(rows):
            fh.write(f"{rnd.randrange(16**8):x},{rnd.random()}\n")
    return path


def stored(db: _common.Database) -> tuple[int, float]:
    """(rejection rows, MB they take)."""
    from sqlalchemy import create_engine, text

    from xjip.hub.store import normalise_url

    engine = create_engine(normalise_url(db.url))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM import_rejection")).scalar() or 0
        if db.kind == "postgresql":
            size = conn.execute(text("SELECT pg_total_relation_size('import_rejection')")).scalar() or 0
        else:  # pages of the table and its index (dbstat is not in every build: the file size otherwise)
            try:
                size = conn.execute(text("SELECT sum(pgsize) FROM dbstat WHERE name LIKE '%import_rejection%'")).scalar()
            except Exception:  # noqa: BLE001
                size = (db.data_dir / "xjip.db").stat().st_size
    engine.dispose()
    return int(count), (size or 0) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--bounds", default="100000,0", help="XJIP_IMPORT_MAX_REJECTIONS values to run")
    parser.add_argument("--workdir", default="/tmp/xjip_bench")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = junk_file(workdir, args.rows)
    results = []
    for kind in args.db.split(","):
        for bound in args.bounds.split(","):
            with throwaway_database(kind, workdir, f"bomb_{kind}") as db:
                run = measure([PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir),
                               "import", str(path), "--quiet", "--format", "json"],
                              env={"XJIP_IMPORT_MAX_REJECTIONS": bound})
                job = run.json() or {}
                rows, mb = stored(db)
                results.append({"database": kind, "bound": int(bound), "status": job.get("status"),
                                "read": job.get("read"), "rejected": job.get("rejected"), "stored_rows": rows,
                                "stored_mb": round(mb, 2), "wall_s": round(run.wall_s, 1),
                                "peak_rss_mb": round(run.peak_rss_mb or 0, 1), "file_mb": round(path.stat().st_size / 1e6, 2)})
                print(results[-1], flush=True)
    _common.append_results(
        f"Rows bomb ({args.rows:,} junk rows after a valid header, gzip)", shell_command(), machine(), results,
        [("database", "database"), ("bound", "XJIP_IMPORT_MAX_REJECTIONS"), ("file_mb", "file MB"),
         ("status", "job"), ("read", "read"), ("rejected", "rejected"), ("stored_rows", "rejection rows stored"),
         ("stored_mb", "their MB"), ("wall_s", "wall s"), ("peak_rss_mb", "peak RSS MB")],
        ["Before the change (commit 534b726, SQLite, `xjip import rows.csv.gz` of a file of the same shape: a valid "
         "header, then 300,000 random junk rows, 4.3 MB): 300,000 rejection rows stored, database file 180 MB, 52 s.",
         "Each reason keeps its first 1,000 rejected records (pipeline.REJECTION_SAMPLES) and counts all of them "
         "(import_job.rejection_counts)."])


if __name__ == "__main__":
    main()
