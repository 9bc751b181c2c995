"""The 3-tier GI resource library (全区 / 地州市 / 县市): lists, search, distribution, gaps, and
staff edits with an audit trail (`audit_event`, tag ``gi:gi:edit``, before and after values)."""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.gi.names import category_main, category_zh, names_of
from xjip.hub import models as m

TIERS = ("region", "prefecture", "county")
REGION = "650000"
XPCC_NODE = "659000"
TRADEMARK_SYSTEMS = {"GI_certification_TM", "GI_TM_unspecified"}

# What the library expects of every GI; a missing one is a gap the page names and staff can fill.
GAP_FIELDS = ("announcement_no", "approval_date", "authority", "applicant", "protected_area_text", "standard", "area")
EDITABLE = ("announcement_no", "approval_date", "authority", "applicant", "protected_area_text", "standard",
            "status", "category", "registration_no", "area_codes")
MAX_TEXT = {"announcement_no": 200, "authority": 200, "applicant": 300, "standard": 200, "status": 60,
            "category": 40, "registration_no": 60, "protected_area_text": 5000, "approval_date": 60}
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


class Regions:
    """Region names and levels from the hub's `region` table (current and former units)."""

    def __init__(self, session: Session):
        self.units: dict[str, dict[str, Any]] = {}
        for r in session.execute(select(m.Region.code, m.Region.name_zh, m.Region.level, m.Region.prefecture_code,
                                        m.Region.valid_to, m.Region.name_ug, m.Region.parent_code, m.Region.xpcc_division)):
            unit = {"code": r.code, "name": r.name_zh, "level": r.level, "prefecture_code": r.prefecture_code,
                    "gone": r.valid_to, "name_ug": r.name_ug, "parent_code": r.parent_code, "xpcc_division": r.xpcc_division}
            if r.code not in self.units or self.units[r.code]["gone"] is not None:
                self.units[r.code] = unit  # a code's current row wins over a former one
        self._successor: dict[str, str] | None = None
        self._gaz = None
        self._session = session

    def name(self, code: str | None) -> str | None:
        unit = self.units.get(code or "")
        return unit["name"] if unit else None

    def prefectures(self) -> list[dict[str, Any]]:
        return sorted((u for u in self.units.values() if u["level"] == 2 and u["gone"] is None),
                      key=lambda u: u["code"])

    def counties(self, prefecture: str) -> list[dict[str, Any]]:
        return sorted((u for u in self.units.values() if u["level"] == 3 and u["gone"] is None
                       and (u["parent_code"] == prefecture or u["prefecture_code"] == prefecture)),
                      key=lambda u: u["code"])

    @property
    def gazetteer(self):  # noqa: ANN201
        if self._gaz is None:
            from xjip.hub.gazetteer import Gazetteer

            self._gaz = Gazetteer.from_session(self._session)
        return self._gaz

    def successor(self, code: str) -> str | None:
        """The current unit that replaced a former one (via the hub's gazetteer), or None."""
        if self._successor is None:
            gaz = self.gazetteer
            self._successor = {c: gaz.code_on(c) for c, u in self.units.items() if u["gone"] is not None}
        found = self._successor.get(code)
        return found if found and found != code else None


def _gi_row(gi: m.GeographicalIndication, areas: list[str], regions: Regions) -> dict[str, Any]:
    prefectures = sorted({(c[:4] + "00") if not c.startswith("6590") else XPCC_NODE for c in areas})
    gaps = gaps_of(gi, areas)
    return {"id": gi.id, "name": gi.name, "pinyin": names_of(gi.name)["pinyin"], "gi_system": gi.gi_system,
            "status": gi.status, "category": gi.category, "category_zh": category_zh(gi.category),
            "category_main": category_main(gi.category), "announcement_no": gi.announcement_no,
            "approval_date": gi.approval_date, "approval_date_text": gi.approval_date_text,
            "applicant": gi.applicant, "confidence": gi.confidence, "is_synthetic": gi.is_synthetic,
            "prefectures": [{"code": c, "name": regions.name(c)} for c in prefectures],
            "area_codes": areas, "gaps": gaps}


