"""地理标志专用标志使用覆盖率 (GI special-mark coverage): the one definition, read by the plan
indicator 5 (xjip.indicators) and by the GI part's coverage per GI, prefecture and region (xjip.gi),
so both give the same figure for the same day and settings.

No official or provincial formula exists (shared/data/stats/indicator_definitions.md §5; the data
README quotes the plan's 80.4% without its universe), so the definition is a setting, kept with the
indicator settings (staff entries of kind 'setting', `xjip indicators enter --kind setting`), named
in every answer with its numerator and denominator:

- ``gi_coverage`` — the definition:
  - ``gi_with_users`` (default; also accepted under its first name ``gi_with_user_over_gi``):
    GIs (name × protection system) in force with at least one special-mark user authorised on the
    day ÷ all GIs in force. Per GI the rate is 1 or 0.
  - ``products_with_users``: the same counted per product name (a product protected under several
    systems counts once, covered when any of its GIs has a user).
- ``gi_systems``: the protection systems counted (empty: all, GI products and GI trademarks).
- ``gi_in_force_statuses``: the GI statuses that mean "in force" (default approved_or_registered);
  a GI counts from its approval date (none: always).

A user is authorised on a day when approved on or before it (no date: always) and not revoked by
it. A GI counts in every prefecture-level unit of its protected area, as the overview counts it
(`queries.gi_bucket_pairs`). Synthetic records count, as in every indicator, and the numerator's
units that are covered only through synthetic records are given apart (`synthetic`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import Session, aliased

from xjip.hub import models as m
from xjip.hub import queries

DEFINITIONS = ("gi_with_users", "products_with_users")
ALIASES = {"gi_with_user_over_gi": "gi_with_users"}
IN_FORCE_STATUSES = ("approved_or_registered",)
REGION = "650000"
SETTING_KEYS = ("gi_coverage", "gi_systems", "gi_in_force_statuses")


@dataclass(frozen=True)
class CoverageRule:
    definition: str = "gi_with_users"
    systems: tuple[str, ...] = ()  # () = every system
    statuses: tuple[str, ...] = IN_FORCE_STATUSES

    def __post_init__(self) -> None:
        object.__setattr__(self, "definition", canonical(self.definition))


def canonical(definition: str) -> str:
    """The definition's name; ValueError for one that does not exist."""
    name = ALIASES.get(definition, definition)
    if name not in DEFINITIONS:
        raise ValueError(definition)
    return name


@dataclass
class Unit:
    """One figure: numerator ÷ denominator, and the numerator's units covered only through
    synthetic records."""
    numerator: int = 0
    denominator: int = 0
    synthetic: int = 0
    users: int = 0  # authorised users behind the numerator (per GI: its users)
    name: str | None = None

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


def _list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else [v.strip() for v in str(value or "").split(",")]
    return tuple(str(v) for v in items if str(v).strip())


def current_rule(session: Session) -> CoverageRule:
    """The rule as staff set it (the current, not withdrawn setting entries), else the defaults:
    what both the indicator and the GI pages use unless told otherwise."""
    later = aliased(m.IndicatorEntry)
    E = m.IndicatorEntry
    stmt = (select(E.key, E.value_json, E.withdrawn).where(E.kind == "setting", E.key.in_(SETTING_KEYS))
            .where(~select(later.id).where(later.supersedes_id == E.id).exists()).order_by(E.id))
    values: dict[str, Any] = {}
    for key, value_json, withdrawn in session.execute(stmt):
        if not withdrawn and isinstance(value_json, dict) and "value" in value_json:
            values[key] = value_json["value"]
    rule = CoverageRule()
    try:
        definition = canonical(str(values.get("gi_coverage", rule.definition)))
    except ValueError:
        definition = rule.definition  # a definition a later version no longer has
    return CoverageRule(definition, _list(values["gi_systems"]) if "gi_systems" in values else rule.systems,
                        _list(values["gi_in_force_statuses"]) if "gi_in_force_statuses" in values else rule.statuses)


def in_force(rule: CoverageRule, day: dt.date) -> Any:
    """SQL condition: the GI is in force on `day` under the rule."""
    gi = m.GeographicalIndication
    cond = [gi.status.in_(rule.statuses), or_(gi.approval_date.is_(None), gi.approval_date <= day)]
    if rule.systems:
        cond.append(gi.gi_system.in_(rule.systems))
    return and_(*cond)


