"""Per-invention-patent facts (`indicator_patent`) behind the high-value criteria, so that the
indicators are one indexed GROUP BY over a narrow table instead of rereading every patent's IPC
list, family, events and pledges on each request (issue 12: 1,000,000 patents in ≤ 2 s).

Kept current by the hub's after-commit hook (`on_commit`, registered in `xjip.indicators`):
patents changed by an import are recomputed, and so are the patents a changed pledge names.
`rebuild` recomputes the whole table; `recount` compares the table with a fresh computation
(the proof that the incremental rows equal a full recount; `xjip indicators check`).

What each fact means (settings that depend on a year or threshold are applied at query time):
- bucket: the prefecture-level unit the overview counts the patent in (XPCC cities as themselves,
  another province's patent as 'other'), from the patent's place (its first applicant's address).
- granted_on: grant date; a patent with none is never counted as in force.
- ends_on: the first day it was no longer in force: filing date + 20 years (专利法 第四十二条:
  发明专利权的期限为二十年…自申请日起计算), or the earliest dated lapse or invalidation event. A lapse
  event of an EP patent (INPADOC PG25, "lapsed in a contracting state") ends it in one state only, so
  it does not end the record (REGIONAL_OFFICES). `ended_undated`: a terminal status with no dated event: not counted.
- sei_code / sei_ipc: the first of the patent's IPC codes (main first) found in CNIPA's 2021
  《战略性新兴产业分类与国际专利分类参照关系表》 (hub table ipc_sei), tried as written, then its main
  group (H01L21/00), then its subclass (H01L), as the table lists codes at each of these levels.
- foreign_grant: a family member granted in another country (not WO, not the patent's own).
- pledge_*: the largest pledge whose right numbers name the patent (application, publication or
  grant number), its amount (万元), registration date and key.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.indicators import aggregates

log = logging.getLogger(__name__)

XPCC_NODE = "659000"
OUTSIDE = "other"
TERM_YEARS = 20  # 专利法 第四十二条 (invention)
ENDING_EVENTS = ("lapse", "invalidation")
# An EP patent is granted centrally and then lives on as national parts: its INPADOC lapse events
# (PG25 "lapsed in a contracting state", national REG codes) end one state's part, not the record.
# Its central revocation (opposition) is an invalidation event and still ends it.
REGIONAL_OFFICES = ("EP",)
TERMINAL_STATUSES = ("lapsed", "invalidated", "expired", "withdrawn", "rejected")
CHUNK = 2000
COLUMNS = ("patent_id", "bucket", "granted_on", "filed_on", "ends_on", "ended_undated", "sei_code", "sei_ipc",
           "foreign_grant", "pledge_wan", "pledge_key", "pledge_on", "is_synthetic")

_PATENT_COLS = (m.Patent.id, m.Patent.country, m.Patent.patent_type, m.Patent.app_number, m.Patent.pub_number,
                m.Patent.grant_number, m.Patent.app_date, m.Patent.grant_date, m.Patent.status, m.Patent.ipc,
                m.Patent.ipc_main, m.Patent.prefecture_code, m.Patent.county_code, m.Patent.province_code,
                m.Patent.is_synthetic)


def number_key(number: str | None) -> str | None:
    """A right number as pledges and award entries may write it: CN/ZL prefixes, dots and spaces
    aside (ZL202110123456.7, 202110123456.7 and CN202110123456.7 are one number)."""
    if not number:
        return None
    text = re.sub(r"[\s.·]", "", str(number).upper())
    text = re.sub(r"^(ZL|CN)", "", text)
    return text or None


def number_forms(key: str) -> set[str]:
    """The stored (canonical) forms a number key may have: CN202110123456.7, CN113456789B, …"""
    forms = {key, "CN" + key}
    if re.fullmatch(r"\d{8}[\dX]|\d{12}[\dX]", key):  # an application number with its check digit
        forms.add(f"CN{key[:-1]}.{key[-1]}")
    return forms


def bucket(prefecture: str | None, county: str | None, province: str | None) -> str | None:
    """Python twin of the overview's bucket (xjip.hub.queries.record_bucket)."""
    if prefecture == XPCC_NODE:
        return county or XPCC_NODE
    if prefecture is None and province is not None and province != "65":
        return OUTSIDE
    return prefecture


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


_SEI_CACHE: dict[tuple[str, int, int], dict[str, str]] = {}


