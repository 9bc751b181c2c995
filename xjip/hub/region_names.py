"""Region names in the reader's language: the Chinese name from the shipped region table (and the
provinces), the English name from `refdata/regions/region_names_en.csv` (its origin and rules in
refdata/README.md). XPCC cities read as their division and city: "8th Division / Shihezi"."""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

NAMES_EN = Path(__file__).parent / "refdata" / "regions" / "region_names_en.csv"


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, str]]:
    with open(NAMES_EN, encoding="utf-8", newline="") as fh:
        return {row["code"]: row for row in csv.DictReader(fh)}


def region_name(code: str | None, lang: str) -> str | None:
    """The name of a region code (6 digits; a township's 9 digits count as its county) in `lang`,
    or None when the table does not know the code (the caller keeps the name it has)."""
    if not code:
        return None
    row = _table().get(code) or (_table().get(code[:6]) if len(code) > 6 else None)
    if row is None:
        return None
    if lang == "zh":
        return row["name_zh"]
    if row["xpcc_division_en"]:
        return f"{row['xpcc_division_en']} / {row['name_en']}"
    return row["name_en"]


def english_names() -> dict[str, str]:
    """code → English name, for every code of the table (tests, charts)."""
    return {code: region_name(code, "en") or "" for code in _table()}
