"""Drill-down: the records behind every figure, and the high-value patent list with the
evidence for each criterion a patent meets. Lists are keyset-paged by row id (never OFFSET)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from sqlalchemy import and_, extract, false, select, true
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import queries
from xjip.indicators import compute as c
from xjip.indicators import entries
from xjip.indicators.config import HV_CATEGORIES, IndicatorSettings
from xjip.indicators.gi_coverage import gi_records

PAGE = 50
MAX_PAGE = 200


def _place(model: Any, prefecture: str | None) -> Any:
    bucket = queries.record_bucket(model)
    if prefecture:
        return bucket == prefecture
    return and_(bucket.like("65%"), bucket != c.REGION)


def _fact_place(prefecture: str | None) -> Any:
    F = m.IndicatorPatent
    return F.bucket == prefecture if prefecture else and_(F.bucket.like("65%"), F.bucket != c.REGION)


# --- high-value patents -----------------------------------------------------------------------

def hv_rows(session: Session, year: int, prefecture: str | None = None, criterion: str | None = None,
            s: IndicatorSettings | None = None, high_value: bool | None = True, after: int = 0,
            limit: int | None = PAGE) -> list[dict[str, Any]]:
    """Invention patents in force at the end of `year` (placed in Xinjiang, or in `prefecture`):
    by default the high-value ones; `criterion` keeps those meeting that one; `high_value=None`
    lists every patent in force with the criteria it meets (empty for none)."""
    s = s or entries.load_settings(session)
    F, P = m.IndicatorPatent, m.Patent
    awards = c.award_patents(session)
    crit = c.hv_criteria(s, year, awards)
    conds = [c.hv_in_force(year), _fact_place(prefecture), F.patent_id > after]
    if criterion:
        conds.append(crit.get(criterion, false()))
    elif high_value:
        conds.append(c.hv_condition(s, year, awards))
    elif high_value is False:
        conds.append(~c.hv_condition(s, year, awards))
    stmt = (select(F, P.app_number, P.grant_number, P.title, P.first_applicant, P.ipc_main, P.country)
            .join(P, P.id == F.patent_id).where(*conds).order_by(F.patent_id))
    if limit:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    sei_names = dict(session.execute(select(m.SeiIndustry.code, m.SeiIndustry.name_zh)).all())
    ids = [r[0].patent_id for r in rows]
    fees = _last_fees(session, ids)
    members = _members(session, [(r[0].patent_id, r[0].foreign_grant) for r in rows if r[0].foreign_grant])
    pledge_ids = dict(session.execute(select(m.Pledge.key, m.Pledge.id).where(
        m.Pledge.key.in_([r[0].pledge_key for r in rows if r[0].pledge_key])) if any(r[0].pledge_key for r in rows)
        else select(m.Pledge.key, m.Pledge.id).where(false())).all())
    out = []
    for f, app_number, grant_number, title, applicant, ipc_main, country in rows:
        met = criteria_met(f, s, year, awards)
        evidence: dict[str, Any] = {}
        if "sei" in met:
            evidence["sei"] = {"ipc": f.sei_ipc, "sei_code": f.sei_code, "sei_name": sei_names.get(f.sei_code),
                               "table": "战略性新兴产业分类与国际专利分类参照关系表（2021）"}
        if "foreign_family" in met:
            evidence["foreign_family"] = {"member": f.foreign_grant, **members.get(f.patent_id, {})}
        if "maintained" in met:
            start = f.filed_on if s.hv_maintained_from == "filing" else f.granted_on
            evidence["maintained"] = {"from": s.hv_maintained_from, "start": _iso(start),
                                      "years_at_year_end": _years(start, c.year_end(year)),
                                      "last_fee_payment": fees.get(f.patent_id)}
        if "pledge" in met:
            evidence["pledge"] = {"pledge_key": f.pledge_key, "pledge_id": pledge_ids.get(f.pledge_key),
                                  "amount_wan": f.pledge_wan, "reg_date": _iso(f.pledge_on),
                                  "threshold_wan": s.hv_pledge_threshold_wan}
        if "award" in met:
            e = awards[f.patent_id]
            evidence["award"] = {"entry_id": e.id, "award": (e.value_json or {}).get("award"), "year": e.year,
                                 "source_document": e.source_document}
        out.append({"patent_id": f.patent_id, "app_number": app_number, "grant_number": grant_number, "title": title,
                    "first_applicant": applicant, "ipc_main": ipc_main, "prefecture_code": f.bucket,
                    "granted_on": _iso(f.granted_on), "filed_on": _iso(f.filed_on), "criteria": met,
                    "criteria_count": len(met), "evidence": evidence, "is_synthetic": f.is_synthetic,
                    "link": f"/records/patent/{f.patent_id}"})
    return out


def criteria_met(f: m.IndicatorPatent, s: IndicatorSettings, year: int, awards: dict[int, Any]) -> list[str]:
    """The same tests as `compute.hv_criteria`, on one fact row (for the evidence shown)."""
    day = c.year_end(year)
    start = f.filed_on if s.hv_maintained_from == "filing" else f.granted_on
    tests = {
        "sei": f.sei_code is not None,
        "foreign_family": f.foreign_grant is not None,
        "maintained": start is not None and start < c.year_end(year - s.hv_maintained_years),
        "pledge": f.pledge_wan is not None and f.pledge_wan >= s.hv_pledge_threshold_wan
                  and (f.pledge_on is None or f.pledge_on <= day),
        "award": f.patent_id in awards and (awards[f.patent_id].year or 0) <= year,
    }
    return [k for k in HV_CATEGORIES if k in s.hv_categories and tests[k]]


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, dt.date) else v


def _years(start: dt.date | None, end: dt.date) -> float | None:
    return None if start is None else round((end - start).days / 365.25, 1)


def _last_fees(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    E = m.PatentEvent
    out: dict[int, dict[str, Any]] = {}
    for pid, day, code in session.execute(select(E.patent_id, E.event_date, E.code)
                                          .where(E.patent_id.in_(ids), E.category == "fee_payment")
                                          .order_by(E.event_date)):
        out[pid] = {"date": _iso(day), "code": (code or "").strip()}
    return out


def _members(session: Session, pairs: list[tuple[int, str]]) -> dict[int, dict[str, Any]]:
    out = {}
    for pid, number in pairs:
        row = session.execute(select(m.PatentFamilyMember.country, m.PatentFamilyMember.kind, m.PatentFamilyMember.date)
                              .where(m.PatentFamilyMember.patent_id == pid, m.PatentFamilyMember.number == number)).first()
        if row:
            out[pid] = {"country": row[0], "kind": row[1], "date": _iso(row[2]), "granted": True}
    return out


HV_COLUMNS = ["app_number", "grant_number", "title", "first_applicant", "ipc_main", "prefecture_code", "filed_on",
              "granted_on", "hv_criteria", "hv_sei", "hv_foreign_family", "hv_maintained", "hv_pledge", "hv_award",
              "is_synthetic"]


def mask_owner(name: str | None) -> str | None:
    """An applicant's name as the public sees it: organisations in full, persons masked (the hub's
    policy, xjip.hub.queries.MASKING_POLICY)."""
    return name if name is None or queries.is_organisation(name) else queries.mask_person_name(name)


def hv_export_rows(session: Session, year: int, prefecture: str | None = None, criterion: str | None = None,
                   limit: int = 200_000, masked: bool = True) -> Iterator[dict[str, Any]]:
    """Every row of the list, flattened for CSV/XLSX (one evidence column per criterion)."""
    after, done = 0, 0
    s = entries.load_settings(session)
    while done < limit:
        page = hv_rows(session, year, prefecture, criterion, s, after=after, limit=min(2000, limit - done))
        if not page:
            return
        for r in page:
            ev = r["evidence"]
            if masked:
                r["first_applicant"] = mask_owner(r["first_applicant"])
            yield {**r, "hv_criteria": "; ".join(r["criteria"]),
                   **{f"hv_{k}": _evidence_text(k, ev[k]) if k in ev else None for k in HV_CATEGORIES}}
        done += len(page)
        after = page[-1]["patent_id"]


def _evidence_text(kind: str, ev: dict[str, Any]) -> str:
    if kind == "sei":
        return f"{ev['ipc']} → {ev['sei_code']} {ev.get('sei_name') or ''}".strip()
    if kind == "foreign_family":
        return f"{ev['member']} ({ev.get('date') or ''})"
    if kind == "maintained":
        fee = ev.get("last_fee_payment")
        return f"{ev['start']} +{ev['years_at_year_end']}y" + (f"; fee {fee['date']} {fee['code']}" if fee else "")
    if kind == "pledge":
        return f"{ev['pledge_key']} {ev['amount_wan']}万元 {ev.get('reg_date') or ''}"
    return f"{ev['award']} {ev['year']} ({ev['source_document']})"


# --- drill-down of the other indicators ---------------------------------------------------------

def indicator_records(session: Session, indicator: str, year: int, prefecture: str | None = None,
                      after: int = 0, limit: int = PAGE) -> dict[str, Any]:
    """The records behind an indicator's numerator for a year and place (page of ≤ `limit`)."""
    limit = max(1, min(limit, MAX_PAGE))
    s = entries.load_settings(session)
    if indicator == "hv_invention_per_10k":
        rows = hv_rows(session, year, prefecture, None, s, after=after, limit=limit)
        return {"record_type": "patent", "rows": rows, "next": rows[-1]["patent_id"] if len(rows) == limit else None}
    spec: dict[str, tuple[Any, Any, list[Any]]] = {
        "transfer_licence_cum_growth": (m.RightTransaction, "transaction", [
            c.tl_condition(s), extract("year", m.RightTransaction.date) == year]),
        "valid_tm_cum": (m.Trademark, "trademark", [c.tm_in_force(year)]),
        "pledge_financing_cum": (m.Pledge, "pledge", [c.pledge_condition(s, year)]),
        "gi_special_mark_coverage": (m.GeographicalIndication, "gi", [gi_records(year, s, True)]),
        "prefecture_service_coverage": (m.Institution, "institution", [c.service_condition(s, year)]),
    }
    if indicator not in spec:
        raise KeyError(indicator)
    model, record_type, conds = spec[indicator]
    tspec = queries.spec_for(record_type)
    if indicator == "gi_special_mark_coverage":
        pairs = queries.gi_bucket_pairs()
        place = model.id.in_(select(pairs.c.gi_id).where(pairs.c.bucket == prefecture)) if prefecture else true()
    elif indicator == "prefecture_service_coverage":
        place = model.prefecture_code == prefecture if prefecture else true()
    else:
        place = _place(model, prefecture)
    cols = [model.id, getattr(model, tspec.title), getattr(model, tspec.date), model.is_synthetic]
    if tspec.number:
        cols.append(getattr(model, tspec.number))
    stmt = select(*cols).where(*conds, place, model.id > after).order_by(model.id).limit(limit)
    rows = [{"id": r[0], "title": r[1], "date": _iso(r[2]), "is_synthetic": r[3],
             "number": r[4] if len(r) > 4 else None, "link": f"/records/{record_type}/{r[0]}"}
            for r in session.execute(stmt)]
    return {"record_type": record_type, "rows": rows, "next": rows[-1]["id"] if len(rows) == limit else None}
