"""Indicator settings: every choice official statistics leave open, with its default and why.
Staff change a setting through `entries` (kind 'setting'); the change is kept with who made it,
when, and the document it rests on, and the earlier value stays in the trail."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

HV_CATEGORIES = ("sei", "foreign_family", "maintained", "pledge", "award")


@dataclass(frozen=True)
class IndicatorSettings:
    # 1. High-value invention patents. The five categories (CNIPA 2021 Q2 press conference); a
    # 15th-plan reading may drop one (indicator_definitions.md §1, "only 4 categories").
    hv_categories: tuple[str, ...] = HV_CATEGORIES
    # "维持年限超过10年": whether counted from filing or grant is not published. Default filing:
    # the term and the annual fees run from the filing date (专利法 第四十二条; 实施细则 第一百一十五条).
    hv_maintained_years: int = 10
    hv_maintained_from: str = "filing"  # filing | grant
    # "较高质押融资金额": no threshold published. Default 1000万元, the line under which CNIPA counts
    # pledges separately as inclusive small loans (光明日报 2024-03-30, indicator_definitions.md §4).
    hv_pledge_threshold_wan: float = 1000.0
    # A pledge naming several patents counts its whole amount for each (no apportioning rule is
    # published); the largest pledge naming a patent is the one compared with the threshold.
    population_indicator: str = "year_end_resident_population"
    # 2. Transfers and licences: base year not published; default: the last year of the previous
    # plan period (2020 for 2021–2025, 2025 for 2026–2030). National unit: patent records only.
    tl_base_year: int | None = None
    tl_kinds: tuple[str, ...] = ("transfer", "licence")
    tl_right_types: tuple[str, ...] = ("patent",)
    # 4. Pledges: the start of the cumulation is not published; default the 14th plan's first year.
    pledge_cum_from: int = 2021
    pledge_right_types: tuple[str, ...] = ("patent", "trademark")
    # 5. GI coverage: no official formula; default GIs with ≥1 authorised user ÷ all GIs in force.
    # One definition with the GI part's pages: xjip.hub.gi_coverage (its docstring names each choice).
    gi_coverage: str = "gi_with_users"  # gi_with_users (alias gi_with_user_over_gi) | products_with_users
    gi_systems: tuple[str, ...] = ()  # () = every system (GI products and GI trademarks)
    # The GI statuses that mean "in force" (shared/data/gi README: status codes of the GI list).
    gi_in_force_statuses: tuple[str, ...] = ("approved_or_registered",)
    # 6. The institution kinds that count as 综合性知识产权公共服务机构 (CNIPA's filing list is not public).
    service_kinds: tuple[str, ...] = ("comprehensive_service",)
    service_denominator: int = 14
    # Status: on track when the trend reaches the target; at risk when it covers this share of the
    # baseline→target gap; off track below.
    at_risk_share: float = 0.9
    # A computed and a reported value that differ by more than this share are flagged.
    reported_tolerance: float = 0.01

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def text(self) -> dict[str, str]:
        return {k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for k, v in self.as_dict().items()}


CHOICES = {"hv_maintained_from": ("filing", "grant"),
           "gi_coverage": ("gi_with_users", "products_with_users", "gi_with_user_over_gi")}
LIST_OF = {"hv_categories": HV_CATEGORIES}


def coerce(name: str, value: Any) -> Any:
    """A setting's value as its field's type; ValueError names what is wrong."""
    field = {f.name: f for f in fields(IndicatorSettings)}.get(name)
    if field is None:
        raise KeyError(name)
    default = getattr(IndicatorSettings(), name)
    if isinstance(default, tuple):
        items = value if isinstance(value, (list, tuple)) else [v.strip() for v in str(value).split(",") if v.strip()]
        items = tuple(str(v) for v in items)
        allowed = LIST_OF.get(name)
        if allowed and any(v not in allowed for v in items):
            raise ValueError(name)
        return items
    if name == "tl_base_year":
        if value in (None, ""):
            return None
        year = int(value)
        if not 1985 <= year <= 2100:
            raise ValueError(name)
        return year
    if isinstance(default, bool):
        raise ValueError(name)
    if isinstance(default, int):
        number = int(value)
        if number < 0:
            raise ValueError(name)
        return number
    if isinstance(default, float):
        number = float(value)
        if not number >= 0 or number == float("inf"):
            raise ValueError(name)
        return number
    text = str(value)
    if name in CHOICES and text not in CHOICES[name]:
        raise ValueError(name)
    return text
