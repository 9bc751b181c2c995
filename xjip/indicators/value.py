"""Patent value score organised by the three dimensions of GB/T 42748-2023《专利评估指引》: legal,
technical and economic value. The standard names the dimensions and asks that the indicators and
their weights suit the purpose of the evaluation; it prescribes no numbers. So the sub-indicators
are those the hub's records support, each scored 0–1 by a documented transform with its reason,
and the dimension weights are a setting per scenario (licensing and transfer, financing,
management), changed through staff entries ('value_weights_<scenario>': "legal,technical,economic").

Not available from the records: citations *received* (the records carry the citations a patent
makes), litigation outcomes (cases do not name patent numbers). They are listed as unavailable,
never guessed.

`agreement` measures the score against later transfers, licences and pledges; against the
citations received that real exports carry (a signal the score does not use), see
bench/value_agreement.py and its figures in bench/RESULTS.md.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.indicators import entries, facts

SCENARIOS: dict[str, tuple[float, float, float]] = {
    # our defaults (legal, technical, economic); GB/T 42748-2023 leaves the weights to the purpose
    "licensing": (0.3, 0.3, 0.4),  # licensing and transfer: what the market already paid for weighs most
    "financing": (0.45, 0.2, 0.35),  # pledge financing: a lender needs a right that stays valid
    "management": (0.3, 0.45, 0.25),  # portfolio management: technical position first
}
DIMENSIONS = ("legal", "technical", "economic")


def weights(session: Session, scenario: str) -> tuple[float, float, float]:
    if scenario not in SCENARIOS:
        raise KeyError(scenario)
    for e in entries.current(session, "setting", f"value_weights_{scenario}"):
        if not e.withdrawn and e.value_json:
            return tuple(e.value_json["value"])  # type: ignore[return-value]
    return SCENARIOS[scenario]


def _sub(name: str, value: Any, score: float | None, reason: str) -> dict[str, Any]:
    return {"name": name, "value": value, "score": None if score is None else round(max(0.0, min(1.0, score)), 3),
            "reason": reason}


def score(session: Session, patent_ids: list[int], year: int, scenario: str = "licensing",
          cutoff: dt.date | None = None) -> dict[int, dict[str, Any]]:
    """{patent id: {'total', 'dimensions': {legal: {score, subs}}, 'weights'}} at the end of `year`;
    events dated after `cutoff` (default: the year end) are not used."""
    w = weights(session, scenario)
    day = cutoff or dt.date(year, 12, 31)
    P, F = m.Patent, m.IndicatorPatent
    rows = session.execute(select(P.id, P.app_number, P.pub_number, P.grant_number, P.claims_count, P.ipc,
                                  P.transfer_count, P.license_count, P.pledge_count, P.status, F)
                           .outerjoin(F, F.patent_id == P.id).where(P.id.in_(patent_ids))).all()
    events: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, cat in session.execute(select(m.PatentEvent.patent_id, m.PatentEvent.category).where(
            m.PatentEvent.patent_id.in_(patent_ids), or_(m.PatentEvent.event_date.is_(None), m.PatentEvent.event_date <= day))):
        events[pid][cat] += 1
    family: dict[int, set[str]] = defaultdict(set)
    foreign: dict[int, int] = defaultdict(int)
    for pid, country, granted in session.execute(select(m.PatentFamilyMember.patent_id, m.PatentFamilyMember.country,
                                                        m.PatentFamilyMember.granted)
                                                 .where(m.PatentFamilyMember.patent_id.in_(patent_ids))):
        if country:
            family[pid].add(country)
    numbers = {}
    for r in rows:
        for n in (r.app_number, r.pub_number, r.grant_number):
            if n:
                numbers[n] = r.id
    deals: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if numbers:
        T = m.RightTransaction
        for num, kind in session.execute(select(T.right_number, T.kind).where(
                T.right_type == "patent", T.right_number.in_(list(numbers)), or_(T.date.is_(None), T.date <= day))):
            deals[numbers[num]][kind] += 1
    out = {}
    for r in rows:
        f = r[-1]
        own = r.app_number[:2] if r.app_number else None
        if f is not None and f.foreign_grant:
            foreign[r.id] = 1
        in_force = bool(f and f.granted_on and f.granted_on <= day and (f.ends_on is None or f.ends_on > day)
                        and not f.ended_undated)
        remaining = max(0.0, (f.ends_on - day).days / 365.25) if in_force and f.ends_on else 0.0
        maintained = (day - f.filed_on).days / 365.25 if in_force and f.filed_on else 0.0
        inval = events[r.id].get("invalidation", 0)
        subclasses = {c[:4] for c in (r.ipc or []) if isinstance(c, str)}
        transfers = deals[r.id].get("transfer", 0) or (r.transfer_count or 0)
        licences = deals[r.id].get("licence", 0) + deals[r.id].get("open_licence", 0) or (r.license_count or 0)
        pledge = f.pledge_wan if f is not None and f.pledge_wan and (f.pledge_on is None or f.pledge_on <= day) else 0
        legal = [
            _sub("in_force", in_force, 1.0 if in_force else 0.0, "in force at the date" if in_force else "not in force"),
            _sub("remaining_term", round(remaining, 1), remaining / 20, "years left of the 20-year term ÷ 20"),
            _sub("invalidation", inval, None if not inval else (0.6 if in_force else 0.0),
                 "no invalidation request on record (not scored)" if not inval else
                 ("survived an invalidation request" if in_force else "invalidated")),
            _sub("claims", r.claims_count, None if r.claims_count is None else r.claims_count / 10,
                 "claims ÷ 10 (scope of protection)" if r.claims_count is not None else "claims not in the record"),
        ]
        technical = [
            _sub("sei", f.sei_code if f else None, 1.0 if f and f.sei_code else 0.0,
                 f"IPC {f.sei_ipc} in the 2021 SEI concordance" if f and f.sei_code else "no IPC in the SEI concordance"),
            _sub("ipc_breadth", len(subclasses), len(subclasses) / 3, "distinct IPC subclasses ÷ 3"),
            _sub("family_countries", len(family[r.id]), len(family[r.id] - {own}) / 4 if family[r.id] else 0.0,
                 "family countries other than its own ÷ 4"),
            _sub("citations_received", None, None, "unavailable: the records carry citations made, not received"),
        ]
        economic = [
            _sub("transfers", transfers, transfers / 2, "recorded transfers ÷ 2"),
            _sub("licences", licences, licences / 2, "recorded licences ÷ 2"),
            _sub("pledge_wan", pledge, pledge / 1000, "largest pledge (万元) ÷ 1000"),
            _sub("foreign_grant", foreign.get(r.id, 0), float(foreign.get(r.id, 0)), "granted abroad (market)"),
            _sub("years_maintained", round(maintained, 1), maintained / 10, "years kept in force (fees paid) ÷ 10"),
        ]
        dims = {}
        for name, subs in zip(DIMENSIONS, (legal, technical, economic)):
            scored = [s["score"] for s in subs if s["score"] is not None]
            dims[name] = {"score": round(100 * sum(scored) / len(scored), 1) if scored else None, "subs": subs}
        total = sum(wt * (dims[d]["score"] or 0) for wt, d in zip(w, DIMENSIONS))
        out[r.id] = {"patent_id": r.id, "app_number": r.app_number, "scenario": scenario, "weights": dict(zip(DIMENSIONS, w)),
                     "total": round(total, 1), "dimensions": dims}
    return out


def agreement(session: Session, cutoff_year: int, scenario: str = "licensing", limit: int = 20_000) -> dict[str, Any]:
    """How well the score at the end of `cutoff_year` (only events up to then) foresees a later
    public value signal: a transfer, licence or pledge recorded after it. AUC (Mann–Whitney): the
    chance that a patent that was later dealt in scores above one that was not; 0.5 = no better
    than chance. Says how many of the patents are synthetic."""
    cutoff = dt.date(cutoff_year, 12, 31)
    F = m.IndicatorPatent
    ids = list(session.scalars(select(F.patent_id).where(F.granted_on <= cutoff).order_by(F.patent_id).limit(limit)))
    if not ids:
        return {"cutoff_year": cutoff_year, "n": 0, "auc": None}
    scores = score(session, ids, cutoff_year, scenario, cutoff)
    P, T = m.Patent, m.RightTransaction
    later: set[int] = set()
    nums = {n: pid for pid, *ns in session.execute(select(P.id, P.app_number, P.pub_number, P.grant_number)
                                                     .where(P.id.in_(ids))) for n in ns if n}
    keys = {facts.number_key(n): pid for n, pid in nums.items()}
    for num, in session.execute(select(T.right_number).where(T.right_type == "patent", T.date > cutoff,
                                                            T.right_number.in_(list(nums)))):
        later.add(nums[num])
    for numbers, in session.execute(select(m.Pledge.right_numbers).where(m.Pledge.reg_date > cutoff)):
        for n in numbers or []:
            if facts.number_key(n) in keys:
                later.add(keys[facts.number_key(n)])
    pos = [scores[i]["total"] for i in ids if i in later]
    neg = [scores[i]["total"] for i in ids if i not in later]
    synthetic = session.scalar(select(m.Patent.id).where(P.id.in_(ids), P.is_synthetic.is_(True)).limit(1)) is not None
    if not pos or not neg:
        return {"cutoff_year": cutoff_year, "n": len(ids), "dealt_later": len(pos), "auc": None, "synthetic_included": synthetic}
    ranked = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):  # average ranks for ties
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    auc = (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    return {"cutoff_year": cutoff_year, "scenario": scenario, "n": len(ids), "dealt_later": len(pos), "auc": round(auc, 3),
            "synthetic_included": synthetic}
