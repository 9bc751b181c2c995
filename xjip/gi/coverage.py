"""地理标志专用标志使用覆盖率 (special-mark coverage) per GI, prefecture and region.

No official definition was found (gi_rules_facts.md; the data README notes the plan's KPI
"80.4%" without its universe), so the definition is a setting, named in every answer with its
numerator and denominator. The computation and its settings are the hub's
(`xjip.hub.gi_coverage`, whose docstring documents them), shared with plan indicator 5, so this
page and the indicator give the same figure for the same day and settings:

- ``gi_with_users`` (default): numerator = GIs (name × system) with at least one special-mark user
  authorised on the reference date; denominator = GIs in force (status approved/registered,
  approved by then). Per GI the rate is 1 or 0; a prefecture counts the GIs whose protected area
  touches it (as the overview counts them).
- ``products_with_users``: the same counted per product name (a product protected under three
  systems counts once, covered when any of its systems has a user).

Unless a definition or systems are given, the current indicator setting (`gi_coverage`,
`gi_systems`, `gi_in_force_statuses`, entered by staff) applies. Synthetic records count, as in the
indicator; `synthetic` says how many covered units are covered only through them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xjip.gi import GIError
from xjip.hub import gi_coverage as hub
from xjip.hub import models as m

DEFINITIONS = hub.DEFINITIONS
LEVELS = ("gi", "prefecture", "region")
MEANS = {"gi_with_users": ("GIs with ≥1 active special-mark user / 有合法用标企业的地理标志数",
                           "GIs in force (approved/registered) / 已批准或注册的地理标志数"),
         "products_with_users": ("products with ≥1 active user / 有用标企业的产品数",
                                 "products in force (approved/registered) / 已批准或注册的产品数")}


def coverage(session: Session, level: str = "region", definition: str | None = None,
             year: int | None = None, systems: tuple[str, ...] | None = None) -> dict[str, Any]:
    try:
        current = hub.current_rule(session)
        rule = hub.CoverageRule(definition or current.definition,
                                current.systems if systems is None else tuple(systems), current.statuses)
    except ValueError:
        raise GIError("bad_definition", "definition", value=definition, choices=", ".join(DEFINITIONS)) from None
    if level not in LEVELS:
        raise GIError("bad_value", "level", value=level)
    on = dt.date(year, 12, 31) if year else m.utcnow().date()
    levels = {"gi": ("gi",), "prefecture": ("prefecture",), "region": ("region",)}[level]
    result = hub.coverage(session, [on], rule, levels)[on]
    names = {c: n for c, n in session.execute(select(m.Region.code, m.Region.name_zh).where(m.Region.valid_to.is_(None)))}
    rows = []
    if level == "gi":
        for gi_id, u in result["gi"].items():
            rows.append({"code": str(gi_id), "name": u.name, "numerator": u.numerator, "denominator": u.denominator,
                         "synthetic": u.synthetic, "users": u.users, "rate": u.rate})
    elif level == "prefecture":
        for code, u in sorted(result["prefecture"].items()):
            rows.append({"code": code, "name": names.get(code, code), "numerator": u.numerator,
                         "denominator": u.denominator, "synthetic": u.synthetic, "rate": u.rate})
    else:
        u = result["region"]
        rows.append({"code": hub.REGION, "name": names.get(hub.REGION, "新疆维吾尔自治区"), "numerator": u.numerator,
                     "denominator": u.denominator, "synthetic": u.synthetic, "rate": u.rate})
    num_means, den_means = MEANS[rule.definition]
    return {"definition": rule.definition, "level": level, "on": on, "systems": list(rule.systems) or None,
            "in_force_statuses": list(rule.statuses), "rows": rows,
            "numerator_means": num_means, "denominator_means": den_means}
