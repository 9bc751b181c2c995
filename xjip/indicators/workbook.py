"""The dashboard (and the report's annex) as an Excel workbook: one sheet of indicators, one of
the series 2020–2030 with the target line, one of the prefecture ranking. openpyxl (already a
dependency, write-only mode); text cells that look like formulas are written as text."""
from __future__ import annotations

from typing import IO, Any

from xjip.i18n import t


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        return "'" + value
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def dashboard_xlsx(data: dict[str, Any], lang: str, out: IO[bytes]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    head = [t(f"indicators.xlsx.{k}", lang) for k in (
        "seq", "name", "unit", "year", "value", "value_from", "numerator", "denominator", "baseline", "target", "status",
        "reason", "projection", "pace", "reported", "difference", "formula", "definition", "records")]
    ws = wb.create_sheet(t("indicators.xlsx.sheet_indicators", lang)[:31])
    ws.append(head)
    for ind in data["indicators"]:
        ws.append([_safe(v) for v in (
            ind["seq"], ind["name"], ind["unit_text"], ind["year"], ind["value"], ind["value_from"], ind["numerator"],
            ind["denominator"], ind["baseline_2025"], ind["target_2030"], t(f"indicators.status.{ind['status']}", lang),
            ind["reason_text"], ind["projection_2030"], ind["pace_needed"],
            ind["reported"]["value"] if ind["reported"] else None, ind["difference"], ind["formula"], ind["definition"],
            ind["query"]["records"])])
    ws = wb.create_sheet(t("indicators.xlsx.sheet_series", lang)[:31])
    ws.append([t(f"indicators.xlsx.{k}", lang) for k in ("name", "year", "computed", "reported", "value", "planned")])
    for ind in data["indicators"]:
        for p in ind["series"]:
            ws.append([ind["name"], p["year"], p["computed"], p["reported"], p["value"], p["planned"]])
    ws = wb.create_sheet(t("indicators.xlsx.sheet_ranking", lang)[:31])
    ws.append([t(f"indicators.xlsx.{k}", lang) for k in ("name", "rank", "place", "code", "value", "numerator",
                                                          "denominator")])
    for ind in data["indicators"]:
        for r in ind.get("by_prefecture", []):
            ws.append([ind["name"], r["rank"], r["name"], r["code"], r["value"], r["numerator"], r["denominator"]])
    wb.save(out)
