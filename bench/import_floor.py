#!/usr/bin/env python
"""The floor under a CSV import on SQLite: what parsing alone and storing alone cost per row,
against what the whole import costs, and what that leaves for everything in between (places,
owner names, content hashes, hand-over between processes) under the 20,000 rows/s target.

For one synthetic bibliographic CSV (`xjip.hub.synth`, every record marked synthetic):
1. bare parse: `importer.parse()` iterated in a child process, no database (CPU µs/row);
2. the import: `xjip import` into a fresh database (wall time; CPU summed over the process tree);
3. the store floor: every row that import stored (patent, parties, texts, source records, owner
   entities and aliases), read back into memory, then inserted into a second fresh database with
   plain `sqlite3` executemany and the importer's bulk-load settings (WAL, 32 MB page cache,
   secondary indexes dropped and rebuilt, a commit every 20,000 patents): CPU µs/row of this
   process, index rebuild included;
4. the ideal rate on this machine's cores: cores ÷ (parse + store), i.e. perfect overlap and
   nothing done between reading a row and storing it;
5. where the import's CPU goes: the parse processes' side (parse, places, owner-name facts,
   hashes, rows converted, the hand-over pickled: `pipeline.produce_windows` over every window
   in one child process) and the importing process's own CPU (`run_import` in a child: it
   receives, resolves owners, checks keys and stores); the store floor table by table; and
   the rate one SQLite writer could reach doing nothing but those inserts (SQLite has one
   writer at a time, so its store work is serial whatever the number of cores).

    .venv/bin/python bench/import_floor.py --n 200000            # appends to bench/RESULTS.md
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import append_results, machine, shell_command, throwaway_database  # noqa: E402
from bench.profile_import import child_env, cli_import, generate, run_child  # noqa: E402

TARGET = 20_000
PATENTS_PER_COMMIT = 20_000  # as the importer's bulk loads on SQLite (pipeline._JobRunner)
BULK_TABLES = ("patent", "patent_party", "source_record")  # pipeline.BulkIndexes.TABLES


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rows(conn: sqlite3.Connection, table: str, order: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
    return cols, conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()


def child_prepare(path: str, data_dir: str) -> None:
    """The parse processes' whole side of an import in one process: every window of the file
    parsed, made ready for the store and pickled as `parallel._write` hands it over."""
    import pickle

    from xjip.hub import parallel
    from xjip.hub.importers.base import detect, iter_sources, load_importers
    from xjip.hub.pipeline import BATCH_MAX_BYTES, produce_windows
    from xjip.hub.store import Store
    from xjip.settings import Settings

    load_importers()
    settings = Settings.from_env(data_dir=data_dir, database_url=f"sqlite:///{Path(data_dir) / 'xjip.db'}")
    store = Store(settings)
    started, cpu = time.perf_counter(), _cpu()
    source = next(iter(iter_sources(path)))
    importer = detect(source, None)
    parallel.bulk_gc()
    rows = sent = 0
    for msg in produce_windows(store, path, source.name, importer.name, {}, (0, 1), settings.import_batch_size,
                               BATCH_MAX_BYTES, 0):
        rows += msg[2].read
        sent += len(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
        del msg
    store.dispose()
    print(json.dumps({"records": rows, "seconds": time.perf_counter() - started, "cpu": _cpu() - cpu,
                      "bytes": sent}))


def store_floor(stored: Path, empty: Path) -> dict[str, Any]:
    """Insert what the import stored into an empty database, as cheaply as SQLite allows."""
    src = sqlite3.connect(stored)
    patent_cols, patents = _rows(src, "patent", "id")
    n = len(patents)
    children = {t: _rows(src, t, "patent_id") for t in ("patent_party", "patent_text")}
    sources = _rows(src, "source_record", "id")
    entity_cols, entities = _rows(src, "entity", "id")
    alias_cols, aliases = _rows(src, "entity_alias", "entity_id")
    src.close()
    ent_col = patent_cols.index("first_applicant_entity_id")
    party_ent = children["patent_party"][0].index("entity_id")

    dst = sqlite3.connect(empty, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "cache_size=-32768",
                   "wal_autocheckpoint=10000"):
        dst.execute(f"PRAGMA {pragma}")
    dropped = [(name, sql) for name, sql in dst.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN "
        f"({','.join('?' * len(BULK_TABLES))})", BULK_TABLES)]
    for name, _sql in dropped:
        dst.execute(f'DROP INDEX "{name}"')

    by_table: dict[str, float] = {}

    def insert(table: str, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            began = _cpu()
            dst.executemany(f'INSERT INTO "{table}" ({",".join(cols)}) VALUES ({",".join("?" * len(cols))})', rows)
            by_table[table] = by_table.get(table, 0.0) + _cpu() - began

    def upto(rows: list[tuple[Any, ...]], key_index: int, last: int, start: int) -> int:
        return bisect.bisect_right(rows, last, lo=start, key=lambda r: r[key_index])

    started, cpu = time.perf_counter(), _cpu()
    done_entities = done_aliases = done_sources = 0
    done_children = dict.fromkeys(children, 0)
    for lo in range(0, n, PATENTS_PER_COMMIT):
        chunk = patents[lo:lo + PATENTS_PER_COMMIT]
        last_id = chunk[-1][0]
        dst.execute("BEGIN")
        party_cols, parties = children["patent_party"]
        party_end = upto(parties, party_cols.index("patent_id"), last_id, done_children["patent_party"])
        wanted = max([0, *(r[ent_col] or 0 for r in chunk),
                      *(r[party_ent] or 0 for r in parties[done_children["patent_party"]:party_end])])
        end = upto(entities, 0, wanted, done_entities)
        insert("entity", entity_cols, entities[done_entities:end])
        done_entities = end
        end = upto(aliases, alias_cols.index("entity_id"), wanted, done_aliases)
        insert("entity_alias", alias_cols, aliases[done_aliases:end])
        done_aliases = end
        insert("patent", patent_cols, chunk)
        end = min(len(sources[1]), done_sources + len(chunk))  # one source record per patent
        insert("source_record", sources[0], sources[1][done_sources:end])
        done_sources = end
        for table, (cols, rows) in children.items():
            end = upto(rows, cols.index("patent_id"), last_id, done_children[table])
            insert(table, cols, rows[done_children[table]:end])
            done_children[table] = end
        began = _cpu()
        dst.execute("COMMIT")
        by_table["commits"] = by_table.get("commits", 0.0) + _cpu() - began
    rebuild_started, began = time.perf_counter(), _cpu()
    for _name, sql in dropped:
        dst.execute(sql)
    by_table["index rebuild"] = _cpu() - began
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    dst.close()
    return {"patents": n, "seconds": seconds, "cpu": cpu, "rebuild_s": time.perf_counter() - rebuild_started,
            "by_table": by_table}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000, help="CSV rows")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--no-append", action="store_true", help="Print only; do not append to bench/RESULTS.md")
    ap.add_argument("--child-prepare", nargs=2, metavar=("PATH", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_prepare:
        child_prepare(*args.child_prepare)
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = child_env(None)
    info = machine()
    cores = info.get("cores") or os.cpu_count() or 1
    path = generate("csv", args.n, args.seed, workdir)

    bare = run_child(["--child-parse", str(path), ""], env)
    parse_us = bare["cpu"] / bare["records"] * 1e6
    print(f"bare parse: {parse_us:.1f} µs/row CPU", flush=True)
    with throwaway_database("sqlite", workdir, "floor_import") as db, \
            throwaway_database("sqlite", workdir, "floor_store") as empty:
        side = run_child(["--child-prepare", str(path), str(empty.data_dir)], env, script=Path(__file__).resolve())
        side_us = side["cpu"] / side["records"] * 1e6
        print(f"parse processes' side: {side_us:.1f} µs/row CPU, {side['bytes'] / side['records']:,.0f} "
              "bytes/row handed over", flush=True)
        got = cli_import(db, path, env, None)
        rows_read = got["summary"]["read"]
        import_us = got["cpu"] / rows_read * 1e6
        print(f"import: {rows_read / got['seconds']:,.0f} rows/s, {import_us:.1f} µs/row CPU (process tree)",
              flush=True)
        floor = store_floor(db.data_dir / "xjip.db", empty.data_dir / "xjip.db")
    with throwaway_database("sqlite", workdir, "floor_writer") as db:
        writer = run_child(["--child-import", str(path), db.url, str(db.data_dir), "", "{}"], env)
    writer_us = writer["cpu"] / writer["read"] * 1e6
    print(f"importing process alone: {writer_us:.1f} µs/row CPU", flush=True)
    store_us = floor["cpu"] / floor["patents"] * 1e6
    table_us = {t: c / floor["patents"] * 1e6 for t, c in floor["by_table"].items()}
    print("store floor by table: " + ", ".join(f"{t} {u:.1f}" for t, u in table_us.items()) + " µs/row")
    one_writer = 1e6 / store_us
    ideal = cores * 1e6 / (parse_us + store_us)
    budget = cores * 1e6 / TARGET
    left = budget - parse_us - store_us
    print(f"store floor: {store_us:.1f} µs/row CPU (index rebuild {floor['rebuild_s']:.1f} s included)")
    print(f"ideal on {cores} cores (parse + store only, perfect overlap): {ideal:,.0f} rows/s")
    print(f"the target allows {budget:.0f} µs of CPU per row on {cores} cores; parse + store take "
          f"{parse_us + store_us:.0f}, leaving {left:.0f} for everything else (the import spends "
          f"{import_us - parse_us - store_us:.0f})")
    if args.no_append:
        return
    rows = [
        {"what": "bare parse (importer.parse, no database)", "rows": bare["records"], "cpu_us": parse_us,
         "wall_s": bare["seconds"], "rate": bare["records"] / bare["seconds"]},
        {"what": "store floor (plain sqlite3 executemany of the stored rows)", "rows": floor["patents"],
         "cpu_us": store_us, "wall_s": floor["seconds"], "rate": floor["patents"] / floor["seconds"]},
        {"what": f"ideal: parse + store on {cores} cores, nothing between", "rows": floor["patents"],
         "cpu_us": parse_us + store_us, "rate": ideal},
        *({"what": f"– store floor: {t}", "cpu_us": u} for t, u in table_us.items()),
        {"what": "one SQLite writer doing only the store floor (1 ÷ store floor)", "cpu_us": store_us,
         "rate": one_writer},
        {"what": "parse processes' side (parse, places, owner facts, hashes, rows, pickled hand-over)",
         "rows": side["records"], "cpu_us": side_us, "wall_s": side["seconds"],
         "rate": side["records"] / side["seconds"]},
        {"what": "importing process alone (receive, owners, keys, store, index rebuild)", "rows": writer["read"],
         "cpu_us": writer_us, "wall_s": writer["seconds"], "rate": writer["read"] / writer["seconds"]},
        {"what": "xjip import (CPU over the process tree)", "rows": rows_read, "cpu_us": import_us,
         "wall_s": got["seconds"], "rate": rows_read / got["seconds"]},
        {"what": f"target ≥ {TARGET:,} rows/s on {cores} cores", "cpu_us": budget, "rate": TARGET},
    ]
    columns = [("what", "measurement"), ("rows", "rows"), ("cpu_us", "CPU µs/row"), ("wall_s", "wall s"),
               ("rate", "rows/s")]
    notes = [f"CPU left for places, owner names, hashes and hand-over under the target: {left:.0f} µs/row; "
             f"the import spends {import_us - parse_us - store_us:.0f} µs/row on them",
             f"the parse processes' side costs {side_us:.0f} µs/row of which {parse_us:.0f} are the bare parse; "
             f"the importing process {writer_us:.0f} µs/row of which {store_us:.0f} are the store floor; "
             f"{side['bytes'] / side['records']:,.0f} bytes/row are handed over",
             f"one SQLite writer (one at a time, whatever the cores) doing nothing but the store floor reaches "
             f"{one_writer:,.0f} rows/s: under the {TARGET:,} rows/s target that leaves the importing process "
             f"{max(0.0, 1e6 / TARGET - store_us):.0f} µs/row for everything else it does",
             "store floor: this process's CPU for the inserts, commits every "
             f"{PATENTS_PER_COMMIT:,} patents and the rebuild of the secondary indexes, on the importer's "
             "bulk-load settings; the rows are exactly those the import stored"]
    append_results(f"Import floor (CSV {args.n:,} rows, SQLite)", shell_command(), info, rows, columns,
                   notes)


if __name__ == "__main__":
    main()
