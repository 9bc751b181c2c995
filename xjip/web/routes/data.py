"""Public data pages: overview, record lists and details, regions, entities (+ staff merge/split)."""
from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import threading
from pathlib import Path as FsPath
from typing import Annotated, Any, Generator, Iterator, Literal

from fastapi import APIRouter, Body, Depends, Form, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.responses import Response

from xjip.hub import queries
from xjip.hub.region_names import region_name
from xjip.web.auth import Principal
from xjip.i18n import t
from xjip.web.deps import get_store, lang, require, sees_personal_data, verify_csrf
from xjip.web.errors import ApiError

router = APIRouter()
STAFF = require("staff")
STAFF_POST = [Depends(STAFF), Depends(verify_csrf)]  # role first: anonymous gets 401, not a CSRF 403

RecordType = Annotated[str, Path(description="patent | trademark | gi | gi_mark_user | copyright | plant_variety | "
                                             "transaction | pledge | case | institution", max_length=20)]


def _opt(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def record_filters(
    year: Annotated[str | None, Query(pattern=r"^(\d{4})?$", description="Application/filing year")] = None,
    prefecture: Annotated[str | None, Query(pattern=r"^(\d{6}|none|other)?$",
                                            description="Prefecture code (XPCC city code), none, other")] = None,
    county: Annotated[str | None, Query(pattern=r"^(\d{6})?$")] = None,
    status: Annotated[str | None, Query(max_length=60)] = None,
    kind: Annotated[str | None, Query(max_length=30, description="Patent type, mark kind, GI system…")] = None,
    patent_type: Annotated[str | None, Query(max_length=30, description="Alias of kind for patents")] = None,
    synthetic: Annotated[str | None, Query(pattern=r"^(true|false)?$")] = None,
    q: Annotated[str | None, Query(max_length=queries.MAX_QUERY_TEXT, description="Text contained")] = None,
    missing: Annotated[str | None, Query(pattern=r"^(title|date|party|place)?$")] = None,
) -> queries.RecordFilters:
    return queries.RecordFilters(
        year=int(year) if year else None, prefecture=_opt(prefecture), county=_opt(county), status=_opt(status),
        kind=_opt(kind) or _opt(patent_type), synthetic={"true": True, "false": False}.get(synthetic or ""),
        q=_opt(q), missing=_opt(missing))


PageSize = Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)]
After = Annotated[str | None, Query(max_length=300, description="Opaque token from `next`")]


def _check_type(record_type: str) -> None:
    if record_type not in queries.TYPES:
        raise ApiError(404, "unknown_record_type", record_type=record_type)


# --- overview ------------------------------------------------------------------------------

def overview_data(request: Request) -> dict[str, Any]:
    with get_store(request).reading() as s:
        return queries.overview(s)


