"""Staff pages for getting data in: upload → import job → progress → rejections; template downloads."""
from __future__ import annotations

import logging
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from xjip.hub import models as m
from xjip.hub import queries
from xjip.hub.records import SourceError
from xjip.web.auth import Principal, audit
from xjip.web.deps import get_settings, get_store, require, verify_csrf
from xjip.web.deps import lang as request_lang
from xjip.web.errors import ApiError
from xjip.web.uploads import UploadTooLarge, new_upload_dir, sanitize_filename, save_upload

log = logging.getLogger(__name__)
router = APIRouter()
STAFF = require("staff")
Staff = Annotated[Principal, Depends(STAFF)]
STAFF_POST = [Depends(STAFF), Depends(verify_csrf)]  # role first: anonymous gets 401, not a CSRF 403
TEMPLATE_FORMATS = ("xlsx", "csv")


def _formats() -> list[str]:
    from xjip.hub.importers.base import load_importers

    return sorted(load_importers())


def _import_form_data(request: Request) -> dict[str, Any]:
    return {"max_upload_mb": get_settings(request).max_upload_mb, "formats": _formats()}


@router.get("/import", response_class=HTMLResponse, include_in_schema=False)
def import_page(request: Request, user: Staff) -> HTMLResponse:
    return request.app.state.render(request, "import.html", {"data": _import_form_data(request)})


@router.get("/api/import", tags=["imports"], summary="Upload limit and the importer formats that can be forced")
def import_info_api(request: Request, user: Staff) -> dict[str, Any]:
    return _import_form_data(request)


def _start_import(request: Request, upload: UploadFile, fmt: str | None, user: Principal) -> dict[str, Any]:
    from xjip.hub import pipeline

    settings = get_settings(request)
    store = get_store(request)
    if fmt and fmt not in _formats():
        raise ApiError(400, "unknown_format", format=fmt)
    name = sanitize_filename(upload.filename)
    folder = new_upload_dir(settings.uploads_dir)
    limit = settings.max_upload_mb << 20
    try:
        path = save_upload(upload.file, folder, name, limit)
    except UploadTooLarge:
        folder.rmdir()
        raise ApiError(413, message_id="import.error.too_large", detail={"limit_bytes": limit},
                       limit_mb=settings.max_upload_mb) from None
    size = path.stat().st_size
    if size == 0:
        path.unlink()
        folder.rmdir()
        raise ApiError(400, "empty_upload", message_id="import.error.empty_file")
    try:
        job_id = pipeline.create_job(store, path, display_name=name, actor=user.username, format=fmt or None)
    except SourceError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(400, exc.rejection.code, message_id=f"import.error.{exc.rejection.code}",
                       **exc.rejection.params) from None
    with store.session() as s:
        job_path = s.get(m.ImportJob, job_id).path
    if Path(job_path) != path.resolve():  # the same content is already queued: that job goes on, this copy goes
        shutil.rmtree(folder, ignore_errors=True)
    with store.session() as s:
        audit(s, "web:import:upload", user.username, job_id=job_id, file=name, folder=folder.name,
              bytes=size, original_name=(upload.filename or "")[:300])
    pipeline.start_job_thread(store, job_id)
    return {"job_id": job_id, "file": name, "job_url": f"/jobs/{job_id}", "api_url": f"/api/jobs/{job_id}"}


@router.post("/import", include_in_schema=False, dependencies=STAFF_POST)
def import_upload(request: Request, user: Staff, file: Annotated[UploadFile, File()],
                  format: Annotated[str, Form(max_length=40)] = "") -> RedirectResponse:
    result = _start_import(request, file, format.strip() or None, user)
    return RedirectResponse(result["job_url"], status_code=303)


@router.post("/api/import", tags=["imports"], status_code=201, dependencies=STAFF_POST,
             summary="Upload a file and start its import job (staff; X-CSRF-Token header)")
def import_upload_api(request: Request, user: Staff, file: Annotated[UploadFile, File()],
                      format: Annotated[str, Form(max_length=40)] = "") -> dict[str, Any]:
    return _start_import(request, file, format.strip() or None, user)


# --- jobs ----------------------------------------------------------------------------------

