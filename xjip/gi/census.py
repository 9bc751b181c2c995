"""Resource census and value assessment.

Candidates: a Xinjiang place name followed by a product word that the library protects elsewhere
(红枣, 香梨, 葡萄干…), found in the stored listings' titles and in the trademarks' word elements,
where no GI of that name exists ("且末红枣", "和田骏枣"). Each candidate shows where it was seen and
how often; staff decide whether to encourage an application.

Value assessment per GI (a documented setting, no official method was found): its inputs are
shown next to it, never a single opaque score:
- users: active special-mark users;
- output and sales: sums of the latest year's usage reports;
- price premium: median listing price of the name by sellers inside the area, over the median
  price of listings with the same product word and no protected name (needs ≥ `MIN_PRICES` each);
- brand reach: listings, distinct shops and distinct seller provinces mentioning the name.
"""
from __future__ import annotations

import re
import statistics
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xjip.gi.names import category_main
from xjip.hub import models as m

MIN_PRICES = 3
MIN_SEEN = 2  # a candidate seen fewer times is noise


def _product_words(names: list[str], parts: dict[str, str]) -> set[str]:
    words = set()
    for n in names:
        part = parts.get(n)
        if part and len(n) - len(part) >= 1:
            words.add(n[len(part):])
    return {w for w in words if len(w) >= 2}


def _place_names(session: Session) -> dict[str, str]:
    """Short place names of current Xinjiang units (库车市 → 库车) → code."""
    out: dict[str, str] = {}
    for code, name, level in session.execute(select(m.Region.code, m.Region.name_zh, m.Region.level)
                                             .where(m.Region.valid_to.is_(None), m.Region.level.in_((2, 3)))):
        short = re.sub(r"(维吾尔|哈萨克|蒙古|回族|柯尔克孜|锡伯|塔吉克)?(自治州|自治县|地区|市|县|区)$", "", name)
        if len(short) >= 2:
            out.setdefault(short, code)
    return out


def candidates(session: Session, monitor: Any = None) -> dict[str, Any]:
    from xjip.gi.monitor import from_session

    monitor = monitor or from_session(session)
    names = [e.name for e in monitor.entries]
    parts = {n: monitor.place[n][0] for n in names}
    words = _product_words(names, parts)
    places = _place_names(session)
    if not words or not places:
        return {"items": [], "product_words": sorted(words), "sources": []}
    pattern = re.compile(f"({'|'.join(map(re.escape, sorted(places, key=len, reverse=True)))})"
                         f"([\u4e00-\u9fff]{{0,2}}?)({'|'.join(map(re.escape, sorted(words, key=len, reverse=True)))})")
    protected = set(names)
    found: dict[str, dict[str, Any]] = {}

    def scan(text: str | None, source: str, shop: str | None = None) -> None:
        for match in pattern.finditer(text or ""):
            cand = match.group(0)
            if cand in protected or any(cand in n or n in cand for n in protected):
                continue
            item = found.setdefault(cand, {"name": cand, "place": match.group(1), "place_code": places[match.group(1)],
                                           "product_word": match.group(3), "seen": 0, "sources": {}, "shops": set()})
            item["seen"] += 1
            item["sources"][source] = item["sources"].get(source, 0) + 1
            if shop:
                item["shops"].add(shop)

    for title, shop in session.execute(select(m.GIListing.title, m.GIListing.shop)):
        scan(title, "listings", shop)
    for (word,) in session.execute(select(m.Trademark.word_element).where(m.Trademark.word_element.is_not(None))):
        scan(word, "trademarks")
    items = []
    for item in found.values():
        if item["seen"] < MIN_SEEN:
            continue
        same_product = sorted(n for n in names if n.endswith(item["product_word"]))
        items.append({**item, "shops": len(item["shops"]), "protected_elsewhere": same_product[:5]})
    items.sort(key=lambda i: (-i["seen"], i["name"]))
    return {"items": items, "product_words": sorted(words), "min_seen": MIN_SEEN}


def value_assessment(session: Session) -> list[dict[str, Any]]:
    from xjip.gi.monitor import from_session

    monitor = from_session(session)
    listings = session.execute(select(m.GIListing.title, m.GIListing.shop, m.GIListing.price, m.GIListing.region_code,
                                      m.GIListing.prefecture_code, m.GIListing.seller_location)).all()
    latest = session.execute(select(func.max(m.GIUsageReport.year))).scalar()
    reports: dict[int, list[m.GIUsageReport]] = {}
    if latest:
        for rep, gi_id in session.execute(select(m.GIUsageReport, m.GIMarkApplication.gi_id)
                                          .join(m.GIMarkApplication, m.GIUsageReport.application_id == m.GIMarkApplication.id)
                                          .where(m.GIUsageReport.year == latest)):
            reports.setdefault(gi_id, []).append(rep)
    users: dict[int, int] = dict(session.execute(select(m.GIMarkUser.gi_id, func.count())
                                                 .where(m.GIMarkUser.revoked_date.is_(None))
                                                 .group_by(m.GIMarkUser.gi_id)).all())
    categories = dict(session.execute(select(m.GeographicalIndication.name, m.GeographicalIndication.category)).all())
    out = []
    for e in monitor.entries:
        product = monitor.place[e.name][1]
        inside, plain, shops, provinces, mentions = [], [], set(), set(), 0
        for title, shop, price, region, pref, loc in listings:
            if e.name in title:
                mentions += 1
                shops.add(shop)
                if region:
                    provinces.add(region[:2])
                place = monitor.locate(loc)
                if price is not None and monitor.inside(e, place) is True:
                    inside.append(price)
            elif price is not None and len(product) >= 2 and product in title and not any(n in title for n in monitor.by_name):
                plain.append(price)
        premium = None
        if len(inside) >= MIN_PRICES and len(plain) >= MIN_PRICES:
            premium = round(statistics.median(inside) / statistics.median(plain) - 1, 3)
        reps = [r for i in e.gi_ids for r in reports.get(i, [])]
        out.append({"name": e.name, "gi_ids": list(e.gi_ids), "category": category_main(categories.get(e.name)),
                    "users": sum(users.get(i, 0) for i in e.gi_ids),
                    "report_year": latest if reps else None,
                    "output_tonnes": sum(r.output_tonnes for r in reps) if reps else None,
                    "sales_wan_yuan": sum(r.sales_wan_yuan for r in reps) if reps else None,
                    "price_inside_median": statistics.median(inside) if inside else None, "prices_inside": len(inside),
                    "price_plain_median": statistics.median(plain) if plain else None, "prices_plain": len(plain),
                    "price_premium": premium, "listings": mentions, "shops": len(shops - {None}),
                    "provinces": len(provinces)})
    out.sort(key=lambda r: (-(r["users"] or 0), -(r["listings"] or 0), r["name"]))
    return out
