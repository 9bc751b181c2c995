"""Indicator 5, 地理标志专用标志使用覆盖率. No official or provincial formula exists
(shared/data/stats/indicator_definitions.md §5), so the definition is a setting (`gi_coverage`):
the default, 'gi_with_user_over_gi', is GIs in force with at least one authorised special-mark
user ÷ all GIs in force, per year end. Numerator and denominator are always returned.

`gi_special_mark_coverage` is the one function that computes it; the gi part (xjip/gi) can call
it, or reconcile its own figure with it."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import queries
from xjip.indicators.config import IndicatorSettings

REGION = "650000"


def gi_in_force(settings: IndicatorSettings, day: dt.date) -> Any:
    gi = m.GeographicalIndication
    cond = [gi.status.in_(settings.gi_in_force_statuses), or_(gi.approval_date.is_(None), gi.approval_date <= day)]
    if settings.gi_systems:
        cond.append(gi.gi_system.in_(settings.gi_systems))
    return and_(*cond)


def has_user(day: dt.date) -> Any:
    u = m.GIMarkUser
    return exists().where(u.gi_id == m.GeographicalIndication.id,
                          or_(u.approved_date.is_(None), u.approved_date <= day),
                          or_(u.revoked_date.is_(None), u.revoked_date > day))


def gi_special_mark_coverage(session: Session, years: list[int],
                             settings: IndicatorSettings | None = None) -> dict[int, dict[str, tuple[int, int]]]:
    """{year: {bucket: (GIs with a user, GIs in force)}}, bucket '650000' = the region (each GI
    once), other buckets as the overview counts GIs (every prefecture of the protected area)."""
    settings = settings or IndicatorSettings()
    if settings.gi_coverage != "gi_with_user_over_gi":
        raise ValueError(settings.gi_coverage)
    gi = m.GeographicalIndication
    pairs = queries.gi_bucket_pairs()
    out: dict[int, dict[str, tuple[int, int]]] = {}
    for year in years:
        day = dt.date(year, 12, 31)
        alive, used = gi_in_force(settings, day), has_user(day)
        total = session.execute(select(func.count(), func.sum(case((used, 1), else_=0))).select_from(gi)
                                .where(alive)).one()
        cells = {REGION: (int(total[1] or 0), int(total[0] or 0))}
        stmt = (select(pairs.c.bucket, func.count(func.distinct(gi.id)),
                       func.count(func.distinct(case((used, gi.id)))))
                .join(gi, gi.id == pairs.c.gi_id).where(alive).group_by(pairs.c.bucket))
        for bucket, n, with_user in session.execute(stmt):
            if bucket:
                cells[bucket] = (int(with_user or 0), int(n))
        out[year] = cells
    return out


def gi_records(year: int, settings: IndicatorSettings | None = None, with_user: bool | None = None) -> Any:
    """The condition selecting the GIs behind the figure (drill-down)."""
    settings = settings or IndicatorSettings()
    day = dt.date(year, 12, 31)
    cond = [gi_in_force(settings, day)]
    if with_user is not None:
        cond.append(has_user(day) if with_user else ~has_user(day))
    return and_(true(), *cond)
