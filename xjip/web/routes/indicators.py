"""Plan indicators (issue 12): the dashboard, the high-value patent list, the records behind every
figure, the XLSX export and the staff entry form. Thin layer over xjip.indicators; each page
/x has its JSON twin /api/x."""
from __future__ import annotations

import datetime as dt
import itertools
import secrets
from pathlib import Path as FsPath
from typing import Annotated, Any, Iterator, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from xjip.i18n import t
from xjip.indicators import compute, definitions, entries, records, report
from xjip.indicators.config import HV_CATEGORIES
from xjip.web.deps import get_store, lang, require, sees_personal_data, verify_csrf
from xjip.web.errors import ApiError

router = APIRouter()
STAFF = require("staff")
STAFF_POST = [Depends(STAFF), Depends(verify_csrf)]

Year = Annotated[int | None, Query(ge=1985, le=2100, description="Year (default: last year)")]
Prefecture = Annotated[str | None, Query(pattern=r"^(\d{6})?$", description="Prefecture or XPCC city code")]
IndicatorId = Annotated[str, Path(max_length=40, description="Indicator id, e.g. hv_invention_per_10k")]
Criterion = Annotated[str | None, Query(pattern="^(" + "|".join(HV_CATEGORIES) + ")?$")]


def default_year() -> int:
    return dt.date.today().year - 1  # the last complete year


def _prefecture(session: Any, code: str | None) -> str | None:
    if not code:
        return None
    if code not in {u["code"] for u in compute.units(session)}:
        raise ApiError(400, "bad_prefecture", message_id="indicators.cli.bad_prefecture", value=code)
    return code


def _rebuilding(request: Request) -> dict[str, Any] | None:
    """None when the indicator figures can be read; else the rebuild job's state, the job started
    in the background when no process runs it (after an upgrade, or records stored before the
    facts were kept: minutes at 1,000,000 records, which no request waits for)."""
    from xjip.indicators import rebuild

    return rebuild.ensure_started(get_store(request))


def _not_while_rebuilding(request: Request) -> None:
    """Exports and reports need the figures: refused (503, bilingual) while they are rebuilt."""
    state = _rebuilding(request)
    if state is not None:
        raise ApiError(503, "indicators_rebuilding", {"rebuild": state, "progress": "/api/indicators/rebuild"},
                       message_id="indicators.rebuild.busy", percent=state.get("percent") or 0)


def dashboard_data(request: Request, year: int | None, prefecture: str | None) -> dict[str, Any]:
    store = get_store(request)
    with store.reading() as s:
        data = report.build(s, year or default_year(), _prefecture(s, prefecture), lang(request))
        data["units"] = compute.units(s)
    return data


def _chart(data: dict[str, Any], language: str) -> dict[str, Any]:
    out = []
    for ind in data["indicators"]:
        out.append({"id": ind["id"], "name": ind["name"], "unit": ind["unit_text"],
                    "years": [p["year"] for p in ind["series"]] + [y for y in definitions.SERIES_YEARS
                                                                  if y > data["year"]],
                    "values": [p["value"] for p in ind["series"]],
                    "planned": [report.planned(definitions.by_id(ind["id"]), y)
                                for y in [p["year"] for p in ind["series"]] + [y for y in definitions.SERIES_YEARS
                                                                              if y > data["year"]]],
                    "ranking": [{"name": r["name"], "code": r["code"], "value": r["value"]}
                                for r in ind.get("by_prefecture", []) if r["value"] is not None],
                    "labels": {"value": t("indicators.web.value", language), "planned": t("indicators.web.planned", language)}})
    return {"year": data["year"], "indicators": out}


def rebuild_data(request: Request) -> dict[str, Any]:
    from xjip.indicators import rebuild

    state = rebuild.state(get_store(request))
    with get_store(request).reading() as s:
        state["needed"] = rebuild.needed(s)
    state["ready"] = state["needed"] is None
    return state


