"""The search pages and their JSON twins: /search (+ /api/search), /search/analysis (+ XLSX and
/api/search/analysis), /search/export, saved searches, and the index's status and rebuild.
Thin layers over `xjip.search.service`."""
from __future__ import annotations

import datetime as dt
import itertools
import secrets
from pathlib import Path as FsPath
from typing import Annotated, Any, Iterator, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from xjip.search import documents, live, service
from xjip.search.query import MAX_QUERY, QueryError
from xjip.web.auth import Principal
from xjip.web.deps import current_user, get_store, lang, require, sees_personal_data, verify_csrf
from xjip.web.errors import ApiError

live.install()
router = APIRouter()
ADMIN = require("admin")
STAFF = require("staff")
VIEWER = require("viewer")

Text = Annotated[str | None, Query(max_length=20_000, description="Words or an expert query (see /search help)")]
RecordType = Annotated[str | None, Query(pattern=r"^(patent|trademark|gi|gi_mark_user|copyright|plant_variety|"
                                                 r"transaction|pledge|case|institution|entity|law)?$")]


def search_filters(
    type: RecordType = None,  # noqa: A002 - the query parameter's name
    year: Annotated[str | None, Query(pattern=r"^(\d{4})?$")] = None,
    pref: Annotated[str | None, Query(pattern=r"^(\d{6})?$")] = None,
    county: Annotated[str | None, Query(pattern=r"^(\d{6,9})?$")] = None,
    ipc: Annotated[str | None, Query(pattern=r"^([A-H](\d{2}([A-Z](\d{1,4}/\d{2,6})?)?)?)?$")] = None,
    status: Annotated[str | None, Query(max_length=60)] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    ent: Annotated[str | None, Query(pattern=r"^(\d{1,10})?$")] = None,
    synthetic: Annotated[str | None, Query(pattern=r"^(true|false)?$")] = None,
) -> service.Filters:
    return service.Filters(type=type or None, year=int(year) if year else None, pref=pref or None,
                           county=county or None, ipc=ipc or None, status=status or None, kind=kind or None,
                           ent=ent or None, synthetic={"true": True, "false": False}.get(synthetic or ""))


Page = Annotated[int, Query(ge=1, le=1_000_000)]
Size = Annotated[int, Query(ge=1, le=service.MAX_SIZE)]
Sort = Annotated[Literal["relevance", "date"], Query()]
Mode = Annotated[Literal["lexical", "hybrid"], Query()]


def _error(exc: QueryError) -> ApiError:
    return ApiError(400, f"search_{exc.code}", exc.as_dict(), message_id=f"search.error.{exc.code}", **exc.params)


def search_data(request: Request, q: str | None, filters: service.Filters, page: int, size: int, sort: str,
                mode: str, with_facets: bool = True) -> dict[str, Any]:
    try:
        return service.search(get_store(request), q or "", filters, page=page, size=size, sort=sort, mode=mode,
                              masked=not sees_personal_data(request), with_facets=with_facets)
    except QueryError as exc:
        raise _error(exc) from None
    except service.IndexNotReady:
        raise ApiError(409, "search_no_index", message_id="search.error.no_index") from None


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, filters: Annotated[service.Filters, Depends(search_filters)], q: Text = None,
                page: Page = 1, size: Size = service.DEFAULT_SIZE, sort: Sort = "relevance",
                mode: Mode = "lexical") -> HTMLResponse:
    data, error = None, None
    if q and q.strip():
        try:
            # the facets come by htmx once the results show (/search/facets): the page is not kept waiting
            data = search_data(request, q, filters, page, size, sort, mode, with_facets=False)
        except ApiError as exc:
            error = exc
    store = get_store(request)
    from xjip.search import saved
    from xjip.search.index import backend_for

    user = current_user(request)
    mine = saved.notices(store, user.username, only_new=False) if user and user.has("viewer") else []
    notices = [n for n in mine if n["new_count"]]
    params = {"q": q, **filters.as_params(), "sort": sort if sort != "relevance" else None,
              "mode": mode if mode != "lexical" else None, "size": size if size != service.DEFAULT_SIZE else None}
    status = backend_for(store.settings).status()
    return request.app.state.render(request, "search.html", {
        "data": data, "error": error.messages() if error else None, "error_detail": error.detail if error else None,
        "q": q or "", "params": params, "filters": filters.as_params(), "notices": notices, "saved": mine, "index": status,
        "lang_code": lang(request)}, status=error.status if error else 200)


