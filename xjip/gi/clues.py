"""Stored listings and clues: import (with the scan), triage, referral to the seller's prefecture,
outcome, whitelist, and the clue package (a ZIP of CSV + JSON with the evidence)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.gi.listings import ListingFile
from xjip.gi.monitor import Monitor, from_session
from xjip.hub import models as m

STATUSES = ("new", "confirmed", "dismissed", "referred", "closed")
# Which status may follow which: a clue is confirmed or dismissed, a confirmed one referred, a
# referred one closed with its outcome. A dismissed clue may be reopened.
NEXT = {"new": {"confirmed", "dismissed"}, "confirmed": {"referred", "dismissed"}, "dismissed": {"new"},
        "referred": {"closed"}, "closed": set()}


def import_listings(session: Session, listing_file: ListingFile, batch: str, actor: str | None,
                    monitor: Monitor | None = None) -> dict[str, Any]:
    """Store the file's listings under `batch` and the clues the monitor finds. A listing id
    already stored in the batch is not stored twice (counted as a duplicate)."""
    batch = (batch or listing_file.name).strip()[:100] or listing_file.name
    monitor = monitor or from_session(session)
    stored = set(session.execute(select(m.GIListing.listing_id).where(m.GIListing.batch == batch)).scalars())
    gi_ids = {n: i for n, i in session.execute(select(m.GeographicalIndication.name, func.min(m.GeographicalIndication.id))
                                                .group_by(m.GeographicalIndication.name))}
    counts = {"read": listing_file.read, "stored": 0, "duplicates": 0, "rejected": len(listing_file.rejections),
              "clues": 0, "unresolved_location": 0}
    by_rule: dict[str, int] = {}
    for row in listing_file.rows:
        if row["listing_id"] in stored:
            counts["duplicates"] += 1
            continue
        place = monitor.locate(row["seller_location"])
        if place is None or place.prefecture_code is None and (place.region_code or "").startswith("65"):
            counts["unresolved_location"] += 1
        listing = m.GIListing(batch=batch, listing_id=row["listing_id"], title=row["title"], shop=row["shop"],
                              seller_location=row["seller_location"], price=row["price"], listed_at=row["listed_at"],
                              url=row["url"], imported_by=actor,
                              region_code=place.region_code[:12] if place and place.region_code else None,
                              prefecture_code=place.prefecture_code if place else None)
        session.add(listing)
        session.flush()
        stored.add(row["listing_id"])
        counts["stored"] += 1
        for clue in monitor.scan(row):
            session.add(m.GIClue(listing_row_id=listing.id, gi_id=gi_ids.get(clue.gi_name), gi_name=clue.gi_name,
                                 rule=clue.rule, evidence=_jsonable(clue.evidence), status="new", history=[]))
            counts["clues"] += 1
            by_rule[clue.rule] = by_rule.get(clue.rule, 0) + 1
    session.add(m.AuditEvent(tag="gi:listings:import", actor=actor, details={"batch": batch, "file": listing_file.name,
                                                                              **counts}))
    session.flush()
    return {"batch": batch, "file": listing_file.name, **counts, "by_rule": by_rule,
            "rejections": listing_file.rejections[:200]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def list_clues(session: Session, status: str | None = None, rule: str | None = None, prefecture: str | None = None,
               gi_name: str | None = None, limit: int = 500) -> dict[str, Any]:
    stmt = (select(m.GIClue, m.GIListing).join(m.GIListing, m.GIClue.listing_row_id == m.GIListing.id)
            .order_by(m.GIClue.id.desc()).limit(limit))
    if status:
        stmt = stmt.where(m.GIClue.status == status)
    if rule:
        stmt = stmt.where(m.GIClue.rule == rule)
    if prefecture:
        stmt = stmt.where(m.GIListing.prefecture_code == prefecture)
    if gi_name:
        stmt = stmt.where(m.GIClue.gi_name == gi_name)
    names = place_names(session)
    items = [clue_dict(c, li, names) for c, li in session.execute(stmt)]
    counts = dict(session.execute(select(m.GIClue.status, func.count()).group_by(m.GIClue.status)).all())
    rules = dict(session.execute(select(m.GIClue.rule, func.count()).group_by(m.GIClue.rule)).all())
    return {"items": items, "by_status": {s: counts.get(s, 0) for s in STATUSES}, "by_rule": rules,
            "filters": {"status": status, "rule": rule, "prefecture": prefecture, "gi_name": gi_name}}


def place_names(session: Session) -> dict[str, str]:
    """Names of the places clues are referred to: Xinjiang units from the region table, other
    provinces from the hub gazetteer's province table."""
    from xjip.hub.gazetteer import PROVINCES

    names = {code: forms[0] for code, forms in PROVINCES.items()}
    names.update(dict(session.execute(select(m.Region.code, m.Region.name_zh).where(m.Region.valid_to.is_(None))).all()))
    return names


def clue_dict(c: m.GIClue, li: m.GIListing, names: dict[str, str] | None = None) -> dict[str, Any]:
    from xjip.gi.monitor import clean_title

    return {"id": c.id, "gi_id": c.gi_id, "gi_name": c.gi_name, "rule": c.rule, "evidence": c.evidence,
            "status": c.status, "referred_to": c.referred_to,
            "referred_to_name": (names or {}).get(c.referred_to or ""), "outcome": c.outcome, "history": c.history or [],
            "found_at": c.found_at,
            "listing": {"id": li.id, "batch": li.batch, "listing_id": li.listing_id, "title": li.title,
                        "title_shown": clean_title(li.title), "shop": li.shop,
                        "seller_location": li.seller_location, "region_code": li.region_code,
                        "prefecture_code": li.prefecture_code, "price": li.price, "listed_at": li.listed_at, "url": li.url}}