def gaps_of(gi: m.GeographicalIndication, areas: list[str]) -> list[str]:
    gaps = []
    for name in GAP_FIELDS:
        if name == "area":
            if not areas:
                gaps.append(name)
        elif name == "approval_date":
            if gi.approval_date is None and not gi.approval_date_text:
                gaps.append(name)
        elif not getattr(gi, name):
            gaps.append(name)
    if gi.gi_system in TRADEMARK_SYSTEMS and not gi.registration_no:
        gaps.append("registration_no")
    return gaps


def _areas(session: Session, gi_ids: list[int] | None = None) -> dict[int, list[str]]:
    stmt = select(m.GIArea.gi_id, m.GIArea.region_code).order_by(m.GIArea.region_code)
    if gi_ids is not None:
        stmt = stmt.where(m.GIArea.gi_id.in_(gi_ids))
    out: dict[int, list[str]] = {}
    for gi_id, code in session.execute(stmt):
        out.setdefault(gi_id, []).append(code)
    return out


def list_gis(session: Session, tier: str = "region", code: str | None = None, q: str | None = None,
             system: str | None = None, category: str | None = None, gaps_only: bool = False) -> dict[str, Any]:
    """GIs of one tier: the whole region, one prefecture (or XPCC node) or one county, with the
    distribution by prefecture, category and system of what is listed."""
    if tier not in TIERS:
        raise GIError("bad_tier", "tier", value=tier)
    regions = Regions(session)
    if tier != "region":
        if not code or code not in regions.units:
            raise GIError("unknown_region", "code", value=code or "")
    stmt = select(m.GeographicalIndication).order_by(m.GeographicalIndication.name, m.GeographicalIndication.gi_system)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(m.GeographicalIndication.name.like(like), m.GeographicalIndication.applicant.like(like),
                              m.GeographicalIndication.protected_area_text.like(like),
                              m.GeographicalIndication.announcement_no.like(like)))
    if system:
        stmt = stmt.where(m.GeographicalIndication.gi_system == system)
    gis = list(session.execute(stmt).scalars())
    areas = _areas(session)
    county_prefecture = None
    if tier == "county":
        county_prefecture = regions.units[code]["prefecture_code"] or regions.units[code]["parent_code"]
    items, wide = [], []
    for gi in gis:
        codes = areas.get(gi.id, [])
        row = _gi_row(gi, codes, regions)
        if category and row["category_main"] != category:
            continue
        if gaps_only and not row["gaps"]:
            continue
        if tier == "prefecture":
            if not any(c == code or (c[:4] + "00") == code or (code == XPCC_NODE and c.startswith("6590")) for c in codes):
                continue
        elif tier == "county":
            if code not in codes:
                # A GI mapped to the county's prefecture only (no county listed) may cover it: shown apart.
                counties_listed = [c for c in codes if not c.endswith("00")]
                if county_prefecture in codes and not any(c[:4] == code[:4] for c in counties_listed):
                    wide.append(row)
                continue
        items.append(row)
    by_pref: Counter[str] = Counter()
    for row in items:
        for p in row["prefectures"]:
            by_pref[p["code"]] += 1
    by_cat = Counter(row["category_main"] or "—" for row in items)
    by_sys = Counter(row["gi_system"] for row in items)
    place = regions.units.get(code or REGION) or {"code": REGION, "name": "新疆维吾尔自治区"}
    children: list[dict[str, Any]] = []
    if tier == "region":
        children = [{"code": u["code"], "name": u["name"], "tier": "prefecture"} for u in regions.prefectures()]
    elif tier == "prefecture":
        children = [{"code": u["code"], "name": u["name"], "tier": "county"} for u in regions.counties(code or "")]
    return {
        "tier": tier, "code": code or REGION, "place": {"code": place["code"], "name": place["name"]},
        "children": children, "total": len(items), "products": len({r["name"] for r in items}),
        "items": items, "prefecture_wide": wide,
        "by_prefecture": [{"code": c, "name": regions.name(c), "count": n}
                          for c, n in sorted(by_pref.items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_category": [{"category": c, "count": n} for c, n in by_cat.most_common()],
        "by_system": [{"gi_system": s, "count": n} for s, n in by_sys.most_common()],
        "with_gaps": sum(1 for r in items if r["gaps"]),
        "filters": {"q": q, "system": system, "category": category, "gaps_only": gaps_only},
    }


_PIECES = re.compile(r"[、，,；;：:（）()\s/]|等|和|及|以及")
_UNIT_END = ("乡", "镇", "团", "场", "村", "区", "县", "市", "街道", "牧场", "开发区")


def text_units(text: str | None, regions: Regions, codes: list[str]) -> list[dict[str, Any]]:
    """The units the protected-area text names (towns, 团, counties), read with the hub's
    gazetteer, each marked mapped when the stored area codes cover it: a check of the mapping
    against the text, for staff to complete it. Pieces that look like a unit but are not in the
    gazetteer are listed as not recognised."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    stored = set(codes)
    for piece in _PIECES.split((text or "")[:5000]):
        piece = piece.strip()
        if len(piece) < 2 or piece in seen or re.search(r"[°′″]|[EN]\d", piece):
            continue
        seen.add(piece)
        place = regions.gazetteer.resolve(piece)
        if place is None or place.county_code is None:
            if piece.endswith(_UNIT_END) and len(piece) <= 12 and not piece.endswith("行政区"):
                out.append({"text": piece, "recognised": False})
            continue
        county, pref = place.county_code, place.prefecture_code
        listed_here = [c for c in stored if not c.endswith("00") and c[:4] == county[:4]]
        mapped = county in stored or (pref in stored and not listed_here)
        out.append({"text": piece, "recognised": True, "region_code": place.region_code, "county_code": county,
                    "county_name": regions.name(county), "xpcc_division": place.xpcc_division, "mapped": mapped})
        if len(out) >= 60:
            break
    return out


def gi_detail(session: Session, gi_id: int) -> dict[str, Any] | None:
    gi = session.get(m.GeographicalIndication, gi_id) if m.is_row_id(gi_id) else None
    if gi is None:
        return None
    regions = Regions(session)
    codes = _areas(session, [gi.id]).get(gi.id, [])
    area_units = []
    for c in codes:
        unit = regions.units.get(c)
        gone = bool(unit and unit["gone"] is not None)
        successor = regions.successor(c) if (gone or unit is None) else None
        area_units.append({"code": c, "name": regions.name(c), "known": unit is not None, "gone": gone,
                           "xpcc_division": unit["xpcc_division"] if unit else None,
                           "gone_since": unit["gone"] if gone else None,
                           "successor": {"code": successor, "name": regions.name(successor)} if successor else None})
    siblings = [{"id": i, "gi_system": s} for i, s in session.execute(
        select(m.GeographicalIndication.id, m.GeographicalIndication.gi_system)
        .where(m.GeographicalIndication.name == gi.name, m.GeographicalIndication.id != gi.id))]
    on_platform = dict(session.execute(select(m.GIMarkApplication.mark_user_id, m.GIMarkApplication.id).where(
        m.GIMarkApplication.gi_id == gi.id, m.GIMarkApplication.mark_user_id.is_not(None))).all())
    users = [{"id": u.id, "user_name": u.user_name, "approved_date": u.approved_date, "revoked_date": u.revoked_date,
              "announcement_no": u.announcement_no, "is_synthetic": u.is_synthetic,
              "application_id": on_platform.get(u.id)}
             for u in session.execute(select(m.GIMarkUser).where(m.GIMarkUser.gi_id == gi.id)
                                      .order_by(m.GIMarkUser.user_name)).scalars()]
    place_ug = next((regions.units[c]["name_ug"] for c in codes if c in regions.units and regions.units[c]["name_ug"]),
                    None)
    row = _gi_row(gi, codes, regions)
    row.update({
        "protected_area_text": gi.protected_area_text, "authority": gi.authority, "standard": gi.standard,
        "registration_no": gi.registration_no, "source_url": gi.source_url, "notes": gi.notes, "source": gi.source,
        "areas": area_units, "text_units": text_units(gi.protected_area_text, regions, codes), "systems": siblings, "mark_users": users, "names": names_of(gi.name, place_ug),
        "history": history(session, gi.id),
    })
    return row


def history(session: Session, gi_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(m.AuditEvent).where(m.AuditEvent.tag == "gi:gi:edit")
                           .order_by(m.AuditEvent.at.desc(), m.AuditEvent.id.desc())).scalars()
    return [{"at": e.at, "actor": e.actor, **(e.details or {})} for e in rows if (e.details or {}).get("gi_id") == gi_id]


def parse_date_text(value: str) -> tuple[dt.date | None, str]:
    """'2013-11-14' → (date, text); '2013' or '2013-01' → (None, text); anything else refused."""
    match = _DATE.match(value)
    if not match:
        raise GIError("bad_date", "approval_date", value=value)
    year, month, day = match.groups()
    try:
        if day:
            return dt.date(int(year), int(month), int(day)), value
        if month:
            dt.date(int(year), int(month), 1)
    except ValueError:
        raise GIError("bad_date", "approval_date", value=value) from None
    if not 1980 <= int(year) <= dt.date.today().year:
        raise GIError("bad_date", "approval_date", value=value)
    return None, value


def update_gi(session: Session, gi_id: int, changes: dict[str, Any], actor: str, reason: str | None = None) -> dict[str, Any]:
    """Apply staff edits to one GI. Every change is validated first; nothing is written when one
    is refused. Writes one audit event with the values before and after."""
    gi = session.get(m.GeographicalIndication, gi_id) if m.is_row_id(gi_id) else None
    if gi is None:
        raise GIError("not_found", "gi_id", value=gi_id)
    regions = Regions(session)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    plan: dict[str, Any] = {}
    for name, raw in changes.items():
        if name not in EDITABLE:
            raise GIError("not_editable", name)
        if name == "area_codes":
            codes = [c for c in re.split(r"[\s,，;；]+", str(raw or "")) if c]
            for c in codes:
                if not re.fullmatch(r"\d{6}", c):
                    raise GIError("bad_region_code", name, value=c)
                unit = regions.units.get(c)
                if unit is None:
                    raise GIError("unknown_region", name, value=c)
                if unit["gone"] is not None:
                    succ = regions.successor(c)
                    raise GIError("region_gone", name, value=c, name_zh=unit["name"],
                                  successor=f"{regions.name(succ)} {succ}" if succ else "—")
            plan[name] = list(dict.fromkeys(codes))
            continue
        text = (str(raw).strip() if raw is not None else "") or None
        if text and "\x00" in text:
            raise GIError("bad_text", name)
        if text and len(text) > MAX_TEXT[name]:
            raise GIError("too_long", name, limit=MAX_TEXT[name])
        if name == "approval_date" and text:
            plan[name] = parse_date_text(text)
        else:
            plan[name] = text
    if not plan:
        raise GIError("nothing_changed")
    current_codes = _areas(session, [gi.id]).get(gi.id, [])
    for name, value in plan.items():
        if name == "area_codes":
            if value != current_codes:
                before[name], after[name] = current_codes, value
                session.execute(delete(m.GIArea).where(m.GIArea.gi_id == gi.id))
                for c in value:
                    pref = XPCC_NODE if c.startswith("6590") and c != XPCC_NODE else (
                        regions.units[c]["prefecture_code"] or c)
                    session.add(m.GIArea(gi_id=gi.id, region_code=c, prefecture_code=pref))
        elif name == "approval_date":
            date, text = value if value else (None, None)
            old = gi.approval_date_text or (gi.approval_date.isoformat() if gi.approval_date else None)
            if text != old:
                before[name], after[name] = old, text
                gi.approval_date, gi.approval_date_text = date, text
        elif getattr(gi, name) != value:
            before[name], after[name] = getattr(gi, name), value
            setattr(gi, name, value)
    if not after:
        raise GIError("nothing_changed")
    session.add(m.AuditEvent(tag="gi:gi:edit", actor=actor, details={
        "gi_id": gi.id, "name": gi.name, "gi_system": gi.gi_system, "before": _jsonable(before),
        "after": _jsonable(after), "reason": (reason or "").strip()[:500] or None}))
    session.flush()
    return {"gi_id": gi.id, "changed": sorted(after)}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in values.items()}