@router.get("/search/facets", response_class=HTMLResponse, include_in_schema=False)
def search_facets_fragment(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
                           q: Annotated[str, Query(max_length=20_000)], sort: Sort = "relevance",
                           mode: Mode = "lexical", size: Size = service.DEFAULT_SIZE) -> HTMLResponse:
    try:
        facets = service.search_facets(get_store(request), q, filters)
    except QueryError as exc:
        raise _error(exc) from None
    except service.IndexNotReady:
        raise ApiError(409, "search_no_index", message_id="search.error.no_index") from None
    params = {"q": q, **filters.as_params(), "sort": sort if sort != "relevance" else None,
              "mode": mode if mode != "lexical" else None, "size": size if size != service.DEFAULT_SIZE else None}
    return request.app.state.render(request, "_search_facets.html", {"facets": facets, "params": params})


@router.get("/api/search", tags=["search"], summary="Search every right, owners and law articles (one page)",
            description="`q` takes words or the expert syntax: fields TI AB CL TX PA IN AGC IPC AN PN AD PD GD "
                        "REGION TYPE STATUS PT (`TI=香梨`, `IPC=A01B*`, `AD=2019..2021`), AND/OR/NOT, parentheses, "
                        "phrases (`\"a b\"`), proximity (`\"a b\"~5`, `a W/5 b`). Results carry counts per type "
                        "(`by_type`) and facets. A bad query is a 400 whose `detail` gives the column.")
def search_api(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
               q: Annotated[str, Query(max_length=20_000)], page: Page = 1, size: Size = service.DEFAULT_SIZE,
               sort: Sort = "relevance", mode: Mode = "lexical") -> dict[str, Any]:
    data = search_data(request, q, filters, page, size, sort, mode)
    for item in data["items"]:
        item.pop("title_html", None)
    return data


# --- analysis --------------------------------------------------------------------------------

def analysis_data(request: Request, q: str, filters: service.Filters) -> dict[str, Any]:
    try:
        return service.analyse(get_store(request), q, filters)
    except QueryError as exc:
        raise _error(exc) from None
    except service.IndexNotReady:
        raise ApiError(409, "search_no_index", message_id="search.error.no_index") from None


@router.get("/api/search/analysis", tags=["search"],
            summary="Analysis of a whole result set: by year, applicants, IPC, places, status, co-applicants")
def analysis_api(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
                 q: Annotated[str, Query(max_length=20_000)]) -> dict[str, Any]:
    return analysis_data(request, q, filters)


@router.get("/search/analysis", response_class=HTMLResponse, include_in_schema=False)
def analysis_page(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
                  q: Annotated[str, Query(max_length=20_000)]) -> HTMLResponse:
    data = analysis_data(request, q, filters)
    return request.app.state.render(request, "search_analysis.html", {
        "data": data, "q": q, "filters": filters.as_params(), "sections": ANALYSIS_SECTIONS})


ANALYSIS_SECTIONS = ("filings", "grants", "applicants", "ipc_sub", "ipc_grp", "prefectures", "provinces", "status",
                     "coapplicants", "types")


@router.get("/search/analysis.xlsx", tags=["search"], response_class=FileResponse,
            summary="The analysis of a result set as an Excel workbook (one sheet per table)")
