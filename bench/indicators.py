"""All 7 plan indicators for the region and every prefecture over ≥1,000,000 patents and
1,000,000 trademarks (issue 12: ≤ 2 s on SQLite and on PostgreSQL), the dashboard's server time
(≤ 300 ms), and the proof that the incrementally kept facts equal a full recount.

    nice -n 10 .venv/bin/python bench/indicators.py                      # 1M + 1M, both databases
    nice -n 10 .venv/bin/python bench/indicators.py --patents 100000 --trademarks 100000 --db sqlite --no-record

Scale data is synthetic (issue 12 allows it for scale only), drawn from real vocabularies: the
IPC codes of CNIPA's 2021 SEI concordance and of the IPC table, the prefectures and XPCC cities in
proportion to `synth_weights` (real statistics), filing years 2000–2025. Every row says it is
synthetic (`is_synthetic`, key prefix `SYN-`). The rows are written with Core bulk inserts (the
import pipeline's own speed is measured by bench/import_throughput.py); the per-patent facts are
then computed by `facts.rebuild` (the hook does the same per committed batch), and timed apart.
Figures on these rows are not Xinjiang facts.
"""
from __future__ import annotations

import argparse
import os
import datetime as dt
import itertools
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RESULTS_JSONL, RESULTS_MD, machine, throwaway_database  # noqa: E402

CHUNK = 20_000


def _vocab(session):  # noqa: ANN001, ANN202
    from sqlalchemy import select

    from xjip.hub import models as m
    from xjip.hub.synth_weights import weights

    sei = list(session.scalars(select(m.IpcSei.ipc_code).where(m.IpcSei.ipc_code.like("%/%"))))
    other = list(session.scalars(select(m.IpcClass.code).where(m.IpcClass.level == "maingroup").limit(20000)))
    w = weights()
    xpcc_cities = sorted(r.code for r in session.scalars(select(m.Region).where(m.Region.is_xpcc.is_(True),
                                                                                m.Region.level == 3,
                                                                                m.Region.valid_to.is_(None))))
    places, shares = [], []
    for code, share in w.prefectures.items():
        if code == "659000":
            for city in xpcc_cities:
                places.append(("659000", city))
                shares.append(share / len(xpcc_cities))
        else:
            places.append((code, None))
            shares.append(share)
    return sei, other or sei, places, shares


PATENT_COLS = ("key", "country", "app_number", "app_date", "patent_type", "grant_date", "grant_number", "status", "ipc",
               "ipc_main", "prefecture_code", "county_code", "province_code", "region_code", "title", "is_synthetic",
               "source")
TM_COLS = ("key", "office", "app_number", "reg_date", "expiry_date", "status", "status_date", "word_element",
           "prefecture_code", "county_code", "region_code", "is_synthetic", "source")
SOURCE = "bench/indicators.py (synthetic)"