@router.get("/indicators", response_class=HTMLResponse, include_in_schema=False)
def dashboard_page(request: Request, year: Year = None, prefecture: Prefecture = None) -> HTMLResponse:
    rebuilding = _rebuilding(request)
    if rebuilding is not None:
        return request.app.state.render(request, "indicators_rebuilding.html", {"data": rebuilding})
    data = dashboard_data(request, year, prefecture)
    return request.app.state.render(request, "indicators.html", {
        "data": data, "chart": _chart(data, lang(request)), "years": list(range(2020, dt.date.today().year + 1))})


@router.get("/api/indicators", tags=["indicators"],
            summary="Every plan indicator for a year (and a prefecture): value, numerator, denominator, baseline, "
                    "target, status, projection, ranking and the record query behind it")
def dashboard_api(request: Request, year: Year = None, prefecture: Prefecture = None) -> Any:
    rebuilding = _rebuilding(request)
    if rebuilding is not None:  # 202: the figures are being rebuilt; poll the progress, then ask again
        return JSONResponse(jsonable_encoder({"year": year or default_year(), "region_code": prefecture or "650000",
                                              "rebuilding": rebuilding, "progress": "/api/indicators/rebuild",
                                              "indicators": []}), status_code=202)
    return dashboard_data(request, year, prefecture)


@router.get("/indicators/rebuild", response_class=HTMLResponse, include_in_schema=False)
def rebuild_fragment(request: Request) -> HTMLResponse:
    data = rebuild_data(request)
    response = request.app.state.render(request, "_indicators_rebuild.html", {"data": data})
    if data["ready"]:
        response.headers["HX-Refresh"] = "true"  # the figures are there: the page shows them
    return response


@router.get("/api/indicators/rebuild", tags=["indicators"],
            summary="The rebuild of the indicator figures: status, phase, done, total, percent (ready when needed is null)")
def rebuild_api(request: Request) -> dict[str, Any]:
    return rebuild_data(request)


@router.get("/indicators/export", tags=["indicators"], response_class=FileResponse,
            summary="The dashboard as an Excel workbook: indicators, series 2020–2030, prefecture ranking")