def has_user(day: dt.date, real_only: bool = False) -> Any:
    """SQL condition: the GI has a special-mark user authorised on `day` (real_only: a user
    that is not a synthetic record)."""
    u = m.GIMarkUser
    cond = [u.gi_id == m.GeographicalIndication.id, or_(u.approved_date.is_(None), u.approved_date <= day),
            or_(u.revoked_date.is_(None), u.revoked_date > day)]
    if real_only:
        cond.append(u.is_synthetic.is_(False))
    return exists().where(*cond)


def _users(session: Session, ids: list[int], day: dt.date) -> dict[int, int]:
    """Authorised users on `day` per GI of `ids`."""
    u, wanted = m.GIMarkUser, set(ids)
    out: dict[int, int] = {}
    stmt = select(u.gi_id).where(or_(u.approved_date.is_(None), u.approved_date <= day),
                                 or_(u.revoked_date.is_(None), u.revoked_date > day), u.gi_id.is_not(None))
    for gi_id, in session.execute(stmt):
        if gi_id in wanted:
            out[gi_id] = out.get(gi_id, 0) + 1
    return out


def coverage(session: Session, days: list[dt.date], rule: CoverageRule | None = None,
             levels: tuple[str, ...] = ("region", "prefecture")) -> dict[dt.date, dict[str, Any]]:
    """{day: {"region": Unit, "prefecture": {bucket: Unit}, "gi": {gi id: Unit}}} for the levels asked."""
    rule = rule or current_rule(session)
    gi = m.GeographicalIndication
    buckets: dict[int, set[str]] = {}
    if "prefecture" in levels:
        pairs = queries.gi_bucket_pairs()
        for gi_id, bucket in session.execute(select(pairs.c.gi_id, pairs.c.bucket)):
            if bucket:
                buckets.setdefault(gi_id, set()).add(bucket)
    out: dict[dt.date, dict[str, Any]] = {}
    for day in days:
        rows = session.execute(select(gi.id, gi.name, gi.gi_system, gi.is_synthetic,
                                      has_user(day).label("used"), has_user(day, True).label("used_real"))
                               .where(in_force(rule, day)).order_by(gi.name, gi.gi_system)).all()
        users = _users(session, [r.id for r in rows], day) if "gi" in levels else {}
        result: dict[str, Any] = {}
        if "region" in levels:
            result["region"] = _units(rows, rule)
        if "prefecture" in levels:
            by: dict[str, list[Any]] = {}
            for r in rows:
                for b in buckets.get(r.id, ()):
                    by.setdefault(b, []).append(r)
            result["prefecture"] = {b: _units(group, rule) for b, group in by.items()}
        if "gi" in levels:
            result["gi"] = {r.id: Unit(int(bool(r.used)), 1, int(bool(r.used) and not _real(r)), users.get(r.id, 0),
                                       f"{r.name}（{r.gi_system}）") for r in rows}
        out[day] = result
    return out


def _real(r: Any) -> bool:
    """Covered through real records: a real GI with a real user."""
    return bool(r.used_real) and not r.is_synthetic


def _units(rows: list[Any], rule: CoverageRule) -> Unit:
    if rule.definition == "gi_with_users":
        used = [r for r in rows if r.used]
        return Unit(len(used), len(rows), sum(1 for r in used if not _real(r)))
    covered: dict[str, tuple[bool, bool]] = {}
    for r in rows:
        any_, real = covered.get(r.name, (False, False))
        covered[r.name] = (any_ or bool(r.used), real or (bool(r.used) and _real(r)))
    return Unit(sum(1 for a, _ in covered.values() if a), len(covered),
                sum(1 for a, real in covered.values() if a and not real))


def covered_condition(rule: CoverageRule, day: dt.date, with_user: bool | None = True) -> Any:
    """SQL condition selecting the GIs behind a figure (drill-down): in force, and with (or
    without) an authorised user on `day`."""
    cond = [in_force(rule, day)]
    if with_user is not None:
        cond.append(has_user(day) if with_user else ~has_user(day))
    return and_(true(), *cond)
