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

PLAN_FILE = Path(__file__).parent / "refdata" / "plan_indicators_2025_2030.csv"
PLAN_SOURCE = "新疆维吾尔自治区知识产权“十五五”规划（征求意见稿）, table 主要指标"
BASELINE_YEAR, TARGET_YEAR = 2025, 2030
SERIES_YEARS = tuple(range(2020, TARGET_YEAR + 1))


@dataclass(frozen=True)
class Indicator:
    id: str
    seq: int
    name_zh: str
    name_en: str
    unit: str
    baseline: float
    target: float
    computed: bool  # False: only a reported (hand-entered) value exists
    definition: str  # the official wording this code applies, with its source
    formula: str  # how xjip computes it (settings named in braces)
    source: str  # the records (or the entry form) it comes from


# Official wording and sources: shared/data/stats/indicator_definitions.md §1–§7.
_TEXT: dict[str, tuple[bool, str, str, str]] = {
    "hv_invention_per_10k": (
        True,
        "有效发明专利中符合国家重点产业发展方向、质量较高、价值较高的专利：战略性新兴产业、有海外同族、"
        "维持年限超过10年、实现较高质押融资金额、获得国家科学技术奖或中国专利奖；每件只计一次；国内(不含港澳台)"
        "权利人。CNIPA 2021年第二季度例行新闻发布会 (https://452611.com/ni1053/1153.html); 国内不含港澳台: "
        "https://epaper.gmw.cn/gmrb/html/2024-03/30/nw.D110000gmrb_20240330_3-04.htm",
        "count(invention patents in force at year end, placed in Xinjiang, meeting ≥1 of {hv_categories}) "
        "× 10,000 ÷ year-end resident population ({population_indicator})",
        "patent, patent_family_member, patent_event, pledge; awards entered by staff; region_population",
    ),
    "transfer_licence_cum_growth": (
        True,
        "全国口径为“专利转让许可备案次数”(https://muncard.com/govop/show/20250330140358-33520-00-000.html)；"
        "累计增长率的基年与公式未公布 (indicator_definitions.md §2)。",
        "(transfers and licences recorded in year t ÷ those recorded in the base year {tl_base_year} − 1) × 100; "
        "kinds {tl_kinds}, right types {tl_right_types}",
        "right_transaction",
    ),
    "valid_tm_cum": (
        True,
        "注册商标有效量：报告期末仍维持有效的注册商标(存量)，国内注册商标有效量 (Xinhua 2025-07-17, "
        "http://61.152.230.22/news,cjpl,54908953.html)。",
        "count(trademarks registered on or before year end and not expired, cancelled or invalidated by then, "
        "owner placed in Xinjiang) ÷ 10,000",
        "trademark",
    ),
    "pledge_financing_cum": (
        True,
        "知识产权质押融资登记金额：专利、商标质押登记金额 (https://epaper.gmw.cn/gmrb/html/2024-03/30/"
        "nw.D110000gmrb_20240330_3-04.htm)；累计起算年未公布 (indicator_definitions.md §4)。",
        "sum(pledge amounts registered from {pledge_cum_from} to year end, right types {pledge_right_types}) "
        "÷ 10,000 (万元 → 亿元)",
        "pledge",
    ),
    "gi_special_mark_coverage": (
        True,
        "无官方公式 (indicator_definitions.md §5)；CNIPA 统计单位为使用专用标志的市场主体 "
        "(https://cpahkltd.com/show-104124.html)。",
        "GIs in force with at least one authorised special-mark user at year end ÷ all GIs in force "
        "({gi_coverage}) × 100",
        "gi, gi_area, gi_mark_user",
    ),
    "prefecture_service_coverage": (
        True,
        "地市级综合性知识产权公共服务机构覆盖率 (知识产权公共服务“十四五”规划, https://m.lab216.com/law/show-4387.html)；"
        "新疆 57.14% = 8/14 (兵团不计)。",
        "prefectures (of {service_denominator}) with an institution of kind {service_kinds} established by "
        "year end ÷ {service_denominator} × 100",
        "institution",
    ),
    "protection_satisfaction": (
        False,
        "知识产权保护社会满意度：CNIPA 委托第三方年度调查，百分制得分 (http://m.cnsymm.com/2015/0510/1372.html)；"
        "按得分存储，不是比例 (indicator_definitions.md §7)。",
        "the survey's score as reported (entered by staff with its source document)",
        "indicator_entry (reported)",
    ),
}


@lru_cache(maxsize=1)
def indicators() -> tuple[Indicator, ...]:
    with open(PLAN_FILE, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        computed, definition, formula, source = _TEXT[r["indicator_id"]]
        # The plan prints satisfaction as %, but it is a 0–100 survey score (分), stored as such
        # (indicator_definitions.md §7: "Store it as a score, not a share").
        unit = "分" if r["indicator_id"] == "protection_satisfaction" else r["unit"]
        out.append(Indicator(r["indicator_id"], int(r["seq"]), r["indicator_zh"], r["indicator_en"], unit,
                             float(r["baseline_2025"]), float(r["target_2030"]), computed, definition, formula,
                             source))
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