def _sei_table(session: Session) -> dict[str, str]:
    """IPC code → SEI code, read once per database and concordance size (the hook runs per batch)."""
    from sqlalchemy import func

    key = (str(session.get_bind().url), session.scalar(select(func.count()).select_from(m.IpcSei)) or 0,
           session.scalar(select(func.max(m.IpcSei.id))) or 0)
    if key not in _SEI_CACHE:
        rules = dict(session.execute(select(m.SeiRule.id, m.SeiRule.sei_code)).all())
        table: dict[str, str] = {}
        for ipc, rule in session.execute(select(m.IpcSei.ipc_code, m.IpcSei.rule_id).order_by(m.IpcSei.rule_id)):
            if rule in rules:
                table.setdefault(ipc, rules[rule])
        _SEI_CACHE.clear()
        _SEI_CACHE[key] = table
    return _SEI_CACHE[key]


class Context:
    """What the facts of many patents need, read once: the SEI concordance and the pledges."""

    def __init__(self, session: Session):
        self.sei = _sei_table(session)
        self.pledges: dict[str, tuple[float, dt.date | None, str]] = {}
        stmt = select(m.Pledge.key, m.Pledge.right_numbers, m.Pledge.amount_wan, m.Pledge.reg_date) \
            .where(m.Pledge.right_type == "patent", m.Pledge.amount_wan.is_not(None))
        for key, numbers, amount, reg_date in session.execute(stmt):
            for number in numbers or []:
                k = number_key(number)
                if k and (k not in self.pledges or self.pledges[k][0] < amount):
                    self.pledges[k] = (float(amount), reg_date, key)

    def sei_of(self, codes: Iterable[str]) -> tuple[str | None, str | None]:
        for code in codes:
            for candidate in (code, re.sub(r"/\d+$", "/00", code), code[:4]):
                if candidate in self.sei:
                    return self.sei[candidate], candidate
        return None, None


