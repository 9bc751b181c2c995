"""The 7 indicators for any years, for the region and every prefecture-level unit, each as a
numerator and a denominator with the records behind them (drill-down: `records.py`).

Each indicator is one GROUP BY per source table, all years in one scan (a SUM(CASE…) column per
year), so a dashboard of 2020→now costs one pass: the high-value count reads the narrow per-patent
fact table (`facts.py`), the others the hub's indexed right tables.

Region totals ('650000') count what is placed in Xinjiang (prefectures and XPCC cities);
records with no place or outside Xinjiang are counted apart (`unplaced`), never guessed in."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, case, cast, extract, false, func, or_, select, true
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import queries
from xjip.indicators import aggregates, definitions, entries, facts
from xjip.indicators.config import IndicatorSettings
from xjip.indicators.gi_coverage import gi_special_mark_coverage

REGION = "650000"
XPCC_NODE = queries.XPCC_NODE


@dataclass
class Cell:
    numerator: float | None
    denominator: float | None
    synthetic: int = 0  # synthetic records among the numerator's
    gap: str | None = None  # why there is no value: no_population, no_base, no_records

    def value(self, scale: float = 1.0) -> float | None:
        if self.gap or self.numerator is None:
            return None
        if self.denominator is None:
            return self.numerator * scale
        if not self.denominator:
            return None
        return self.numerator / self.denominator * scale


def year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


def in_xinjiang(bucket: str | None) -> bool:
    return bool(bucket) and bucket.startswith("65") and bucket != REGION


def units(session: Session) -> list[dict[str, Any]]:
    """The prefecture-level units ranked on the dashboard: the 14 prefectures and the XPCC cities
    (units in force; the XPCC statistical node 659000 itself is not one)."""
    R = m.Region
    rows = session.execute(select(R.code, R.name_zh, R.level, R.is_xpcc).where(
        R.valid_to.is_(None), R.code.like("65%"), R.code != XPCC_NODE,
        or_(R.level == 2, and_(R.is_xpcc.is_(True), R.level == 3, R.code.like("6590%"))))).all()
    out = {code: {"code": code, "name": name, "kind": "prefecture" if level == 2 else "xpcc_city"}
           for code, name, level, _ in rows}
    return sorted(out.values(), key=lambda u: (u["kind"] != "prefecture", u["code"]))


def _totals(per_bucket: dict[str | None, list[float]], width: int) -> tuple[list[float], list[float]]:
    region, unplaced = [0.0] * width, [0.0] * width
    for b, vals in per_bucket.items():
        target = region if in_xinjiang(b) else unplaced
        for i, v in enumerate(vals):
            target[i] += v or 0
    return region, unplaced


# --- 1. high-value invention patents ------------------------------------------------------

def award_patents(session: Session) -> dict[int, m.IndicatorEntry]:
    """Patents named by a current award entry: {patent id: entry}."""
    by_key = entries.awards(session)
    if not by_key:
        return {}
    forms = sorted({f for k in by_key if facts.number_key(k) for f in facts.number_forms(facts.number_key(k))})
    by_number = {facts.number_key(k): e for k, e in by_key.items()}
    out: dict[int, m.IndicatorEntry] = {}
    for col in (m.Patent.app_number, m.Patent.pub_number, m.Patent.grant_number):
        for pid, number in session.execute(select(m.Patent.id, col).where(col.in_(forms))):
            entry = by_number.get(facts.number_key(number) or "")
            if entry is not None:
                out.setdefault(pid, entry)
    return out


def hv_in_force(year: int) -> Any:
    F, day = m.IndicatorPatent, year_end(year)
    return and_(F.granted_on <= day, or_(F.ends_on.is_(None), F.ends_on > day), F.ended_undated.is_(False))


def hv_criteria(s: IndicatorSettings, year: int, awards: dict[int, m.IndicatorEntry]) -> dict[str, Any]:
    """The SQL condition of each enabled high-value category at the end of `year`."""
    F, day = m.IndicatorPatent, year_end(year)
    start = F.filed_on if s.hv_maintained_from == "filing" else F.granted_on
    award_ids = sorted(pid for pid, e in awards.items() if (e.year or 0) <= year)
    all_ = {
        "sei": F.sei_code.is_not(None),
        "foreign_family": F.foreign_grant.is_not(None),
        # "维持年限超过10年": more than N years between the start and the year end
        "maintained": start < year_end(year - s.hv_maintained_years),
        # "较高质押融资金额": a pledge of at least the threshold, registered by the year end
        "pledge": and_(F.pledge_wan >= s.hv_pledge_threshold_wan, or_(F.pledge_on.is_(None), F.pledge_on <= day)),
        "award": F.patent_id.in_(award_ids) if award_ids else false(),
    }
    return {k: v for k, v in all_.items() if k in s.hv_categories}


def hv_condition(s: IndicatorSettings, year: int, awards: dict[int, m.IndicatorEntry]) -> Any:
    crit = list(hv_criteria(s, year, awards).values())
    return and_(hv_in_force(year), or_(*crit)) if crit else false()


def _from_deltas(session: Session, series: str, years: list[int]) -> dict[str | None, list[float]]:
    return {(None if b == aggregates.NONE else b): [float(v) for n, syn in vals for v in (n, syn)]
            for b, vals in aggregates.stocks(session, series, years).items()}


def hv_per_bucket(session: Session, years: list[int], s: IndicatorSettings,
                  awards: dict[int, m.IndicatorEntry]) -> dict[str | None, list[float]]:
    """{bucket: [count, synthetic] per year}: from the kept deltas when built for these settings
    (awards applied here), else by scanning the facts (the same tests, SUM(CASE) per year)."""
    F = m.IndicatorPatent
    series = aggregates.hv_series(s)
    if aggregates.built(session, series):
        per = _from_deltas(session, series, years)
        if awards and "award" in s.hv_categories:
            facts_rows = session.execute(select(F.patent_id, *aggregates._FACT_COLS).where(F.patent_id.in_(list(awards))))
            for f in facts_rows:
                without = aggregates.hv_interval(f, s)
                with_award = aggregates.hv_interval(f, s, awards[f.patent_id].year)
                vals = per.setdefault(f.bucket, [0.0] * (2 * len(years)))
                for i, y in enumerate(years):
                    d = _inside(with_award, y) - _inside(without, y)
                    vals[2 * i] += d
                    vals[2 * i + 1] += d if f.is_synthetic else 0
        return per
    cols = []
    for y in years:
        cond = hv_condition(s, y, awards)
        cols += [func.sum(case((cond, 1), else_=0)), func.sum(case((and_(cond, F.is_synthetic.is_(True)), 1), else_=0))]
    return {row[0]: [float(v or 0) for v in row[1:]] for row in session.execute(select(F.bucket, *cols).group_by(F.bucket))}


def _inside(run: tuple[int, int | None] | None, year: int) -> int:
    return int(run is not None and run[0] <= year and (run[1] is None or year < run[1]))


def _fill(session: Session, per: dict[str | None, list[float]], width: int) -> dict[str | None, list[float]]:
    """Every prefecture and XPCC city gets a figure (0 where no record counts), whichever path."""
    for u in units(session):
        per.setdefault(u["code"], [0.0] * width)
    return per


def hv_counts(session: Session, years: list[int], s: IndicatorSettings) -> dict[int, dict[str, Cell]]:
    per = _fill(session, hv_per_bucket(session, years, s, award_patents(session)), 2 * len(years))
    region, unplaced = _totals(per, 2 * len(years))
    pop = population(session, s, years)
    out: dict[int, dict[str, Cell]] = {}
    for i, y in enumerate(years):
        cells: dict[str, Cell] = {}
        for b, vals in [(REGION, region), *per.items()]:
            if b != REGION and not in_xinjiang(b):
                continue
            persons = pop.get((b, y))
            cells[b] = Cell(vals[2 * i], persons[0] if persons else None, int(vals[2 * i + 1]),
                            None if persons else "no_population")
        cells["unplaced"] = Cell(unplaced[2 * i], None)
        out[y] = cells
    return out


def population(session: Session, s: IndicatorSettings, years: list[int]) -> dict[tuple[str, int], tuple[int, str]]:
    """(code, year) → (persons, source): a staff entry wins over the reference table; a missing
    year is a gap (never interpolated)."""
    out: dict[tuple[str, int], tuple[int, str]] = {}
    stmt = select(m.RegionPopulation.code, m.RegionPopulation.year, m.RegionPopulation.persons,
                  m.RegionPopulation.source).where(m.RegionPopulation.indicator == s.population_indicator,
                                                   m.RegionPopulation.year.in_(years))
    for code, year, persons, source in session.execute(stmt):
        out[(code, year)] = (int(persons), source or "region_population")
    for (code, year), e in entries.population_overrides(session).items():
        if year in years and e.value:
            out[(code, year)] = (int(e.value), f"indicator_entry {e.id}: {e.source_document}")
    return out


# --- 2. transfers and licences --------------------------------------------------------------

def base_year(s: IndicatorSettings, year: int) -> int:
    """The year growth is measured from: the setting, else the last year of the previous
    five-year plan period (2020 for 2021–2025, 2025 for 2026–2030)."""
    if s.tl_base_year is not None:
        return s.tl_base_year
    return 2020 + 5 * ((year - 2021) // 5)


def tl_condition(s: IndicatorSettings) -> Any:
    T = m.RightTransaction
    return and_(T.kind.in_(s.tl_kinds), T.right_type.in_(s.tl_right_types))


def tl_counts(session: Session, years: list[int], s: IndicatorSettings) -> dict[int, dict[str, Cell]]:
    T = m.RightTransaction
    needed = sorted(set(years) | {base_year(s, y) for y in years})
    bucket, yr = queries.record_bucket(T), cast(extract("year", T.date), Integer)
    stmt = (select(bucket, yr, func.count(), func.sum(case((T.is_synthetic.is_(True), 1), else_=0)))
            .where(tl_condition(s), T.date >= dt.date(needed[0], 1, 1), T.date <= year_end(needed[-1]))
            .group_by(bucket, yr))
    counts: dict[tuple[str, int], list[int]] = {}
    for b, y, n, syn in session.execute(stmt):
        key = b if in_xinjiang(b) else "unplaced"
        for k in ((key,) if key == "unplaced" else (key, REGION)):
            c = counts.setdefault((k, int(y)), [0, 0])
            c[0] += int(n)
            c[1] += int(syn or 0)
    buckets = {k for k, _ in counts} | {REGION}
    out: dict[int, dict[str, Cell]] = {}
    for y in years:
        b0 = base_year(s, y)
        cells = {}
        for b in buckets:
            now, base = counts.get((b, y), [0, 0]), counts.get((b, b0), [0, 0])
            # growth: (n_t ÷ n_base − 1) × 100, kept as numerator n_t − n_base over n_base
            cells[b] = Cell(now[0] - base[0], base[0], now[1], None if base[0] else "no_base")
        out[y] = cells
    return out


# --- 3. trademarks in force -----------------------------------------------------------------

def tm_in_force(year: int) -> Any:
    T, day = m.Trademark, year_end(year)
    ended = and_(T.status.in_(("cancelled", "invalidated", "expired")), or_(T.status_date.is_(None), T.status_date <= day))
    return and_(T.reg_date <= day, or_(T.expiry_date.is_(None), T.expiry_date > day), ~ended)


def tm_counts(session: Session, years: list[int], s: IndicatorSettings) -> dict[int, dict[str, Cell]]:
    if aggregates.built(session, aggregates.TM):
        return _count_cells(_fill(session, _from_deltas(session, aggregates.TM, years), 2 * len(years)), years)
    T = m.Trademark
    bucket = queries.record_bucket(T)
    cols = []
    for y in years:
        cond = tm_in_force(y)
        cols += [func.sum(case((cond, 1), else_=0)), func.sum(case((and_(cond, T.is_synthetic.is_(True)), 1), else_=0))]
    per = {row[0]: [float(v or 0) for v in row[1:]]
           for row in session.execute(select(bucket, *cols).where(T.reg_date.is_not(None)).group_by(bucket))}
    return _count_cells(_fill(session, per, 2 * len(years)), years)


def _count_cells(per: dict[str | None, list[float]], years: list[int]) -> dict[int, dict[str, Cell]]:
    region, unplaced = _totals(per, 2 * len(years))
    out = {}
    for i, y in enumerate(years):
        cells = {b: Cell(vals[2 * i], None, int(vals[2 * i + 1])) for b, vals in [(REGION, region), *per.items()]
                 if b == REGION or in_xinjiang(b)}
        cells["unplaced"] = Cell(unplaced[2 * i], None)
        out[y] = cells
    return out


# --- 4. pledge financing ----------------------------------------------------------------------

def pledge_condition(s: IndicatorSettings, year: int) -> Any:
    P = m.Pledge
    return and_(P.right_type.in_(s.pledge_right_types), P.amount_wan.is_not(None),
                P.reg_date >= dt.date(s.pledge_cum_from, 1, 1), P.reg_date <= year_end(year))


def pledge_sums(session: Session, years: list[int], s: IndicatorSettings) -> dict[int, dict[str, Cell]]:
    P = m.Pledge
    bucket, yr = queries.record_bucket(P), cast(extract("year", P.reg_date), Integer)
    stmt = (select(bucket, yr, func.sum(P.amount_wan), func.sum(case((P.is_synthetic.is_(True), 1), else_=0)))
            .where(pledge_condition(s, max(years))).group_by(bucket, yr))
    by: dict[str | None, dict[int, tuple[float, int]]] = {}
    for b, y, amount, syn in session.execute(stmt):
        by.setdefault(b, {})[int(y)] = (float(amount or 0), int(syn or 0))
    per = {b: [v for y in years for v in (sum(a for yy, (a, _) in d.items() if yy <= y),
                                          sum(n for yy, (_, n) in d.items() if yy <= y))] for b, d in by.items()}
    return _count_cells(per, years)


# --- 6. prefecture-level service institutions ---------------------------------------------------

def service_condition(s: IndicatorSettings, year: int) -> Any:
    I = m.Institution
    # An institution with no establishment date counts as existing (it is on the filing list).
    return and_(I.kind.in_(s.service_kinds), or_(I.established_date.is_(None), I.established_date <= year_end(year)))


def service_coverage(session: Session, years: list[int], s: IndicatorSettings,
                     prefectures: list[str]) -> dict[int, dict[str, Cell]]:
    I = m.Institution
    out = {}
    for y in years:
        covered = {b for b, in session.execute(select(I.prefecture_code).where(service_condition(s, y))
                                               .group_by(I.prefecture_code)) if b in prefectures}
        cells = {REGION: Cell(len(covered), s.service_denominator)}
        for p in prefectures:
            cells[p] = Cell(1 if p in covered else 0, 1)
        out[y] = cells
    return out


# --- all --------------------------------------------------------------------------------------

SCALE = {"hv_invention_per_10k": 10_000, "transfer_licence_cum_growth": 100, "valid_tm_cum": 1 / 10_000,
         "pledge_financing_cum": 1 / 10_000, "gi_special_mark_coverage": 100, "prefecture_service_coverage": 100,
         "protection_satisfaction": 1}
SOURCE_TABLE = {"hv_invention_per_10k": m.IndicatorPatent, "transfer_licence_cum_growth": m.RightTransaction,
                "valid_tm_cum": m.Trademark, "pledge_financing_cum": m.Pledge,
                "gi_special_mark_coverage": m.GeographicalIndication, "prefecture_service_coverage": m.Institution}


def compute(session: Session, years: list[int], s: IndicatorSettings | None = None) -> dict[str, dict[int, dict[str, Cell]]]:
    """{indicator id: {year: {bucket: Cell}}} for the computed indicators; a source table with no
    record at all gives gaps ('no_records'), not zeros."""
    s = s or entries.load_settings(session)
    prefectures = [u["code"] for u in units(session) if u["kind"] == "prefecture"]
    out: dict[str, dict[int, dict[str, Cell]]] = {}
    runners = {
        "hv_invention_per_10k": lambda: hv_counts(session, years, s),
        "transfer_licence_cum_growth": lambda: tl_counts(session, years, s),
        "valid_tm_cum": lambda: tm_counts(session, years, s),
        "pledge_financing_cum": lambda: pledge_sums(session, years, s),
        "gi_special_mark_coverage": lambda: {y: {b: Cell(n, d, syn, None if d else "no_records")
                                                 for b, (n, d, syn) in c.items()}
                                             for y, c in gi_special_mark_coverage(session, years, s).items()},
        "prefecture_service_coverage": lambda: service_coverage(session, years, s, prefectures),
    }
    for ind_id, run in runners.items():
        if session.scalar(select(true()).select_from(SOURCE_TABLE[ind_id]).limit(1)) is None:
            out[ind_id] = {y: {REGION: Cell(None, None, 0, "no_records")} for y in years}
        else:
            out[ind_id] = run()
    return out


def value_of(ind_id: str, cell: Cell | None) -> float | None:
    if cell is None:
        return None
    v = cell.value(SCALE[ind_id])
    return None if v is None else round(v, 6)


