"""The plan's 7 main indicators: what official statistics define (quoted and cited where the
computation applies it), the unit, and the plan's 2025 baseline and 2030 target.

Sources: the plan table 主要指标 of 新疆维吾尔自治区知识产权“十五五”规划（征求意见稿） (copy in
`refdata/plan_indicators_2025_2030.csv`), and `shared/data/stats/indicator_definitions.md`, which
gives the URL of every official definition quoted below and says what is *not* published. Where
no official formula exists the formula is a documented setting (`xjip.indicators.config`).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from xjip.i18n import t

PLAN_FILE = Path(__file__).parent / "refdata" / "plan_indicators_2025_2030.csv"
PLAN_SOURCE = "新疆维吾尔自治区知识产权“十五五”规划（征求意见稿）, table 主要指标"  # cited in code; pages: plan_source()
BASELINE_YEAR, TARGET_YEAR = 2025, 2030
SERIES_YEARS = tuple(range(2020, TARGET_YEAR + 1))


@dataclass(frozen=True)
class Indicator:
    id: str
    seq: int
    name_zh: str
    name_en: str
    unit: str  # the plan's unit as printed (Chinese); `text("unit", lang)` for a page
    baseline: float
    target: float
    computed: bool  # False: only a reported (hand-entered) value exists

    def text(self, part: str, lang: str = "zh", **settings: Any) -> str:
        """A page-visible text of the indicator in a language, from the catalogue
        (`indicators.<part>.<id>`): part is 'definition' (the official wording this code applies,
        with its source), 'formula' (how xjip computes it; the settings named in braces are
        filled from `settings`), 'data_source' (the records or the entry form it comes from) or
        'unit'."""
        return t(f"indicators.{part}.{self.id}", lang, **settings)

    @property
    def definition(self) -> str:
        return self.text("definition")

    @property
    def formula(self) -> str:
        """The formula's Chinese template, settings still in braces."""
        return self.text("formula")

    @property
    def source(self) -> str:
        return self.text("data_source")


# Whether xjip computes each indicator from records. Its official wording (quoted, with the
# sources of shared/data/stats/indicator_definitions.md §1–§7), formula, data source and unit are
# page-visible texts, kept in the catalogue (`indicators.definition.<id>`, `indicators.formula.<id>`,
# `indicators.data_source.<id>`, `indicators.unit.<id>` in indicators.zh.json / indicators.en.json).
COMPUTED: dict[str, bool] = {
    "hv_invention_per_10k": True,
    "transfer_licence_cum_growth": True,
    "valid_tm_cum": True,
    "pledge_financing_cum": True,
    "gi_special_mark_coverage": True,
    "prefecture_service_coverage": True,
    "protection_satisfaction": False,
}
TEXT_PARTS = ("definition", "formula", "data_source", "unit")


def plan_source(lang: str = "zh") -> str:
    return t("indicators.plan_source", lang)


@lru_cache(maxsize=1)
def indicators() -> tuple[Indicator, ...]:
    with open(PLAN_FILE, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        # The plan prints satisfaction as %, but it is a 0–100 survey score (分), stored as such
        # (indicator_definitions.md §7: "Store it as a score, not a share").
        unit = "分" if r["indicator_id"] == "protection_satisfaction" else r["unit"]
        out.append(Indicator(r["indicator_id"], int(r["seq"]), r["indicator_zh"], r["indicator_en"], unit,
                             float(r["baseline_2025"]), float(r["target_2030"]), COMPUTED[r["indicator_id"]]))
    return tuple(sorted(out, key=lambda i: i.seq))


def by_id(indicator_id: str) -> Indicator:
    for ind in indicators():
        if ind.id == indicator_id:
            return ind
    raise KeyError(indicator_id)


def per_10k(count: float, population: float) -> float:
    """每万人口 X: count × 10,000 ÷ year-end population (the denominator the national figure fits:
    229.2万 high-value patents at 16 per 10k, indicator_definitions.md §1)."""
    return count * 10_000 / population