def analysis_xlsx(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
                  q: Annotated[str, Query(max_length=20_000)]) -> Any:
    from openpyxl import Workbook

    from xjip.i18n import t

    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    data = analysis_data(request, q, filters)
    language = lang(request)
    wb = Workbook(write_only=True)

    def row(ws: Any, values: list[Any]) -> None:
        # text stays text: no control characters (openpyxl refuses them), never a formula (a query
        # such as =HYPERLINK(…) is the person's words, not something for Excel to run)
        cells = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(ws, value=value)
            cells.append(cell)
        ws.append(cells)

    info = wb.create_sheet("query")
    row(info, ["q", q])
    row(info, ["total", data["total"]])
    for key, value in data["filters"].items():
        row(info, [key, str(value)])
    for section in ANALYSIS_SECTIONS:
        ws = wb.create_sheet(t(f"search.analysis.{section}", language)[:31].replace("/", "-"))
        row(ws, [t("search.col.value", language), t("search.col.label", language), t("search.col.count", language)])
        for b in data[section]:
            row(ws, [b["value"], b.get("label") or "", b["count"]])
    folder = FsPath(get_store(request).settings.data_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"analysis-{secrets.token_hex(8)}.xlsx"
    try:
        wb.save(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = f"xjip-analysis-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}.xlsx"
    from xjip.hub import exports

    return FileResponse(path, media_type=exports.MEDIA_TYPES["xlsx"], filename=name,
                        background=BackgroundTask(path.unlink, missing_ok=True))


# --- export ----------------------------------------------------------------------------------

@router.get("/search/export", tags=["search"], response_class=FileResponse,
            summary="A result set's records of one right type as CSV or Excel, through the export rules",
            description="Same columns and masking as /records/{type}/export; `type` is required (each right type "
                        "has its own columns). Bounded like the list exports (`X-XJIP-Export-Limit`).")
def search_export(request: Request, filters: Annotated[service.Filters, Depends(search_filters)],
                  q: Annotated[str, Query(max_length=20_000)],
                  format: Literal["csv", "xlsx"] = "csv") -> Any:  # noqa: A002
    from xjip.hub import exports, queries
    from xjip.web.routes.data import export_limit

    if not filters.type or filters.type not in queries.TYPES:
        raise ApiError(400, "search_export_type", message_id="search.page.export_type_needed")
    store, language = get_store(request), lang(request)
    masked, limit = not sees_personal_data(request), export_limit(request)
    record_type = filters.type
    columns = queries.export_columns(record_type)
    zone = store.settings.display_timezone
    filename = f"xjip-search-{record_type}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}.{format}"
    headers = {"X-XJIP-Export-Limit": str(limit)}
    try:
        rows = service.export_rows(store, q, filters, record_type, masked=masked, limit=limit)
        if format == "csv":
            chunks: Iterator[bytes] = exports.iter_csv(rows, columns, language, zone)
            first = next(chunks)
            return StreamingResponse(itertools.chain([first], chunks), media_type=exports.MEDIA_TYPES["csv"],
                                     headers={**headers, "Content-Disposition": f'attachment; filename="{filename}"'})
        folder = FsPath(store.settings.data_dir) / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"search-{secrets.token_hex(8)}.xlsx"
        try:
            with open(path, "wb") as out:
                exports.write_xlsx(rows, columns, language, out, sheet=record_type, zone=zone)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    except QueryError as exc:
        raise _error(exc) from None
    except service.IndexNotReady:
        raise ApiError(409, "search_no_index", message_id="search.error.no_index") from None
    return FileResponse(path, media_type=exports.MEDIA_TYPES["xlsx"], filename=filename, headers=headers,
                        background=BackgroundTask(path.unlink, missing_ok=True))


# --- index status and rebuild: a resumable job (xjip.search.index), one process at a time -------

_PRIVATE = ("pid", "host", "actor", "error", "checkpoint", "folder")  # for staff only


def index_state(request: Request) -> dict[str, Any]:
    from xjip.search.index import backend_for, stale_seconds

    store = get_store(request)
    data = backend_for(store.settings).status(stale_seconds(store))
    user = current_user(request)
    if not (user and user.has("staff")):
        data = {k: v for k, v in data.items() if k not in _PRIVATE}
    return data


def _start(request: Request, user: Principal, restart: bool) -> dict[str, Any]:
    from xjip.search.index import RebuildRunning, start_background

    try:
        start_background(get_store(request), restart=restart, actor=user.username)
    except RebuildRunning as exc:
        raise ApiError(409, "search_rebuild_running", {"pid": exc.pid, "host": exc.host},
                       message_id="search.error.rebuild_running", pid=exc.pid, host=exc.host) from None
    return {**index_state(request), "accepted": True}


def _stop(request: Request) -> dict[str, Any]:
    from xjip.search.index import backend_for, stale_seconds

    store = get_store(request)
    if not backend_for(store.settings).request_stop(stale_seconds(store)):
        raise ApiError(409, "search_rebuild_not_running", message_id="search.error.rebuild_not_running")
    return {**index_state(request), "accepted": True}


@router.get("/api/search/status", tags=["search"],
            summary="The index and its rebuild: state, done, total, percent, by type, ETA (pid/host for staff)")
def status_api(request: Request) -> dict[str, Any]:
    return index_state(request)


@router.post("/api/search/rebuild", tags=["search"], status_code=202,
             dependencies=[Depends(ADMIN), Depends(verify_csrf)],
             summary="Start the index rebuild in the background, or continue an unfinished one (admin; X-CSRF-Token)",
             description="Continues from the last checkpoint when a rebuild was stopped or cut off; `restart=true` "
                         "starts again from nothing. 409 while another process rebuilds it. Progress in "
                         "/api/search/status; the new index replaces the old one in one step when complete.")
def rebuild_api(request: Request, user: Annotated[Principal, Depends(ADMIN)], restart: bool = False) -> dict[str, Any]:
    return _start(request, user, restart)


@router.post("/api/search/rebuild/stop", tags=["search"], status_code=202,
             dependencies=[Depends(ADMIN), Depends(verify_csrf)],
             summary="Stop the running index rebuild after its next commit (admin; X-CSRF-Token); it can be continued")
def rebuild_stop_api(request: Request) -> dict[str, Any]:
    return _stop(request)


def _index_context(request: Request) -> dict[str, Any]:
    data = index_state(request)
    finished = data.get("finished") if data.get("state") == "ready" else None
    return {"data": data, "types": [t for t in documents.INDEXED_TYPES if (data.get("by_type") or {}).get(t)],
            "finished_at": dt.datetime.fromtimestamp(finished, dt.timezone.utc) if finished else None}


@router.get("/search/index", response_class=HTMLResponse, include_in_schema=False)
def index_page(request: Request, user: Annotated[Principal, Depends(STAFF)]) -> HTMLResponse:
    return request.app.state.render(request, "search_index.html", _index_context(request))


@router.get("/search/index/progress", response_class=HTMLResponse, include_in_schema=False)
def index_progress_fragment(request: Request, user: Annotated[Principal, Depends(STAFF)]) -> HTMLResponse:
    return request.app.state.render(request, "_search_rebuild.html", _index_context(request))


@router.post("/search/index/rebuild", include_in_schema=False, dependencies=[Depends(ADMIN), Depends(verify_csrf)])
def index_rebuild_form(request: Request, user: Annotated[Principal, Depends(ADMIN)],
                       restart: Annotated[str, Form(max_length=5)] = "") -> RedirectResponse:
    try:
        _start(request, user, restart in ("1", "true"))
        request.session.setdefault("flash", []).append(("ok", "search.index.started", {}))
    except ApiError as exc:
        request.session.setdefault("flash", []).append(("error", exc.message_id, exc.params))
    return RedirectResponse("/search/index", status_code=303)


@router.post("/search/index/stop", include_in_schema=False, dependencies=[Depends(ADMIN), Depends(verify_csrf)])
def index_stop_form(request: Request) -> RedirectResponse:
    try:
        _stop(request)
        request.session.setdefault("flash", []).append(("ok", "search.index.stop_sent", {}))
    except ApiError as exc:
        request.session.setdefault("flash", []).append(("error", exc.message_id, exc.params))
    return RedirectResponse("/search/index", status_code=303)


# --- saved searches ---------------------------------------------------------------------------

@router.post("/search/saved", include_in_schema=False, dependencies=[Depends(VIEWER), Depends(verify_csrf)])
def save_search_form(request: Request, user: Annotated[Principal, Depends(VIEWER)],
                     q: Annotated[str, Form(max_length=MAX_QUERY)], name: Annotated[str, Form(max_length=100)] = "",
                     filters: Annotated[str, Form(max_length=2000)] = "") -> RedirectResponse:
    from urllib.parse import parse_qsl, urlencode

    from xjip.search import saved

    store = get_store(request)
    try:
        service.build_query(store, q, None)
    except QueryError as exc:
        raise _error(exc) from None
    params = dict(parse_qsl(filters))
    saved.save(store, user.username, name.strip() or q[:100], q, {k: v for k, v in params.items()
                                                                     if k in service.FILTER_KEYS})
    request.session.setdefault("flash", []).append(("ok", "search.page.saved_done", {}))
    return RedirectResponse("/search?" + urlencode({"q": q, **params}), status_code=303)


@router.get("/api/search/saved", tags=["search"], summary="My saved searches and how many new records match each")
def saved_api(request: Request, user: Annotated[Principal, Depends(VIEWER)]) -> dict[str, Any]:
    from xjip.search import saved

    return {"items": saved.notices(get_store(request), user.username, only_new=False)}


@router.post("/search/saved/{saved_id}/seen", include_in_schema=False,
             dependencies=[Depends(VIEWER), Depends(verify_csrf)])
def saved_seen_form(request: Request, saved_id: int, user: Annotated[Principal, Depends(VIEWER)]) -> RedirectResponse:
    from urllib.parse import urlencode

    from xjip.search import saved

    item = saved.mark_seen(get_store(request), user.username, saved_id)
    if item is None:
        raise ApiError(404)
    return RedirectResponse("/search?" + urlencode({"q": item["query"], **item["filters"]}), status_code=303)


@router.post("/search/saved/{saved_id}/delete", include_in_schema=False,
             dependencies=[Depends(VIEWER), Depends(verify_csrf)])
def saved_delete_form(request: Request, saved_id: int, user: Annotated[Principal, Depends(VIEWER)]) -> RedirectResponse:
    from xjip.search import saved

    if not saved.delete(get_store(request), user.username, saved_id):
        raise ApiError(404)
    return RedirectResponse("/search", status_code=303)