PageSize = Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)]
After = Annotated[str | None, Query(max_length=300)]


def _jobs(request: Request, page_size: int, after: str | None) -> dict[str, Any]:
    try:
        with get_store(request).reading() as s:
            return queries.list_jobs(s, page_size, after)
    except queries.BadPageToken:
        raise ApiError(400, "bad_page_token") from None


@router.get("/jobs", response_class=HTMLResponse, include_in_schema=False)
def jobs_page(request: Request, user: Staff, page_size: PageSize = queries.DEFAULT_PAGE_SIZE,
              after: After = None) -> HTMLResponse:
    return request.app.state.render(request, "jobs.html", {"data": _jobs(request, page_size, after)})


@router.get("/api/jobs", tags=["imports"], summary="Import jobs, newest first")
def jobs_api(request: Request, user: Staff, page_size: PageSize = queries.DEFAULT_PAGE_SIZE,
             after: After = None) -> dict[str, Any]:
    return _jobs(request, page_size, after)


def _job(request: Request, job_id: int, page_size: int = 100, after: str | None = None,
         code: str | None = None) -> dict[str, Any]:
    try:
        with get_store(request).reading() as s:
            data = queries.job_detail(s, job_id, rejections=page_size, after=after, code=code)
    except queries.BadPageToken:
        raise ApiError(400, "bad_page_token") from None
    if data is None:
        raise ApiError(404)
    return data


RejectionCode = Annotated[str | None, Query(max_length=40, description="Only the rejected records of this reason")]


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: int, user: Staff, page_size: PageSize = 100,
             after: After = None, code: RejectionCode = None,
             map: Annotated[int, Query(ge=0, le=1)] = 0,
             headerless: Annotated[int, Query(ge=0, le=1)] = 0) -> HTMLResponse:
    from xjip.hub import mappings

    job = _job(request, job_id, page_size, after, code)
    error_code = (job.get("error") or {}).get("code")
    mapping, can_map = None, False
    if job["finished"] and mappings.mappable(job):
        if map or error_code in mappings.SHOW_ON:
            mapping = mappings.view(get_store(request), job_id, headerless=bool(headerless), lang=request_lang(request))
        can_map = mapping is not None or mappings.job_source(get_store(request), job_id) is not None
    return request.app.state.render(request, "job.html", {"job": job, "after": after, "code": code,
                                                          "mapping": mapping, "can_map": can_map})


@router.get("/jobs/{job_id}/progress", response_class=HTMLResponse, include_in_schema=False)
def job_progress_fragment(request: Request, job_id: int, user: Staff) -> HTMLResponse:
    """htmx polls this every second; once the job has finished the whole page reloads (HX-Refresh)."""
    job = _job(request, job_id, 1)
    response = request.app.state.render(request, "_job_progress.html", {"job": job})
    if job["finished"]:
        response.headers["HX-Refresh"] = "true"
    return response


@router.get("/api/jobs/{job_id}", tags=["imports"], summary="A job: status, progress, counts, rejected records")
def job_api(request: Request, job_id: int, user: Staff, page_size: PageSize = 100,
            after: After = None, code: RejectionCode = None) -> dict[str, Any]:
    return _job(request, job_id, page_size, after, code)


def _job_action(request: Request, job_id: int, user: Principal, action: str,
                change: Callable[[Any, int], bool], refusal: str) -> dict[str, Any]:
    """A person's request on a job (`change` is one conditional update): audited, or refused
    with 409 naming the job's status (404 when there is no such job)."""
    from xjip.hub.pipeline import job_status

    store = get_store(request)
    if not change(store, job_id):
        status = job_status(store, job_id)
        if status is None:
            raise ApiError(404)
        raise ApiError(409, refusal, message_id=f"import.error.{refusal}", job_status=status)
    with store.session() as s:
        audit(s, f"web:import:{action}", user.username, job_id=job_id)
    return {"job_id": job_id, "job_url": f"/jobs/{job_id}", "api_url": f"/api/jobs/{job_id}"}


def _resume(request: Request, job_id: int, user: Principal) -> dict[str, Any]:
    from xjip.hub import pipeline

    result = _job_action(request, job_id, user, "resume", pipeline.requeue, "not_resumable")
    pipeline.start_job_thread(get_store(request), job_id)
    return result


