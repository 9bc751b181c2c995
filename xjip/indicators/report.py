"""Every indicator for a year and a place: definition, value, numerator and denominator,
baseline, target, the reported value beside the computed one, status with its reason, the
projection from the trend, the ranking of prefectures, and the record query behind each figure.
The CLI (`xjip indicators`), the JSON API (/api/indicators) and the dashboard use this."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from xjip.i18n import t
from xjip.indicators import compute as c
from xjip.indicators import definitions, entries
from xjip.indicators.config import IndicatorSettings

FIRST_YEAR = definitions.SERIES_YEARS[0]


def planned(ind: definitions.Indicator, year: int) -> float | None:
    """The target line: straight from the 2025 baseline to the 2030 target (the plan gives no
    yearly targets)."""
    if year < definitions.BASELINE_YEAR:
        return None
    span = definitions.TARGET_YEAR - definitions.BASELINE_YEAR
    return round(ind.baseline + (ind.target - ind.baseline) * (year - definitions.BASELINE_YEAR) / span, 4)


def assess(ind: definitions.Indicator, points: list[tuple[int, float]], s: IndicatorSettings) -> dict[str, Any]:
    """Status (on_track | at_risk | off_track | no_data), its reason, the linear trend's 2030
    projection (least squares over the years with a value) and the yearly pace still needed."""
    out: dict[str, Any] = {"status": "no_data", "reason": "no_data", "reason_params": {}, "projection_2030": None,
                           "trend_per_year": None, "pace_needed": None}
    if not points:
        return out
    last_year, last = points[-1]
    target, baseline = ind.target, ind.baseline
    if last_year < definitions.TARGET_YEAR:
        out["pace_needed"] = round((target - last) / (definitions.TARGET_YEAR - last_year), 4)
    if len(points) >= 2:
        n = len(points)
        mx, my = sum(y for y, _ in points) / n, sum(v for _, v in points) / n
        sxx = sum((y - mx) ** 2 for y, _ in points)
        slope = sum((y - mx) * (v - my) for y, v in points) / sxx
        out["trend_per_year"] = round(slope, 4)
        out["projection_2030"] = round(my + slope * (definitions.TARGET_YEAR - mx), 4)
    proj = out["projection_2030"]
    params = {"value": _fmt(last), "year": last_year, "target": _fmt(target), "projection": _fmt(proj),
              "pace": _fmt(out["pace_needed"]), "trend": _fmt(out["trend_per_year"])}
    out["reason_params"] = params
    threshold = baseline + s.at_risk_share * (target - baseline)
    if last >= target:
        out.update(status="on_track", reason="target_reached")
    elif proj is None:
        line = planned(ind, last_year)
        if line is None:
            out.update(status="no_data", reason="single_point")
        else:
            params["planned"] = _fmt(line)
            out.update(status="on_track" if last >= line else "at_risk", reason="single_point_vs_plan")
    elif proj >= target:
        out.update(status="on_track", reason="trend_reaches")
    elif proj >= threshold:
        out.update(status="at_risk", reason="trend_short")
    else:
        out.update(status="off_track", reason="trend_far")
    return out


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"


# Setting values that name something a clerk reads: shown through the catalogue in the formulas.
_VALUE_IDS = {"hv_categories": "indicators.criterion.{}", "tl_kinds": "web.kind.{}", "tl_right_types": "web.type.{}",
              "pledge_right_types": "web.type.{}", "service_kinds": "web.kind.{}", "gi_systems": "web.kind.{}",
              "population_indicator": "indicators.setting_value.{}", "gi_coverage": "indicators.setting_value.{}"}


def settings_text(s: IndicatorSettings, lang: str = "zh") -> dict[str, str]:
    """The settings as the formulas show them, in a language ("、" or ", " between list items)."""
    sep = "、" if lang == "zh" else ", "
    out = {}
    for name, value in s.as_dict().items():
        items = value if isinstance(value, list) else [value]
        pattern = _VALUE_IDS.get(name)
        words = []
        for v in items:
            text = t(pattern.format(v), lang) if pattern else str(v)
            words.append(str(v) if pattern and text == pattern.format(v) else text)  # no catalogue entry: the id
        out[name] = sep.join(words) if words else t("indicators.setting_value.none", lang)
    if s.tl_base_year is None:
        out["tl_base_year"] = t("indicators.setting_value.tl_base_year_default", lang)
    return out


def texts(ind: definitions.Indicator, s: IndicatorSettings, lang: str) -> dict[str, str]:
    """The indicator's page-visible texts in one language (catalogue), formula settings filled in."""
    filled = settings_text(s, lang)
    return {"definition": ind.text("definition", lang), "formula": ind.text("formula", lang, **filled),
            "data_source": ind.text("data_source", lang), "unit_text": ind.text("unit", lang),
            "plan_source": definitions.plan_source(lang)}


