#!/usr/bin/env python
"""Real exports, plain import: every file under ../shared/data/patents/real_exports/ (incoPat,
Patentics, Derwent Innovation, CNIPA-style lists, USPTO, EPO, EPO OPS, USPTO TSDR — files other
people's tools wrote, see the README there) imported with a plain `xjip import FILE`, each into
a fresh database, on SQLite and on PostgreSQL. Per file:

- applications in the file, counted here independently of the importers (distinct application
  numbers of the table's 申请号 / Application Number column, the publication number where a row
  has none; in XML, distinct application-reference numbers, else the documents), against the
  applications the database holds afterwards (patents; trademarks for trademark files);
- field coverage of what was stored: title, numbers, dates, applicant, IPC, abstract, place;
- rejections by reason; records read per second (wall time of the whole `xjip import`).

    .venv/bin/python bench/real_exports.py                  # SQLite and PostgreSQL, appends to RESULTS.md
    .venv/bin/python bench/real_exports.py --db sqlite --no-append
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    PYTHON, append_results, machine, measure, measured_backends, shell_command, throwaway_database,
)

APP_HEADERS = {"申请号", "applicationnumber", "专利申请号"}
PUB_HEADERS = {"公开号", "公开公告号", "publicationnumber", "patentics", "displaykey", "id"}


def norm(text: Any) -> str:
    out = unicodedata.normalize("NFKC", "" if text is None else str(text)).lower()
    return "".join(ch for ch in out if unicodedata.category(ch)[0] not in "PZC")


# --- counting applications without the importers ----------------------------------------

def table_rows(path: Path) -> list[list[Any]]:
    data = path.read_bytes()
    if data.startswith(b"PK"):
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        ws.reset_dimensions()
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        import xlrd

        sheet = xlrd.open_workbook(file_contents=data).sheet_by_index(0)
        return [sheet.row_values(i) for i in range(sheet.nrows)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
        except UnicodeDecodeError:
            continue
    return []


def applications_in_table(path: Path) -> int | None:
    rows = table_rows(path)
    for i, row in enumerate(rows[:30]):
        cells = [norm(c) for c in row]
        app = next((j for j, c in enumerate(cells) if c in APP_HEADERS), None)
        pub = next((j for j, c in enumerate(cells) if c in PUB_HEADERS), None)
        if app is None and pub is None:
            continue
        keys = set()
        for r in rows[i + 1:]:
            a = str(r[app]).strip() if app is not None and app < len(r) and r[app] not in (None, "") else ""
            p = str(r[pub]).strip() if pub is not None and pub < len(r) and r[pub] not in (None, "") else ""
            if a:
                keys.add("A" + re.sub(r"\s+", "", a).upper())
            elif p:
                keys.add("P" + re.sub(r"\s+", "", p).upper())
        return len(keys)
    return None


_APP_REF = re.compile(rb"<(?:\w+:)?application-reference\b[^>]*>(.*?)</(?:\w+:)?application-reference>", re.S)
_DOC_NUMBER = re.compile(rb"<(?:\w+:)?doc-number>\s*([^<]+?)\s*</")
_B210 = re.compile(rb"<B210>\s*(?:<DNUM>\s*)?(?:<PDAT>)?\s*([^<\s]+)")
_TM_APP = re.compile(rb"<(?:\w+:)?(?:ApplicationNumberText|ApplicationNumber)\b[^>]*>\s*([^<\s]+)\s*<")


def applications_in_xml(path: Path) -> int:
    data = path.read_bytes()
    refs = set()
    for block in _APP_REF.findall(data):
        m = _DOC_NUMBER.search(block)
        if m:
            refs.add(re.sub(rb"\W", b"", m.group(1)))
    if refs:
        return len(refs)
    found = set(_B210.findall(data)) or set(_TM_APP.findall(data))
    return len(found) or max(data.count(b"<?xml"), 1)


def applications_in(path: Path) -> int | None:
    head = path.read_bytes()[:200].lstrip(b"\xef\xbb\xbf \r\n\t")
    return applications_in_xml(path) if head.startswith(b"<") else applications_in_table(path)


# --- what the database holds ---------------------------------------------------------------

def stored(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, func, select

    from xjip.hub import models as m
    from xjip.hub.store import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            patents = conn.scalar(select(func.count()).select_from(m.Patent)) or 0
            trademarks = conn.scalar(select(func.count()).select_from(m.Trademark)) or 0
            if not patents:
                return {"kind": "trademark" if trademarks else "patent", "stored": trademarks}
            p = m.Patent

            def share(*conds: Any) -> float:
                n = conn.scalar(select(func.count()).select_from(p).where(*conds)) or 0
                return 100.0 * n / patents

            return {"kind": "patent", "stored": patents,
                    "title": share(p.title.is_not(None)),
                    "numbers": share((p.app_number.is_not(None)) | (p.pub_number.is_not(None))),
                    "dates": share((p.app_date.is_not(None)) | (p.pub_date.is_not(None))),
                    "applicant": share(p.first_applicant.is_not(None)),
                    "ipc": share(p.ipc_main.is_not(None)),
                    "abstract": share(p.abstract.is_not(None)),
                    "place": share(p.region_code.is_not(None))}
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=None, help="folder of real exports (default: ../shared/data/patents/real_exports)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--workdir", default=os.environ.get("XJIP_BENCH_DIR", "/tmp/xjip_bench"))
    ap.add_argument("--no-append", action="store_true", help="Print only; do not append to bench/RESULTS.md")
    args = ap.parse_args()
    from xjip.settings import _default_shared_data

    root = Path(args.root or Path(_default_shared_data()) / "patents" / "real_exports")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix != ".md")
    backends = measured_backends(args.db)
    workdir = Path(args.workdir)
    rows: list[dict[str, Any]] = []
    totals: dict[str, list[int]] = {}
    for backend in backends:
        for path in files:
            in_file = applications_in(path)
            with throwaway_database(backend, workdir, "real") as db:
                got = measure([PYTHON, "-m", "xjip.cli", "--database-url", db.url, "--data-dir", str(db.data_dir),
                               "import", str(path), "--quiet", "--format", "json"])
                summary = got.json() or {}
                held = stored(db.url)
            reasons = "; ".join(f"{g['code']}{'[' + g['field'] + ']' if g.get('field') else ''} {g['count']:,}"
                                for g in summary.get("rejection_summary") or [])
            error = (summary.get("error") or {}).get("code")
            row = {"db": backend, "file": str(path.relative_to(root)), "in_file": in_file, **held,
                   "share": 100.0 * held["stored"] / in_file if in_file else None,
                   "read": summary.get("read"), "rejected": summary.get("rejected"),
                   "reasons": reasons or (error or "–"), "status": summary.get("status") or f"exit {got.returncode}",
                   "rate": (summary.get("read") or 0) / got.wall_s if got.wall_s else None, "wall_s": got.wall_s}
            rows.append(row)
            t = totals.setdefault(backend, [0, 0])
            t[0] += in_file or 0
            t[1] += min(held["stored"], in_file or 0)
            print(f"{backend} {row['file']}: {held['stored']:,}/{in_file} stored, {row['status']}, {reasons or error}",
                  flush=True)
    for backend, (n, s) in totals.items():
        print(f"{backend}: {s:,} of {n:,} applications stored ({100.0 * s / n:.1f}%)", flush=True)
    if args.no_append:
        return
    columns = [("db", "database"), ("file", "file"), ("in_file", "applications in file"), ("stored", "stored"),
               ("share", "stored %"), ("title", "title %"), ("numbers", "numbers %"), ("dates", "dates %"),
               ("applicant", "applicant %"), ("ipc", "IPC %"), ("abstract", "abstract %"), ("place", "place %"),
               ("status", "job"), ("rejected", "rejected"), ("reasons", "rejections by reason"),
               ("rate", "records/s")]
    notes = [f"{backend}: {s:,} of {n:,} applications stored ({100.0 * s / n:.1f}%), each file counted at most "
             "once in full" for backend, (n, s) in totals.items()]
    notes += ["applications in file: counted by this script, not by the importers (distinct values of the table's "
              "申请号/Application Number column, else its publication number; in XML distinct application-reference "
              "numbers, else USPTO B210 or trademark application numbers); stored: patents (trademarks for the "
              "trademark files) in a fresh database after `xjip import FILE`",
              "coverage: share of stored patents with a title; an application or publication number; a filing or "
              "publication date; a first applicant; a main IPC; an abstract; a place (any GB/T 2260 level)",
              "records/s: records read / wall time of `xjip import` (Python start-up and job bookkeeping included: "
              "small files are dominated by it)",
              "what is not stored: an EPO OPS search answer holds publication numbers only (refused with a "
              "message naming the biblio service to ask instead); Patentics' LYFT export cuts some numbers "
              "short (HK1914432…) so distinct rows meet; place: foreign files name no Xinjiang applicant, so "
              "no place is expected (Xinjiang placement is measured by bench/places.py)"]
    append_results("Real exports, plain import (../shared/data/patents/real_exports)", shell_command(), machine(),
                   rows, columns, notes)


if __name__ == "__main__":
    main()
