"""地理标志专用标志使用覆盖率 (special-mark coverage) per GI, prefecture and region.

No official definition was found (gi_rules_facts.md; the data README notes the plan's KPI
"80.4%" without its universe), so the definition is a setting, named in every answer with its
numerator and denominator:

- ``gi_with_users`` (default): numerator = GIs (name × system) with at least one special-mark user
  active on the reference date; denominator = GIs whose status is approved/registered. Per GI
  the rate is 1 or 0; a prefecture counts the GIs whose protected area touches it.
- ``products_with_users``: the same counted per product name (a product protected under three
  systems counts once, covered when any of its systems has a user).

`systems` restricts the GI systems counted (default: all), e.g. ("PGI_product",) for the
GI-product mark only. Plan indicator 5 calls `coverage(session, level="region")`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.hub import models as m

DEFINITIONS = ("gi_with_users", "products_with_users")
LEVELS = ("gi", "prefecture", "region")
APPROVED = ("approved_or_registered",)


def coverage(session: Session, level: str = "region", definition: str = "gi_with_users",
             year: int | None = None, systems: tuple[str, ...] | None = None,
             include_synthetic: bool = False) -> dict[str, Any]:
    if definition not in DEFINITIONS:
        raise GIError("bad_definition", "definition", value=definition, choices=", ".join(DEFINITIONS))
    if level not in LEVELS:
        raise GIError("bad_value", "level", value=level)
    on = dt.date(year, 12, 31) if year else m.utcnow().date()
    gis = [g for g in session.execute(select(m.GeographicalIndication)).scalars()
           if g.status in APPROVED and (systems is None or g.gi_system in systems)
           and (include_synthetic or not g.is_synthetic)]
    ids = {g.id for g in gis}
    users: dict[int, int] = {}
    for gi_id, approved, revoked, synthetic in session.execute(
            select(m.GIMarkUser.gi_id, m.GIMarkUser.approved_date, m.GIMarkUser.revoked_date, m.GIMarkUser.is_synthetic)):
        if gi_id in ids and (include_synthetic or not synthetic) and (approved is None or approved <= on) \
                and (revoked is None or revoked > on):
            users[gi_id] = users.get(gi_id, 0) + 1
    areas: dict[int, set[str]] = {}
    for gi_id, pref in session.execute(select(m.GIArea.gi_id, m.GIArea.prefecture_code)):
        if gi_id in ids and pref:
            areas.setdefault(gi_id, set()).add(pref)
    names = {c: n for c, n in session.execute(select(m.Region.code, m.Region.name_zh).where(m.Region.valid_to.is_(None)))}

    def units(group: list[m.GeographicalIndication]) -> tuple[int, int]:
        if definition == "gi_with_users":
            return sum(1 for g in group if users.get(g.id)), len(group)
        by_name: dict[str, bool] = {}
        for g in group:
            by_name[g.name] = by_name.get(g.name, False) or bool(users.get(g.id))
        return sum(by_name.values()), len(by_name)

    rows = []
    if level == "gi":
        for g in sorted(gis, key=lambda g: (g.name, g.gi_system)):
            num = 1 if users.get(g.id) else 0
            rows.append({"code": str(g.id), "name": f"{g.name}（{g.gi_system}）", "numerator": num, "denominator": 1,
                         "users": users.get(g.id, 0), "rate": float(num)})
    elif level == "prefecture":
        prefs = sorted({p for s in areas.values() for p in s})
        for p in prefs:
            group = [g for g in gis if p in areas.get(g.id, set())]
            num, den = units(group)
            rows.append({"code": p, "name": names.get(p, p), "numerator": num, "denominator": den,
                         "rate": num / den if den else None})
    else:
        num, den = units(gis)
        rows.append({"code": "650000", "name": names.get("650000", "新疆维吾尔自治区"), "numerator": num,
                     "denominator": den, "rate": num / den if den else None})
    return {"definition": definition, "level": level, "on": on, "systems": list(systems) if systems else None,
            "rows": rows,
            "numerator_means": {"gi_with_users": "GIs with ≥1 active special-mark user / 有合法用标企业的地理标志数",
                                "products_with_users": "products with ≥1 active user / 有用标企业的产品数"}[definition],
            "denominator_means": {"gi_with_users": "approved/registered GIs / 已批准或注册的地理标志数",
                                  "products_with_users": "approved/registered products / 已批准或注册的产品数"}[definition]}