def dashboard_export(request: Request, year: Year = None, prefecture: Prefecture = None) -> Any:
    from xjip.indicators import workbook

    _not_while_rebuilding(request)
    data = dashboard_data(request, year, prefecture)
    store = get_store(request)
    folder = FsPath(store.settings.data_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"indicators-{secrets.token_hex(8)}.xlsx"
    try:
        with open(path, "wb") as out:
            workbook.dashboard_xlsx(data, lang(request), out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        filename=f"xjip-indicators-{data['year']}-{data['region_code']}.xlsx",
                        background=BackgroundTask(path.unlink, missing_ok=True))


# --- records behind a figure ---------------------------------------------------------------------

def records_data(request: Request, indicator: str, year: int | None, prefecture: str | None, after: int,
                 page_size: int) -> dict[str, Any]:
    try:
        definitions.by_id(indicator)
    except KeyError:
        raise ApiError(404) from None
    year = year or default_year()
    _not_while_rebuilding(request)
    with get_store(request).reading() as s:
        code = _prefecture(s, prefecture)
        try:
            data = records.indicator_records(s, indicator, year, code, after, page_size)
        except KeyError:  # satisfaction: no records, only the reported value
            data = {"record_type": None, "rows": [], "next": None}
    ind = definitions.by_id(indicator)
    return {"indicator": indicator, "name": ind.name_zh if lang(request) == "zh" else ind.name_en, "year": year,
            "prefecture": prefecture, **data}


After = Annotated[int, Query(ge=0, le=2**31 - 1, description="Last row id of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=records.MAX_PAGE)]


@router.get("/indicators/{indicator}/records", response_class=HTMLResponse, include_in_schema=False)
def records_page(request: Request, indicator: IndicatorId, year: Year = None, prefecture: Prefecture = None,
                 after: After = 0, page_size: PageSize = records.PAGE) -> HTMLResponse:
    data = records_data(request, indicator, year, prefecture, after, page_size)
    return request.app.state.render(request, "indicator_records.html", {"data": data})


@router.get("/api/indicators/{indicator}/records", tags=["indicators"], summary="The records behind an indicator's figure")
def records_api(request: Request, indicator: IndicatorId, year: Year = None, prefecture: Prefecture = None,
                after: After = 0, page_size: PageSize = records.PAGE) -> dict[str, Any]:
    return records_data(request, indicator, year, prefecture, after, page_size)


# --- high-value patent list ----------------------------------------------------------------------

def hv_data(request: Request, year: int | None, prefecture: str | None, criterion: str | None, after: int,
            page_size: int) -> dict[str, Any]:
    year = year or default_year()
    _not_while_rebuilding(request)
    with get_store(request).reading() as s:
        code = _prefecture(s, prefecture)
        rows = records.hv_rows(s, year, code, criterion, after=after, limit=page_size)
        st = entries.load_settings(s)
    if not sees_personal_data(request):
        for r in rows:
            r["first_applicant"] = records.mask_owner(r["first_applicant"])
    return {"year": year, "prefecture": code, "criterion": criterion, "rows": rows, "categories": list(st.hv_categories),
            "settings": {"hv_maintained_years": st.hv_maintained_years, "hv_maintained_from": st.hv_maintained_from,
                         "hv_pledge_threshold_wan": st.hv_pledge_threshold_wan},
            "next": rows[-1]["patent_id"] if len(rows) == page_size else None}


@router.get("/indicators/high-value", response_class=HTMLResponse, include_in_schema=False)
def hv_page(request: Request, year: Year = None, prefecture: Prefecture = None, criterion: Criterion = None,
            after: After = 0, page_size: PageSize = records.PAGE) -> HTMLResponse:
    data = hv_data(request, year, prefecture, criterion or None, after, page_size)
    with get_store(request).reading() as s:
        units = compute.units(s)
    return request.app.state.render(request, "indicators_hv.html", {
        "data": data, "units": units, "all_categories": HV_CATEGORIES,
        "years": list(range(2020, dt.date.today().year + 1))})


@router.get("/api/indicators/high-value", tags=["indicators"],
            summary="High-value invention patents in force: the criteria each meets and the evidence")
def hv_api(request: Request, year: Year = None, prefecture: Prefecture = None, criterion: Criterion = None,
           after: After = 0, page_size: PageSize = records.PAGE) -> dict[str, Any]:
    return hv_data(request, year, prefecture, criterion or None, after, page_size)


@router.get("/indicators/high-value/export", tags=["indicators"], response_class=FileResponse,
            summary="The high-value patent list as CSV (UTF-8 with BOM) or Excel, with the evidence per criterion")
def hv_export(request: Request, year: Year = None, prefecture: Prefecture = None, criterion: Criterion = None,
              format: Literal["csv", "xlsx"] = "csv") -> Any:  # noqa: A002 - the query parameter's name
    from xjip.hub import exports

    store, language, year = get_store(request), lang(request), year or default_year()
    masked = not sees_personal_data(request)
    _not_while_rebuilding(request)
    with store.reading() as s:
        code = _prefecture(s, prefecture)
    filename = f"xjip-high-value-{year}-{code or '650000'}.{format}"
    if format == "csv":
        def body() -> Iterator[bytes]:
            with store.reading() as s:
                yield from exports.iter_csv(records.hv_export_rows(s, year, code, criterion or None, masked=masked),
                                            records.HV_COLUMNS, language)

        chunks = body()
        first = next(chunks)
        return StreamingResponse(itertools.chain([first], chunks), media_type=exports.MEDIA_TYPES["csv"],
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    folder = FsPath(store.settings.data_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"hv-{secrets.token_hex(8)}.xlsx"
    try:
        with store.reading() as s, open(path, "wb") as out:
            exports.write_xlsx(records.hv_export_rows(s, year, code, criterion or None, masked=masked),
                               records.HV_COLUMNS, language,
                               out, sheet="high_value")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(path, media_type=exports.MEDIA_TYPES["xlsx"], filename=filename,
                        background=BackgroundTask(path.unlink, missing_ok=True))


# --- patent value (GB/T 42748-2023 dimensions) ---------------------------------------------------

Scenario = Annotated[str, Query(pattern="^(licensing|financing|management)$")]


@router.get("/api/indicators/value/{patent_id}", tags=["indicators"],
            summary="A patent's value score: legal, technical and economic dimensions, each sub-indicator with its "
                    "value and reason, weighted for a scenario")
def value_api(request: Request, patent_id: Annotated[int, Path(ge=1, le=2**31 - 1)], year: Year = None,
              scenario: Scenario = "licensing") -> dict[str, Any]:
    from xjip.indicators import value

    with get_store(request).reading() as s:
        result = value.score(s, [patent_id], year or default_year(), scenario)
    if patent_id not in result:
        raise ApiError(404)
    return result[patent_id]


@router.get("/api/indicators/value-agreement", tags=["indicators"],
            summary="How well the value score at a cutoff foresees later transfers, licences and pledges (AUC)")
def value_agreement_api(request: Request, cutoff_year: Annotated[int, Query(ge=1985, le=2100)],
                        scenario: Scenario = "licensing") -> dict[str, Any]:
    from xjip.indicators import value

    with get_store(request).reading() as s:
        return value.agreement(s, cutoff_year, scenario)


# --- annual report ---------------------------------------------------------------------------

ReportYear = Annotated[int, Path(ge=1985, le=2100)]


def report_data(request: Request, year: int) -> dict[str, Any]:
    from xjip.reports import annual

    _not_while_rebuilding(request)
    store = get_store(request)
    with store.reading() as s:
        return annual.build(s, year)


@router.get("/reports/annual/{year}", response_class=HTMLResponse, tags=["reports"],
            summary="The year's 知识产权保护与发展状况报告 as HTML (the PDF's source)")
def report_page(request: Request, year: ReportYear) -> HTMLResponse:
    from xjip.reports import annual

    return HTMLResponse(annual.render_html(report_data(request, year)))


@router.get("/api/reports/annual/{year}", tags=["reports"], summary="The annual report's data: every figure with its query")
def report_api(request: Request, year: ReportYear) -> dict[str, Any]:
    return report_data(request, year)


def _report_file(request: Request, year: int, kind: str) -> FileResponse:
    from xjip.reports import annual

    data = report_data(request, year)
    folder = FsPath(get_store(request).settings.data_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"annual-{secrets.token_hex(8)}.{kind}"
    try:
        with open(path, "wb") as out:
            if kind == "pdf":
                annual.render_pdf(annual.render_html(data), out)
            else:
                annual.write_xlsx(data, out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    media = "application/pdf" if kind == "pdf" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(path, media_type=media, filename=f"xjip-annual-report-{year}.{kind}",
                        background=BackgroundTask(path.unlink, missing_ok=True))


@router.get("/reports/annual/{year}/pdf", tags=["reports"], response_class=FileResponse, summary="The annual report as PDF")
def report_pdf(request: Request, year: ReportYear) -> FileResponse:
    return _report_file(request, year, "pdf")


@router.get("/reports/annual/{year}/xlsx", tags=["reports"], response_class=FileResponse,
            summary="The annual report's XLSX annex: every table")
def report_xlsx(request: Request, year: ReportYear) -> FileResponse:
    return _report_file(request, year, "xlsx")


# --- plan tasks --------------------------------------------------------------------------------

def plan_data(request: Request) -> dict[str, Any]:
    from xjip.indicators import plan

    with get_store(request).reading() as s:
        return {"items": plan.listing(s), "statuses": list(plan.STATUSES)}


@router.get("/plan", response_class=HTMLResponse, include_in_schema=False)
def plan_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "plan_tasks.html", {"data": plan_data(request), "error": None})


@router.get("/api/plan", tags=["indicators"], summary="The plan's main tasks and special projects with their tracking")
def plan_api(request: Request) -> dict[str, Any]:
    return plan_data(request)


@router.post("/plan/{code}", response_class=HTMLResponse, include_in_schema=False, dependencies=STAFF_POST)
async def plan_post(request: Request, code: Annotated[str, Path(max_length=20)],
                    user: Annotated[Any, Depends(STAFF)]) -> Any:
    from xjip.indicators import plan

    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        with get_store(request).session() as s:
            plan.update(s, code, user.username, department=form.get("department"), status=form.get("status") or None,
                        milestone={"what": form.get("milestone"), "due": form.get("due"), "done": False}
                        if (form.get("milestone") or "").strip() else None,
                        evidence={"what": form.get("evidence"), "link": form.get("link")}
                        if (form.get("evidence") or "").strip() else None)
    except entries.EntryError as exc:
        return request.app.state.render(request, "plan_tasks.html", {"data": plan_data(request), "error": exc},
                                        status=400)
    return RedirectResponse(f"/plan#task-{code}", status_code=303)


# --- staff entries -----------------------------------------------------------------------------

def entries_data(request: Request) -> dict[str, Any]:
    with get_store(request).reading() as s:
        rows = []
        for kind in entries.KINDS:
            rows += [entries.as_dict(e) for e in entries.current(s, kind)]
        trails = {r["id"]: [entries.as_dict(e) for e in entries.history(s, r["id"])[1:]] for r in rows if r["supersedes_id"]}
    return {"entries": rows, "trails": trails}


@router.get("/indicators/entries", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(STAFF)])
def entries_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "indicators_entries.html", {
        "data": entries_data(request), "indicators": definitions.indicators(), "kinds": entries.KINDS,
        "awards": entries.AWARDS, "form": {}, "error": None})


@router.get("/api/indicators/entries", tags=["indicators"], dependencies=[Depends(STAFF)],
            summary="Current hand-entered values (reported values, population, settings, awards) and their trails")
def entries_api(request: Request) -> dict[str, Any]:
    return entries_data(request)


def _add_entry(request: Request, form: dict[str, Any], user: Any) -> dict[str, Any]:
    def opt_int(name: str) -> int | None:
        value = str(form.get(name) or "").strip()
        if not value:
            return None
        if not value.isdigit() or len(value) > 9:
            raise entries.EntryError("bad_year" if name == "year" else "not_found", name, value=value[:12])
        return int(value)

    e = entries.EntryInput(kind=str(form.get("kind") or ""), key=str(form.get("key") or ""), year=opt_int("year"),
                           region_code=form.get("region_code") or None,
                           value=(form.get("text") or form.get("value")) if form.get("kind") == "report_text"
                           else form.get("value"),
                           value_json={"award": form.get("award"), "level": form.get("level")}
                           if form.get("kind") == "award" else None,
                           source_document=str(form.get("source_document") or ""),
                           entered_by=user.username, note=form.get("note") or None,
                           withdrawn=str(form.get("withdrawn") or "") in ("1", "true", "on"))
    supersedes = opt_int("supersedes_id")
    with get_store(request).session() as s:
        row = entries.add(s, e, supersedes=supersedes)
        return entries.as_dict(row)


@router.post("/indicators/entries", response_class=HTMLResponse, include_in_schema=False, dependencies=STAFF_POST)
async def entries_post(request: Request, user: Annotated[Any, Depends(STAFF)]) -> Any:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        _add_entry(request, form, user)
    except entries.EntryError as exc:
        return request.app.state.render(request, "indicators_entries.html", {
            "data": entries_data(request), "indicators": definitions.indicators(), "kinds": entries.KINDS,
            "awards": entries.AWARDS, "form": form, "error": exc}, status=400)
    return RedirectResponse("/indicators/entries", status_code=303)


@router.post("/api/indicators/entries", tags=["indicators"], dependencies=STAFF_POST, status_code=201,
             summary="Enter a value (or correct one with supersedes_id); nothing is overwritten")
def entries_post_api(request: Request, user: Annotated[Any, Depends(STAFF)], body: dict[str, Any]) -> dict[str, Any]:
    try:
        return _add_entry(request, {k: (str(v) if v is not None and not isinstance(v, str) else v)
                                    for k, v in body.items()}, user)
    except entries.EntryError as exc:
        raise ApiError(400, "bad_entry", {"field": exc.field}, message_id=f"indicators.entry.{exc.code}",
                       field=exc.field, **exc.params) from None
