"""The year's 新疆维吾尔自治区知识产权保护与发展状况报告, built from the records: numbered sections
(creation, utilisation, protection, public services, geographical indications, opening-up),
tables and charts, every figure naming the record query it came from (a link to the records page
or the indicator drill-down). Text only a person can write is an editable section kept with the
report (`indicator_entry` kind 'report_text', never overwritten). HTML → PDF with WeasyPrint
(fonts-noto-cjk from the system); every table also goes to an XLSX annex."""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Integer, and_, cast, extract, func, select
from sqlalchemy.orm import Session

from xjip.hub import models as m
from xjip.hub import queries
from xjip.indicators import compute, entries, report as ind_report

SECTIONS = ("creation", "utilisation", "protection", "services", "gi", "opening")
TITLES = {"creation": ("知识产权创造", "IP creation"), "utilisation": ("知识产权运用", "IP utilisation"),
          "protection": ("知识产权保护", "IP protection"), "services": ("知识产权公共服务", "Public services"),
          "gi": ("地理标志", "Geographical indications"), "opening": ("对外开放", "Opening-up")}
NUMERALS = "一二三四五六"
TEMPLATES = Path(__file__).parent / "templates"


def _year(col: Any) -> Any:
    return cast(extract("year", col), Integer)


def _placed(model: Any) -> Any:
    b = queries.record_bucket(model)
    return and_(b.like("65%"), b != "650000")


def _fig(label: str, value: Any, unit: str, query: str, link: str | None = None) -> dict[str, Any]:
    if isinstance(value, float) and value.is_integer() and unit in ("件", "个", "家", "笔", "次"):
        value = int(value)
    return {"label": label, "value": value, "unit": unit, "query": query, "link": link}


def build(session: Session, year: int) -> dict[str, Any]:
    P, T, TX, PL, C, I, G = (m.Patent, m.Trademark, m.RightTransaction, m.Pledge, m.EnforcementCase, m.Institution,
                             m.GeographicalIndication)
    ind = ind_report.build(session, year)
    by_id = {i["id"]: i for i in ind["indicators"]}
    units = compute.units(session)
    names = {u["code"]: u["name"] for u in units}
    texts = {e.key: (e.value_json or {}).get("text") for e in entries.current(session, "report_text")
             if e.year == year and not e.withdrawn}

    def count(model: Any, *conds: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*conds)) or 0)

    def by_bucket(model: Any, *conds: Any) -> dict[str, int]:
        b = queries.record_bucket(model)
        return {k: int(n) for k, n in session.execute(select(b, func.count()).select_from(model).where(*conds).group_by(b))}

    def indicator_fig(i: str) -> dict[str, Any]:
        x = by_id[i]
        return _fig(x["name_zh"], x["value"], x["unit"], f"indicator {i}: {x['formula']}", x["query"]["records"]
                    .replace("/api/", "/"))

    sections: dict[str, dict[str, Any]] = {}
    filed = by_bucket(P, _year(P.app_date) == year, _placed(P))
    inv_granted = by_bucket(P, _year(P.grant_date) == year, P.patent_type == "invention", _placed(P))
    hv = by_id["hv_invention_per_10k"]
    hv_rank = {r["code"]: r for r in hv.get("by_prefecture", [])}
    tm = by_id["valid_tm_cum"]
    tm_rank = {r["code"]: r for r in tm.get("by_prefecture", [])}
    rows = [[names[c], filed.get(c, 0), inv_granted.get(c, 0), hv_rank.get(c, {}).get("numerator"),
             hv_rank.get(c, {}).get("value"), tm_rank.get(c, {}).get("numerator")] for c in names]
    sections["creation"] = {
        "figures": [
            _fig("专利申请量", sum(filed.values()), "件", f"patent: app_date in {year}, placed in Xinjiang",
                 f"/records/patent?year={year}"),
            _fig("发明专利授权量", sum(inv_granted.values()), "件", f"patent: invention, grant_date in {year}, placed in Xinjiang",
                 f"/records/patent?kind=invention"),
            indicator_fig("hv_invention_per_10k"),
            _fig("高价值发明专利拥有量", hv["numerator"], "件", "indicator hv_invention_per_10k numerator",
                 f"/indicators/high-value?year={year}"),
            indicator_fig("valid_tm_cum"),
            _fig("商标申请量", count(T, _year(T.app_date) == year, _placed(T)), "件", f"trademark: app_date in {year}",
                 f"/records/trademark?year={year}"),
        ],
        "tables": [{"id": "creation_by_prefecture", "title": "分地州知识产权创造",
                    "columns": ["地州/兵团城市", "专利申请", "发明授权", "高价值发明专利", "每万人口高价值发明专利", "有效商标"],
                    "rows": rows, "query": "patent, indicator_patent, indicator_delta by prefecture bucket"}],
        "chart": {"title": "分地州专利申请量", "bars": sorted(([names[c], filed.get(c, 0)] for c in names),
                                                        key=lambda r: -r[1])[:14]},
    }
    kinds = {k: n for k, n in session.execute(select(TX.kind, func.count()).where(_year(TX.date) == year, _placed(TX))
                                               .group_by(TX.kind))}
    pledge_n, pledge_sum = session.execute(select(func.count(), func.sum(PL.amount_wan)).where(
        _year(PL.reg_date) == year, _placed(PL))).one()
    sections["utilisation"] = {"figures": [
        _fig("专利等转让", kinds.get("transfer", 0), "次", f"transaction: kind transfer, date in {year}",
             f"/records/transaction?year={year}&kind=transfer"),
        _fig("许可", kinds.get("licence", 0), "次", f"transaction: kind licence, date in {year}",
             f"/records/transaction?year={year}&kind=licence"),
        _fig("开放许可", kinds.get("open_licence", 0), "次", f"transaction: kind open_licence, date in {year}",
             f"/records/transaction?year={year}&kind=open_licence"),
        indicator_fig("transfer_licence_cum_growth"),
        _fig("质押登记", int(pledge_n or 0), "笔", f"pledge: reg_date in {year}", f"/records/pledge?year={year}"),
        _fig("质押金额", round((pledge_sum or 0) / 10_000, 2), "亿元", f"pledge: sum(amount_wan) / 10000, reg_date in {year}",
             f"/records/pledge?year={year}"),
        indicator_fig("pledge_financing_cum")], "tables": []}
    cases = [[k or "—", n] for k, n in session.execute(select(C.kind, func.count()).where(_year(C.accepted_date) == year)
                                                        .group_by(C.kind).order_by(C.kind))]
    sections["protection"] = {"figures": [
        _fig("受理案件", sum(n for _, n in cases), "件", f"case: accepted_date in {year}", f"/records/case?year={year}"),
        indicator_fig("protection_satisfaction")],
        "tables": [{"id": "cases_by_kind", "title": "案件类型", "columns": ["类型", "件数"], "rows": cases,
                    "query": f"case: accepted_date in {year}, by kind"}]}
    inst = [[k or "—", n] for k, n in session.execute(select(I.kind, func.count()).group_by(I.kind).order_by(I.kind))]
    sections["services"] = {"figures": [indicator_fig("prefecture_service_coverage"),
                                        _fig("服务机构", sum(n for _, n in inst), "家", "institution: all", "/records/institution")],
                            "tables": [{"id": "institutions_by_kind", "title": "服务机构类型", "columns": ["类型", "家数"],
                                        "rows": inst, "query": "institution by kind"}]}
    gis = [[k or "—", n] for k, n in session.execute(select(G.gi_system, func.count()).group_by(G.gi_system)
                                                      .order_by(G.gi_system))]
    sections["gi"] = {"figures": [indicator_fig("gi_special_mark_coverage"),
                                  _fig("地理标志", sum(n for _, n in gis), "个", "gi: all", "/records/gi"),
                                  _fig("专用标志使用主体", count(m.GIMarkUser), "家", "gi_mark_user: all", "/records/gi_mark_user")],
                      "tables": [{"id": "gi_by_system", "title": "地理标志类型", "columns": ["类型", "个数"], "rows": gis,
                                  "query": "gi by gi_system"}]}
    F = m.IndicatorPatent
    sections["opening"] = {"figures": [
        _fig("PCT 国际申请", count(P, _year(P.app_date) == year, P.pct_app_number.is_not(None), _placed(P)), "件",
             f"patent: pct_app_number set, app_date in {year}", f"/records/patent?year={year}"),
        _fig("有海外授权同族的发明专利", count(F, F.foreign_grant.is_not(None), F.bucket.like("65%")), "件",
             "indicator_patent: foreign_grant set, placed in Xinjiang", f"/indicators/high-value?year={year}&criterion=foreign_family")],
        "tables": []}
    for key in SECTIONS:
        sections[key]["title_zh"], sections[key]["title_en"] = TITLES[key]
        sections[key]["text"] = texts.get(key)
    synthetic = sum(i["synthetic_in_numerator"] for i in ind["indicators"])
    return {"year": year, "title": f"{year}年新疆维吾尔自治区知识产权保护与发展状况报告",
            "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "summary": texts.get("summary"), "sections": [dict(id=k, numeral=NUMERALS[i], **sections[k])
                                                          for i, k in enumerate(SECTIONS)],
            "indicators": ind["indicators"], "synthetic_in_figures": synthetic}


