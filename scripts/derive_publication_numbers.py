"""Derive xjip/hub/refdata/stats/cn_publication_numbers.csv from real CN publications in shared/data.

For each kind of first publication (A: invention application, U: utility model) and each publication
day seen in the real exports, the smallest and largest publication number published that day, rounded
outwards to the thousand (a range, not the numbers of the sample's records). The
synthetic generator interpolates between these days so that a synthetic record's publication number
lies where real numbers of its publication date and type lie. Run again when shared/data gains
exports:  .venv/bin/python scripts/derive_publication_numbers.py [SHARED_DATA_DIR]
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
import sys
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "xjip" / "hub" / "refdata" / "stats" / "cn_publication_numbers.csv"
SOURCES = (
    "patents/real_exports/cn_export/incopat_福特INCO.xlsx",
    "patents/real_exports/cn_export/ptics_cn_阿波罗智行.csv",
    "patents/real_exports/cn_export/ptics_cn_斑马智行_中国21.xlsx",
    "patents/cn_patent_records_small/cn_records_unified.jsonl.gz",
)
NUMBER = re.compile(r"CN(\d{9})([AU])\d?")


def _day(text: object) -> dt.date | None:
    digits = re.sub(r"\D", "", str(text or ""))[:8]
    if len(digits) != 8:
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _rows(shared: Path):  # noqa: ANN202 - (publication number, publication date) pairs
    for rel in SOURCES:
        path = shared / rel
        if path.suffix == ".xlsx":
            sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
            header = [str(h or "") for h in next(sheet)]
            number = next(i for i, h in enumerate(header) if h in ("公开（公告）号", "公开号"))
            date = next(i for i, h in enumerate(header) if h in ("公开（公告）日", "公开-公告日"))
            for row in sheet:
                yield row[number], row[date]
        elif path.suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    yield row["公开号"], row["公开日"]
        else:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    yield rec.get("publication_number"), rec.get("publication_date")


def main(shared: Path, out: Path = OUT) -> None:
    days: dict[tuple[str, dt.date], list[int]] = {}
    for number, date in _rows(shared):
        m = NUMBER.fullmatch(str(number or "").strip())
        day = _day(date)
        if m and day:
            days.setdefault((m.group(2), day), []).append(int(m.group(1)))
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["kind", "date", "first_number", "last_number", "records"])
        for (kind, day), numbers in sorted(days.items()):
            writer.writerow([kind, day.isoformat(), min(numbers) // 1000 * 1000, -(-max(numbers) // 1000) * 1000,
                          len(numbers)])
    print(f"{len(days)} publication days → {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
