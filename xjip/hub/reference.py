"""Loaders of the reference tables. The tables the platform needs to run ship with the package
(`xjip/hub/refdata/`, copies of the same files in `shared/data`, see its README for origin and
licence), so `xjip init` works on a fresh clone; the law texts are optional samples read from
`shared/data/legal` when that folder is there.

Every loader is idempotent: it reads the current rows, inserts what is missing, updates what
differs (by primary key) and leaves the rest alone, so a second run reports only `unchanged`.
Rows that disappeared from a source are kept (reference data is only ever added to or corrected).
Writes go through SQLAlchemy Core executemany (`insert(table)` with a list of rows), which keeps
the 77k IPC rows and the whole `load_all` well under 30 s on SQLite.

Sources and choices (see each folder's README):
- regions: `gazetteer.region_rows` / `gazetteer.alias_rows` (CSV + the gazetteer's own tables;
  townships become aliases of kind 'township' with their 9-digit codes).
- population: one row per (code, year, indicator). A `persons` row wins; a `10k persons` row
  (万人) is kept only when no persons row exists for that key, converted to persons
  (round(value × 10,000)) and marked in `scope_note`. The region README says the two agree
  where both exist (博州 47.85万 is the superseded exception, and loses to the census row).
- IPC: Chinese titles of CNIPA 2026.01 joined on `code` with English titles of WIPO 2019.01;
  `edition_zh` / `edition_en` say which edition each title comes from (NULL when absent).
- SEI (CNIPA 2021): 40 industries, 321 keyword rules (`data` = seiName + keywords), 34,598
  IPC→rule rows. Nice: 45 classes. 类似群 (2018 区分表): 491 groups and the item rows
  (the 4 groups without items give no item row).
- laws: `legal/index.csv` + one Markdown file each, split at lines starting `第…条`
  (judicial replies: `一、二、…`), with the chapter (`## 第一章 总则`, plus `### 第一节 …`).
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from xjip.hub import gazetteer
from xjip.hub.models import (
    IpcClass, IpcSei, Law, LawArticle, NiceClass, Region, RegionAlias, RegionPopulation, SeiIndustry,
    SeiRule, SimilarGroup, SimilarItem,
)
from xjip.i18n import both

PACKAGE_DIR = Path(__file__).resolve().parent / "refdata"  # laid out as shared/data: regions/, classification/, stats/
IPC_EDITION_ZH = "2026.01"
IPC_EDITION_EN = "2019.01"
SIMILAR_EDITION = "2018"
CHUNK = 5000


class ReferenceDataError(Exception):
    """A reference file is missing or unreadable; `code` is `reference.error.<code>`."""

    def __init__(self, code: str, **params: Any):
        self.code, self.params = code, params
        zh, en = both(f"reference.error.{code}", **params)
        super().__init__(f"{zh} / {en}")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged)


# --- generic upsert ------------------------------------------------------------------------

def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime):
        a = a.date()
    if isinstance(b, dt.datetime):
        b = b.date()
    return a == b


def sync_rows(session: Session, table: Table, key_cols: Sequence[str], rows: Iterable[dict[str, Any]],
              pk_col: str | None = None) -> Counts:
    """Insert rows whose key is new, update (by primary key) those that differ, count the rest.
    Duplicate keys within `rows`: the first one wins."""
    pk_col = pk_col or list(table.primary_key.columns)[0].name
    rows = list(rows)
    if not rows:
        return Counts()
    cols = [c for c in rows[0] if c not in key_cols and c != pk_col]
    fetch = [table.c[c] for c in dict.fromkeys([pk_col, *key_cols, *cols])]
    conn = session.connection()
    existing: dict[tuple, Any] = {}
    for rec in conn.execute(select(*fetch)).mappings():
        existing[tuple(rec[k] for k in key_cols)] = rec
    counts = Counts()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for row in rows:
        key = tuple(row[k] for k in key_cols)
        if key in seen:
            continue
        seen.add(key)
        old = existing.get(key)
        if old is None:
            inserts.append(row)
        elif all(_same(old[c], row[c]) for c in cols):
            counts.unchanged += 1
        else:
            updates.append({**{f"b_{c}": row[c] for c in cols}, "b_pk": old[pk_col]})
    for start in range(0, len(inserts), CHUNK):
        conn.execute(insert(table), inserts[start:start + CHUNK])
    if updates:
        stmt = update(table).where(table.c[pk_col] == bindparam("b_pk")).values(
            {c: bindparam(f"b_{c}") for c in cols})
        for start in range(0, len(updates), CHUNK):
            conn.execute(stmt, updates[start:start + CHUNK])
    counts.inserted, counts.updated = len(inserts), len(updates)
    return counts


def data_file(path: str | Path) -> Path | None:
    """`path`, or its gzipped twin `path.gz` (the package ships larger tables compressed)."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _need(path: Path) -> Path:
    found = data_file(path)
    if found is None:
        raise ReferenceDataError("missing_file", path=str(path))
    return found