def svg_bars(chart: dict[str, Any], width: int = 640) -> str:
    """A horizontal bar chart as inline SVG (the PDF renderer runs no script, so no ECharts here)."""
    bars = chart["bars"]
    if not bars:
        return ""
    top = max(v for _, v in bars) or 1
    h, label_w = 22, 150
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h * len(bars) + 10}" role="img" '
             f'aria-label="{html.escape(chart["title"])}">']
    for i, (name, v) in enumerate(bars):
        w = (width - label_w - 60) * v / top
        y = 5 + i * h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(str(name))}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{h - 8}" fill="#0b4a8b"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{v:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(data: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    env.filters["num"] = lambda v: "—" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}")
    return env.get_template("annual_report.html").render(data=data, svg_bars=svg_bars)


def render_pdf(html_text: str, out: IO[bytes]) -> None:
    from weasyprint import HTML

    HTML(string=html_text, base_url=str(TEMPLATES)).write_pdf(out)


def write_xlsx(data: dict[str, Any], out: IO[bytes]) -> None:
    """The annex: the indicator table and every table of the report, one sheet each."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("主要指标")
    ws.append(["序号", "指标", "单位", "数值", "分子", "分母", "2025基期", "2030目标", "状态", "记录查询"])
    for i in data["indicators"]:
        ws.append([i["seq"], i["name_zh"], i["unit"], i["value"], i["numerator"], i["denominator"], i["baseline_2025"],
                   i["target_2030"], i["status"], i["query"]["records"]])
    ws = wb.create_sheet("各章数据")
    ws.append(["章节", "项目", "数值", "单位", "查询"])
    for sec in data["sections"]:
        for f in sec["figures"]:
            ws.append([sec["title_zh"], f["label"], f["value"], f["unit"], f["query"]])
    for sec in data["sections"]:
        for table in sec["tables"]:
            ws = wb.create_sheet(table["title"][:31])
            ws.append(table["columns"])
            for row in table["rows"]:
                ws.append(row)
    wb.save(out)
