"""Indicator 5, 地理标志专用标志使用覆盖率. No official or provincial formula exists
(shared/data/stats/indicator_definitions.md §5), so the definition is a setting (`gi_coverage`,
with `gi_systems` and `gi_in_force_statuses`); its one computation is the hub's
(`xjip.hub.gi_coverage`), which the GI part's coverage pages call too, so the indicator and those
pages agree. Default: GIs in force with at least one authorised special-mark user ÷ all GIs in
force, per year end. Numerator and denominator are always returned."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from xjip.hub import gi_coverage as hub
from xjip.indicators.config import IndicatorSettings

REGION = hub.REGION


def rule(settings: IndicatorSettings) -> hub.CoverageRule:
    return hub.CoverageRule(settings.gi_coverage, tuple(settings.gi_systems), tuple(settings.gi_in_force_statuses))


def gi_special_mark_coverage(session: Session, years: list[int],
                             settings: IndicatorSettings | None = None) -> dict[int, dict[str, tuple[int, int, int]]]:
    """{year: {bucket: (covered, in force, covered only through synthetic records)}}, bucket
    '650000' = the region (each GI once), other buckets as the overview counts GIs (every
    prefecture-level unit of the protected area)."""
    settings = settings or IndicatorSettings()
    days = {year: dt.date(year, 12, 31) for year in years}
    result = hub.coverage(session, list(days.values()), rule(settings))
    out: dict[int, dict[str, tuple[int, int, int]]] = {}
    for year, day in days.items():
        r = result[day]
        cells = {REGION: (r["region"].numerator, r["region"].denominator, r["region"].synthetic)}
        for bucket, u in r["prefecture"].items():
            cells[bucket] = (u.numerator, u.denominator, u.synthetic)
        out[year] = cells
    return out


def gi_records(year: int, settings: IndicatorSettings | None = None, with_user: bool | None = None) -> Any:
    """The condition selecting the GIs behind the figure (drill-down)."""
    return hub.covered_condition(rule(settings or IndicatorSettings()), dt.date(year, 12, 31), with_user)