def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    path = _need(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in rec.items()} for rec in csv.DictReader(fh, delimiter=delimiter)]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    path = _need(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ReferenceDataError("bad_row", path=str(path), line=line_no, detail=str(exc)) from exc
    return out


# --- loaders -------------------------------------------------------------------------------

def load_regions(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    """GB/T 2260 units (current and former) and their aliases (gazetteer tables + townships)."""
    shared_dir = Path(shared_dir)
    _need(shared_dir / "regions" / "xinjiang_admin_divisions.csv")
    regions = gazetteer.region_rows(shared_dir)
    aliases = gazetteer.alias_rows(shared_dir, regions)
    return {
        "region": sync_rows(session, Region.__table__, ["code", "valid_from"], regions, "id"),
        "region_alias": sync_rows(session, RegionAlias.__table__, ["alias", "code", "kind"], aliases, "id"),
    }


def population_rows(shared_dir: str | Path) -> list[dict[str, Any]]:
    rows = _read_csv(Path(shared_dir) / "regions" / "xinjiang_population.csv")
    confidence_rank = {"high": 0, "medium": 1, "low": 2}
    chosen: dict[tuple[str, int, str], tuple[tuple, dict[str, Any]]] = {}
    for rec in rows:
        unit, raw = rec["unit"], rec["value"]
        if unit == "persons":
            persons, note = int(float(raw)), rec["scope_note"] or None
        elif unit == "10k persons":
            persons = round(float(raw) * 10_000)
            note = "; ".join(filter(None, [rec["scope_note"], f"converted from {raw} 万人 (10k persons)"]))
        else:
            continue
        key = (rec["region_code"], int(rec["reference_date"][:4]), rec["indicator"])
        rank = (0 if unit == "persons" else 1, confidence_rank.get(rec["confidence"], 3))
        if key in chosen and chosen[key][0] <= rank:
            continue
        source = " — ".join(filter(None, [rec["source_url"], rec["source_note"]]))
        chosen[key] = (rank, dict(code=key[0], year=key[1], indicator=key[2], reference_date=rec["reference_date"],
                                  persons=persons, confidence=rec["confidence"] or None, scope_note=note,
                                  source=source or None))
    return [row for _, row in chosen.values()]


def load_population(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    return {"region_population": sync_rows(session, RegionPopulation.__table__, ["code", "year", "indicator"],
                                           population_rows(shared_dir), "id")}


def ipc_rows(shared_dir: str | Path) -> list[dict[str, Any]]:
    folder = Path(shared_dir) / "classification"
    merged: dict[str, dict[str, Any]] = {}
    for rec in _read_csv(folder / "ipc_zh_cnipa2026.tsv.gz", "\t"):
        title = rec["title_zh"] or None
        merged[rec["code"]] = dict(code=rec["code"], level=rec["level"], title_zh=title, title_en=None,
                                   edition_zh=IPC_EDITION_ZH if title else None, edition_en=None)
    for rec in _read_csv(folder / "ipc_en_wipo2019.tsv.gz", "\t"):
        row = merged.setdefault(rec["code"], dict(code=rec["code"], level=rec["level"], title_zh=None,
                                                  title_en=None, edition_zh=None, edition_en=None))
        if rec["title_en"]:
            row["title_en"], row["edition_en"] = rec["title_en"], IPC_EDITION_EN
    return list(merged.values())


def load_ipc(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    return {"ipc_class": sync_rows(session, IpcClass.__table__, ["code"], ipc_rows(shared_dir))}


def load_sei(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    folder = Path(shared_dir) / "classification"
    industries = [dict(code=r["sei_code"], name_zh=r["sei_name"])
                  for r in _read_csv(folder / "sei_industries_cnipa2021.csv")]
    rules = [dict(id=int(r["id"]), sei_code=r["seiCode"], data={"seiName": r["seiName"], "keywords": r["keywords"]})
             for r in _read_jsonl(folder / "sei_rules_cnipa2021.jsonl")]
    mapping = [dict(ipc_code=r["ipcCode"], rule_id=int(r["seiId"]))
               for r in _read_jsonl(folder / "ipc_sei_cnipa2021.jsonl.gz")]
    return {
        "sei_industry": sync_rows(session, SeiIndustry.__table__, ["code"], industries),
        "sei_rule": sync_rows(session, SeiRule.__table__, ["id"], rules),
        "ipc_sei": sync_rows(session, IpcSei.__table__, ["ipc_code", "rule_id"], mapping, "id"),
    }


def load_nice(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    folder = Path(shared_dir) / "classification"
    classes = [dict(code=r["class"], kind=r["kind"], heading_zh=r["heading_zh"], heading_en=r["heading_en"] or None)
               for r in _read_csv(folder / "nice_classes.csv")]
    groups = [dict(code=r["group_code"], nice_class=r["class"], name_zh=r["group_name"], edition=SIMILAR_EDITION)
              for r in _read_csv(folder / "cn_similar_groups_2018.csv")]
    items = [dict(item_code=r["item_code"], group_code=r["group_code"], name_zh=r["item_name"],
                  nice_class=r["class"], cn_supplementary=r["cn_supplementary"] == "Y")
             for r in _read_csv(folder / "cn_similar_groups_items_2018.csv.gz") if r["item_code"]]
    return {
        "nice_class": sync_rows(session, NiceClass.__table__, ["code"], classes),
        "similar_group": sync_rows(session, SimilarGroup.__table__, ["code"], groups),
        "similar_item": sync_rows(session, SimilarItem.__table__, ["item_code", "group_code", "name_zh"], items, "id"),
    }


_ARTICLE = re.compile(r"^(第[一二三四五六七八九十百千零〇]+条(?:之[一二三四五六七八九十]+)?)[\s\u3000]*(.*)$")
_ITEM = re.compile(r"^([一二三四五六七八九十]+)、(.*)$")


def split_articles(markdown: str) -> list[dict[str, Any]]:
    """Split a LawRefBook Markdown text into articles: [{seq, number, chapter, text}].
    An article runs from its `第X条` line to the next one; `##`/`###` headings set the chapter."""
    body = markdown.split("<!-- INFO END -->", 1)[-1]
    lines = [ln.strip() for ln in body.splitlines()]
    pattern = _ARTICLE if any(_ARTICLE.match(ln) for ln in lines) else _ITEM
    articles: list[dict[str, Any]] = []
    chapter = section = None
    current: dict[str, Any] | None = None
    for line in lines:
        if not line:
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            title = line.lstrip("#").strip()
            if level <= 2:
                chapter, section = title, None
            else:
                section = title
            current = None
            continue
        m = pattern.match(line)
        if m:
            current = dict(seq=len(articles) + 1, number=m.group(1),
                           chapter="/".join(filter(None, [chapter, section])) or None, lines=[m.group(2)])
            articles.append(current)
        elif current is not None:
            current["lines"].append(line)
    for art in articles:
        art["text"] = "\n".join(filter(None, art.pop("lines")))
    return articles


def load_laws(session: Session, shared_dir: str | Path) -> dict[str, Counts]:
    folder = Path(shared_dir) / "legal"
    index = _read_csv(folder / "index.csv")
    laws, texts = [], {}
    for rec in index:
        version = dt.date.fromisoformat(rec["version_date"]) if rec["version_date"] else None
        key = f"{rec['title']}@{rec['version_date']}"
        laws.append(dict(key=key, title=rec["title"], category=rec["category"] or None, version_date=version,
                         source="; ".join(filter(None, [rec["source"], rec["source_file_last_commit"]])) or None))
        texts[key] = _need(folder / rec["file"]).read_text(encoding="utf-8")
    law_counts = sync_rows(session, Law.__table__, ["key"], laws, "id")
    ids = dict(session.connection().execute(select(Law.key, Law.id)).all())
    articles = []
    for key, markdown in texts.items():
        for art in split_articles(markdown):
            articles.append(dict(law_id=ids[key], seq=art["seq"], number=art["number"], chapter=art["chapter"],
                                 text=art["text"]))
    article_counts = sync_rows(session, LawArticle.__table__, ["law_id", "seq"], articles, "id")
    from xjip.hub.store import mark_changed

    # after the commit, the after-commit hooks (the search index) hear of every article
    mark_changed(session, "law", session.connection().execute(select(LawArticle.id)).scalars().all())
    return {"law": law_counts, "law_article": article_counts}


STEPS: list[tuple[str, Callable[[Session, Path], dict[str, Counts]]]] = [
    ("regions", load_regions), ("population", load_population), ("ipc", load_ipc), ("sei", load_sei),
    ("nice", load_nice),
]


def laws_available(shared_dir: str | Path | None) -> bool:
    return bool(shared_dir) and (Path(shared_dir) / "legal" / "index.csv").is_file()


def load_all(session: Session, shared_dir: str | Path | None = None,
             progress: Callable[[str, dict[str, Counts]], None] | None = None, *,
             tables_dir: str | Path = PACKAGE_DIR) -> dict[str, dict[str, int]]:
    """Run every loader in one transaction (the caller commits). Returns {table: counts}.

    The tables come from `tables_dir` (the package's own copies); the laws from
    `shared_dir/legal` when it exists, else they are skipped (nothing the platform needs)."""
    out: dict[str, dict[str, int]] = {}
    steps = [(step, loader, Path(tables_dir)) for step, loader in STEPS]
    if laws_available(shared_dir):
        steps.append(("laws", load_laws, Path(shared_dir)))  # type: ignore[arg-type]
    for step, loader, folder in steps:
        result = loader(session, folder)
        out.update({table: counts.as_dict() for table, counts in result.items()})
        if progress is not None:
            progress(step, result)
    return out