@router.post("/jobs/{job_id}/resume", include_in_schema=False, dependencies=STAFF_POST)
def job_resume(request: Request, job_id: int, user: Staff) -> RedirectResponse:
    return RedirectResponse(_resume(request, job_id, user)["job_url"], status_code=303)


@router.post("/api/jobs/{job_id}/resume", tags=["imports"], status_code=202, dependencies=STAFF_POST,
             summary="Resume an interrupted or failed import where it stopped")
def job_resume_api(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return _resume(request, job_id, user)


def _stop(request: Request, job_id: int, user: Principal) -> dict[str, Any]:
    from xjip.hub import pipeline

    return _job_action(request, job_id, user, "stop", pipeline.request_stop, "not_running")


@router.post("/jobs/{job_id}/stop", include_in_schema=False, dependencies=STAFF_POST)
def job_stop(request: Request, job_id: int, user: Staff) -> RedirectResponse:
    return RedirectResponse(_stop(request, job_id, user)["job_url"], status_code=303)


@router.post("/api/jobs/{job_id}/stop", tags=["imports"], status_code=202, dependencies=STAFF_POST,
             summary="Stop a running import after its next commit (it can be resumed)")
def job_stop_api(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return _stop(request, job_id, user)


@router.get("/jobs/{job_id}/rejections.csv", tags=["imports"], response_class=FileResponse,
            summary="Every rejected record of a job as CSV (UTF-8 with BOM)")
def job_rejections_csv(request: Request, job_id: int, user: Staff) -> FileResponse:
    from xjip.hub import pipeline

    _job(request, job_id, 1)
    reports = Path(get_settings(request).data_dir) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"rejections-{job_id}-{secrets.token_hex(4)}.csv"
    pipeline.write_rejection_report(get_store(request), job_id, path)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"job-{job_id}-rejections.csv",
                        background=BackgroundTask(path.unlink, missing_ok=True))


# --- column mapping (a layout nobody knew) --------------------------------------------------

class MappingBody(BaseModel):
    mapping: dict[str, str] = Field(description='source column (or "#N", the N-th column) → field; "-" leaves '
                                                'a column out')
    headerless: bool = Field(False, description="the file has no header row: every row is data")


def _mapping_or_404(request: Request, job_id: int, mapping: dict[str, str] | None = None,
                    headerless: bool = False) -> dict[str, Any]:
    from xjip.hub import mappings

    _job(request, job_id, 1)
    data = mappings.view(get_store(request), job_id, mapping, headerless, lang=request_lang(request))
    if data is None:
        raise ApiError(404, "mapping_no_source", message_id="import.error.mapping_no_source")
    return data


async def _form_mapping(request: Request, job_id: int) -> tuple[dict[str, str], bool]:
    """The job page's form: a select `col_<index>` per column and the header-less box."""
    from xjip.hub import mappings

    form = await request.form()
    headerless = form.get("headerless") == "1"
    columns = _mapping_or_404(request, job_id, None, headerless)["columns"]
    header = [c["header"] for c in columns]
    try:
        fields = mappings.from_form(len(header), {k: v for k, v in form.items() if isinstance(v, str)})
    except mappings.MappingError as exc:
        raise ApiError(400, exc.code, message_id=f"import.error.{exc.code}", **exc.params) from None
    return mappings.form_mapping(header, fields, headerless), headerless


@router.get("/api/jobs/{job_id}/mapping", tags=["imports"],
            summary="A job's columns as a person maps them: header, samples, field, and 20 rows as mapped")
def job_mapping_api(request: Request, job_id: int, user: Staff) -> dict[str, Any]:
    return _mapping_or_404(request, job_id)


@router.post("/jobs/{job_id}/mapping/preview", response_class=HTMLResponse, include_in_schema=False,
             dependencies=STAFF_POST)
async def job_mapping_preview(request: Request, job_id: int, user: Staff) -> HTMLResponse:
    """htmx: the 20-row preview for the mapping chosen so far in the form."""
    mapping, headerless = await _form_mapping(request, job_id)
    data = _mapping_or_404(request, job_id, mapping, headerless)
    return request.app.state.render(request, "_mapping_preview.html", {"mapping": data})


@router.post("/api/jobs/{job_id}/mapping/preview", tags=["imports"], dependencies=STAFF_POST,
             summary="Preview a column mapping on the job's file: 20 rows as they would be imported")
def job_mapping_preview_api(request: Request, job_id: int, user: Staff, body: MappingBody) -> dict[str, Any]:
    return _mapping_or_404(request, job_id, body.mapping, body.headerless)


def _apply_mapping(request: Request, job_id: int, user: Principal, mapping: dict[str, str],
                   headerless: bool) -> dict[str, Any]:
    from xjip.hub import mappings, pipeline

    _mapping_or_404(request, job_id, None, headerless)
    store = get_store(request)
    try:
        result = mappings.apply(store, job_id, mapping, user.username, headerless)
    except mappings.MappingError as exc:
        raise ApiError(400, exc.code, message_id=f"import.error.{exc.code}", **exc.params) from None
    with store.session() as s:
        audit(s, "web:import:mapping", user.username, job_id=job_id, new_job_id=result["job_id"],
              mapping_id=result["mapping_id"])
    pipeline.start_job_thread(store, result["job_id"])
    return {**result, "job_url": f"/jobs/{result['job_id']}", "api_url": f"/api/jobs/{result['job_id']}"}


@router.post("/jobs/{job_id}/mapping", include_in_schema=False, dependencies=STAFF_POST)
async def job_mapping_apply(request: Request, job_id: int, user: Staff) -> RedirectResponse:
    mapping, headerless = await _form_mapping(request, job_id)
    return RedirectResponse(_apply_mapping(request, job_id, user, mapping, headerless)["job_url"], status_code=303)


@router.post("/api/jobs/{job_id}/mapping", tags=["imports"], status_code=202, dependencies=STAFF_POST,
             summary="Save a column mapping for the file's header and import the file with it")
def job_mapping_apply_api(request: Request, job_id: int, user: Staff, body: MappingBody) -> dict[str, Any]:
    return _apply_mapping(request, job_id, user, body.mapping, body.headerless)


# --- templates -----------------------------------------------------------------------------

def _templates() -> list[dict[str, Any]]:
    from xjip.hub.importers.templates import template_specs

    return [{"kind": kind, "name_zh": spec.zh, "name_en": spec.en,
             "columns": [{"field": c.field, "zh": c.zh, "en": c.en, "required": c.required} for c in spec.columns]}
            for kind, spec in template_specs().items()]


def _importers() -> list[dict[str, Any]]:
    # the formats table an "unrecognised format" error points to (as `xjip import-formats`)
    from xjip.hub.formats import importer_formats

    return importer_formats()


@router.get("/templates", response_class=HTMLResponse, include_in_schema=False)
def templates_page(request: Request) -> HTMLResponse:
    return request.app.state.render(request, "templates.html", {"data": {
        "templates": _templates(), "formats": TEMPLATE_FORMATS, "importers": _importers()}})


@router.get("/api/templates", tags=["imports"], summary="Import templates that can be downloaded, and the formats read")
def templates_api() -> dict[str, Any]:
    return {"templates": _templates(), "formats": list(TEMPLATE_FORMATS), "importers": _importers()}


@router.get("/templates/{kind}.{fmt}", tags=["imports"], response_class=FileResponse,
            summary="Download an import template (xlsx or csv)")
def template_download(request: Request, kind: str, fmt: str) -> FileResponse:
    kinds = {t.get("kind") for t in _templates()}
    if kind not in kinds or fmt not in TEMPLATE_FORMATS:
        raise ApiError(404)
    from xjip.hub.importers.templates import write_template

    folder = Path(get_settings(request).data_dir) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"template-{kind}-{secrets.token_hex(4)}.{fmt}"
    write_template(kind, path, fmt=fmt)
    media = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
             else "text/csv; charset=utf-8")
    return FileResponse(path, media_type=media, filename=f"xjip-{kind}-template.{fmt}",
                        background=BackgroundTask(path.unlink, missing_ok=True))