def _bulk(store, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:  # noqa: ANN001
    """Rows straight to the driver: executemany on SQLite, COPY on PostgreSQL (the fill is not
    what is measured; the pipeline's own speed is bench/import_throughput.py)."""
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if store.dialect == "sqlite":
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        else:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def fill(url: str, patents: int, trademarks: int, seed: int = 12) -> dict[str, float]:
    from sqlalchemy import insert, select

    from xjip.hub import models as m
    from xjip.hub.store import Store
    from xjip.indicators import facts
    from xjip.settings import Settings

    rng = random.Random(seed)
    store = Store(Settings.from_env(database_url=url, data_dir=tempfile.mkdtemp()))
    timings: dict[str, float] = {}
    with store.session() as s:
        sei, other, places, shares = _vocab(s)
    cum = list(itertools.accumulate(shares))
    started = time.perf_counter()
    pledges, families = [], []
    base = dt.date(2000, 1, 1)
    for start in range(0, patents, CHUNK):
        rows = []
        for i in range(start, min(patents, start + CHUNK)):
            pref, county = rng.choices(places, cum_weights=cum)[0]
            filed = base + dt.timedelta(days=rng.randrange(26 * 365))
            kind = "invention" if rng.random() < 0.3 else "utility_model"
            granted = filed + dt.timedelta(days=rng.randrange(300, 1500)) if rng.random() < 0.7 else None
            if granted and granted > dt.date(2025, 12, 31):
                granted = None
            lapsed = granted and rng.random() < 0.25
            ipc = [rng.choice(sei) if rng.random() < 0.35 else rng.choice(other) for _ in range(rng.randint(1, 3))]
            number = f"CN{filed.year}1{i:07d}.{i % 10}"
            rows.append((f"SYN-P{i}", "CN", number, filed, kind, granted, f"CN{i:09d}B" if granted else None,
                         "lapsed" if lapsed else ("granted" if granted else "pending"), json.dumps(ipc), ipc[0], pref,
                         county, "65", county or pref, f"[合成] synthetic patent {i}", True, SOURCE))
            if kind == "invention" and granted and rng.random() < 0.02:
                families.append((i, f"US{9_000_000 + i}B2"))
            if kind == "invention" and granted and rng.random() < 0.01:
                reg = granted + dt.timedelta(days=rng.randrange(30, 2000))
                if reg <= dt.date(2025, 12, 31):
                    pledges.append(dict(key=f"SYN-Y{i}", right_type="patent", right_numbers=[number],
                                        amount_wan=round(rng.lognormvariate(6, 1.2), 1), reg_date=reg,
                                        prefecture_code=pref, county_code=county, is_synthetic=True, source=SOURCE))
        _bulk(store, "patent", PATENT_COLS, rows)
    with store.session() as s:
        keys = [f"SYN-P{i}" for i, _ in families]
        ids = {}
        for part in range(0, len(keys), 5000):
            ids.update(s.execute(select(m.Patent.key, m.Patent.id).where(m.Patent.key.in_(keys[part:part + 5000]))).all())
        if families:
            s.execute(insert(m.PatentFamilyMember), [dict(patent_id=ids[f"SYN-P{i}"], number=n, country="US", kind="B2",
                                                          granted=True) for i, n in families])
        if pledges:
            s.execute(insert(m.Pledge), pledges)
    for start in range(0, trademarks, CHUNK):
        rows = []
        for i in range(start, min(trademarks, start + CHUNK)):
            pref, county = rng.choices(places, cum_weights=cum)[0]
            reg = base + dt.timedelta(days=rng.randrange(26 * 365)) if rng.random() < 0.8 else None
            cancelled = reg is not None and rng.random() < 0.05
            expiry = reg.replace(year=reg.year + 10) if reg and not (reg.month == 2 and reg.day == 29) else None
            rows.append((f"SYN-T{i}", "CN", f"SYN{i}", reg, expiry,
                         "cancelled" if cancelled else ("registered" if reg else "filed"),
                         reg + dt.timedelta(days=900) if cancelled else None, f"[合成] mark {i}", pref, county,
                         county or pref, True, SOURCE))
        _bulk(store, "trademark", TM_COLS, rows)
    timings["fill_s"] = time.perf_counter() - started
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    started = time.perf_counter()
    with store.session() as s:
        timings["facts_rows"] = facts.rebuild(s)
    timings["facts_rebuild_s"] = time.perf_counter() - started
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    store.dispose()
    return timings


def measure(url: str, runs: int, year: int, recount: bool) -> dict[str, object]:
    from fastapi.testclient import TestClient

    from xjip.app import create_app
    from xjip.hub.store import Store
    from xjip.indicators import compute, facts, report
    from xjip.settings import Settings

    settings = Settings.from_env(database_url=url, data_dir=tempfile.mkdtemp())
    store = Store(settings)
    out: dict[str, object] = {}
    best = float("inf")
    for _ in range(runs):  # the 7 indicators, region + every prefecture, one year
        with store.reading() as s:
            t = time.perf_counter()
            result = compute.compute(s, [year])
            best = min(best, time.perf_counter() - t)
    out["indicators_one_year_s"] = best
    hv = result["hv_invention_per_10k"][year]
    out["hv_region_numerator"] = hv["650000"].numerator
    out["prefectures_with_figures"] = sum(1 for b in hv if b not in ("650000", "unplaced"))
    best = float("inf")
    for _ in range(runs):  # what the dashboard computes: every indicator, every year 2020→year, ranking
        with store.reading() as s:
            t = time.perf_counter()
            report.build(s, year)
            best = min(best, time.perf_counter() - t)
    out["report_2020_to_year_s"] = best
    app = create_app(settings, store)
    client = TestClient(app)
    client.get(f"/api/indicators?year={year}")
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(f"/api/indicators?year={year}")
        best = min(best, time.perf_counter() - t)
        assert r.status_code == 200
    out["dashboard_api_s"] = best
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(f"/indicators?year={year}")
        best = min(best, time.perf_counter() - t)
        assert r.status_code == 200
    out["dashboard_page_s"] = best
    from xjip.reports import annual  # the annual report: data, HTML and PDF (WeasyPrint)

    t = time.perf_counter()
    with store.reading() as s:
        data = annual.build(s, year)
    out["report_data_s"] = time.perf_counter() - t
    import io

    buf = io.BytesIO()
    annual.render_pdf(annual.render_html(data), buf)
    out["report_pdf_s"] = time.perf_counter() - t
    out["report_pdf_bytes"] = len(buf.getvalue())
    if recount:  # record by record in Python: minutes at this scale (tests/indicators prove it on real imports)
        with store.reading() as s:
            t = time.perf_counter()
            rc = facts.recount(s, limit=3)
            out["recount_s"] = time.perf_counter() - t
        out["recount_equal"] = rc["equal"]
    else:
        out["recount_equal"] = "not run"
    store.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patents", type=int, default=1_000_000)
    ap.add_argument("--trademarks", type=int, default=1_000_000)
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--recount", action="store_true", help="also compare the kept facts with a full recount")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for kind in args.db.split(","):
            with throwaway_database(kind, Path(work), "ind") as db:
                fill_t = fill(db.url, args.patents, args.trademarks)
                got = measure(db.url, args.runs, args.year, args.recount)
                row = {"db": kind, "patents": args.patents, "trademarks": args.trademarks, **fill_t, **got}
                print(json.dumps(row, default=str), flush=True)
                results.append(row)
    if args.no_record:
        return
    mach = machine()
    cmd = "bench/indicators.py " + " ".join(sys.argv[1:])
    lines = [f"\n## Plan indicators at scale (issue 12) — {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}\n",
             f"- command: `nice -n 10 .venv/bin/python {cmd.strip()}`",
             f"- machine: {mach['cpu']}, {mach['cores']} cores, {mach['ram_gb']} GB RAM, {mach['os']}; Python "
             f"{mach['python']}, SQLite {mach['sqlite']}, PostgreSQL {mach['postgresql']}; commit {mach['git']}; "
             f"load average at the end {os.getloadavg()[0]:.1f} (the 2 cores are shared)", "",
             "| db | patents | trademarks | facts rows | 7 indicators, region + every prefecture, 1 year (s) | "
             "dashboard data 2020→year (s) | GET /api/indicators (s) | GET /indicators page (s) | annual report data + "
             "PDF (s) | facts rebuild (s) | recount equal | bulk fill (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['db']} | {r['patents']:,} | {r['trademarks']:,} | {r['facts_rows']:,} | "
                     f"{r['indicators_one_year_s']:.3f} | {r['report_2020_to_year_s']:.3f} | {r['dashboard_api_s']:.3f} | "
                     f"{r['dashboard_page_s']:.3f} | {r['report_pdf_s']:.1f} | {r['facts_rebuild_s']:.1f} | "
                     f"{r['recount_equal']} | {r['fill_s']:.0f} |")
    lines.append("")
    lines.append("- Synthetic rows from real vocabularies (see the script's docstring); best of "
                 f"{args.runs} runs; server time measured in-process (FastAPI TestClient, no network).")
    with open(RESULTS_MD, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(RESULTS_JSONL, "a", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps({"bench": "indicators", "machine": mach, **r}, default=str) + "\n")


if __name__ == "__main__":
    main()