def years_for(year: int) -> list[int]:
    return list(range(min(FIRST_YEAR, year), year + 1))


def build(session: Session, year: int, prefecture: str | None = None, lang: str = "zh") -> dict[str, Any]:
    s = entries.load_settings(session)
    years = years_for(year)
    results = c.compute(session, years, s)
    reported = entries.reported(session)
    units = c.units(session)
    names = {u["code"]: u for u in units}
    code = prefecture or c.REGION
    out_inds = []
    for ind in definitions.indicators():
        cells = results.get(ind.id, {})
        series = []
        for y in years:
            cell = cells.get(y, {}).get(code)
            computed = c.value_of(ind.id, cell) if ind.computed else None
            rep = reported.get((ind.id, y, code))
            value = computed if computed is not None else (rep.value if rep else None)
            series.append({"year": y, "computed": computed, "reported": rep.value if rep else None, "value": value,
                           "planned": planned(ind, y)})
        cell = cells.get(year, {}).get(code)
        rep = reported.get((ind.id, year, code))
        computed = c.value_of(ind.id, cell) if ind.computed else None
        item: dict[str, Any] = {
            "id": ind.id, "seq": ind.seq, "name": ind.name_zh if lang == "zh" else ind.name_en,
            "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
            # definition, formula, data_source, unit_text, plan_source in the requested language;
            # the same with _zh and _en for both
            **texts(ind, s, lang), **{f"{k}_{lg}": v for lg in ("zh", "en") for k, v in texts(ind, s, lg).items()},
            "baseline_2025": ind.baseline, "target_2030": ind.target,
            "year": year, "region_code": code, "computed": computed,
            "numerator": cell.numerator if cell else None, "denominator": cell.denominator if cell else None,
            "scale": c.SCALE[ind.id], "gap": (cell.gap if cell else ("not_computed" if not ind.computed else "no_records")),
            "synthetic_in_numerator": cell.synthetic if cell else 0,
            "reported": entries.as_dict(rep) if rep else None,
        }
        item["value"] = computed if computed is not None else (rep.value if rep else None)
        item["value_from"] = "computed" if computed is not None else ("reported" if rep else None)
        if computed is not None and rep is not None and rep.value is not None:
            diff = computed - rep.value
            item["difference"] = round(diff, 6)
            item["difference_flag"] = abs(diff) > s.reported_tolerance * max(abs(rep.value), 1e-9)
        else:
            item["difference"], item["difference_flag"] = None, False
        unplaced = cells.get(year, {}).get("unplaced")
        item["unplaced_numerator"] = unplaced.numerator if unplaced else None
        points = [(p["year"], p["value"]) for p in series if p["value"] is not None]
        item.update(assess(ind, points, s))
        item["reason_text"] = t(f"indicators.reason.{item['reason']}", lang, **item["reason_params"])
        item["series"] = series
        item["query"] = {"records": f"/api/indicators/{ind.id}/records?year={year}"
                                    + (f"&prefecture={code}" if code != c.REGION else ""),
                         "description": item["formula"]}
        if code == c.REGION and ind.computed:
            ranking = []
            for u in units:
                uc = cells.get(year, {}).get(u["code"])
                ranking.append({"code": u["code"], "name": u["name"], "kind": u["kind"], "value": c.value_of(ind.id, uc),
                                "numerator": uc.numerator if uc else None,
                                "denominator": uc.denominator if uc else None, "gap": uc.gap if uc else "no_records"})
            ranking.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), r["code"]))
            for i, r in enumerate(ranking, 1):
                r["rank"] = i if r["value"] is not None else None
            item["by_prefecture"] = ranking
        out_inds.append(item)
    return {"year": year, "region_code": code, "region_name": names.get(code, {}).get("name") if code != c.REGION
            else "新疆维吾尔自治区", "settings": s.as_dict(), "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "indicators": out_inds}