def overview_view(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the overview page draws besides the data itself: shown columns, totals, chart series."""
    shown = [t["record_type"] for t in data["by_type"] if t["total"]] or list(data["record_types"])
    rows = [r for r in data["by_prefecture"] if r["kind"] in ("prefecture", "xpcc_city") or r["total"]]
    prefecture_totals = {ty: sum(r["counts"].get(ty, 0) for r in data["by_prefecture"]) for ty in shown}
    year_counts = {ty: {y["year"]: y["count"] for y in data["by_year"].get(ty, [])} for ty in shown}
    chart_rows = [r for r in rows if r["total"] or r["kind"] == "prefecture"]
    place_label = {"other": t("perf.place.other", lang), "abroad": t("perf.place.abroad", lang),
                   "xinjiang": t("perf.place.xinjiang", lang), "unresolved": t("web.place.unresolved", lang)}
    chart = {
        "prefecture": {"labels": [r["name"] or place_label[r["kind"]] for r in chart_rows],
                       "links": [r["code"] for r in chart_rows], "types": shown,
                       "series": [{"name": t(f"web.type.{ty}", lang), "data": [r["counts"].get(ty, 0) for r in chart_rows]}
                                  for ty in shown]},
        "year": {"labels": data["years"], "types": shown,
                 "series": [{"name": t(f"web.type.{ty}", lang), "data": [year_counts[ty].get(y, 0) for y in data["years"]]}
                            for ty in shown]},
    }
    if lang != "zh":  # places by their names in the page's language (refdata/regions/region_names_en.csv)
        chart["prefecture"]["labels"] = [(region_name(r["code"], lang) if r["name"] else None) or label
                                         for r, label in zip(chart_rows, chart["prefecture"]["labels"])]
    return {"types_shown": shown, "prefecture_totals": prefecture_totals, "year_counts": year_counts,
            "year_total": sum(sum(c.values()) for c in year_counts.values()), "chart": chart}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request) -> HTMLResponse:
    data = overview_data(request)
    return request.app.state.render(request, "overview.html", {"data": data, **overview_view(data, lang(request))})


@router.get("/api/overview", tags=["data"], summary="Counts by type, year, prefecture, status; data quality")
def overview_api(request: Request) -> dict[str, Any]:
    return overview_data(request)


# --- records -------------------------------------------------------------------------------

def records_data(request: Request, record_type: str, filters: queries.RecordFilters, page_size: int,
                 after: str | None) -> dict[str, Any]:
    _check_type(record_type)
    filters.extra["text_ids"] = queries.text_ids(get_store(request), record_type, filters.q)
    try:
        with get_store(request).reading() as s:
            queries.check_place_filters(s, filters)
            return queries.list_records(s, record_type, filters, page_size, after,
                                        masked=not sees_personal_data(request))
    except queries.BadPageToken:
        raise ApiError(400, "bad_page_token") from None


@router.get("/records/{record_type}", response_class=HTMLResponse, include_in_schema=False)
def records_page(request: Request, record_type: RecordType,
                 filters: Annotated[queries.RecordFilters, Depends(record_filters)],
                 page_size: PageSize = queries.DEFAULT_PAGE_SIZE, after: After = None) -> HTMLResponse:
    data = records_data(request, record_type, filters, page_size, after)
    with get_store(request).reading() as s:
        options = queries.filter_options(s, record_type)
    if lang(request) != "zh":  # the prefecture filter names places in the page's language
        for place in options.get("places") or []:
            place["name"] = region_name(place.get("code"), lang(request)) or place.get("name")
    params = {**data["filters"], "page_size": page_size if page_size != queries.DEFAULT_PAGE_SIZE else None,
              "after": after}
    return request.app.state.render(request, "records.html", {
        "data": data, "record_type": record_type, "spec": queries.TYPES[record_type], "options": options,
        "params": params, "export_limit": export_limit(request)})


@router.get("/api/records/{record_type}", tags=["records"], summary="One page of records (keyset pagination)")
def records_api(request: Request, record_type: RecordType,
                filters: Annotated[queries.RecordFilters, Depends(record_filters)],
                page_size: PageSize = queries.DEFAULT_PAGE_SIZE, after: After = None) -> dict[str, Any]:
    return records_data(request, record_type, filters, page_size, after)


# Rows per download: anonymous visitors get a bounded public extract, accounts a larger one
# (the command line, `xjip export`, has no bound).
EXPORT_MAX_PUBLIC = 10_000
EXPORT_MAX_ACCOUNT = 200_000


def export_limit(request: Request) -> int:
    return EXPORT_MAX_ACCOUNT if sees_personal_data(request) else EXPORT_MAX_PUBLIC


@router.get("/records/{record_type}/export", tags=["records"], response_class=FileResponse,
            summary="Every record matching the filters as CSV (UTF-8 with BOM) or Excel (.xlsx)",
            description=f"The list's filters and order; personal data masked for anonymous visitors. At most "
                        f"{EXPORT_MAX_PUBLIC:,} records without an account, {EXPORT_MAX_ACCOUNT:,} with one "
                        "(`X-XJIP-Export-Limit`); `xjip export` has no bound.")
def records_export(request: Request, record_type: RecordType,
                   filters: Annotated[queries.RecordFilters, Depends(record_filters)],
                   format: Literal["csv", "xlsx"] = "csv") -> Any:  # noqa: A002 - the query parameter's name
    from xjip.hub import exports

    _check_type(record_type)
    store, language = get_store(request), lang(request)
    with store.reading() as s:
        queries.check_place_filters(s, filters)
    filters.extra["text_ids"] = queries.text_ids(store, record_type, filters.q)
    masked, limit = not sees_personal_data(request), export_limit(request)
    columns = queries.export_columns(record_type)
    zone = store.settings.display_timezone
    filename = f"xjip-{record_type}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}.{format}"
    headers = {"X-XJIP-Export-Limit": str(limit)}
    if format == "csv":
        def body() -> Generator[bytes, None, None]:
            with store.reading() as s:
                yield from exports.iter_csv(queries.export_records(s, record_type, filters, masked=masked, limit=limit),
                                            columns, language, zone)

        chunks = body()
        # The first chunk (header and first rows) is made before the response starts: whatever
        # refuses the request or fails in its query is then an error response, not a 200 cut short.
        first = next(chunks)
        return _ClosingStream(chunks, itertools.chain([first], chunks), media_type=exports.MEDIA_TYPES["csv"],
                              headers={**headers, "Content-Disposition": f'attachment; filename="{filename}"'})
    return _XlsxExport(store, record_type, filters, masked, limit, columns, language, zone, filename, headers)


class _ClosingStream(StreamingResponse):
    """A streamed download that closes its source when the response ends, however it ends. A
    client that hung up left the generator suspended inside its read transaction until garbage
    collection, holding its locks (found: a TRUNCATE on PostgreSQL waited for it for ever)."""

    def __init__(self, source: Generator[bytes, None, None], content: Iterator[bytes], **kwargs: Any):
        super().__init__(content, **kwargs)
        self.source = source

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio

        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):  # the read transaction ends even when cancelled
                await anyio.to_thread.run_sync(self.source.close)


class _XlsxExport(Response):
    """An XLSX download: the workbook is written row by row in a worker thread (memory stays
    flat), while the request watches its client; a client that goes away stops the writing at
    the next 100 rows (before, an abandoned 200,000-row export kept a core busy for minutes).
    Then the finished file is sent in chunks and removed."""

    def __init__(self, store: Any, record_type: str, filters: Any, masked: bool, limit: int, columns: list[str],
                 language: str, zone: str, filename: str, headers: dict[str, str]):
        super().__init__(media_type=None)
        self.args = (store, record_type, filters, masked, limit, columns, language, zone)
        self.filename, self.extra_headers = filename, headers

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        import anyio
        from starlette.requests import Request as StarletteRequest

        from xjip.hub import exports

        store, record_type, filters, masked, limit, columns, language, zone = self.args
        folder = FsPath(store.settings.data_dir) / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"export-{secrets.token_hex(8)}.xlsx"
        gone = threading.Event()

        def build() -> None:
            with store.reading() as s:
                exports.write_xlsx(queries.export_records(s, record_type, filters, masked=masked, limit=limit),
                                   columns, language, str(path), sheet=record_type, zone=zone,
                                   cancelled=gone.is_set)

        request = StarletteRequest(scope, receive)
        try:
            async with anyio.create_task_group() as tg:
                async def watch() -> None:
                    while not gone.is_set():
                        if await request.is_disconnected():
                            gone.set()
                            return
                        await anyio.sleep(0.25)

                tg.start_soon(watch)
                try:
                    await anyio.to_thread.run_sync(build)
                finally:
                    tg.cancel_scope.cancel()
        except BaseException:
            path.unlink(missing_ok=True)  # no half-written workbook left behind
            if gone.is_set():
                return  # nobody to answer
            raise
        if gone.is_set():
            path.unlink(missing_ok=True)
            return
        response = FileResponse(path, media_type=exports.MEDIA_TYPES["xlsx"], filename=self.filename,
                                headers=self.extra_headers, background=BackgroundTask(path.unlink, missing_ok=True))
        await response(scope, receive, send)


def detail_data(request: Request, record_type: str, record_id: int) -> dict[str, Any]:
    _check_type(record_type)
    with get_store(request).reading() as s:
        data = queries.record_detail(s, record_type, record_id, masked=not sees_personal_data(request))
    if data is None:
        raise ApiError(404)
    return data


@router.get("/records/{record_type}/{record_id}", response_class=HTMLResponse, include_in_schema=False)
def record_page(request: Request, record_type: RecordType, record_id: int) -> HTMLResponse:
    from xjip.web import record_view

    data = detail_data(request, record_type, record_id)
    store = get_store(request)
    with store.reading() as s:  # titles of the IPC and Nice codes, for the page only
        view = record_view.build(s, data, record_type, lang(request), store.settings.display_timezone)
    return request.app.state.render(request, "record.html", {"data": data, "record_type": record_type,
                                                             "spec": queries.TYPES[record_type], "view": view})


@router.get("/api/records/{record_type}/{record_id}", tags=["records"],
            summary="One record with parties, events, family, text, areas and source records")
def record_api(request: Request, record_type: RecordType, record_id: int) -> dict[str, Any]:
    return detail_data(request, record_type, record_id)


# --- regions -------------------------------------------------------------------------------

def regions_data(request: Request) -> dict[str, Any]:
    with get_store(request).reading() as s:
        return queries.region_tree(s)


@router.get("/regions", response_class=HTMLResponse, include_in_schema=False)
def regions_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "regions.html", {"data": regions_data(request)})


@router.get("/api/regions", tags=["data"], summary="Region → prefecture → county tree with counts per type")
def regions_api(request: Request) -> dict[str, Any]:
    return regions_data(request)


# --- entities ------------------------------------------------------------------------------

def entities_data(request: Request, q: str | None, page_size: int, after: str | None) -> dict[str, Any]:
    try:
        with get_store(request).reading() as s:
            return queries.list_entities(s, q, page_size, after)
    except queries.BadPageToken:
        raise ApiError(400, "bad_page_token") from None


Q = Annotated[str | None, Query(max_length=queries.MAX_QUERY_TEXT)]


@router.get("/entities", response_class=HTMLResponse, include_in_schema=False)
def entities_page(request: Request, q: Q = None, page_size: PageSize = queries.DEFAULT_PAGE_SIZE,
                  after: After = None) -> HTMLResponse:
    data = entities_data(request, _opt(q), page_size, after)
    return request.app.state.render(request, "entities.html", {"data": data, "after": after})


@router.get("/api/entities", tags=["entities"], summary="Owners (entities), searchable by name or alias")
def entities_api(request: Request, q: Q = None, page_size: PageSize = queries.DEFAULT_PAGE_SIZE,
                 after: After = None) -> dict[str, Any]:
    return entities_data(request, _opt(q), page_size, after)


def entity_data(request: Request, entity_id: int) -> dict[str, Any]:
    with get_store(request).reading() as s:
        data = queries.entity_detail(s, entity_id, masked=not sees_personal_data(request))
    if data is None:
        raise ApiError(404)
    return data


@router.get("/entities/{entity_id}", response_class=HTMLResponse, include_in_schema=False)
def entity_page(request: Request, entity_id: int) -> HTMLResponse:
    return request.app.state.render(request, "entity.html", {"data": entity_data(request, entity_id)})


@router.get("/api/entities/{entity_id}", tags=["entities"], summary="An owner, its aliases and its rights")
def entity_api(request: Request, entity_id: int) -> dict[str, Any]:
    return entity_data(request, entity_id)


class MergeRequest(BaseModel):
    merge_ids: list[int] = Field(min_length=1, max_length=200, description="Entities merged into this one")


class SplitRequest(BaseModel):
    aliases: list[str] = Field(min_length=1, max_length=500, description="Aliases moved to the new entity")
    new_name: str = Field(min_length=1, max_length=300)


def _entity_error(exc: Exception) -> ApiError:
    code = getattr(exc, "code", "entity_refused")
    status = 404 if code == "not_found" else 400
    return ApiError(status, code, message_id=f"reference.entity.{code}", **getattr(exc, "params", {}))


def _merge(request: Request, keep_id: int, merge_ids: list[int], user: Principal) -> dict[str, Any]:
    from xjip.hub.entities import EntityError
    from xjip.hub.entity_records import merge_entities

    ids = sorted({i for i in merge_ids if i != keep_id})
    if not ids:
        raise ApiError(400, "merge_nothing")
    try:
        with get_store(request).session() as s:
            return merge_entities(s, keep_id, ids, user.username)
    except EntityError as exc:
        raise _entity_error(exc) from None


def _split(request: Request, entity_id: int, aliases: list[str], new_name: str, user: Principal) -> dict[str, Any]:
    from xjip.hub.entities import EntityError
    from xjip.hub.entity_records import split_entity

    try:
        with get_store(request).session() as s:
            return split_entity(s, entity_id, aliases, new_name.strip(), user.username)
    except EntityError as exc:
        raise _entity_error(exc) from None


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in re.split(r"[\s,，;；]+", text.strip()) if x]
    except ValueError:
        raise ApiError(400, "bad_ids") from None


@router.post("/entities/{entity_id}/merge", include_in_schema=False, dependencies=STAFF_POST)
def entity_merge_form(request: Request, entity_id: int, merge_ids: Annotated[str, Form(max_length=2000)],
                      user: Annotated[Principal, Depends(STAFF)]) -> RedirectResponse:
    _merge(request, entity_id, _ids(merge_ids), user)
    return RedirectResponse(f"/entities/{entity_id}", status_code=303)


@router.post("/api/entities/{entity_id}/merge", tags=["entities"], dependencies=STAFF_POST,
             summary="Merge other entities into this one (staff; X-CSRF-Token header)")
def entity_merge_api(request: Request, entity_id: int, body: Annotated[MergeRequest, Body()],
                     user: Annotated[Principal, Depends(STAFF)]) -> dict[str, Any]:
    return _merge(request, entity_id, body.merge_ids, user)


@router.post("/entities/{entity_id}/split", include_in_schema=False, dependencies=STAFF_POST)
def entity_split_form(request: Request, entity_id: int, new_name: Annotated[str, Form(max_length=300)],
                      user: Annotated[Principal, Depends(STAFF)],
                      aliases: Annotated[list[str] | None, Form()] = None) -> RedirectResponse:
    if not aliases:
        raise ApiError(400, "split_nothing")
    result = _split(request, entity_id, list(aliases), new_name, user)
    return RedirectResponse(f"/entities/{result['new_entity_id']}", status_code=303)


@router.post("/api/entities/{entity_id}/split", tags=["entities"], dependencies=STAFF_POST,
             summary="Move aliases of this entity to a new entity (staff; X-CSRF-Token header)")
def entity_split_api(request: Request, entity_id: int, body: Annotated[SplitRequest, Body()],
                     user: Annotated[Principal, Depends(STAFF)]) -> dict[str, Any]:
    return _split(request, entity_id, body.aliases, body.new_name, user)