def referral_target(listing: m.GIListing) -> str | None:
    """The enforcement unit's place: the seller's prefecture in Xinjiang (XPCC cities: the city),
    else the seller's province."""
    code = listing.region_code or ""
    if code.startswith("65"):
        if code.startswith("6590") and len(code) >= 6 and code[:6] != "659000":
            return code[:6]
        return listing.prefecture_code
    return code[:2] + "0000" if len(code) >= 2 else None


def triage(session: Session, clue_id: int, status: str, actor: str, note: str | None = None,
           outcome: str | None = None) -> dict[str, Any]:
    clue = session.get(m.GIClue, clue_id) if m.is_row_id(clue_id) else None
    if clue is None:
        raise GIError("not_found", "clue_id", value=clue_id)
    if status not in STATUSES:
        raise GIError("bad_status", "status", value=status)
    if status not in NEXT[clue.status]:
        raise GIError("bad_transition", "status", before=clue.status, after=status)
    note = (note or "").strip()[:2000] or None
    entry: dict[str, Any] = {"at": m.utcnow().isoformat(timespec="seconds"), "by": actor, "from": clue.status,
                             "to": status, "note": note}
    if status == "dismissed" and not note:
        raise GIError("reason_required", "note")
    if status == "referred":
        listing = session.get(m.GIListing, clue.listing_row_id)
        target = referral_target(listing)
        if target is None:
            raise GIError("no_referral_target", "seller_location")
        clue.referred_to = target
        entry["referred_to"] = target
    if status == "closed":
        outcome = (outcome or "").strip()[:2000]
        if not outcome:
            raise GIError("outcome_required", "outcome")
        clue.outcome = outcome
        entry["outcome"] = outcome
    clue.status = status
    clue.history = [*(clue.history or []), entry]
    session.add(m.AuditEvent(tag=f"gi:clue:{status}", actor=actor, details={"clue_id": clue.id, **entry}))
    session.flush()
    return {"clue_id": clue.id, "status": clue.status, "referred_to": clue.referred_to}


def add_whitelist(session: Session, shop: str, gi_id: int | None, actor: str, note: str | None = None) -> dict[str, Any]:
    shop = (shop or "").strip()
    if not shop:
        raise GIError("missing_field", "shop")
    if len(shop) > 300:
        raise GIError("too_long", "shop", limit=300)
    if gi_id is not None and (not m.is_row_id(gi_id) or session.get(m.GeographicalIndication, gi_id) is None):
        raise GIError("not_found", "gi_id", value=gi_id)
    exists = session.execute(select(m.GIWhitelist.id).where(m.GIWhitelist.shop == shop,
                                                            m.GIWhitelist.gi_id.is_(None) if gi_id is None
                                                            else m.GIWhitelist.gi_id == gi_id)).scalar()
    if exists:
        raise GIError("already_whitelisted", "shop", value=shop)
    row = m.GIWhitelist(shop=shop, gi_id=gi_id, note=(note or "").strip()[:1000] or None, added_by=actor)
    session.add(row)
    session.add(m.AuditEvent(tag="gi:whitelist:add", actor=actor, details={"shop": shop, "gi_id": gi_id}))
    session.flush()
    return {"id": row.id, "shop": shop, "gi_id": gi_id}


def list_whitelist(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(m.GIWhitelist, m.GeographicalIndication.name)
                           .outerjoin(m.GeographicalIndication, m.GIWhitelist.gi_id == m.GeographicalIndication.id)
                           .order_by(m.GIWhitelist.shop))
    return [{"id": w.id, "shop": w.shop, "gi_id": w.gi_id, "gi_name": name, "note": w.note, "added_by": w.added_by,
             "added_at": w.added_at} for w, name in rows]


PACKAGE_COLUMNS = ("clue_id", "gi_name", "rule", "status", "referred_to", "outcome", "listing_id", "title", "shop",
                   "seller_location", "price", "listed_at", "url", "evidence")


def clue_package(session: Session, clue_ids: list[int]) -> bytes:
    """A ZIP with clues.csv (UTF-8 with BOM, one clue a row) and clues.json (everything, with the
    history of each clue). Cells that a spreadsheet would run as a formula are written as text."""
    ids = [i for i in clue_ids if m.is_row_id(i)]
    if not ids:
        raise GIError("nothing_selected")
    rows = [clue_dict(c, li) for c, li in session.execute(
        select(m.GIClue, m.GIListing).join(m.GIListing, m.GIClue.listing_row_id == m.GIListing.id)
        .where(m.GIClue.id.in_(ids)).order_by(m.GIClue.id))]
    if not rows:
        raise GIError("nothing_selected")
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(PACKAGE_COLUMNS)
    for r in rows:
        li = r["listing"]
        values = [r["id"], r["gi_name"], r["rule"], r["status"], r["referred_to"], r["outcome"], li["listing_id"],
                  li["title"], li["shop"], li["seller_location"], li["price"], li["listed_at"], li["url"],
                  json.dumps(r["evidence"], ensure_ascii=False)]
        writer.writerow([_cell(v) for v in values])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("clues.csv", "\ufeff" + text.getvalue())
        zf.writestr("clues.json", json.dumps(_jsonable(rows), ensure_ascii=False, indent=2, default=str))
        zf.writestr("README.txt", "xjip GI clue package / 地理标志侵权线索包\n"
                                  "clues.csv: one clue per row; clues.json: the same with each clue's history.\n"
                                  f"generated {m.utcnow().isoformat(timespec='seconds')}Z, {len(rows)} clues\n")
    return buf.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