def compute(session: Session, ctx: Context, patent_ids: list[int]) -> list[dict[str, Any]]:
    """Fact rows of the given patents (invention patents only; others get none)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(patent_ids), CHUNK):
        ids = patent_ids[start:start + CHUNK]
        rows = session.execute(select(*_PATENT_COLS).where(m.Patent.id.in_(ids),
                                                           m.Patent.patent_type == "invention")).all()
        if not rows:
            continue
        found = [r.id for r in rows]
        ends: dict[int, dt.date] = {}
        ev = select(m.PatentEvent.patent_id, m.PatentEvent.event_date, m.PatentEvent.category) \
            .where(m.PatentEvent.patent_id.in_(found), m.PatentEvent.category.in_(ENDING_EVENTS),
                   m.PatentEvent.event_date.is_not(None))
        country = {r.id: r.country for r in rows}
        for pid, day, category in session.execute(ev):
            if category == "lapse" and country[pid] in REGIONAL_OFFICES:
                continue
            if pid not in ends or day < ends[pid]:
                ends[pid] = day
        foreign: dict[int, tuple[dt.date, str]] = {}
        fam = select(m.PatentFamilyMember.patent_id, m.PatentFamilyMember.number, m.PatentFamilyMember.country,
                     m.PatentFamilyMember.date).where(m.PatentFamilyMember.patent_id.in_(found),
                                                      m.PatentFamilyMember.granted.is_(True))
        for pid, number, member_country, day in session.execute(fam):
            if not member_country or member_country in ("WO", country[pid]):
                continue
            rank = (day or dt.date.max, number)
            if pid not in foreign or rank < foreign[pid]:
                foreign[pid] = rank
        for r in rows:
            codes = [c for c in [r.ipc_main, *(r.ipc or [])] if isinstance(c, str) and c]
            sei_code, sei_ipc = ctx.sei_of(codes)
            end = ends.get(r.id)
            if r.app_date:
                term = _add_years(r.app_date, TERM_YEARS)
                end = min(end, term) if end else term
            pledge = None
            for number in (r.app_number, r.pub_number, r.grant_number):
                k = number_key(number)
                if k in ctx.pledges and (pledge is None or ctx.pledges[k][0] > pledge[0]):
                    pledge = ctx.pledges[k]
            out.append({
                "patent_id": r.id, "bucket": bucket(r.prefecture_code, r.county_code, r.province_code),
                "granted_on": r.grant_date, "filed_on": r.app_date, "ends_on": end,
                "ended_undated": bool(r.status in TERMINAL_STATUSES and r.id not in ends),
                "sei_code": sei_code, "sei_ipc": sei_ipc,
                "foreign_grant": foreign[r.id][1] if r.id in foreign else None,
                "pledge_wan": pledge[0] if pledge else None, "pledge_on": pledge[1] if pledge else None,
                "pledge_key": pledge[2] if pledge else None, "is_synthetic": bool(r.is_synthetic)})
    return out


class _Row:
    def __init__(self, data: dict[str, Any]):
        self.__dict__.update(data)


def _hv_series_to_keep(session: Session) -> tuple[str | None, Any]:
    """The built high-value series of the current settings (others are dropped: stale)."""
    from xjip.indicators import entries

    settings = entries.load_settings(session)
    want = aggregates.hv_series(settings)
    for series in aggregates.built_hv_series(session):
        if series != want:
            session.execute(delete(m.IndicatorDelta).where(m.IndicatorDelta.series == series))
    return (want if aggregates.built(session, want) else None), settings


def refresh(session: Session, patent_ids: list[int], ctx: Context | None = None) -> int:
    """Recompute the facts of these patents (rows of non-invention or deleted patents go), and
    move their runs in the high-value deltas."""
    if not patent_ids:
        return 0
    aggregates.lock(session)
    series, settings = _hv_series_to_keep(session)
    ctx = ctx or Context(session)
    rows = compute(session, ctx, patent_ids)
    items: list[tuple[str, int, int, int]] = []
    for start in range(0, len(patent_ids), CHUNK):
        part = patent_ids[start:start + CHUNK]
        if series:
            for f in session.execute(select(*aggregates._FACT_COLS).where(m.IndicatorPatent.patent_id.in_(part))):
                items += aggregates.contributions(f.bucket, aggregates.hv_interval(f, settings), f.is_synthetic, -1)
        session.execute(delete(m.IndicatorPatent).where(m.IndicatorPatent.patent_id.in_(part)))
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(m.IndicatorPatent), rows[start:start + CHUNK])
    if series:
        for r in rows:
            items += aggregates.contributions(r["bucket"], aggregates.hv_interval(_Row(r), settings), r["is_synthetic"])
        aggregates.apply(session, series, items)
    return len(rows)


_TM_COLS = (m.Trademark.id, m.Trademark.reg_date, m.Trademark.expiry_date, m.Trademark.status, m.Trademark.status_date,
            m.Trademark.prefecture_code, m.Trademark.county_code, m.Trademark.is_synthetic)


def trademark_rows(session: Session, ids: list[int] | None = None, last: int = 0, limit: int = 50_000) -> list[dict[str, Any]]:
    stmt = select(*_TM_COLS)
    stmt = stmt.where(m.Trademark.id.in_(ids)) if ids is not None else \
        stmt.where(m.Trademark.id > last).order_by(m.Trademark.id).limit(limit)
    out = []
    for r in session.execute(stmt):
        run = aggregates.tm_interval(r.reg_date, r.expiry_date, r.status, r.status_date)
        out.append({"trademark_id": r.id, "bucket": bucket(r.prefecture_code, r.county_code, None),
                    "first_year": run[0] if run else None, "end_year": run[1] if run else None,
                    "is_synthetic": bool(r.is_synthetic)})
    return out


def refresh_trademarks(session: Session, ids: list[int]) -> int:
    aggregates.lock(session)
    T = m.IndicatorTrademark
    tracked = aggregates.built(session, aggregates.TM)
    items: list[tuple[str, int, int, int]] = []
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        if tracked:
            for b, first, end, syn in session.execute(select(T.bucket, T.first_year, T.end_year, T.is_synthetic)
                                                      .where(T.trademark_id.in_(part))):
                if first is not None:
                    items += aggregates.contributions(b, (first, end), syn, -1)
        session.execute(delete(T).where(T.trademark_id.in_(part)))
        new = trademark_rows(session, part)
        if new:
            session.execute(insert(T), new)
        rows += new
    if tracked:
        for r in rows:
            if r["first_year"] is not None:
                items += aggregates.contributions(r["bucket"], (r["first_year"], r["end_year"]), r["is_synthetic"])
        aggregates.apply(session, aggregates.TM, items)
    return len(rows)


def patents_named_by_pledges(session: Session, pledge_ids: list[int]) -> list[int]:
    keys: set[str] = set()
    for numbers, in session.execute(select(m.Pledge.right_numbers).where(m.Pledge.id.in_(pledge_ids))):
        keys.update(k for k in map(number_key, numbers or []) if k)
    if not keys:
        return []
    ids: set[int] = set()
    # Numbers are stored canonical (CN…); a pledge may write them without the prefix or the dot.
    forms = sorted({f for k in keys for f in number_forms(k)})
    for start in range(0, len(forms), 500):
        part = forms[start:start + 500]
        for col in (m.Patent.app_number, m.Patent.pub_number, m.Patent.grant_number):
            ids.update(session.scalars(select(m.Patent.id).where(col.in_(part))))
    return sorted(ids)


def on_commit(store: Any, changed: dict[str, list[int]]) -> None:
    """The after-commit hook: keep `indicator_patent` current for what the batch changed."""
    patent_ids = list(changed.get("patent") or [])
    pledge_ids = list(changed.get("pledge") or [])
    trademark_ids = list(changed.get("trademark") or [])
    if not patent_ids and not pledge_ids and not trademark_ids:
        return
    try:
        with store.session() as s:
            if pledge_ids:
                patent_ids = sorted(set(patent_ids) | set(patents_named_by_pledges(s, pledge_ids)))
            refresh(s, patent_ids)
            if trademark_ids:
                refresh_trademarks(s, trademark_ids)
    except Exception:  # noqa: BLE001 - the import's own commit stands; `xjip indicators rebuild` repairs
        log.exception("indicator facts not refreshed for %d patents, %d trademarks", len(patent_ids),
                      len(trademark_ids))


def rebuild(session: Session) -> int:
    """Recompute the per-patent and per-trademark tables whole, and the delta series of the
    current settings. Returns the number of patent rows."""
    from xjip.indicators import entries

    aggregates.lock(session)
    ctx = Context(session)
    session.execute(delete(m.IndicatorPatent))
    session.execute(delete(m.IndicatorTrademark))
    session.execute(delete(m.IndicatorDelta))
    total, last = 0, 0
    while True:
        ids = list(session.scalars(select(m.Patent.id).where(m.Patent.id > last, m.Patent.patent_type == "invention")
                                   .order_by(m.Patent.id).limit(20_000)))
        if not ids:
            break
        rows = compute(session, ctx, ids)
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(m.IndicatorPatent), rows[start:start + CHUNK])
        total, last = total + len(rows), ids[-1]
    last = 0
    while True:
        rows = trademark_rows(session, last=last)
        if not rows:
            break
        session.execute(insert(m.IndicatorTrademark), rows)
        last = rows[-1]["trademark_id"]
    settings = entries.load_settings(session)
    aggregates.build(session, aggregates.TM)
    aggregates.build(session, aggregates.hv_series(settings), settings)
    # whole again: an unfinished rebuild job (xjip.indicators.rebuild) has nothing left to do
    session.execute(update(m.IndicatorRebuild).where(m.IndicatorRebuild.status != "running")
                    .values(status="done", phase=None, checkpoint={}, finished_at=m.utcnow()))
    return total


def recount(session: Session, limit: int = 20) -> dict[str, Any]:
    """Compare the stored facts with a fresh computation: {'rows': n, 'differences': [...]}."""
    ctx = Context(session)
    stored = {r.patent_id: {c: getattr(r, c) for c in COLUMNS} for r in session.scalars(select(m.IndicatorPatent))}
    ids = list(session.scalars(select(m.Patent.id).where(m.Patent.patent_type == "invention").order_by(m.Patent.id)))
    fresh = {r["patent_id"]: r for r in compute(session, ctx, ids)}
    diffs = []
    for pid in sorted(set(stored) | set(fresh)):
        if stored.get(pid) != fresh.get(pid):
            diffs.append({"patent_id": pid, "stored": stored.get(pid), "recount": fresh.get(pid)})
    T = m.IndicatorTrademark
    tm_stored = {r.trademark_id: (r.bucket, r.first_year, r.end_year, r.is_synthetic) for r in session.scalars(select(T))}
    tm_fresh, last = {}, 0
    while True:
        rows = trademark_rows(session, last=last)
        if not rows:
            break
        tm_fresh.update({r["trademark_id"]: (r["bucket"], r["first_year"], r["end_year"], r["is_synthetic"]) for r in rows})
        last = rows[-1]["trademark_id"]
    tm_diffs = [tid for tid in sorted(set(tm_stored) | set(tm_fresh)) if tm_stored.get(tid) != tm_fresh.get(tid)]
    from xjip.indicators import entries

    series = aggregates.recount(session, entries.load_settings(session))
    equal = not diffs and not tm_diffs and all(v is True for v in series.values())
    return {"rows": len(fresh), "stored": len(stored), "equal": equal, "differences": diffs[:limit],
            "difference_count": len(diffs), "trademark_rows": len(tm_fresh), "trademark_differences": tm_diffs[:limit],
            "trademark_difference_count": len(tm_diffs), "series": series}
