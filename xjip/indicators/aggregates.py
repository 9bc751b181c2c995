"""Year-end stocks kept as deltas (`indicator_delta`), so the two indicators that would read a
million rows (high-value invention patents, trademarks in force) are prefix sums over a table of
a few thousand rows (buckets × years).

Each record counts in force over a run of year ends [first, end): +1 at `first`, −1 at `end`.
- trademarks: from the registration year; until the expiry year, or the year of a dated
  cancellation/invalidation (xjip.indicators.compute.tm_in_force, the same test per year);
- high-value invention patents: from the first year end at which the patent is in force and meets
  one of the enabled categories (each category, once met, stays met), until it is no longer in
  force (compute.hv_in_force / hv_criteria). The series is kept for one set of settings (its
  fingerprint is in the series name); the award category is applied at query time, since awards
  are few and entered by hand.

The after-commit hook (facts.on_commit) subtracts a changed record's old run and adds its new
one; `build` recomputes a series whole; `recount` compares the stored deltas with a fresh build.
A deleted record leaves its run behind until `xjip indicators rebuild` (the hub does not delete
records on import)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.indicators.config import IndicatorSettings

MARK = "*"
NONE = "none"
TM = "tm"
EARLY = 1900  # "always" for categories with no start date (SEI, foreign family): before any series year
ENDED = ("cancelled", "invalidated", "expired")
LOCK_ID = 120_012  # PostgreSQL advisory lock: one writer of the deltas at a time (SQLite: BEGIN IMMEDIATE)


def lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_ID})


def hv_series(s: IndicatorSettings) -> str:
    key = {"c": sorted(set(s.hv_categories) - {"award"}), "y": s.hv_maintained_years, "f": s.hv_maintained_from,
           "t": s.hv_pledge_threshold_wan}
    return "hv:" + hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def hv_interval(f: Any, s: IndicatorSettings, award_year: int | None = None) -> tuple[int, int | None] | None:
    """[first, end) year ends at which the fact row `f` counts as high-value (None: never)."""
    if f.granted_on is None or f.ended_undated:
        return None
    cats = s.hv_categories
    starts = []
    if "sei" in cats and f.sei_code is not None:
        starts.append(EARLY)
    if "foreign_family" in cats and f.foreign_grant is not None:
        starts.append(EARLY)
    if "maintained" in cats:
        start = f.filed_on if s.hv_maintained_from == "filing" else f.granted_on
        if start is not None:  # start < 31 Dec of (Y − N)
            starts.append(start.year + s.hv_maintained_years + (1 if (start.month, start.day) == (12, 31) else 0))
    if "pledge" in cats and f.pledge_wan is not None and f.pledge_wan >= s.hv_pledge_threshold_wan:
        starts.append(f.pledge_on.year if f.pledge_on else EARLY)
    if "award" in cats and award_year is not None:
        starts.append(award_year)
    if not starts:
        return None
    first = max(f.granted_on.year, min(starts))
    end = f.ends_on.year if f.ends_on else None  # ends_on > 31 Dec Y ⟺ Y < ends_on.year
    return None if end is not None and first >= end else (first, end)


def tm_interval(reg_date: dt.date | None, expiry: dt.date | None, status: str | None,
                status_date: dt.date | None) -> tuple[int, int | None] | None:
    if reg_date is None:
        return None
    end = expiry.year if expiry else None
    if status in ENDED:
        if status_date is None:
            return None
        end = min(end, status_date.year) if end is not None else status_date.year
    first = reg_date.year
    return None if end is not None and first >= end else (first, end)


def contributions(bucket: str | None, run: tuple[int, int | None] | None, synthetic: bool,
                  sign: int = 1) -> list[tuple[str, int, int, int]]:
    if run is None:
        return []
    b, syn = bucket or NONE, 1 if synthetic else 0
    out = [(b, run[0], sign, sign * syn)]
    if run[1] is not None:
        out.append((b, run[1], -sign, -sign * syn))
    return out


def apply(session: Session, series: str, items: Iterable[tuple[str, int, int, int]]) -> None:
    totals: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for b, y, n, syn in items:
        t = totals[(b, y)]
        t[0] += n
        t[1] += syn
    totals = {k: v for k, v in totals.items() if v[0] or v[1]}
    if not totals:
        return
    D = m.IndicatorDelta
    existing = {(b, y) for b, y in session.execute(select(D.bucket, D.year).where(D.series == series))}
    ups = [{"s": series, "b": b, "y": y, "dn": v[0], "ds": v[1]} for (b, y), v in totals.items() if (b, y) in existing]
    new = [{"series": series, "bucket": b, "year": y, "n": v[0], "synthetic": v[1]}
           for (b, y), v in totals.items() if (b, y) not in existing]
    if ups:
        stmt = (update(D).where(D.series == bindparam("s"), D.bucket == bindparam("b"), D.year == bindparam("y"))
                .values(n=D.n + bindparam("dn"), synthetic=D.synthetic + bindparam("ds")))
        session.connection().execute(stmt, ups)
    if new:
        session.execute(insert(D), new)


def built(session: Session, series: str) -> bool:
    D = m.IndicatorDelta
    return session.scalar(select(D.n).where(D.series == series, D.bucket == MARK, D.year == 0)) is not None


def built_hv_series(session: Session) -> list[str]:
    D = m.IndicatorDelta
    return list(session.scalars(select(D.series).where(D.bucket == MARK, D.series.like("hv:%"))))


_FACT_COLS = (m.IndicatorPatent.bucket, m.IndicatorPatent.granted_on, m.IndicatorPatent.filed_on,
              m.IndicatorPatent.ends_on, m.IndicatorPatent.ended_undated, m.IndicatorPatent.sei_code,
              m.IndicatorPatent.foreign_grant, m.IndicatorPatent.pledge_wan, m.IndicatorPatent.pledge_on,
              m.IndicatorPatent.is_synthetic)


def hv_items(session: Session, s: IndicatorSettings) -> list[tuple[str, int, int, int]]:
    items: list[tuple[str, int, int, int]] = []
    for f in session.execute(select(*_FACT_COLS)).yield_per(20_000):
        items += contributions(f.bucket, hv_interval(f, s), f.is_synthetic)
    return items


def tm_items(session: Session) -> list[tuple[str, int, int, int]]:
    T = m.IndicatorTrademark
    items: list[tuple[str, int, int, int]] = []
    for b, first, end, syn in session.execute(select(T.bucket, T.first_year, T.end_year, T.is_synthetic)).yield_per(50_000):
        if first is not None:
            items += contributions(b, (first, end), syn)
    return items


def build(session: Session, series: str, s: IndicatorSettings | None = None) -> None:
    """Recompute one series whole (and mark it built). Caller commits."""
    lock(session)
    session.execute(delete(m.IndicatorDelta).where(m.IndicatorDelta.series == series))
    items = tm_items(session) if series == TM else hv_items(session, s or IndicatorSettings())
    apply(session, series, items)
    session.execute(insert(m.IndicatorDelta), [{"series": series, "bucket": MARK, "year": 0, "n": 1, "synthetic": 0}])


def ensure(store: Any, s: IndicatorSettings | None = None) -> None:
    """Build, in the foreground, what the indicators need when it is missing (first use, after a
    settings change, or records stored before the hook kept the facts): the rebuild job
    (`xjip.indicators.rebuild.run`), resumable. The dashboard does not wait for it: it starts
    the job in the background (`rebuild.ensure_started`) and shows its progress."""
    from xjip.indicators import rebuild

    with store.reading() as r:
        if rebuild.needed(r, s) is None:
            return
    rebuild.run(store)


def stocks(session: Session, series: str, years: list[int]) -> dict[str, list[tuple[int, int]]]:
    """{bucket: [(stock, synthetic) at the end of each year]} (prefix sums of the deltas)."""
    D = m.IndicatorDelta
    rows = session.execute(select(D.bucket, D.year, D.n, D.synthetic).where(D.series == series, D.bucket != MARK))
    per: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
    for b, y, n, syn in rows:
        per[b][y] = (n, syn)
    out = {}
    for b, deltas in per.items():
        ordered = sorted(deltas.items())
        vals = []
        for year in years:
            vals.append((sum(n for y, (n, _) in ordered if y <= year), sum(sy for y, (_, sy) in ordered if y <= year)))
        out[b] = vals
    return out


def recount(session: Session, s: IndicatorSettings) -> dict[str, Any]:
    """Stored deltas vs a fresh build, per built series."""
    D = m.IndicatorDelta
    result = {}
    for series in [TM, *built_hv_series(session)]:
        if not built(session, series):
            continue
        stored = {(b, y): (n, syn) for b, y, n, syn in session.execute(
            select(D.bucket, D.year, D.n, D.synthetic).where(D.series == series, D.bucket != MARK)) if n or syn}
        fresh: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
        items = tm_items(session) if series == TM else (hv_items(session, s) if series == hv_series(s) else None)
        if items is None:
            result[series] = "stale settings"
            continue
        for b, y, n, syn in items:
            fresh[(b, y)][0] += n
            fresh[(b, y)][1] += syn
        fresh_t = {k: tuple(v) for k, v in fresh.items() if v[0] or v[1]}
        result[series] = stored == fresh_t
    return result
